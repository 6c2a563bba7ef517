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

// Defaults of the options.
const (
	DefaultBulkChunkSize = 100
	// DefaultMaxAttempts is the retry budget: a SpiceDB call is made at
	// most three times, the first attempt included (see the package
	// documentation).
	DefaultMaxAttempts = 3
	DefaultBackoffBase = 50 * time.Millisecond
	DefaultBackoffMax  = time.Second
	DefaultPageSize    = 1_000
)

type options struct {
	chunk    int
	retry    retryPolicy
	pageSize uint32
	noVerify bool // trust LookupResources without re-checking its answers
}

func defaultOptions() options {
	return options{
		chunk:    DefaultBulkChunkSize,
		retry:    retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffMax},
		pageSize: DefaultPageSize,
	}
}

// Option configures an [Adapter].
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithBulkChunkSize sets how many items [Adapter.CheckMany] sends in one
// CheckBulkPermissions call; larger requests are split into several calls,
// made one after another. The default is [DefaultBulkChunkSize] (100);
// values are clamped to 1..10,000, SpiceDB's limit per call.
func WithBulkChunkSize(n int) Option {
	return optionFunc(func(o *options) { o.chunk = min(max(n, 1), maxBulkItems) })
}

// WithMaxAttempts sets how many times, in all, the adapter makes a SpiceDB
// call that keeps failing with Unavailable, ResourceExhausted, Aborted or
// DeadlineExceeded before it gives up with [authz.ErrUnavailable]: n is
// attempts, not retries, so 1 disables retries. The default is
// [DefaultMaxAttempts] (3); values below 1 mean 1. Whatever n, no attempt
// starts and no wait runs past the caller's deadline.
func WithMaxAttempts(n int) Option {
	return optionFunc(func(o *options) { o.retry.attempts = max(n, 1) })
}

// WithBackoff sets the wait before the first repeat of a failed call; each
// further repeat waits twice as long, up to limit, each wait jittered down
// by up to a half. The defaults are [DefaultBackoffBase] (50ms) and
// [DefaultBackoffMax] (1s). No wait runs past the caller's deadline.
func WithBackoff(base, limit time.Duration) Option {
	return optionFunc(func(o *options) {
		o.retry.base = max(base, 0)
		o.retry.max = max(limit, o.retry.base)
	})
}

// WithPageSize sets how many results the adapter asks for in one streamed
// LookupResources or ReadRelationships call while paging, and the page
// size of [Adapter.Enumerate] when its request has no limit. The default
// is [DefaultPageSize] (1,000); values are clamped to 1..1,000, SpiceDB's
// default maximum.
func WithPageSize(n int) Option {
	return optionFunc(func(o *options) { o.pageSize = uint32(min(max(n, 1), maxPageSize)) })
}

// WithUnverifiedLookups makes [Adapter.Lookup] return what
// LookupResources streams without re-checking it. By default every id a
// lookup returns is confirmed with CheckBulkPermissions at the lookup's
// snapshot (one bulk call per 1,000 ids), because SpiceDB v1.56.2's
// LookupResources sometimes lists a resource that CheckPermission denies
// when a permission contains an exclusion (found by fgac's differential
// test): unverified, a list filter could show a resource its caller cannot
// read. Use this option only with schemas free of exclusions and
// intersections, or where the extra call costs more than the risk.
func WithUnverifiedLookups() Option {
	return optionFunc(func(o *options) { o.noVerify = true })
}
