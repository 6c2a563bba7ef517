package dualwrite

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// DefaultCleanupTimeout bounds each cleanup step of a [Writer] whose
// CleanupTimeout is zero: the read-back and compensation of a failed
// create, the deregistration after a delete, and the check and revocation
// of a grant that may have outlived its row.
//
// Two seconds fit the engine's whole retry budget (three attempts with
// about 150ms of backoff between them, see the package documentation)
// against a slow but live backend with room to spare, while a backend
// that hangs holds a Delete's response, which waits for its
// deregistration, for two seconds at most rather than for layers of
// retries. A cleanup that runs out of time leaves an orphan, which grants
// nothing and which the reconciler removes.
const DefaultCleanupTimeout = 2 * time.Second

// Writer keeps a store and the authorization graph in step when resources
// are created, deleted and shared. See the package documentation for the
// contract.
//
// A Writer makes one engine call per authorization write and never
// retries: retrying is the engine's (see the package documentation).
//
// The zero Writer is not usable: Registrar must be set for Create and
// Delete, and Granter for Grant (unless Gate turns every write off). A
// Writer is safe for concurrent use; its fields must not change once it is
// in use.
type Writer struct {
	// Registrar registers and deregisters resources.
	Registrar authz.Registrar
	// Granter, needed by Grant only, grants and revokes relationships.
	Granter authz.Granter
	// Gate, if set, is asked before every authorization write of Create,
	// Delete and Grant; when it returns false the store write goes ahead
	// without the authorization write (Grant writes nothing), and a
	// SkippedByGate event is emitted. Use it to roll dual writes out per
	// tenant or resource type. Nil means always on.
	Gate func(ctx context.Context, r authz.Resource) bool
	// Hook, if set, receives an [Event] for every step that operators care
	// about.
	Hook Hook
	// CleanupTimeout bounds each cleanup step, which runs detached from the
	// caller's cancellation. Zero means [DefaultCleanupTimeout].
	CleanupTimeout time.Duration
	// OwnerRelation names the relation in which the service's
	// registrations write the owner ([authz.RegisterRequest.OwnerRelation]).
	// Grant refuses to write or revoke it. Empty means
	// [authz.DefaultOwnerRelation]; set it if Create requests name another.
	OwnerRelation string
	// ParentRelation names the relation in which the service's
	// registrations write the parent ([authz.RegisterRequest.ParentRelation]).
	// Grant refuses to write or revoke it. Empty means
	// [authz.DefaultParentRelation]; set it if Create requests name another.
	ParentRelation string
}

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
	// restores it. If Exists fails or panics, the registration is kept.
	Exists func(ctx context.Context) (bool, error)
}

// Create registers req.Register, then calls req.Persist.
//
// If the registration fails, Persist is not called and the error (matching
// [authz.ErrConflict] when the resource is already registered otherwise,
// [authz.ErrUnavailable] when the engine gave up, [authz.ErrInvalidRequest]
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
// If req.Exists fails, panics or exits its goroutine, whether the row
// committed is unknown, so the registration is kept (an orphan at worst,
// which the reconciler removes) and a ReadBackFailed event says why. An
// error of Exists leaves Persist's error unchanged. A panic of Exists is
// not re-raised: Create's answer is Persist's, and a fault of the
// read-back must not replace it. It becomes the Compensation of a
// [*CompensationError] whose Err is Persist's error; the Compensation
// carries the panic's value (matched by [errors.Is] if it is an error) and
// stack. If Persist itself panicked, Persist's panic is re-raised and the
// panic of Exists is reported by the event only. An Exists that calls
// runtime.Goexit ends the goroutine, after the event, as Goexit does.
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
		observe(ctx, w.Hook, Event{Kind: SkippedByGate, Resource: res})
		return authz.Token{}, req.Persist(ctx)
	}
	if w.Registrar == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: writer has no Registrar", authz.ErrInvalidRequest)
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

// register writes the registration.
func (w *Writer) register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	tok, err := register(ctx, w.Registrar, req)
	if err != nil {
		return authz.Token{}, err
	}
	observe(ctx, w.Hook, Event{Kind: Registered, Resource: req.Resource})
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
		committed, panicked, err := w.readBack(cctx, req)
		switch {
		case panicked && cause != nil:
			return &CompensationError{Resource: res, Err: cause, Compensation: err}
		case err != nil:
			return cause
		case committed:
			observe(cctx, w.Hook, Event{Kind: RegistrationKept, Resource: res})
			return cause
		}
	}
	if err := w.deregister(cctx, res); err != nil {
		observe(cctx, w.Hook, Event{Kind: CompensationFailed, Resource: res, Err: err})
		if cause == nil {
			return nil
		}
		return &CompensationError{Resource: res, Err: cause, Compensation: err}
	}
	observe(cctx, w.Hook, Event{Kind: Compensated, Resource: res})
	return cause
}

