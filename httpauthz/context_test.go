package httpauthz_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
)

// countingEngine counts the engine calls a request makes.
type countingEngine struct {
	authz.Authorizer
	calls atomic.Int64
}

func (e *countingEngine) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	e.calls.Add(1)
	return e.Authorizer.Check(ctx, req)
}

func (e *countingEngine) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	e.calls.Add(1)
	return e.Authorizer.CheckMany(ctx, req)
}

func (e *countingEngine) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	e.calls.Add(1)
	return e.Authorizer.Lookup(ctx, req)
}

// clientContext is the Context hook of the tests: the X-Client-IP header
// is the ip parameter; X-Context names a fault to inject.
func clientContext(r *http.Request) (authz.Context, error) {
	switch r.Header.Get("X-Context") {
	case "invalid":
		return authz.Context{}, fmt.Errorf("client ip is malformed: %w", authz.ErrInvalidRequest)
	case "failed":
		// Matching not-found must not make it a 404: it is a server error.
		return authz.Context{}, fmt.Errorf("geo lookup down: %w", authz.ErrNotFound)
	case "panic":
		panic("secret-token-123")
	case "bad value":
		return authz.NewContext(map[string]any{"ip": make(chan int)}), nil
	}
	if ip := r.Header.Get("X-Client-IP"); ip != "" {
		return authz.NewContext(map[string]any{"ip": ip}), nil
	}
	return authz.Context{}, nil
}

