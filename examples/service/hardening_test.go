package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// hangGuard bounds how long a test waits for an answer that must come:
// a bound for a hang, not a speed requirement.
const hangGuard = 15 * time.Second

// hangingEngine is an engine that, while hang is set, answers no call
// until the call's context is done, as a frozen SpiceDB does (kill -STOP):
// then it fails the way the adapters report a call cut short.
type hangingEngine struct {
	authz.Authorizer
	hang *atomic.Bool
}

func (e hangingEngine) wait(ctx context.Context) error {
	if !e.hang.Load() {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("hanging engine: %w: %w", authz.ErrUnavailable, ctx.Err())
}

func (e hangingEngine) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if err := e.wait(ctx); err != nil {
		return authz.Decision{}, err
	}
	return e.Authorizer.Check(ctx, req)
}

func (e hangingEngine) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if err := e.wait(ctx); err != nil {
		return nil, err
	}
	return e.Authorizer.CheckMany(ctx, req)
}

func (e hangingEngine) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if err := e.wait(ctx); err != nil {
		return authz.LookupResult{}, err
	}
	return e.Authorizer.Lookup(ctx, req)
}

func (e hangingEngine) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	if err := e.wait(ctx); err != nil {
		return authz.Token{}, err
	}
	return e.Authorizer.Register(ctx, req)
}

func (e hangingEngine) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	if err := e.wait(ctx); err != nil {
		return authz.Token{}, err
	}
	return e.Authorizer.Grant(ctx, req)
}

func (e hangingEngine) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	if err := e.wait(ctx); err != nil {
		return authz.Token{}, err
	}
	return e.Authorizer.Write(ctx, req)
}

// TestHungEngineAnswersUnavailable freezes the engine behind the running
// service: every authorized route answers 503 once the request's deadline
// has passed, instead of hanging as long as the engine does, and a missing
// id answers exactly as an existing one. /healthz, which asks no engine,
// still answers.
func TestHungEngineAnswersUnavailable(t *testing.T) {
	t.Parallel()
	hang := &atomic.Bool{}
	ts := start(t, "memadapter", func(c *config) {
		c.requestTimeout = 500 * time.Millisecond
		c.wrapEngine = func(e authz.Authorizer) authz.Authorizer { return hangingEngine{Authorizer: e, hang: hang} }
	})
	ts.client.Timeout = hangGuard // without the deadline the requests below would hang
	w := newWorld(t, ts)
	const missing = "task_000000000000000000000000"
	hang.Store(true)

	for _, tc := range []struct {
		name, credential, method, path, body string
	}{
		{"read", alice, "GET", "/tasks/%s", ""},
		{"read as another user", bob, "GET", "/tasks/%s", ""},
		{"update", alice, "PUT", "/tasks/%s", `{"params":{}}`},
		{"share", alice, "POST", "/tasks/%s/share", `{"user":"bob","role":"viewer"}`},
		{"unshare", alice, "DELETE", "/tasks/%s/share/bob", ""},
		{"delete", alice, "DELETE", "/tasks/%s", ""},
		{"child by body", alice, "POST", "/messages", `{"task_id":"%s","content":"x"}`},
		{"checkpoint", alice, "POST", "/checkpoints/get-tuple", `{"thread_id":"%s"}`},
		{"list narrowed", alice, "GET", "/messages?task_id=%s", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var first response
			for i, id := range []string{w.task, missing} {
				got := ts.do(t, tc.credential, tc.method, strings.ReplaceAll(tc.path, "%s", id), strings.ReplaceAll(tc.body, "%s", id))
				if got.Status != http.StatusServiceUnavailable {
					t.Fatalf("%s with id %s: status %d, want 503; body %s", tc.method, id, got.Status, got.Body)
				}
				if i == 0 {
					first = got
				} else if diff := cmp.Diff(first, got); diff != "" {
					t.Errorf("a missing id answers differently from an existing one (-existing +missing):\n%s", diff)
				}
			}
		})
	}
	t.Run("lists and rpc", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/tasks", "/agents", "/events"} {
			ts.expect(t, alice, "GET", path, "", http.StatusServiceUnavailable)
		}
		ts.expect(t, alice, "POST", "/agents/"+w.agent+"/rpc", `{"method":"task/create","params":{"name":"late"}}`, http.StatusServiceUnavailable)
		ts.expect(t, "", "GET", "/healthz", "", http.StatusOK)
	})
}

