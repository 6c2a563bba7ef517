package httpauthz

import (
	"context"
	"errors"
	"net/http"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
)

type filterKey struct{}

// FilterFrom returns the [collapse.Filter] that [Middleware.List] stored
// for the request. A request without one gets the zero Filter, which
// admits nothing: a handler mounted without the middleware lists nothing
// rather than everything.
func FilterFrom(ctx context.Context) collapse.Filter {
	f, _ := ctx.Value(filterKey{}).(collapse.Filter)
	return f
}

// List returns middleware for list routes: it looks up the ids of typ the
// subject may access with op and hands the resulting [collapse.Filter] to
// the next handler ([FilterFrom]), which applies it to its query and must
// answer an empty list when [collapse.Filter.Empty] reports true. An
// optional extractor (such as Query("task_id")) narrows the list to one id
// when the request gives it: an id the subject cannot see, a missing id and
// a malformed id all give an empty list, never 403 or 404, so every list
// route behaves alike. A list route never answers 403 or 404 for
// filtering; a backend failure is a 503.
func (m *Middleware) List(typ string, op authz.Operation, narrow ...Extractor) func(http.Handler) http.Handler {
	if err := authz.ValidateType(typ); err != nil {
		panic("httpauthz: " + err.Error())
	}
	m.checkSetup(typ, op)
	usesBody := false
	for _, x := range narrow {
		usesBody = usesBody || x.UsesBody()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			subject, ok := m.cfg.Subject(r)
			if !ok {
				m.cfg.WriteError(w, r, problemUnauthenticated)
				return
			}
			body, p := m.readBody(r, usesBody)
			if p != nil {
				m.cfg.WriteError(w, r, p)
				return
			}
			var want string
			hasWant := false
			for _, x := range narrow {
				id, err := x.Extract(r, body)
				var pr *Problem
				switch {
				case errors.As(err, &pr) && pr.absent:
					continue
				case errors.Is(err, ErrMissing):
					id = "" // a name that resolves to nothing narrows to nothing
				case err != nil:
					m.cfg.WriteError(w, r, ProblemFor(err))
					return
				}
				if hasWant && id != want {
					m.cfg.WriteError(w, r, problem(http.StatusBadRequest, CodeConflictingIDs, "identifiers in the request disagree"))
					return
				}
				want, hasWant = id, true
			}
			f, err := collapse.ListFilter(r.Context(), m.cfg.Guard, subject, typ, op, m.cfg.Consistency)
			if err != nil {
				m.cfg.WriteError(w, r, ProblemFor(err))
				return
			}
			if hasWant {
				f = f.Narrow(want)
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), filterKey{}, f)))
		})
	}
}
