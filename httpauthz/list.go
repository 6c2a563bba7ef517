package httpauthz

import (
	"context"
	"errors"
	"fmt"
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

// Narrowing narrows a list route to one id of the type the list's filter
// holds. Make one with [NarrowBy].
type Narrowing struct {
	typ string
	ids []Extractor
}

// NarrowBy narrows a list route to the id that ids give when the request
// gives it (several extractors must agree, as in [Middleware.Require]).
// typ names the type of that id, which must be the type the list's filter
// holds: the listed type itself, or for a child type the type its
// permissions come from (a list of messages narrows by task id). [Middleware.List]
// panics at setup for any other type, so that a list of messages
// narrowed by a message id (which would always be empty) or a list of
// tasks narrowed by an agent id (filter by agent in the handler's query
// instead) cannot be built.
func NarrowBy(typ string, ids ...Extractor) Narrowing { return Narrowing{typ: typ, ids: ids} }

// List returns middleware for list routes: it looks up the ids of typ (or,
// for a child type, of the type its permissions come from) the subject may
// access with op and hands the resulting [authz.Filter] to the next
// handler ([FilterFrom]), which applies it to its query and must answer an
// empty list when [authz.Filter.Empty] reports true. An optional
// [Narrowing] ([NarrowBy]) narrows the list to one id when the request
// gives it: an id the subject cannot see, a missing id and a malformed id
// all give an empty list, never 403 or 404, so every list route behaves
// alike. A list route never answers 403 or 404 for filtering; a backend
// failure is a 503.
//
// List panics at setup when op (or read) is not mapped for the filter's
// type, when more than one Narrowing is given, or when the narrowing's
// type is not the filter's type.
func (m *Middleware) List(typ string, op authz.Operation, narrow ...Narrowing) func(http.Handler) http.Handler {
	var ids []Extractor
	switch len(narrow) {
	case 0:
	case 1:
		ids = narrow[0].ids
		if len(ids) == 0 {
			panic(fmt.Sprintf("httpauthz: List(%q): NarrowBy(%q) has no extractor", typ, narrow[0].typ))
		}
	default:
		panic(fmt.Sprintf("httpauthz: List(%q): %d narrowings; a list narrows by at most one id", typ, len(narrow)))
	}
	usesBody := m.route(typ, op, ids)
	lookupType := typ
	if m.cfg.Parents != nil {
		// A list of child resources is filtered by the ids of the type
		// that carries their permissions (messages by task ids).
		lookupType, _ = m.cfg.Parents.TargetType(typ) // checked by route
	}
	if len(narrow) == 1 && narrow[0].typ != lookupType {
		if narrow[0].typ == typ {
			panic(fmt.Sprintf("httpauthz: List(%q) narrows by a %s id, but its filter holds %s ids (the type %s's permissions come from), so the list would always be empty: narrow by %s (NarrowBy(%q, ...)) and select the %s in the handler's query", typ, typ, lookupType, typ, lookupType, lookupType, typ))
		}
		panic(fmt.Sprintf("httpauthz: List(%q) narrows by a %s id, but its filter holds %s ids: use NarrowBy(%q, ...), or filter by %s in the handler's query", typ, narrow[0].typ, lookupType, lookupType, narrow[0].typ))
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, mode, err := m.start(r, typ, op, "")
			var f authz.Filter
			if err == nil {
				f, err = m.listFilter(r, &req, mode, lookupType, ids, usesBody)
			}
			// Failed reports the decision; it keeps the error only in
			// enforce mode.
			if err := m.enforcer.Failed(r.Context(), req, mode, err); err != nil {
				m.cfg.WriteError(w, r, m.problem(err))
				return
			}
			if !mode.Enforced() {
				// Shadow and off list as if fgac were not there, but
				// narrowed to the id the request names, as in enforce mode.
				f = m.unenforcedFilter(r, ids, usesBody)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), filterKey{}, f)))
		})
	}
}

// unenforcedFilter is the filter of a list request in shadow and off
// modes: the list as it would be without fgac (every id), still narrowed
// to the one id the request names, since the handler relies on the
// narrowing to select what it lists (dropping it would list every row in
// the store). Input that names no valid id narrows to nothing.
func (m *Middleware) unenforcedFilter(r *http.Request, narrow []Extractor, usesBody bool) authz.Filter {
	f := authz.Unfiltered()
	if len(narrow) == 0 {
		return f
	}
	body, p := m.readBody(r, usesBody)
	if p != nil {
		return authz.Filter{}
	}
	want, has, err := agree(r, body, narrow, true)
	switch {
	case err != nil:
		return authz.Filter{}
	case has:
		return f.Narrow(want)
	}
	return f
}

// listFilter computes the filter of a list request.
func (m *Middleware) listFilter(r *http.Request, req *enforce.Request, mode enforce.Mode, lookupType string, narrow []Extractor, usesBody bool) (authz.Filter, error) {
	if mode == enforce.Off {
		return authz.Filter{}, nil
	}
	subject, ok, err := m.subject(r)
	if err != nil {
		return authz.Filter{}, err
	} else if !ok {
		return authz.Filter{}, problemUnauthenticated
	}
	req.Subject = subject
	if req.Context, err = m.requestContext(r); err != nil {
		return authz.Filter{}, err
	}
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
	f, err := m.cfg.Guard.Lookup(r.Context(), authz.ListQuestion{Subject: subject, ResourceType: lookupType, Operation: req.Operation, Consistency: req.Consistency, Context: req.Context})
	if err != nil {
		return authz.Filter{}, err
	}
	if hasWant {
		f = f.Narrow(want)
	}
	return f, nil
}
