package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// Defaults of [Writer] and [Reconciler] fields left zero.
const (
	// DefaultCleanupTimeout bounds each cleanup step (read-back,
	// compensation, deregistration after a delete).
	DefaultCleanupTimeout = 5 * time.Second
	// DefaultRetries is the number of retries of a backend write that
	// failed with [authz.ErrUnavailable].
	DefaultRetries = 3
)

// Writer keeps a store and the authorization graph in step when resources
// are created and deleted. See the package documentation for the contract.
//
// The zero Writer is not usable: Registrar must be set (unless Gate turns
// every write off). A Writer is safe for concurrent use; its fields must not
// change once it is in use.
type Writer struct {
	// Registrar registers and deregisters resources.
	Registrar authz.Registrar
	// Gate, if set, is asked before every authorization write of Create and
	// Delete; when it returns false the store write goes ahead without the
	// authorization write, and a SkippedByGate event is emitted. Use it to
	// roll dual writes out per tenant or resource type. Nil means always on.
	Gate func(ctx context.Context, r authz.Resource) bool
	// Hooks, if set, receives an [Event] for every step that operators care
	// about.
	Hooks Hooks
	// CleanupTimeout bounds each cleanup step, which runs detached from the
	// caller's cancellation. Zero means [DefaultCleanupTimeout].
	CleanupTimeout time.Duration
	// RegisterRetries is how many times Create retries a registration that
	// failed with [authz.ErrUnavailable]. Zero means [DefaultRetries];
	// negative means no retries.
	RegisterRetries int
	// DeregisterRetries is how many times a compensation or a deregistration
	// after a delete is retried when it fails with [authz.ErrUnavailable].
	// Zero means [DefaultRetries]; negative means no retries.
	DeregisterRetries int
	// Backoff returns the pause before retry attempt n (1 for the first
	// retry). Nil means exponential backoff from 100ms with up to 50%
	// jitter.
	Backoff func(n int) time.Duration

	// variant deliberately breaks the Writer; only tests set it, to prove
	// that the invariant checks catch broken orderings.
	variant variant
}

// variant names a deliberately broken Writer used by tests.
type variant uint8

const (
	correct variant = iota
	// compensateWithRequestContext compensates under the caller's context,
	// as if context.WithoutCancel had been forgotten.
	compensateWithRequestContext
	// persistBeforeRegister persists the row before registering it.
	persistBeforeRegister
	// deregisterBeforeDelete deregisters before deleting the row.
	deregisterBeforeDelete
)

// CreateRequest describes one create.
type CreateRequest struct {
	// Register is the registration to write before the row is persisted:
	// the resource, its owner and optionally its parent.
	Register authz.RegisterRequest
	// Persist writes the row. It must honour ctx and must not return until
	// its write has either committed or been abandoned: Create waits for it
	// and compensates only after it has returned.
	Persist func(ctx context.Context) error
	// Exists, if set, reports whether this create's row is committed. Create
	// calls it after Persist reported an error, so that a row that committed
	// anyway (a lost commit acknowledgement, a cancellation after the
	// commit) keeps its registration. It must recognise the row Persist
	// wrote (its id and owner, or an idempotency key), not merely its id: a
	// row with the same id written by someone else is not this create's.
	// Without Exists such a row loses its registration until the reconciler
	// restores it.
	Exists func(ctx context.Context) (bool, error)
}

// Create registers req.Register, then calls req.Persist.
//
// If the registration fails, Persist is not called and the error (matching
// [authz.ErrConflict] when the resource is already registered otherwise,
// [authz.ErrUnavailable] after the retries are spent, [authz.ErrInvalidRequest]
// for a malformed request) is returned; nothing is compensated, because
// nothing of ours may have been written, or, after an ambiguous failure, only
// a registration without a row, which grants nothing and which the
// reconciler removes.
//
// If Persist returns an error, panics or exits its goroutine, Create
// compensates: unless req.Exists shows the row committed after all, it
// deregisters the resource under a context detached from ctx (so a
// cancelled or timed-out request still compensates) and bounded by
// CleanupTimeout. Create then returns Persist's error unchanged (also when
// the row turned out to be committed), or, if the compensation failed, a
// [*CompensationError] that still matches it with [errors.Is]. A panic is
// re-raised, with its original value, after compensating.
//
// On success the row is committed and registered, and the returned token is
// the registration's (zero when the gate is off).
func (w *Writer) Create(ctx context.Context, req CreateRequest) (authz.Token, error) {
	if req.Persist == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: create request has no Persist", authz.ErrInvalidRequest)
	}
	if err := req.Register.Validate(); err != nil {
		return authz.Token{}, fmt.Errorf("dualwrite: create: %w", err)
	}
	res := req.Register.Resource
	if !w.enabled(ctx, res) {
		observe(ctx, w.Hooks, Event{Kind: SkippedByGate, Resource: res})
		return authz.Token{}, req.Persist(ctx)
	}
	if w.Registrar == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: writer has no Registrar", authz.ErrInvalidRequest)
	}
	if w.variant == persistBeforeRegister {
		if err := req.Persist(ctx); err != nil {
			return authz.Token{}, err
		}
		return w.register(ctx, req.Register)
	}
	tok, err := w.register(ctx, req.Register)
	if err != nil {
		return authz.Token{}, err
	}
	if err := w.persist(ctx, req); err != nil {
		return authz.Token{}, err
	}
	return tok, nil
}

