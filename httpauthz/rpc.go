package httpauthz

import (
	"fmt"
	"net/http"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
)

// Method is the authorization route of one RPC method: the resource type,
// the operation and where the id is.
type Method struct {
	// ResourceType is the type checked (a child type is resolved).
	ResourceType string
	// Operation is the operation checked.
	Operation authz.Operation
	// ID finds the id in the request, e.g. JSONField("params", "task_id").
	ID Extractor
}

// Methods is a routing table from RPC method name to [Method]. A method
// that is not in the table fails closed: the request is rejected before
// any handler runs. The zero value is an empty table. Methods is not safe
// for concurrent registration; fill it at setup.
type Methods struct {
	routes map[string]Method
}

// Handle adds a method. It panics on a duplicate name or an incomplete
// route: these are setup errors.
func (t *Methods) Handle(name string, m Method) {
	if name == "" || m.ID == nil || m.Operation == "" {
		panic("httpauthz: Methods.Handle: incomplete route for " + name)
	}
	if _, dup := t.routes[name]; dup {
		panic("httpauthz: Methods.Handle: duplicate method " + name)
	}
	if t.routes == nil {
		t.routes = make(map[string]Method)
	}
	t.routes[name] = m
}

// Lookup returns the route of method. An unknown method is an error
// matching [authz.ErrInvalidRequest].
func (t *Methods) Lookup(method string) (Method, error) {
	m, ok := t.routes[method]
	if !ok {
		return Method{}, fmt.Errorf("%w: rpc method has no authorization route", authz.ErrInvalidRequest)
	}
	return m, nil
}

// RPC returns middleware for a JSON-RPC style endpoint: it reads the method
// name with method (e.g. JSONField("method")), looks it up in table and
// enforces that route. An unknown method answers 400 unknown_method and
// neither the authorizer nor the handler runs. RPC panics at setup if a
// route's operation is not mapped for its type.
func (m *Middleware) RPC(table *Methods, method Extractor) func(http.Handler) http.Handler {
	usesBody := method.UsesBody()
	for _, route := range table.routes {
		m.checkSetup(route.ResourceType, route.Operation)
		usesBody = usesBody || route.ID.UsesBody()
	}
	unknown := problem(http.StatusBadRequest, CodeUnknownMethod, "unknown method")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := collapse.Request{Consistency: m.consistency(r), Route: r.Pattern}
			// The mode is chosen per route until the method, and so the
			// resource type, is known.
			mode := m.enforcer.Mode(r.Context(), "", r.Pattern)
			var ok bool
			req.Subject, ok = m.cfg.Subject(r)
			body, p := m.readBody(r, usesBody)
			var name string
			var err error
			if p == nil {
				name, err = method.Extract(r, body)
			}
			route, lookupErr := table.Lookup(name)
			if p == nil && err == nil && lookupErr == nil {
				req.Resource.Type, req.Operation = route.ResourceType, route.Operation
				mode = m.enforcer.Mode(r.Context(), route.ResourceType, r.Pattern)
			}
			switch {
			case mode == audit.Off:
				m.enforcer.AuthorizeIn(r.Context(), req, mode)
				next.ServeHTTP(w, r)
			case !ok:
				m.fail(w, r, next, req, mode, problemUnauthenticated)
			case p != nil:
				m.fail(w, r, next, req, mode, p)
			case err != nil:
				m.fail(w, r, next, req, mode, err)
			case lookupErr != nil:
				m.fail(w, r, next, req, mode, unknown)
			default:
				id, err := route.ID.Extract(r, body)
				req.Resource.ID = id
				m.enforce(w, r, next, req, mode, name, err)
			}
		})
	}
}
