package memo

import (
	"context"
	"fmt"
	"runtime/debug"

	"golang.org/x/sync/semaphore"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/bulk"
)

// DefaultMaxInFlight is the default bound on a [Reader]'s concurrent
// backend calls.
const DefaultMaxInFlight = 64

// Reader is an [authz.Reader] that asks its engine each question once per
// request and shares identical concurrent checks (see the package
// documentation). It is safe for concurrent use if its engine is.
type Reader struct {
	next    authz.Reader
	flights flights
	slots   *semaphore.Weighted
	share   bool // share identical concurrent checks through flights
}

var _ authz.Reader = (*Reader)(nil)

// Config configures a [Reader]. The zero Config (or a nil *Config) is the
// default: at most [DefaultMaxInFlight] backend calls in flight, identical
// concurrent checks shared.
type Config struct {
	// MaxInFlight bounds the backend calls a Reader has in flight at once,
	// over checks, bulk checks and lookups together; zero or less means
	// [DefaultMaxInFlight].
	MaxInFlight int
	// NoSharing turns off the sharing of identical concurrent checks
	// across requests, keeping the request cache and the in-flight bound.
	// A shared call costs a goroutine hand-off (a few microseconds), which
	// is worth it against a remote engine such as SpiceDB but not against
	// an in-process one such as memadapter, whose checks take a fraction
	// of that.
	NoSharing bool
}

// New returns a Reader that asks next, configured by cfg (nil means the
// zero Config).
func New(next authz.Reader, cfg *Config) *Reader {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	return &Reader{next: next, slots: semaphore.NewWeighted(int64(c.MaxInFlight)), share: !c.NoSharing}
}

// Check answers req from the request cache in ctx if it holds the answer,
// and otherwise asks the engine, sharing the call with identical checks in
// flight, and remembers a decision (never an error) in the request cache.
// [authz.FullyConsistent] checks always go to the engine on their own call.
// Errors are the engine's, or match [authz.ErrUnavailable] when ctx ends
// first.
func (r *Reader) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if err := req.Context.Validate(); err != nil {
		// Refused before it is keyed: every invalid context has the same
		// text, and two of them must never share an answer.
		return authz.Deny(), fmt.Errorf("memo: %w", err)
	}
	if req.Consistency.Mode() == authz.FullyConsistentMode {
		d, err := r.check(ctx, req)
		if err != nil {
			return authz.Deny(), err
		}
		return d, nil
	}
	k := key(req, req.Consistency)
	c := cacheFrom(ctx)
	if d, ok := c.get(r, k); ok {
		return d, nil
	}
	var d authz.Decision
	var err error
	if r.share {
		d, err = r.shared(ctx, k, req)
	} else {
		d, err = r.check(ctx, req)
	}
	if err != nil {
		return authz.Deny(), err
	}
	c.put(r, k, d)
	return d, nil
}

// shared asks the engine req, whose key is k, sharing the call with
// identical checks in flight. Every caller, the one that started the call
// included, waits for the answer or for its own context.
func (r *Reader) shared(ctx context.Context, k string, req authz.CheckRequest) (authz.Decision, error) {
	for {
		f := r.flights.join(k, func(f *flight) { go r.run(ctx, k, f, req) })
		select {
		case <-ctx.Done():
			return authz.Deny(), unavailable(ctx.Err())
		case <-f.done:
			if f.gone && ctx.Err() == nil {
				// The caller that started the call gave up; this one has
				// not. Ask again.
				continue
			}
			if f.err != nil {
				return authz.Deny(), f.err
			}
			return f.d, nil
		}
	}
}

// check asks the engine once, within the in-flight bound.
func (r *Reader) check(ctx context.Context, req authz.CheckRequest) (d authz.Decision, err error) {
	if err := r.acquire(ctx); err != nil {
		return authz.Deny(), err
	}
	defer r.slots.Release(1)
	defer recoverEngine(&err)
	return r.next.Check(ctx, req)
}

// CheckMany answers the items that the request cache in ctx holds from it
// and asks the engine the others, each distinct question once, in one bulk
// call; the results keep the order of req.Items and each item's own error.
// Decisions are remembered, item errors are not. Without a request cache,
// or for [authz.FullyConsistent], the request goes to the engine as it is.
// The returned error is the engine's (nothing is remembered then), or
// matches [authz.ErrUnavailable] if ctx ended while waiting for a call slot
// or the engine answered the wrong number of items.
func (r *Reader) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	c := cacheFrom(ctx)
	if c == nil || req.Consistency.Mode() == authz.FullyConsistentMode {
		return r.checkMany(ctx, req)
	}
	plan := bulk.NewPlan[authz.CheckResult](len(req.Items))
	var ask []authz.CheckRequest
	var askKeys []string
	for _, item := range req.Items {
		if err := item.Context.Validate(); err != nil {
			plan.Answer(authz.CheckResult{Decision: authz.Deny(), Err: fmt.Errorf("memo: %w", err)})
			continue
		}
		k := key(item, req.Consistency)
		if d, ok := c.get(r, k); ok {
			plan.Answer(authz.CheckResult{Decision: d})
			continue
		}
		if plan.Ask(k) {
			ask = append(ask, item)
			askKeys = append(askKeys, k)
		}
	}
	var got []authz.CheckResult
	if len(ask) > 0 {
		var err error
		if got, err = r.checkMany(ctx, authz.CheckManyRequest{Items: ask, Consistency: req.Consistency}); err != nil {
			return nil, err
		}
	}
	res, ok := plan.Scatter(got)
	if !ok {
		return nil, fmt.Errorf("memo: %w: engine answered %d items for %d questions", authz.ErrUnavailable, len(got), len(ask))
	}
	for j, g := range got {
		if g.Err == nil {
			c.put(r, askKeys[j], g.Decision)
		}
	}
	return res, nil
}

// checkMany asks the engine once, within the in-flight bound.
func (r *Reader) checkMany(ctx context.Context, req authz.CheckManyRequest) (res []authz.CheckResult, err error) {
	if err := r.acquire(ctx); err != nil {
		return nil, err
	}
	defer r.slots.Release(1)
	defer recoverEngine(&err)
	return r.next.CheckMany(ctx, req)
}

// Lookup asks the engine, within the in-flight bound; lookups are not
// remembered. Errors are the engine's, a [*PanicError] if the engine
// panicked, or match [authz.ErrUnavailable] if ctx ended while waiting for
// a call slot.
func (r *Reader) Lookup(ctx context.Context, req authz.LookupRequest) (res authz.LookupResult, err error) {
	if err := r.acquire(ctx); err != nil {
		return authz.LookupResult{}, err
	}
	defer r.slots.Release(1)
	defer recoverEngine(&err)
	return r.next.Lookup(ctx, req)
}

// recoverEngine, deferred around an engine call, turns the engine's panic
// into a [*PanicError] in *err (the call's other results are then zero: a
// denial, no ids).
func recoverEngine(err *error) {
	if p := recover(); p != nil {
		*err = &PanicError{Value: p, Stack: debug.Stack()}
	}
}

// acquire takes a call slot or fails when ctx ends first.
func (r *Reader) acquire(ctx context.Context) error {
	if err := r.slots.Acquire(ctx, 1); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable is the error of a caller whose context ended with err.
func unavailable(err error) error {
	return fmt.Errorf("memo: %w: %w", authz.ErrUnavailable, err)
}
