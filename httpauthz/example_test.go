package httpauthz_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
)

// exampleSchema is the schema of the examples: tasks belong to agents,
// and both belong to users.
const exampleSchema = `
definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->read
	permission cancel = owner
}`

// exampleGuard returns a guard over memadapter in which each task of tasks
// (task id -> owner) is registered with its owner, and each agent of
// agents (agent id -> owner) likewise.
func exampleGuard(tasks, agents map[string]string) *authz.Guard {
	ctx := context.Background()
	engine, err := memadapter.New(exampleSchema)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"agent": {authz.OpRead: "read"},
		"task":  {authz.OpRead: "read", authz.OpCancel: "cancel"},
	})
	if err != nil {
		panic(err)
	}
	for typ, owners := range map[string]map[string]string{"task": tasks, "agent": agents} {
		for _, id := range slices.Sorted(maps.Keys(owners)) {
			if _, err := engine.Register(ctx, authz.RegisterRequest{
				Resource: authz.Resource{Type: typ, ID: id},
				Owner:    authz.Subject{Type: "user", ID: owners[id]},
			}); err != nil {
				panic(err)
			}
		}
	}
	return authz.NewGuard(engine, ops)
}

// exampleSubject stands in for the service's authentication, which would
// verify a token: here the X-User header names the user.
func exampleSubject(r *http.Request) (authz.Subject, bool) {
	id := r.Header.Get("X-User")
	return authz.Subject{Type: "user", ID: id}, id != ""
}

// A route for one task, with the id in the path. Its owner reads it; for
// anyone else the task does not exist: a stranger's answer is the same,
// byte for byte, as the answer for an id that was never used, or for a
// malformed one.
func ExampleMiddleware_Require() {
	tasks := map[string]string{"t1": "alice"} // the service's table: id -> owner
	mw := httpauthz.New(httpauthz.Config{
		Guard:   exampleGuard(tasks, nil),
		Subject: exampleSubject,
		// The store decides what exists: a task whose row is gone answers
		// 404 whatever relationships it left behind.
		Rows: enforce.RowsFunc(func(_ context.Context, r authz.Resource) (bool, error) {
			_, ok := tasks[r.ID] // SELECT EXISTS (SELECT 1 FROM tasks WHERE id = $1)
			return r.Type == "task" && ok, nil
		}),
	})

	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{task_id}", mw.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Only allowed requests get here.
			fmt.Fprintf(w, "task %s of %s\n", r.PathValue("task_id"), tasks[r.PathValue("task_id")])
		})))

	get := func(user, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("%s GET %s -> %d %s", user, path, rec.Code, rec.Body)
		return rec
	}
	get("alice", "/tasks/t1")
	stranger := get("bob", "/tasks/t1")
	missing := get("bob", "/tasks/t2")
	malformed := get("bob", "/tasks/t!")

	same := func(a, b *httptest.ResponseRecorder) bool {
		return a.Code == b.Code && bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) &&
			fmt.Sprint(a.Header()) == fmt.Sprint(b.Header())
	}
	fmt.Println("stranger and missing identical:", same(stranger, missing))
	fmt.Println("stranger and malformed identical:", same(stranger, malformed))
	// Output:
	// alice GET /tasks/t1 -> 200 task t1 of alice
	// bob GET /tasks/t1 -> 404 {"error":{"code":"not_found","message":"not found"}}
	// bob GET /tasks/t2 -> 404 {"error":{"code":"not_found","message":"not found"}}
	// bob GET /tasks/t! -> 404 {"error":{"code":"not_found","message":"not found"}}
	// stranger and missing identical: true
	// stranger and malformed identical: true
}

// A list route for events, which belong to agents and have no permissions
// of their own. The middleware looks up the agents the caller may read and
// hands the handler an [authz.Filter] of agent ids; ?agent_id= narrows it to
// one agent. Naming an agent the caller cannot see, or one that does not
// exist, gives an empty list, never a 403 or a 404.
func ExampleMiddleware_List() {
	agents := map[string]string{"a1": "alice", "a2": "alice", "a3": "bob"} // id -> owner
	type event struct{ id, agent string }
	events := []event{{"e1", "a1"}, {"e2", "a2"}, {"e3", "a3"}, {"e4", "a1"}}

	parents := &parent.Registry{}
	parents.Register("event", "agent", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		for _, e := range events {
			if e.id == id {
				return e.agent, nil
			}
		}
		return "", authz.ErrNotFound
	}))
	mw := httpauthz.New(httpauthz.Config{
		Guard:   exampleGuard(nil, agents),
		Parents: parents,
		Subject: exampleSubject,
	})

	mux := http.NewServeMux()
	mux.Handle("GET /events", mw.List("event", authz.OpRead, httpauthz.NarrowBy("agent", httpauthz.Query("agent_id")))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f := httpauthz.FilterFrom(r.Context())
			var ids []string
			switch {
			case f.Empty():
				// Nothing is visible: answer an empty list without a query.
			case f.All():
				// Only under a trusted bypass: no id condition at all.
				for _, e := range events {
					ids = append(ids, e.id)
				}
			default:
				// SELECT id FROM events WHERE agent_id = ANY($1)
				for _, e := range events {
					if slices.Contains(f.IDs(), e.agent) {
						ids = append(ids, e.id)
					}
				}
			}
			fmt.Fprintf(w, "[%s]\n", strings.Join(ids, " "))
		})))

	for _, c := range []struct{ user, path string }{
		{"alice", "/events"},
		{"alice", "/events?agent_id=a1"},
		{"alice", "/events?agent_id=a3"}, // bob's agent
		{"alice", "/events?agent_id=a9"}, // no such agent
		{"carol", "/events"},             // owns nothing
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.Header.Set("X-User", c.user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("%s GET %s -> %d %s", c.user, c.path, rec.Code, rec.Body)
	}
	// Output:
	// alice GET /events -> 200 [e1 e2 e4]
	// alice GET /events?agent_id=a1 -> 200 [e1 e4]
	// alice GET /events?agent_id=a3 -> 200 []
	// alice GET /events?agent_id=a9 -> 200 []
	// carol GET /events -> 200 []
}