// TestHungEngineRecovers: once the engine answers again, so does the
// service, and the requests refused meanwhile changed nothing.
func TestHungEngineRecovers(t *testing.T) {
	t.Parallel()
	hang := &atomic.Bool{}
	ts := start(t, "memadapter", func(c *config) {
		c.requestTimeout = 500 * time.Millisecond
		c.wrapEngine = func(e authz.Authorizer) authz.Authorizer { return hangingEngine{Authorizer: e, hang: hang} }
	})
	ts.client.Timeout = hangGuard
	w := newWorld(t, ts)
	hang.Store(true)
	ts.expect(t, alice, "POST", "/tasks/"+w.task+"/share", `{"user":"bob","role":"viewer"}`, http.StatusServiceUnavailable)
	ts.expect(t, alice, "DELETE", "/tasks/"+w.task, "", http.StatusServiceUnavailable)

	// Once the engine answers again, so does the service: nothing above
	// changed anything.
	hang.Store(false)
	ts.expect(t, alice, "GET", "/tasks/"+w.task, "", http.StatusOK)
	ts.expect(t, bob, "GET", "/tasks/"+w.task, "", http.StatusNotFound)
}

// TestSlowBodyIsCutOff sends a request whose body drips in a byte at a
// time, as a slow-body attack does: the server stops waiting for it within
// the request deadline (its answer is an error, or the connection closes),
// rather than holding the connection for as long as the client drips.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	ts := start(t, "memadapter", func(c *config) { c.requestTimeout = 300 * time.Millisecond })
	for _, path := range []string{"/messages", "/agents"} { // a body the middleware reads; one the handler reads
		t.Run(path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", path, alice)
			stop := make(chan struct{})
			dripped := make(chan struct{})
			go func() {
				defer close(dripped)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			defer func() { close(stop); <-dripped }()

			conn.SetReadDeadline(time.Now().Add(hangGuard))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			var nerr net.Error
			switch {
			case errors.As(err, &nerr) && nerr.Timeout():
				t.Fatalf("the server still waited for the body after %v", hangGuard)
			case err == nil:
				res.Body.Close()
				t.Logf("answered %s", res.Status)
				if res.StatusCode < 400 {
					t.Errorf("status %d for a body that never arrived", res.StatusCode)
				}
			default:
				t.Logf("connection closed: %v", err) // also cut off
			}
		})
	}
}

