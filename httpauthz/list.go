package httpauthz

import (
	"context"
	"errors"
	"net/http"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
)

type filterKey struct{}

// FilterFrom returns the [authz.Filter] that [Middleware.List] stored
// for the request. A request without one gets the zero Filter, which
// admits nothing: a handler mounted without the middleware lists nothing
// rather than everything.
func FilterFrom(ctx context.Context) authz.Filter {
	f, _ := ctx.Value(filterKey{}).(authz.Filter)
	return f
}

// List returns middleware for list routes: it looks up the ids of typ (or,
// for a child type, of the type its permissions come from) the subject may
// access with op and hands the resulting [authz.Filter] to
// the next handler ([FilterFrom]), which applies it to its query and must
// answer an empty list when [authz.Filter.Empty] reports true. An
// optional extractor (such as Query("task_id")) narrows the list to one id
// when the request gives it. That id is always of the type the filter
// holds: typ itself, or for a child type the type its permissions come
// from (the task of a list of messages), never the child's own id nor a
// third type's (List("task", op, Query("agent_id")) narrows by a task id
// named agent_id, and so lists nothing useful: filter by agent in the
// handler's query instead). an id the subject cannot see, a missing id and
// a malformed id all give an empty list, never 403 or 404, so every list
// route behaves alike. A list route never answers 403 or 404 for
// filtering; a backend failure is a 503.
func (m *Middleware) List(typ string, op authz.Operation, narrow ...Extractor) func(http.Handler) http.Handler {
	usesBody := m.route(typ, op, narrow)
	lookupType := typ
	if m.cfg.Parents != nil {
		// A list of child resources is filtered by the ids of the type
		// that carries their permissions (messages by task ids).
		lookupType, _ = m.cfg.Parents.TargetType(typ) // checked by route
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, mode, err := m.start(r, typ, op)
			var f authz.Filter
			if err == nil {
				f, err = m.listFilter(r, &req, mode, lookupType, narrow, usesBody)
			}
			// Failed reports the decision; it keeps the error only in
			// enforce mode.
			if err := m.enforcer.Failed(r.Context(), req, mode, err); err != nil {
				m.cfg.WriteError(w, r, ProblemFor(err))
				return
			}
			if !mode.Enforced() {
				// Shadow and off list as if fgac were not there.
				f = authz.Unfiltered()
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), filterKey{}, f)))
		})
	}
}

// listFilter computes the filter of a list request.
func (m *Middleware) listFilter(r *http.Request, req *enforce.Request, mode enforce.Mode, lookupType string, narrow []Extractor, usesBody bool) (authz.Filter, error) {
	if mode == enforce.Off {
		return authz.Filter{}, nil
	}
	subject, ok := m.cfg.Subject(r)
	if !ok {
		return authz.Filter{}, problemUnauthenticated
	}
	req.Subject = subject
	body, p := m.readBody(r, usesBody)
	if p != nil {
		return authz.Filter{}, p
	}
	want, hasWant, err := agree(r, body, narrow, true)
	switch {
	case errors.Is(err, ErrMissing):
		// A name that resolves to nothing, or to another id than the one
		// given, narrows to nothing: a 400 or 404 here would tell whether
		// the name exists.
		want = ""
	case err != nil:
		return authz.Filter{}, err
	}
	f, err := m.cfg.Guard.Lookup(r.Context(), authz.ListQuestion{Subject: subject, ResourceType: lookupType, Operation: req.Operation, Consistency: req.Consistency})
	if err != nil {
		return authz.Filter{}, err
	}
	if hasWant {
		f = f.Narrow(want)
	}
	return f, nil
}