// readBack calls req.Exists for the compensation of a failed create. An
// error, a panic or runtime.Goexit in Exists leaves the row's existence
// unknown: it is reported as a ReadBackFailed event, and a panic is
// returned as an error carrying its value and stack, with panicked set. A
// Goexit goes on unwinding the goroutine once the event is reported.
func (w *Writer) readBack(cctx context.Context, req CreateRequest) (committed, panicked bool, err error) {
	res := req.Register.Resource
	returned := false
	defer func() {
		if returned {
			return
		}
		p := recover()
		err = fmt.Errorf("dualwrite: create %s: exists: %w", res, unwound(p))
		panicked = p != nil
		observe(cctx, w.Hook, Event{Kind: ReadBackFailed, Resource: res, Err: err})
	}()
	committed, err = req.Exists(cctx)
	returned = true
	if err != nil {
		observe(cctx, w.Hook, Event{Kind: ReadBackFailed, Resource: res, Err: err})
	}
	return committed, false, err
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
// in both cases nothing is deregistered. A malformed type or id, and a
// Writer without Registrar while the gate is on, are errors matching
// [authz.ErrInvalidRequest] before anything is deleted.
//
// The deregistration is best effort: one Deregister call, detached from ctx
// and bounded by CleanupTimeout, so a Delete holds its caller at most that
// long after the row is gone (with a Registrar that honours its context,
// as fgac's engines do; see "Limits" in the package documentation). Its failure does not fail the delete,
// because the row, which is the source of truth for existence, is gone and
// the relationships left behind grant nothing; it is reported as a
// DeregisterFailed event and the reconciler removes the orphan.
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
	if w.Registrar == nil && w.enabled(ctx, res) {
		// Refused before the row goes, as Create refuses: the row's
		// relationships could not be removed after it.
		return false, fmt.Errorf("dualwrite: %w: writer has no Registrar", authz.ErrInvalidRequest)
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
		observe(ctx, w.Hook, Event{Kind: SkippedByGate, Resource: res})
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
		observe(cctx, w.Hook, Event{Kind: DeregisterFailed, Resource: res, Err: err})
		return
	}
	observe(cctx, w.Hook, Event{Kind: Deregistered, Resource: res})
}

// deregister removes res's relationships.
func (w *Writer) deregister(ctx context.Context, res authz.Resource) error {
	return deregister(ctx, w.Registrar, res)
}

// cleanupContext returns the context of a cleanup step: ctx's values
// without its cancellation, bounded by CleanupTimeout.
func (w *Writer) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return detach(ctx, w.CleanupTimeout)
}

// ownerRelation returns the relation of registered owners.
func (w *Writer) ownerRelation() string {
	return cmp.Or(w.OwnerRelation, authz.DefaultOwnerRelation)
}

// parentRelation returns the relation of registered parents.
func (w *Writer) parentRelation() string {
	return cmp.Or(w.ParentRelation, authz.DefaultParentRelation)
}

// enabled reports whether the gate lets authorization writes through for r.
func (w *Writer) enabled(ctx context.Context, r authz.Resource) bool {
	return w.Gate == nil || w.Gate(ctx, r)
}

// CompensationError is returned by [Writer.Create] when Persist failed and
// removing the registration failed too, and by [Writer.Grant] when the
// grant had to be revoked and revoking it failed. It unwraps to the
// operation's error only, so [errors.Is] and [errors.As] see that error as
// if there had been no compensation; the compensation's failure is
// attached, for logs.
type CompensationError struct {
	// Resource is the resource whose relationships were left behind.
	Resource authz.Resource
	// Err is the operation's error: Persist's, or Grant's.
	Err error
	// Compensation is the error of the failed deregistration or revocation.
	Compensation error
}

// Error returns the operation's error message followed by the
// compensation's.
func (e *CompensationError) Error() string {
	return fmt.Sprintf("%v (dualwrite: compensation failed, relationships of %s left for the reconciler: %v)", e.Err, e.Resource, e.Compensation)
}

// Unwrap returns the operation's error.
func (e *CompensationError) Unwrap() error { return e.Err }

// detach returns ctx without its cancellation, bounded by timeout (or
// [DefaultCleanupTimeout] if timeout is not positive).
func detach(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		timeout = DefaultCleanupTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

// register writes req with one call.
func register(ctx context.Context, reg authz.Registrar, req authz.RegisterRequest) (authz.Token, error) {
	tok, err := reg.Register(ctx, req)
	if err != nil {
		return authz.Token{}, fmt.Errorf("dualwrite: register %s: %w", req.Resource, err)
	}
	return tok, nil
}

// deregister removes res's relationships with one call.
func deregister(ctx context.Context, reg authz.Registrar, res authz.Resource) error {
	if _, err := reg.Deregister(ctx, authz.DeregisterRequest{Resource: res}); err != nil {
		return fmt.Errorf("dualwrite: deregister %s: %w", res, err)
	}
	return nil
}