// TestListQueriesAreStrict checks that GET /tasks?agent_id= and GET
// /events?task_id=, plain filters on the rows, follow the rules of the
// middleware's narrowing (/events?agent_id=) with the same answers: a
// parameter given empty, twice, or in a query string that does not parse
// (a ";") is a 400, never a list that was not filtered as asked.
func TestListQueriesAreStrict(t *testing.T) {
	t.Parallel()
	ts := start(t, "memadapter")
	a1, _ := ts.createAgent(t, alice, "one")
	a2, _ := ts.createAgent(t, alice, "two")
	t1 := ts.createTask(t, alice, a1, "t1")
	t2 := ts.createTask(t, alice, a2, "t2")
	ts.expect(t, alice, "POST", "/agents/"+a1+"/rpc", `{"method":"event/send","params":{"task_id":"`+t1+`","content":"e"}}`, http.StatusCreated)

	for _, tc := range []struct {
		name, query string
	}{
		{"empty", "agent_id="},
		{"semicolon", "agent_id=" + a1 + ";x=1"},
		{"twice", "agent_id=" + a1 + "&agent_id=" + a2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := ts.do(t, alice, "GET", "/events?"+tc.query, "")
			if want.Status != http.StatusBadRequest {
				t.Fatalf("/events?%s: status %d, want 400 (the rule this test compares with)", tc.query, want.Status)
			}
			got := ts.do(t, alice, "GET", "/tasks?"+tc.query, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("/tasks?%s answers differently from /events (-events +tasks):\n%s", tc.query, diff)
			}
			got = ts.do(t, alice, "GET", "/events?agent_id="+a1+"&"+strings.ReplaceAll(tc.query, "agent_id", "task_id"), "")
			if got.Status != http.StatusBadRequest {
				t.Errorf("/events with task_id as %s: status %d, want 400; body %s", tc.name, got.Status, got.Body)
			}
		})
	}
	// The rules hold whatever the caller can see: bob sees nothing.
	ts.expect(t, bob, "GET", "/tasks?agent_id=", "", http.StatusBadRequest)
	ts.expect(t, bob, "GET", "/events?task_id=", "", http.StatusBadRequest)

	if diff := cmp.Diff([]string{t1}, ids(t, ts.expect(t, alice, "GET", "/tasks?agent_id="+a1, "", http.StatusOK))); diff != "" {
		t.Errorf("tasks of agent one mismatch (-want +got):\n%s", diff)
	}
	if got := ids(t, ts.expect(t, alice, "GET", "/events?task_id="+t2, "", http.StatusOK)); len(got) != 0 {
		t.Errorf("events of t2: %v, want none", got)
	}
	if got := ids(t, ts.expect(t, alice, "GET", "/events?task_id="+t1, "", http.StatusOK)); len(got) != 1 {
		t.Errorf("events of t1: %v, want one", got)
	}
}

// TestBodiesReadTheSameToEveryParser sends bodies that encoding/json reads
// differently from a parser that keeps the first of two keys or matches
// keys exactly (a proxy, a log, the middleware): keys given twice, also in
// another letter case under Unicode folding, at any depth, and keys that
// are not exactly a documented field. Each is a 400 with the middleware's
// error format, and changes nothing.
func TestBodiesReadTheSameToEveryParser(t *testing.T) {
	t.Parallel()
	ts := start(t, "memadapter")
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "strict")
	rpc := "/agents/" + agentID + "/rpc"
	share := "/tasks/" + taskID + "/share"
	rels := ts.relationships(t, authz.Resource{Type: "task", ID: taskID})
	tasks := ts.expect(t, alice, "GET", "/tasks", "", http.StatusOK)

	const dup, bad = "duplicate_key", "invalid_json"
	for _, tc := range []struct {
		name, method, path, body, code string
	}{
		{"share: user in another case", "POST", share, `{"user":"bob","role":"viewer","User":"carol"}`, dup},
		{"share: role twice", "POST", share, `{"user":"bob","role":"viewer","role":"editor"}`, dup},
		{"share: long s folds to s", "POST", share, `{"user":"bob","role":"viewer","uſer":"carol"}`, dup},
		{"share: escaped long s", "POST", share, `{"user":"bob","role":"viewer","u\u017fer":"carol"}`, dup},
		{"share: only a case variant", "POST", share, `{"User":"carol","role":"viewer"}`, bad},
		{"share: unknown field", "POST", share, `{"user":"carol","role":"viewer","admin":true}`, bad},
		{"rpc: params twice", "POST", rpc, `{"method":"task/create","params":{"name":"m7"},"params":{"name":"m8"}}`, dup},
		{"rpc: name in another case", "POST", rpc, `{"method":"task/create","params":{"name":"m9","Name":"m10"}}`, dup},
		{"rpc: Kelvin sign folds to k", "POST", rpc, `{"method":"task/create","params":{"name":"m11","params":{"\u212a":1,"k":2}}}`, dup},
		{"rpc: nested free-form key twice", "POST", rpc, `{"method":"task/create","params":{"name":"m12","params":{"a":{"b":1,"b":2}}}}`, dup},
		{"rpc: key in a free-form array twice", "POST", rpc, `{"method":"task/create","params":{"name":"m13","params":[{"b":1,"B":2}]}}`, dup},
		{"rpc: unknown params field", "POST", rpc, `{"method":"task/create","params":{"name":"m14","owner":"bob"}}`, bad},
		{"update: params in another case", "PUT", "/tasks/" + taskID, `{"params":{"x":1},"PARAMS":{"x":2}}`, dup},
		{"checkpoint: Kelvin sign in a field name", "POST", "/checkpoints/put", `{"thread_id":"` + taskID + `","checkpoint_id":"c1","checkpoint":{},"chec\u212apoint_id":"c2"}`, dup},
		{"not an object", "POST", share, `["user","bob"]`, bad},
		{"null", "POST", share, `null`, bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ts.do(t, alice, tc.method, tc.path, tc.body)
			want := fmt.Sprintf(`{"error":{"code":%q,`, tc.code)
			if got.Status != http.StatusBadRequest || !strings.HasPrefix(got.Body, want) {
				t.Fatalf("status %d, body %s; want 400 with code %s", got.Status, got.Body, tc.code)
			}
			if h := got.Header.Get("X-Content-Type-Options"); h != "nosniff" {
				t.Errorf("X-Content-Type-Options %q: not the middleware's error format", h)
			}
		})
	}
	if diff := cmp.Diff(rels, ts.relationships(t, authz.Resource{Type: "task", ID: taskID})); diff != "" {
		t.Errorf("the refused shares changed the task's relationships (-before +after):\n%s", diff)
	}
	if got := ts.expect(t, alice, "GET", "/tasks", "", http.StatusOK); got != tasks {
		t.Errorf("the refused creates changed the tasks: %s, was %s", got, tasks)
	}
	ts.expect(t, carol, "GET", "/tasks/"+taskID, "", http.StatusNotFound)

	// What every parser reads alike still works, free-form values included.
	ts.expect(t, alice, "PUT", "/tasks/"+taskID, `{"params":{"a":1,"b":{"c":[{"d":1},{"d":2}]},"big":1e400,"x":"K","k":"ſ"}}`, http.StatusOK)
	ts.expect(t, alice, "POST", share, `{"user":"bob","role":"viewer"}`, http.StatusOK)
	ts.expect(t, alice, "POST", rpc, `{"method":"task/create","params":{"name":"m15","params":{"A":{"a":1},"B":[]}}}`, http.StatusCreated)
}