// A JSON-RPC style endpoint: each method names the resource type, the
// operation and where the id is. A method that is not in the table is
// refused before anything else runs.
func ExampleMiddleware_RPC() {
	tasks := map[string]string{"t1": "alice"}
	mw := httpauthz.New(httpauthz.Config{
		Guard:   exampleGuard(tasks, nil),
		Subject: exampleSubject,
		Rows: enforce.RowsFunc(func(_ context.Context, r authz.Resource) (bool, error) {
			_, ok := tasks[r.ID]
			return r.Type == "task" && ok, nil
		}),
	})

	var methods httpauthz.Methods
	taskID := httpauthz.JSONField("params", "task_id")
	methods.Handle("task/get", httpauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: taskID})
	methods.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: taskID})

	mux := http.NewServeMux()
	mux.Handle("POST /rpc", mw.RPC(&methods, httpauthz.JSONField("method"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, _ := httpauthz.TargetFrom(r.Context())
			fmt.Fprintf(w, "%s on %s\n", t.Method, t.Checked)
		})))

	call := func(user, body string) {
		req := httptest.NewRequest("POST", "/rpc", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("%s %s -> %d %s", user, body, rec.Code, rec.Body)
	}
	call("alice", `{"method":"task/cancel","params":{"task_id":"t1"}}`)
	call("bob", `{"method":"task/cancel","params":{"task_id":"t1"}}`)
	call("alice", `{"method":"task/delete","params":{"task_id":"t1"}}`)
	// Output:
	// alice {"method":"task/cancel","params":{"task_id":"t1"}} -> 200 task/cancel on task:t1
	// bob {"method":"task/cancel","params":{"task_id":"t1"}} -> 404 {"error":{"code":"not_found","message":"not found"}}
	// alice {"method":"task/delete","params":{"task_id":"t1"}} -> 400 {"error":{"code":"unknown_method","message":"unknown method"}}
}

// Caveat parameters from the request: Config.Context gives every check the
// client's address, which a caveated grant needs. Bob may read t1 only
// from the office network; without the address his grant is conditional,
// which is denied like any denial (here a 404, since he may not read it
// otherwise).
func ExampleConfig_context() {
	const schema = `
caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

definition user {}

definition task {
	relation viewer: user | user with on_network
	permission read = viewer
}`
	engine, err := memadapter.New(schema)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})
	if err != nil {
		panic(err)
	}
	office := authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}
	if _, err := engine.Write(context.Background(), authz.WriteRequest{Touch: []authz.Relationship{{
		Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "viewer",
		Subject: authz.Subject{Type: "user", ID: "bob"}, Caveat: office,
	}}}); err != nil {
		panic(err)
	}
	mw := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(engine, ops),
		Subject: exampleSubject,
		Context: func(r *http.Request) (authz.Context, error) {
			ip := r.Header.Get("X-Client-IP") // behind a trusted proxy that sets it
			if ip == "" {
				return authz.Context{}, nil // no parameters: caveated grants are conditional
			}
			if strings.ContainsAny(ip, " ,") {
				return authz.Context{}, fmt.Errorf("X-Client-IP holds more than one address: %w", authz.ErrInvalidRequest)
			}
			return authz.NewContext(map[string]any{"ip": ip}), nil
		},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{task_id}", mw.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "task %s\n", r.PathValue("task_id"))
		})))

	for _, ip := range []string{"10.1.2.3", "192.168.1.1", "", "10.1.2.3, 10.9.9.9"} {
		req := httptest.NewRequest("GET", "/tasks/t1", nil)
		req.Header.Set("X-User", "bob")
		req.Header.Set("X-Client-IP", ip)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Printf("from %q -> %d %s", ip, rec.Code, rec.Body)
	}
	// Output:
	// from "10.1.2.3" -> 200 task t1
	// from "192.168.1.1" -> 404 {"error":{"code":"not_found","message":"not found"}}
	// from "" -> 404 {"error":{"code":"not_found","message":"not found"}}
	// from "10.1.2.3, 10.9.9.9" -> 400 {"error":{"code":"invalid_context","message":"request context is invalid"}}
}
