package httpauthz

import (
	"fmt"
	"net/http"

	"github.com/fgac-go/fgac/authz"
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
			name, err := method.Extract(r, body)
			if err != nil {
				m.cfg.WriteError(w, r, ProblemFor(err))
				return
			}
			route, err := table.Lookup(name)
			if err != nil {
				m.cfg.WriteError(w, r, unknown)
				return
			}
			id, err := route.ID.Extract(r, body)
			m.enforce(w, r, next, subject, route.ResourceType, route.Operation, name, id, err)
		})
	}
}