// TestOneAuthorizationHeader sends two Authorization headers, each valid
// alone: the request is refused (401) whichever comes first, instead of
// acting as the first, which a proxy or a log reading the last would not
// see.
func TestOneAuthorizationHeader(t *testing.T) {
	t.Parallel()
	ts := start(t, "memadapter")
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "mine")
	unauthenticated := ts.do(t, "", "GET", "/tasks/"+taskID, "")
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"alice alone", []string{"Bearer " + alice}, http.StatusOK},
		{"bob alone", []string{"Bearer " + bob}, http.StatusNotFound},
		{"bob then alice", []string{"Bearer " + bob, "Bearer " + alice}, http.StatusUnauthorized},
		{"alice then bob", []string{"Bearer " + alice, "Bearer " + bob}, http.StatusUnauthorized},
		{"alice twice", []string{"Bearer " + alice, "Bearer " + alice}, http.StatusUnauthorized},
		{"two credentials in one header", []string{"Bearer " + alice + ", Bearer " + bob}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", ts.url+"/tasks/"+taskID, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tc.headers {
				req.Header.Add("Authorization", h)
			}
			res, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tc.want, body)
			}
			if tc.want == http.StatusUnauthorized && string(body) != unauthenticated.Body {
				t.Errorf("body %s, want the unauthenticated answer %s", body, unauthenticated.Body)
			}
		})
	}
}

