package dualwrite

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// GrantRequest describes one grant on a resource whose row lives in the
// service's store, such as sharing a task with a viewer.
type GrantRequest struct {
	// Grant is the relationship to write. Its resource is the resource
	// whose row Exists looks up.
	Grant authz.GrantRequest
	// Exists reports whether the row of the grant's resource still exists.
	// Grant calls it after writing the grant. It must read what the store
	// has committed (the primary, not a replica that may lag), or a delete
	// committed before the grant may go unseen. Required.
	Exists func(ctx context.Context) (bool, error)
}

// Grant writes req.Grant, then asks req.Exists whether the resource's row
// still exists, and revokes the grant if it does not.
//
// This closes a race with [Writer.Delete]: a request authorized to share a
// resource whose row another request deletes meanwhile must not leave a
// grant on the deleted resource. Grant-then-check linearizes against
// Delete's delete-row-then-deregister, whatever the interleaving, because
// Deregister removes every relationship of the resource, grants included:
// a grant written before the deregistration is removed by it, and a grant
// written after it is written after the row was deleted, so the check that
// follows the grant sees the row gone and revokes it. Checking first and
// granting after would leave exactly the grant that lands between the
// check and the deletion.
//
// Grant returns the grant's token when the row exists. Otherwise it
// returns an error:
//
//   - matching [authz.ErrInvalidRequest], before anything is written, for
//     a request without Exists, a malformed relationship, a Writer without
//     Granter, or a grant the engine refuses as invalid;
//   - matching [authz.ErrNotFound] when the row is gone;
//   - wrapping Exists's error when Exists fails, because then whether the
//     row exists is unknown;
//   - the engine's error when the grant fails otherwise (say
//     [authz.ErrUnavailable] after the engine's retries). Such a grant may
//     still have been written (an ambiguous timeout), so Grant checks the
//     row then too, under a context detached from ctx.
//
// Grant fails closed: when the row is gone, or Exists fails, panics or
// exits its goroutine, it revokes the relationship under a context
// detached from ctx and bounded by CleanupTimeout, even if the
// relationship existed before this call (a repeated share; granting again
// once the store answers restores it). A panic in Exists is re-raised,
// with its original value, after revoking. If the revocation fails too,
// the error is a [*CompensationError] that still matches the cause, and a
// GrantRevokeFailed event reports it; the reconciler removes the
// relationships of a deleted row later.
//
// With the gate off Grant writes nothing and returns the zero token and
// nil, as Create does. Events: Granted, GrantRevoked, GrantRevokeFailed,
// SkippedByGate.
func (w *Writer) Grant(ctx context.Context, req GrantRequest) (authz.Token, error) {
	if req.Exists == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: grant request has no Exists", authz.ErrInvalidRequest)
	}
	if err := req.Grant.Relationship.Validate(); err != nil {
		return authz.Token{}, fmt.Errorf("dualwrite: grant: %w", err)
	}
	res := req.Grant.Relationship.Resource
	if !w.enabled(ctx, res) {
		observe(ctx, w.Hooks, Event{Kind: SkippedByGate, Resource: res})
		return authz.Token{}, nil
	}
	if w.Granter == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: writer has no Granter", authz.ErrInvalidRequest)
	}
	switch w.variant {
	case grantWithoutCheck:
		return w.Granter.Grant(ctx, req.Grant)
	case checkBeforeGrant:
		if ok, err := req.Exists(ctx); err != nil || !ok {
			return authz.Token{}, fmt.Errorf("dualwrite: grant on %s: %w", res, authz.ErrNotFound)
		}
		return w.Granter.Grant(ctx, req.Grant)
	}
	tok, err := w.Granter.Grant(ctx, req.Grant)
	if errors.Is(err, authz.ErrInvalidRequest) {
		return authz.Token{}, fmt.Errorf("dualwrite: grant on %s: %w", res, err) // nothing written
	}
	if err != nil {
		err = fmt.Errorf("dualwrite: grant on %s: %w", res, err)
	}
	return w.confirmGrant(ctx, req, tok, err)
}

// confirmGrant asks whether the row of a grant that may have been written
// still exists, and revokes the grant if it does not or if that cannot be
// told. grantErr is the grant's error, nil if it succeeded with tok.
//
// After a successful grant the check is part of the request and runs under
// ctx; after a failed one (ctx may be done) it is cleanup, and the check
// and the revocation share one detached context.
func (w *Writer) confirmGrant(ctx context.Context, req GrantRequest, tok authz.Token, grantErr error) (authz.Token, error) {
	res := req.Grant.Relationship.Resource
	checkCtx := ctx
	if grantErr != nil {
		var cancel context.CancelFunc
		checkCtx, cancel = w.cleanupContext(ctx)
		defer cancel()
	}
	revoke := func(cause, unknown error) error {
		cctx := checkCtx
		if grantErr == nil {
			var cancel context.CancelFunc
			cctx, cancel = w.cleanupContext(ctx)
			defer cancel()
		}
		return w.revokeGrant(cctx, req, cause, unknown)
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		// Exists panicked or exited its goroutine: fail closed.
		p := recover()
		why := fmt.Errorf("dualwrite: grant on %s: exists called runtime.Goexit", res)
		if p != nil {
			why = fmt.Errorf("dualwrite: grant on %s: exists panicked: %v", res, p)
		}
		revoke(nil, why)
		if p != nil {
			panic(p)
		}
	}()
	exists, err := req.Exists(checkCtx)
	returned = true
	switch {
	case err != nil:
		err = fmt.Errorf("dualwrite: grant on %s: exists: %w", res, err)
		cause := err
		if grantErr != nil {
			cause = grantErr
		}
		return authz.Token{}, revoke(cause, err)
	case !exists:
		return authz.Token{}, revoke(fmt.Errorf("dualwrite: grant on %s: %w", res, authz.ErrNotFound), nil)
	case grantErr != nil:
		return authz.Token{}, grantErr
	}
	observe(ctx, w.Hooks, Event{Kind: Granted, Resource: res})
	return tok, nil
}

// revokeGrant revokes req.Grant under cctx, a context detached from the
// caller's, and returns cause, the error Grant returns, with the
// revocation's failure attached. unknown is why the row's existence is
// unknown, nil if the row is gone.
func (w *Writer) revokeGrant(cctx context.Context, req GrantRequest, cause, unknown error) error {
	res := req.Grant.Relationship.Resource
	if _, err := w.Granter.Revoke(cctx, req.Grant); err != nil {
		err = fmt.Errorf("dualwrite: revoke grant on %s: %w", res, err)
		observe(cctx, w.Hooks, Event{Kind: GrantRevokeFailed, Resource: res, Err: err})
		if cause == nil {
			return nil
		}
		return &CompensationError{Resource: res, Err: cause, Compensation: err}
	}
	observe(cctx, w.Hooks, Event{Kind: GrantRevoked, Resource: res, Err: unknown})
	return cause
}
