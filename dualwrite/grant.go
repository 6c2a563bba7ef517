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
	// committed before the grant may go unseen. Where ids can be reused it
	// must compare the row's identity too (see "Limits" in the package
	// documentation). Required.
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
//     a request without Exists, a malformed relationship, a relationship
//     in the owner or parent relation (see below), a Writer without
//     Granter, or a grant the engine refuses as invalid;
//   - matching [authz.ErrNotFound] when the row is gone;
//   - wrapping Exists's error when Exists fails, because then whether the
//     row exists is unknown; the grant is left in place;
//   - the engine's error when the grant fails otherwise (say
//     [authz.ErrUnavailable] after the engine's retries). Such a grant may
//     still have been written (an ambiguous timeout), so Grant checks the
//     row then too, under a context detached from ctx.
//
// Grant revokes only when Exists answers that the row is gone (false and
// no error), under a context detached from ctx and bounded by
// CleanupTimeout. The relationship may have existed before this call (a
// repeated share), and the revocation removes it all the same; that loses
// nothing, because it is a relationship of a deleted row. If the
// revocation fails, the error is a [*CompensationError] that still
// matches [authz.ErrNotFound], and a GrantRevokeFailed event reports it;
// the reconciler removes the relationships of a deleted row later.
//
// When Exists fails, panics or exits its goroutine, Grant does not revoke:
// it reports a GrantUnconfirmed event and returns the error (the grant's
// own, if the grant failed), re-raises the panic with its original value,
// or lets the Goexit go on. Revoking on an unknown answer would destroy,
// on a database blip, a share that existed before this call, which is
// data loss on a live row. Leaving the grant is safe because a grant on a
// row that turns out to be gone grants nothing where the service confirms
// existence in every decision, as it must (httpauthz.Config.Rows or
// enforce.Enforcer.Rows, see the README); the reconciler removes the
// relationships of rows that are gone; and until it does, Register's
// create semantics refuse the id to a new registration, so a grant left
// this way cannot attach to a new row that reuses the id. (A grant still
// in flight when the old row's deregistration and a new registration of
// the same id both happen can: see "Limits" in the package documentation
// for ids that are reused, and what Exists must then compare.)
//
// Grant never writes or revokes the relationships that registration
// writes: a relation equal to the Writer's OwnerRelation or ParentRelation
// (by default [authz.DefaultOwnerRelation] and
// [authz.DefaultParentRelation]) is refused with an error matching
// [authz.ErrInvalidRequest] before anything is written. Those relations
// are the store's, written by Create and repaired by the reconciler; a
// grant of them would change ownership behind the store's back, and its
// revocation (which cannot tell a relationship this call wrote from one
// that was there) would take a row away from its owner.
//
// With the gate off Grant writes nothing and returns the zero token and
// nil, as Create does. Events: Granted, GrantUnconfirmed, GrantRevoked,
// GrantRevokeFailed, SkippedByGate.
func (w *Writer) Grant(ctx context.Context, req GrantRequest) (authz.Token, error) {
	if req.Exists == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: grant request has no Exists", authz.ErrInvalidRequest)
	}
	if err := req.Grant.Relationship.Validate(); err != nil {
		return authz.Token{}, fmt.Errorf("dualwrite: grant: %w", err)
	}
	res := req.Grant.Relationship.Resource
	if rel := req.Grant.Relationship.Relation; rel == w.ownerRelation() || rel == w.parentRelation() {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: grant on %s: relation %q is written by registration only", authz.ErrInvalidRequest, res, rel)
	}
	if !w.enabled(ctx, res) {
		observe(ctx, w.Hook, Event{Kind: SkippedByGate, Resource: res})
		return authz.Token{}, nil
	}
	if w.Granter == nil {
		return authz.Token{}, fmt.Errorf("dualwrite: %w: writer has no Granter", authz.ErrInvalidRequest)
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
// still exists, and revokes the grant if it does not. If that cannot be
// told, the grant stays. grantErr is the grant's error, nil if it
// succeeded with tok.
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
	returned := false
	defer func() {
		if returned {
			return
		}
		// Exists panicked or exited its goroutine: existence is unknown,
		// so the grant stays (see Grant).
		p := recover()
		why := fmt.Errorf("dualwrite: grant on %s: exists called runtime.Goexit", res)
		if p != nil {
			why = fmt.Errorf("dualwrite: grant on %s: exists panicked: %v", res, p)
		}
		observe(checkCtx, w.Hook, Event{Kind: GrantUnconfirmed, Resource: res, Err: why})
		if p != nil {
			panic(p)
		}
	}()
	exists, err := req.Exists(checkCtx)
	returned = true
	switch {
	case err != nil:
		err = fmt.Errorf("dualwrite: grant on %s: exists: %w", res, err)
		observe(checkCtx, w.Hook, Event{Kind: GrantUnconfirmed, Resource: res, Err: err})
		if grantErr != nil {
			return authz.Token{}, grantErr
		}
		return authz.Token{}, err
	case !exists:
		cctx := checkCtx
		if grantErr == nil {
			var cancel context.CancelFunc
			cctx, cancel = w.cleanupContext(ctx)
			defer cancel()
		}
		return authz.Token{}, w.revokeGrant(cctx, req)
	case grantErr != nil:
		return authz.Token{}, grantErr
	}
	observe(ctx, w.Hook, Event{Kind: Granted, Resource: res})
	return tok, nil
}

// revokeGrant revokes req.Grant, whose row is gone, under cctx, a context
// detached from the caller's, and returns the error Grant returns: one
// matching [authz.ErrNotFound], with the revocation's failure attached.
func (w *Writer) revokeGrant(cctx context.Context, req GrantRequest) error {
	res := req.Grant.Relationship.Resource
	cause := fmt.Errorf("dualwrite: grant on %s: %w", res, authz.ErrNotFound)
	if _, err := w.Granter.Revoke(cctx, req.Grant); err != nil {
		err = fmt.Errorf("dualwrite: revoke grant on %s: %w", res, err)
		observe(cctx, w.Hook, Event{Kind: GrantRevokeFailed, Resource: res, Err: err})
		return &CompensationError{Resource: res, Err: cause, Compensation: err}
	}
	observe(cctx, w.Hook, Event{Kind: GrantRevoked, Resource: res})
	return cause
}