// TestShareSetsTheRole checks that sharing sets a user's role rather than
// adding one (a downgrade from editor to viewer takes effect), that
// DELETE /tasks/{id}/share/{user} revokes it, and that both answer a
// missing task and one the caller cannot share byte for byte alike.
func TestShareSetsTheRole(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			agentID, _ := ts.createAgent(t, alice, "helper")
			taskID := ts.createTask(t, alice, agentID, "shared")
			task := authz.Resource{Type: "task", ID: taskID}
			share := "/tasks/" + taskID + "/share"
			shares := func() []string {
				var out []string
				for _, r := range ts.relationships(t, task) {
					if strings.Contains(r, "#viewer@") || strings.Contains(r, "#editor@") {
						out = append(out, r)
					}
				}
				return out
			}
			update := func(credential string, want int) {
				t.Helper()
				ts.expect(t, credential, "PUT", "/tasks/"+taskID, `{"params":{}}`, want)
			}

			ts.expect(t, alice, "POST", share, `{"user":"bob","role":"editor"}`, http.StatusOK)
			update(bob, http.StatusOK)

			// Downgrade: bob reads but no longer updates.
			ts.expect(t, alice, "POST", share, `{"user":"bob","role":"viewer"}`, http.StatusOK)
			update(bob, http.StatusForbidden)
			ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusOK)
			if diff := cmp.Diff([]string{"task:" + taskID + "#viewer@user:bob"}, shares()); diff != "" {
				t.Errorf("shares after the downgrade mismatch (-want +got):\n%s", diff)
			}

			// Upgrade again, and share with carol: roles are per user.
			ts.expect(t, alice, "POST", share, `{"user":"bob","role":"editor"}`, http.StatusOK)
			ts.expect(t, alice, "POST", share, `{"user":"carol","role":"viewer"}`, http.StatusOK)
			update(bob, http.StatusOK)
			want := []string{"task:" + taskID + "#editor@user:bob", "task:" + taskID + "#viewer@user:carol"}
			if diff := cmp.Diff(want, shares()); diff != "" {
				t.Errorf("shares after the upgrade mismatch (-want +got):\n%s", diff)
			}

			// Revoke: bob loses the task entirely; carol keeps hers; revoking
			// again, or a user without a role, is the same 204.
			ts.expect(t, alice, "DELETE", share+"/bob", "", http.StatusNoContent)
			ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusNotFound)
			ts.expect(t, carol, "GET", "/tasks/"+taskID, "", http.StatusOK)
			ts.expect(t, alice, "DELETE", share+"/bob", "", http.StatusNoContent)
			ts.expect(t, alice, "DELETE", share+"/nobody", "", http.StatusNoContent)
			ts.expect(t, alice, "DELETE", share+"/not%20a%20user", "", http.StatusBadRequest)
			if diff := cmp.Diff([]string{"task:" + taskID + "#viewer@user:carol"}, shares()); diff != "" {
				t.Errorf("shares after the revocation mismatch (-want +got):\n%s", diff)
			}
			// Only the owner shares and revokes: carol, a viewer, gets 403.
			ts.expect(t, carol, "DELETE", share+"/carol", "", http.StatusForbidden)
			ts.expect(t, carol, "POST", share, `{"user":"carol","role":"editor"}`, http.StatusForbidden)

			// bob, who cannot see the task now, cannot tell it from a missing
			// one by sharing or revoking.
			const missing = "task_000000000000000000000000"
			for _, req := range []struct{ method, suffix, body string }{
				{"POST", "/share", `{"user":"bob","role":"viewer"}`},
				{"DELETE", "/share/carol", ""},
			} {
				hidden := ts.do(t, bob, req.method, "/tasks/"+taskID+req.suffix, req.body)
				absent := ts.do(t, bob, req.method, "/tasks/"+missing+req.suffix, req.body)
				if hidden.Status != http.StatusNotFound {
					t.Errorf("bob's %s %s on alice's task: status %d, want 404", req.method, req.suffix, hidden.Status)
				}
				if diff := cmp.Diff(absent, hidden); diff != "" {
					t.Errorf("bob's %s %s: alice's task vs a missing one (-missing +alice's):\n%s", req.method, req.suffix, diff)
				}
			}
			if diff := cmp.Diff([]string{"task:" + taskID + "#viewer@user:carol"}, shares()); diff != "" {
				t.Errorf("bob's attempts changed the shares (-want +got):\n%s", diff)
			}
			if !slices.Contains(ts.relationships(t, task), "task:"+taskID+"#owner@user:alice") {
				t.Errorf("alice is no longer the owner: %v", ts.relationships(t, task))
			}
		})
	}
}