// TestRequestContextReachesEveryCheck checks that Config.Context gives
// every check and lookup of a route, a list and an RPC its caveat
// parameters: with them a caveated grant allows; without them the
// decision is conditional and denied under the collapse rule (404 for an
// unreadable task, 403 with the missing names in the event for a readable
// one); and a hook that fails or panics answers 400 or 500 before any
// engine call, with no handler run.
func TestRequestContextReachesEveryCheck(t *testing.T) {
	ctx := t.Context()
	mem, err := memadapter.New(testfixture.ConditionSchema)
	if err != nil {
		t.Fatal(err)
	}
	network := authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	alice, bob := authz.Subject{Type: "user", ID: "alice"}, authz.Subject{Type: "user", ID: "bob"}
	if _, err := mem.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: t1, Relation: "viewer", Subject: alice},
		{Resource: t1, Relation: "canceller", Subject: alice, Caveat: network},
		{Resource: t1, Relation: "viewer", Subject: bob, Caveat: network},
	}}); err != nil {
		t.Fatal(err)
	}
	engine := &countingEngine{Authorizer: mem}
	ops, err := authz.NewOperationMap(mem, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read", authz.OpCancel: "cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	mw := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(engine, ops),
		Subject: exampleSubject,
		Context: clientContext,
		Hook:    audit.HookFunc(func(_ context.Context, ev audit.Event) { events = append(events, ev) }),
	})
	var handled []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled = append(handled, r.Method+" "+r.URL.Path)
		if f := httpauthz.FilterFrom(r.Context()); r.URL.Path == "/tasks" {
			fmt.Fprint(w, f.IDs())
		}
	})
	var methods httpauthz.Methods
	methods.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: httpauthz.JSONField("params", "task_id")})
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{id}", mw.Require("task", authz.OpRead, httpauthz.PathValue("id"))(handler))
	mux.Handle("POST /tasks/{id}/cancel", mw.Require("task", authz.OpCancel, httpauthz.PathValue("id"))(handler))
	mux.Handle("GET /tasks", mw.List("task", authz.OpRead)(handler))
	mux.Handle("POST /rpc", mw.RPC(&methods, httpauthz.JSONField("method"))(handler))

	const inside, outside = "10.1.2.3", "192.168.1.1"
	for _, tt := range []struct {
		name, user, method, path, ip, fault string
		status                              int
		body                                string // a substring of the answer
		handled                             bool
		outcome                             audit.Outcome
		missing                             []string
		noEngine                            bool
	}{
		{name: "read with the parameter", user: "bob", method: "GET", path: "/tasks/t1", ip: inside, status: 200, handled: true, outcome: audit.Allowed},
		{name: "read from another network", user: "bob", method: "GET", path: "/tasks/t1", ip: outside, status: 404, outcome: audit.NotFound},
		{name: "read without the parameter is not found", user: "bob", method: "GET", path: "/tasks/t1", status: 404, body: "not_found", outcome: audit.NotFound, missing: []string{"ip"}},
		{name: "a missing task is not found, missing nothing", user: "bob", method: "GET", path: "/tasks/t404", status: 404, body: "not_found", outcome: audit.NotFound},
		{name: "cancel with the parameter", user: "alice", method: "POST", path: "/tasks/t1/cancel", ip: inside, status: 200, handled: true, outcome: audit.Allowed},
		{name: "cancel from another network", user: "alice", method: "POST", path: "/tasks/t1/cancel", ip: outside, status: 403, outcome: audit.Denied},
		{name: "cancel of a readable task without the parameter is forbidden", user: "alice", method: "POST", path: "/tasks/t1/cancel", status: 403, body: "forbidden", outcome: audit.Denied, missing: []string{"ip"}},
		{name: "rpc cancel with the parameter", user: "alice", method: "POST", path: "/rpc", ip: inside, status: 200, handled: true, outcome: audit.Allowed},
		{name: "rpc cancel without the parameter", user: "alice", method: "POST", path: "/rpc", status: 403, outcome: audit.Denied, missing: []string{"ip"}},
		{name: "list with the parameter", user: "bob", method: "GET", path: "/tasks", ip: inside, status: 200, body: "[t1]", handled: true, outcome: audit.Allowed},
		{name: "list without the parameter", user: "bob", method: "GET", path: "/tasks", status: 200, body: "[]", handled: true, outcome: audit.Allowed},
		{name: "invalid context", user: "alice", method: "GET", path: "/tasks/t1", ip: inside, fault: "invalid", status: 400, body: "invalid_context", outcome: audit.Error, noEngine: true},
		{name: "invalid context value", user: "alice", method: "GET", path: "/tasks/t1", fault: "bad value", status: 400, body: "invalid_context", outcome: audit.Error, noEngine: true},
		{name: "failed context", user: "alice", method: "GET", path: "/tasks/t1", ip: inside, fault: "failed", status: 500, body: "internal", outcome: audit.Error, noEngine: true},
		{name: "panicking context", user: "alice", method: "POST", path: "/tasks/t1/cancel", ip: inside, fault: "panic", status: 500, body: "internal", outcome: audit.Error, noEngine: true},
		{name: "invalid context on a list", user: "bob", method: "GET", path: "/tasks", fault: "invalid", status: 400, body: "invalid_context", outcome: audit.Error, noEngine: true},
		{name: "failed context on an rpc", user: "alice", method: "POST", path: "/rpc", fault: "failed", status: 500, body: "internal", outcome: audit.Error, noEngine: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			events, handled = nil, nil
			var body *strings.Reader
			if tt.path == "/rpc" {
				body = strings.NewReader(`{"method":"task/cancel","params":{"task_id":"t1"}}`)
			}
			var req *http.Request
			if body != nil {
				req = httptest.NewRequest(tt.method, tt.path, body)
				req.Header.Set("Content-Type", "application/json")
			} else {
				req = httptest.NewRequest(tt.method, tt.path, nil)
			}
			req.Header.Set("X-User", tt.user)
			if tt.ip != "" {
				req.Header.Set("X-Client-IP", tt.ip)
			}
			if tt.fault != "" {
				req.Header.Set("X-Context", tt.fault)
			}
			before := engine.calls.Load()
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.body)
			}
			if got := len(handled) > 0; got != tt.handled {
				t.Errorf("handler ran: %v, want %v", got, tt.handled)
			}
			if calls := engine.calls.Load() - before; tt.noEngine && calls != 0 || !tt.noEngine && calls == 0 {
				t.Errorf("%d engine calls, want none: %v", calls, tt.noEngine)
			}
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			ev := events[0]
			if ev.Outcome != tt.outcome {
				t.Errorf("outcome %v, want %v (err %v)", ev.Outcome, tt.outcome, ev.Err)
			}
			if diff := cmp.Diff(tt.missing, ev.Missing); diff != "" {
				t.Errorf("event Missing mismatch (-want +got):\n%s", diff)
			}
			switch tt.fault {
			case "invalid", "bad value":
				if !errors.Is(ev.Err, authz.ErrInvalidRequest) {
					t.Errorf("event error %v does not match authz.ErrInvalidRequest", ev.Err)
				}
			case "failed", "panic":
				if !errors.Is(ev.Err, authz.ErrInternal) || errors.Is(ev.Err, authz.ErrNotFound) {
					t.Errorf("event error %v: want authz.ErrInternal only", ev.Err)
				}
				if strings.Contains(fmt.Sprint(ev.Err), "secret") {
					t.Errorf("event error %v carries the panic's value", ev.Err)
				}
			}
		})
	}
}
