package httpauthz

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
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
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req := enforce.Request{Route: r.Pattern}
			// A ConsistencyFor that panicked is enforced in every mode,
			// as in Require.
			var err error
			req.Consistency, err = m.consistency(r)
			var call rpcCall
			var fault error
			if err == nil {
				call, fault = m.rpcRoute(r, &req, method, table, usesBody)
			}
			// The mode is chosen once, for the method's resource type, or
			// with an empty type when the method is not yet known (no
			// subject, bad input). A method the table lacks is enforced
			// whatever the mode function would say: the method table
			// fails closed in every mode.
			mode := enforce.Enforce
			if err == nil && !errors.Is(fault, errUnknownMethod) {
				mode, err = m.enforcer.Mode(r.Context(), req.Resource.Type, r.Pattern)
			}
			switch {
			case err != nil:
				// ConsistencyFor or the mode function panicked: a server
				// error.
				m.fail(w, r, next, req, mode, err)
			case mode == enforce.Off:
				m.enforcer.AuthorizeIn(r.Context(), req, mode)
				pass(w, r, next)
			case fault != nil:
				m.fail(w, r, next, req, mode, fault)
			default:
				id, err := extract(call.route.ID, r, call.body)
				req.Resource.ID = id
				m.enforce(w, r, next, req, mode, call.name, err)
			}
		})
	}
}

// errUnknownMethod is the answer to a method the table lacks.
var errUnknownMethod = problem(http.StatusBadRequest, CodeUnknownMethod, "unknown method")

// rpcCall is what rpcRoute found out about a request.
type rpcCall struct {
	body  []byte
	name  string
	route Method
}

// rpcRoute authenticates r, reads its body and finds its method's route,
// filling in req. It returns the first reason the request cannot be
// decided: no subject (the body is then not read), bad input, or an
// unknown method.
func (m *Middleware) rpcRoute(r *http.Request, req *enforce.Request, method Extractor, table *Methods, usesBody bool) (rpcCall, error) {
	var c rpcCall
	var ok bool
	var err error
	if req.Subject, ok, err = m.subject(r); err != nil {
		return c, err
	} else if !ok {
		return c, problemUnauthenticated
	}
	if req.Context, err = m.requestContext(r); err != nil {
		return c, err
	}
	var p *Problem
	if c.body, p = m.readBody(r, usesBody); p != nil {
		return c, p
	}
	if c.name, err = extract(method, r, c.body); err != nil {
		return c, err
	}
	if c.route, err = table.Lookup(c.name); err != nil {
		return c, errUnknownMethod
	}
	req.Resource.Type, req.Operation = c.route.ResourceType, c.route.Operation
	return c, nil
}
