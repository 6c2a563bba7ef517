package dualwrite

import (
	"context"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// variant names a deliberately broken way to keep a store and the graph in
// step, built here from the Writer's own steps (never part of the Writer),
// so that tests can prove their invariant checks catch broken orderings.
type variant uint8

const (
	// correct is the Writer itself.
	correct variant = iota
	// compensateWithRequestContext compensates under the caller's context,
	// as if context.WithoutCancel had been forgotten.
	compensateWithRequestContext
	// persistBeforeRegister persists the row before registering it.
	persistBeforeRegister
	// deregisterBeforeDelete deregisters before deleting the row.
	deregisterBeforeDelete
	// grantWithoutCheck grants without asking whether the row exists.
	grantWithoutCheck
	// checkBeforeGrant asks whether the row exists, then grants.
	checkBeforeGrant
)

// create is w.Create as variant v does it.
func (v variant) create(ctx context.Context, w *Writer, req CreateRequest) (authz.Token, error) {
	res := req.Register.Resource
	if v != persistBeforeRegister && v != compensateWithRequestContext || !w.enabled(ctx, res) {
		return w.Create(ctx, req)
	}
	if v == persistBeforeRegister {
		if err := req.Persist(ctx); err != nil {
			return authz.Token{}, err
		}
		return w.register(ctx, req.Register)
	}
	tok, err := w.register(ctx, req.Register)
	if err != nil {
		return authz.Token{}, err
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		// A panic or Goexit: compensate under the request's context.
		p := recover()
		w.deregisterUnder(ctx, res)
		if p != nil {
			panic(p)
		}
	}()
	err = req.Persist(ctx)
	returned = true
	if err != nil {
		w.deregisterUnder(ctx, res)
		return authz.Token{}, err
	}
	return tok, nil
}

// deregisterUnder compensates res under ctx, the caller's context, not a
// detached one: the broken step of compensateWithRequestContext.
func (w *Writer) deregisterUnder(ctx context.Context, res authz.Resource) {
	if err := deregister(ctx, w.Registrar, res); err != nil {
		observe(ctx, w.Hook, Event{Kind: CompensationFailed, Resource: res, Err: err})
		return
	}
	observe(ctx, w.Hook, Event{Kind: Compensated, Resource: res})
}

// delete is w.Delete as variant v does it.
func (v variant) delete(ctx context.Context, w *Writer, req DeleteRequest) (bool, error) {
	if v != deregisterBeforeDelete {
		return w.Delete(ctx, req)
	}
	id := req.Resource.ID
	if req.Resolve != nil {
		var found bool
		var err error
		if id, found, err = req.Resolve(ctx); err != nil || !found {
			return false, err
		}
	}
	w.deregisterDeleted(ctx, authz.Resource{Type: req.Resource.Type, ID: id})
	return req.Delete(ctx, id)
}

// grant is w.Grant as variant v does it.
func (v variant) grant(ctx context.Context, w *Writer, req GrantRequest) (authz.Token, error) {
	switch v {
	case grantWithoutCheck:
		return w.Granter.Grant(ctx, req.Grant)
	case checkBeforeGrant:
		if ok, err := req.Exists(ctx); err != nil || !ok {
			return authz.Token{}, fmt.Errorf("dualwrite: grant on %s: %w", req.Grant.Relationship.Resource, authz.ErrNotFound)
		}
		return w.Granter.Grant(ctx, req.Grant)
	}
	return w.Grant(ctx, req)
}

// createAs is create (which reports a panic) for variant v.
func createAs(ctx context.Context, v variant, w *Writer, req CreateRequest) (err error, panicked any) {
	defer func() { panicked = recover() }()
	_, err = v.create(ctx, w, req)
	return err, nil
}