// register writes the registration, retrying unavailability.
func (w *Writer) register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	tok, err := register(ctx, w.Registrar, req, retries(w.RegisterRetries), w.Backoff)
	if err != nil {
		return authz.Token{}, err
	}
	observe(ctx, w.Hooks, Event{Kind: Registered, Resource: req.Resource})
	return tok, nil
}

// persist calls req.Persist and compensates if it does not return nil:
// after an error, a panic (re-raised afterwards) or runtime.Goexit.
func (w *Writer) persist(ctx context.Context, req CreateRequest) (err error) {
	returned := false
	defer func() {
		if returned && err == nil {
			return
		}
		p := recover()
		err = w.compensate(ctx, req, err)
		if p != nil {
			panic(p)
		}
	}()
	err = req.Persist(ctx)
	returned = true
	return err
}

// compensate undoes the registration of a create whose Persist failed with
// cause (nil after a panic or Goexit) and returns the error Create returns.
func (w *Writer) compensate(ctx context.Context, req CreateRequest, cause error) error {
	res := req.Register.Resource
	cctx, cancel := w.cleanupContext(ctx)
	defer cancel()
	if req.Exists != nil {
		committed, err := req.Exists(cctx)
		switch {
		case err != nil:
			observe(cctx, w.Hooks, Event{Kind: ReadBackFailed, Resource: res, Err: err})
			return cause
		case committed:
			observe(cctx, w.Hooks, Event{Kind: RegistrationKept, Resource: res})
			return cause
		}
	}
	if err := w.deregister(cctx, res); err != nil {
		observe(cctx, w.Hooks, Event{Kind: CompensationFailed, Resource: res, Err: err})
		if cause == nil {
			return nil
		}
		return &CompensationError{Resource: res, Err: cause, Compensation: err}
	}
	observe(cctx, w.Hooks, Event{Kind: Compensated, Resource: res})
	return cause
}

// DeleteRequest describes one delete. The row is addressed either by
// Resource.ID or, when the caller has only a name, through Resolve.
type DeleteRequest struct {
	// Resource is the resource whose row is deleted. Its ID must be empty
	// when Resolve is set.
	Resource authz.Resource
	// Resolve, if set, returns the id of the row to delete, or found false
	// if there is none (the delete is then a no-op).
	Resolve func(ctx context.Context) (id string, found bool, err error)
	// Delete deletes the row with id and reports whether there was one. A
	// missing row is (false, nil): nothing is deregistered.
	Delete func(ctx context.Context, id string) (deleted bool, err error)
}

// Delete resolves the id, deletes the row, then deregisters the resource.
//
// It returns Delete's answer: deleted is false when there was no row (or
// Resolve found none), and err is the error of Resolve or Delete, unchanged;
// in both cases nothing is deregistered. A malformed type or id is an error
// matching [authz.ErrInvalidRequest] before anything is deleted.
//
// The deregistration is best effort: it runs detached from ctx, bounded by
// CleanupTimeout, retrying unavailability DeregisterRetries times. Its
// failure does not fail the delete, because the row, which is the source of
// truth for existence, is gone and the relationships left behind grant
// nothing; it is reported as a DeregisterFailed event and the reconciler
// removes the orphan.
func (w *Writer) Delete(ctx context.Context, req DeleteRequest) (deleted bool, err error) {
	if req.Delete == nil {
		return false, fmt.Errorf("dualwrite: %w: delete request has no Delete", authz.ErrInvalidRequest)
	}
	if err := authz.ValidateType(req.Resource.Type); err != nil {
		return false, fmt.Errorf("dualwrite: delete: %w", err)
	}
	id := req.Resource.ID
	if req.Resolve != nil {
		if id != "" {
			return false, fmt.Errorf("dualwrite: %w: delete request has both an id and Resolve", authz.ErrInvalidRequest)
		}
		var found bool
		id, found, err = req.Resolve(ctx)
		if err != nil || !found {
			return false, err
		}
	}
	res := authz.Resource{Type: req.Resource.Type, ID: id}
	if err := authz.ValidateID(id); err != nil {
		return false, fmt.Errorf("dualwrite: delete: %w", err)
	}
	if w.variant == deregisterBeforeDelete {
		w.deregisterDeleted(ctx, res)
		return req.Delete(ctx, id)
	}
	deleted, err = req.Delete(ctx, id)
	if err != nil || !deleted {
		return deleted, err
	}
	w.deregisterDeleted(ctx, res)
	return true, nil
}

