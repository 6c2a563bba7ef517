package spicedbadapter

import "time"

// SpiceDB's limits that the adapter stays within.
const (
	// maxBulkItems is SpiceDB's fixed cap on the items of one
	// CheckBulkPermissions call.
	maxBulkItems = 10_000
	// maxPageSize is SpiceDB's default cap (--max-lookup-resources-limit,
	// --max-read-relationships-limit) on the limit of one streamed call.
	maxPageSize = 1_000
)

// The defaults of [Config].
const (
	DefaultBulkChunkSize = 100
	// DefaultMaxAttempts is the retry budget: a SpiceDB call is made at
	// most three times, the first attempt included (see the package
	// documentation).
	DefaultMaxAttempts = 3
	DefaultBackoffBase = 50 * time.Millisecond
	DefaultBackoffMax  = time.Second
	DefaultPageSize    = 1_000
	// DefaultMinAttemptTimeout is the shortest time a read attempt that is
	// not the last is given before it is abandoned and repeated (see
	// [Config].MinAttemptTimeout).
	DefaultMinAttemptTimeout = time.Second
)

// Config configures an [Adapter]. The zero value (or a nil *Config) gives
// every default; a field's zero value is its documented default.
type Config struct {
	// BulkChunkSize is how many items [Adapter.CheckMany] sends in one
	// CheckBulkPermissions call; larger requests are split into several
	// calls, made one after another. Zero means [DefaultBulkChunkSize]
	// (100); values above 10,000, SpiceDB's limit per call, mean 10,000.
	BulkChunkSize int
	// MaxAttempts is how many times, in all, the adapter makes a SpiceDB
	// call that keeps failing with Unavailable, ResourceExhausted, Aborted
	// or DeadlineExceeded before it gives up with [authz.ErrUnavailable]:
	// attempts, not retries, so 1 disables retries. Zero means
	// [DefaultMaxAttempts] (3); negative values mean 1. Whatever its value,
	// no attempt starts and no wait runs past the caller's deadline.
	MaxAttempts int
	// BackoffBase is the wait before the first repeat of a failed call;
	// each further repeat waits twice as long, up to BackoffMax, each wait
	// jittered down by up to a half. Zero means [DefaultBackoffBase]
	// (50ms) and [DefaultBackoffMax] (1s); a BackoffMax below BackoffBase
	// means BackoffBase. No wait runs past the caller's deadline.
	BackoffBase, BackoffMax time.Duration
	// MinAttemptTimeout bounds from below how long a read attempt may take
	// before the adapter abandons it and repeats the read, within the
	// retry budget, on a client from [Dial] on the next node. When the
	// caller's context has a deadline, each read attempt but the last is
	// given the time left divided by the attempts left (a third of the
	// deadline for the first of three), at least MinAttemptTimeout, and the
	// last attempt all of it; without a deadline, and for every attempt of a
	// write, an attempt may take until the caller's deadline. So a node
	// that stalls (a stopped process, a full disk) while still passing
	// health checks costs a read one share of its deadline, not all of it.
	// A read that a healthy node answers in more than its share of the
	// caller's deadline (and more than MinAttemptTimeout) fails where it
	// would have succeeded; give such reads longer deadlines, or raise
	// MinAttemptTimeout. Writes are not cut
	// short: a write abandoned on a stalled node may still be applied when
	// it resumes, after its repeat and after the caller's next write. Zero
	// or negative means [DefaultMinAttemptTimeout] (1s).
	MinAttemptTimeout time.Duration
	// PageSize is how many results the adapter asks for in one streamed
	// LookupResources or ReadRelationships call while paging, and the page
	// size of [Adapter.Enumerate] when its request has no limit. Zero means
	// [DefaultPageSize] (1,000); values above 1,000, SpiceDB's default
	// maximum, mean 1,000.
	PageSize int
	// UnverifiedLookups makes [Adapter.Lookup] and [Adapter.LookupSubjects]
	// return what LookupResources and LookupSubjects stream without
	// re-checking it. By default every id a lookup returns (and every
	// subject a wildcard excludes) is confirmed with CheckBulkPermissions
	// at the lookup's snapshot (one bulk call per 1,000 ids), because
	// SpiceDB v1.56.2's LookupResources sometimes lists a resource that
	// CheckPermission denies when a permission contains an exclusion, and
	// its LookupSubjects lists subjects CheckPermission denies when a
	// permission contains an all-arrow (found by fgac's differential test
	// and outside review): unverified, a list filter could show a resource
	// its caller cannot read, and an access review could list people who
	// have no access. Set it only with schemas free of exclusions,
	// intersections and all-arrows, or where the extra call costs more than
	// the risk.
	UnverifiedLookups bool
}

// options is a Config with its defaults and limits applied.
type options struct {
	chunk    int
	retry    retryPolicy
	pageSize uint32
	noVerify bool // trust LookupResources without re-checking its answers
}

// resolve applies the defaults and limits of cfg.
func (cfg *Config) resolve() options {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	o := options{
		chunk:    DefaultBulkChunkSize,
		retry:    retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffMax, minAttempt: DefaultMinAttemptTimeout},
		pageSize: DefaultPageSize,
		noVerify: c.UnverifiedLookups,
	}
	if c.BulkChunkSize > 0 {
		o.chunk = min(c.BulkChunkSize, maxBulkItems)
	}
	switch {
	case c.MaxAttempts > 0:
		o.retry.attempts = c.MaxAttempts
	case c.MaxAttempts < 0:
		o.retry.attempts = 1
	}
	if c.BackoffBase > 0 {
		o.retry.base = c.BackoffBase
		o.retry.max = max(c.BackoffMax, c.BackoffBase)
	} else if c.BackoffMax > 0 {
		o.retry.max = max(c.BackoffMax, o.retry.base)
	}
	if c.MinAttemptTimeout > 0 {
		o.retry.minAttempt = c.MinAttemptTimeout
	}
	if c.PageSize > 0 {
		o.pageSize = uint32(min(c.PageSize, maxPageSize))
	}
	return o
}