// deregisterDeleted removes the relationships of a deleted row, reporting
// rather than returning a failure.
func (w *Writer) deregisterDeleted(ctx context.Context, res authz.Resource) {
	if !w.enabled(ctx, res) {
		observe(ctx, w.Hooks, Event{Kind: SkippedByGate, Resource: res})
		return
	}
	cctx, cancel := w.cleanupContext(ctx)
	defer cancel()
	var err error
	if w.Registrar == nil {
		err = fmt.Errorf("dualwrite: %w: writer has no Registrar", authz.ErrInvalidRequest)
	} else {
		err = w.deregister(cctx, res)
	}
	if err != nil {
		observe(cctx, w.Hooks, Event{Kind: DeregisterFailed, Resource: res, Err: err})
		return
	}
	observe(cctx, w.Hooks, Event{Kind: Deregistered, Resource: res})
}

// deregister removes res's relationships, retrying unavailability.
func (w *Writer) deregister(ctx context.Context, res authz.Resource) error {
	return deregister(ctx, w.Registrar, res, retries(w.DeregisterRetries), w.Backoff)
}

// cleanupContext returns the context of a cleanup step: ctx's values
// without its cancellation, bounded by CleanupTimeout.
func (w *Writer) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if w.variant == compensateWithRequestContext {
		return ctx, func() {}
	}
	return detach(ctx, w.CleanupTimeout)
}

// enabled reports whether the gate lets authorization writes through for r.
func (w *Writer) enabled(ctx context.Context, r authz.Resource) bool {
	return w.Gate == nil || w.Gate(ctx, r)
}

// CompensationError is returned by [Writer.Create] when Persist failed and
// removing the registration failed too. It unwraps to Persist's error only,
// so [errors.Is] and [errors.As] see the original error as if there had been
// no compensation; the compensation's failure is attached, for logs.
type CompensationError struct {
	// Resource is the resource whose registration was left behind.
	Resource authz.Resource
	// Err is Persist's error.
	Err error
	// Compensation is the error of the failed deregistration.
	Compensation error
}

// Error returns Persist's error message followed by the compensation's.
func (e *CompensationError) Error() string {
	return fmt.Sprintf("%v (dualwrite: compensation failed, registration of %s left for the reconciler: %v)", e.Err, e.Resource, e.Compensation)
}

// Unwrap returns Persist's error.
func (e *CompensationError) Unwrap() error { return e.Err }

// detach returns ctx without its cancellation, bounded by timeout (or
// [DefaultCleanupTimeout] if timeout is not positive).
func detach(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultCleanupTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

// register writes req, retrying unavailability n times.
func register(ctx context.Context, reg authz.Registrar, req authz.RegisterRequest, n int, backoff func(int) time.Duration) (authz.Token, error) {
	var tok authz.Token
	err := retry(ctx, n, backoff, func(ctx context.Context) error {
		var err error
		tok, err = reg.Register(ctx, req)
		return err
	})
	if err != nil {
		return authz.Token{}, fmt.Errorf("dualwrite: register %s: %w", req.Resource, err)
	}
	return tok, nil
}

// deregister removes res's relationships, retrying unavailability n times.
func deregister(ctx context.Context, reg authz.Registrar, res authz.Resource, n int, backoff func(int) time.Duration) error {
	err := retry(ctx, n, backoff, func(ctx context.Context) error {
		_, err := reg.Deregister(ctx, authz.DeregisterRequest{Resource: res})
		return err
	})
	if err != nil {
		return fmt.Errorf("dualwrite: deregister %s: %w", res, err)
	}
	return nil
}

// retries turns a configured retry count into the number to make.
func retries(n int) int {
	switch {
	case n == 0:
		return DefaultRetries
	case n < 0:
		return 0
	}
	return n
}

// retry calls op until it succeeds, fails with an error other than
// [authz.ErrUnavailable], or has been retried n times, pausing between
// attempts. It returns op's last error.
func retry(ctx context.Context, n int, backoff func(int) time.Duration, op func(context.Context) error) error {
	if backoff == nil {
		backoff = defaultBackoff
	}
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		if err == nil || attempt >= n || !errors.Is(err, authz.ErrUnavailable) {
			return err
		}
		if pause(ctx, backoff(attempt+1)) != nil {
			return err
		}
	}
}

// defaultBackoff is 100ms·2^(n-1) plus up to half as much jitter.
func defaultBackoff(n int) time.Duration {
	d := 100 * time.Millisecond << min(max(n-1, 0), 6)
	return d + rand.N(d/2)
}

// pause waits for d or until ctx is done, returning ctx's error then.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
