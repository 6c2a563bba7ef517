package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestMain runs one SpiceDB for the package's tests (started on first use;
// the tests fail, never skip, if it cannot start) and checks that nothing
// was left running.
//
// With FGAC_SERVICE_MAIN set, the binary is the service itself: main runs
// with the arguments, so that tests can start, kill and restart the real
// process (see restart_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(serviceMainEnv) != "" {
		main()
		os.Exit(0)
	}
	code := spicedbtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// engines are the authorization engines every end-to-end suite runs
// against.
var engines = []string{"memadapter", "spicedb"}

// The demo users' credentials.
const (
	alice = "tok-alice"
	bob   = "tok-bob"
	carol = "tok-carol"
)

// testServer is the real service, serving on a loopback port.
type testServer struct {
	url    string
	srv    *server
	client *http.Client
	logs   *syncBuffer
	stop   func() // shuts the server down; safe to call twice
}

// start runs the service with engine ("memadapter" or "spicedb") on a
// fresh loopback port and stops it when t ends. Logs are JSON, at debug
// level, into ts.logs. The reconciler runs only at start unless an option
// sets reconcileEvery.
func start(t testing.TB, engine string, opts ...func(*config)) *testServer {
	t.Helper()
	cfg := config{users: map[string]string{alice: "alice", bob: "bob", carol: "carol"}}
	if engine == "spicedb" {
		cfg.spicedbClient = spicedbtest.Client(t)
	}
	for _, o := range opts {
		o(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("newServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		s.close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln) }()
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	ts := &testServer{url: "http://" + ln.Addr().String(), srv: s, client: &http.Client{Transport: transport}, logs: logs}
	ts.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		transport.CloseIdleConnections()
		s.close()
	})
	t.Cleanup(ts.stop)
	return ts
}

// response is an answer with the headers that vary by time removed.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// do sends a request with credential as its bearer token (none if empty)
// and a JSON body (none if empty).
func (ts *testServer) do(t testing.TB, credential, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Header.Clone()
	h.Del("Date")
	return response{Status: res.StatusCode, Header: h, Body: string(b)}
}

// expect sends a request and fails t unless it answers want. It returns
// the body.
func (ts *testServer) expect(t testing.TB, credential, method, path, body string, want int) string {
	t.Helper()
	r := ts.do(t, credential, method, path, body)
	if r.Status != want {
		t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, credential, r.Status, want, r.Body)
	}
	return r.Body
}

// field decodes the JSON object body and returns its string field name.
func field(t testing.TB, body, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	s, _ := m[name].(string)
	if s == "" {
		t.Fatalf("no %s in %s", name, body)
	}
	return s
}

// ids decodes a JSON array of objects and returns their "id" fields.
func ids(t testing.TB, body string) []string {
	t.Helper()
	var rows []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// createAgent creates an agent and returns its id and API key.
func (ts *testServer) createAgent(t testing.TB, credential, name string) (id, key string) {
	t.Helper()
	body := ts.expect(t, credential, "POST", "/agents", `{"name":"`+name+`"}`, http.StatusCreated)
	return field(t, body, "id"), field(t, body, "api_key")
}

// createTask creates a task on an agent through the RPC endpoint.
func (ts *testServer) createTask(t testing.TB, credential, agentID, name string) string {
	t.Helper()
	body := ts.expect(t, credential, "POST", "/agents/"+agentID+"/rpc", `{"method":"task/create","params":{"name":"`+name+`"}}`, http.StatusCreated)
	return field(t, body, "id")
}

// registered returns the ids of typ that have at least one relationship in
// the engine.
func (ts *testServer) registered(t testing.TB, typ string) []string {
	t.Helper()
	var out []string
	cursor := ""
	for {
		page, err := ts.srv.engine.Enumerate(context.Background(), authz.EnumerateRequest{ResourceType: typ, Cursor: cursor, Consistency: authz.FullyConsistent()})
		if err != nil {
			t.Fatalf("Enumerate(%s): %v", typ, err)
		}
		out = append(out, page.IDs...)
		if page.Cursor == "" {
			slices.Sort(out)
			return out
		}
		cursor = page.Cursor
	}
}

// relationships returns the relationships of a resource, as strings.
func (ts *testServer) relationships(t testing.TB, r authz.Resource) []string {
	t.Helper()
	rels, err := ts.srv.engine.ReadRelationships(context.Background(), authz.ReadRequest{Resource: r, Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("ReadRelationships(%s): %v", r, err)
	}
	out := []string{}
	for _, rel := range rels {
		out = append(out, rel.String())
	}
	slices.Sort(out)
	return out
}

// rows returns the ids of a table's rows.
func (ts *testServer) rows(t testing.TB, table string) []string {
	t.Helper()
	ids, _, err := ts.srv.store.ids(context.Background(), table, "", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestWalkthrough is the README's curl session, step by step, against the
// real server on a real port, with each engine.
func TestWalkthrough(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)

			// alice creates an agent and a task.
			agentID, _ := ts.createAgent(t, alice, "helper")
			taskID := ts.createTask(t, alice, agentID, "report-q3")
			ts.expect(t, alice, "GET", "/tasks/"+taskID, "", http.StatusOK)

			// bob can see neither the task nor its checkpoints: 404, not 403.
			ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusNotFound)
			ts.expect(t, bob, "GET", "/tasks/name/report-q3", "", http.StatusNotFound)
			ts.expect(t, bob, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+taskID+`"}`, http.StatusNotFound)
			hidden := ts.do(t, bob, "GET", "/tasks/"+taskID, "")
			if diff := cmp.Diff(hidden, ts.do(t, bob, "GET", "/tasks/task_000000000000000000000000", "")); diff != "" {
				t.Errorf("a missing task answers differently from alice's (-alice's +missing):\n%s", diff)
			}

			// alice shares the task with bob as viewer; bob reads it and its
			// checkpoints, and gets 403 on cancel, which is the owner's alone.
			ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"bob","role":"viewer"}`, http.StatusOK)
			ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusOK)
			ts.expect(t, bob, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+taskID+`"}`, http.StatusOK)
			ts.expect(t, bob, "POST", "/tasks/"+taskID+"/cancel", "", http.StatusForbidden)

			// alice, the owner, sees who may read, update and cancel the task
			// (users only: the agent's own key is not listed). bob, who may
			// read it but not share it, and carol, who may not read it, get
			// the same 404 as for a task that does not exist.
			access := ts.expect(t, alice, "GET", "/tasks/"+taskID+"/access", "", http.StatusOK)
			wantAccess := `{"cancel":["alice"],"read":["alice","bob"],"task_id":"` + taskID + `","update":["alice"]}` + "\n"
			if access != wantAccess {
				t.Errorf("access of the task = %s, want %s", access, wantAccess)
			}
			missingAccess := ts.do(t, bob, "GET", "/tasks/task_000000000000000000000000/access", "")
			if missingAccess.Status != http.StatusNotFound {
				t.Errorf("access of a missing task: status %d, want 404", missingAccess.Status)
			}
			for _, who := range []string{bob, carol} {
				if diff := cmp.Diff(missingAccess, ts.do(t, who, "GET", "/tasks/"+taskID+"/access", "")); diff != "" {
					t.Errorf("%s: access of alice's task answers differently from a missing task's (-missing +alice's):\n%s", who, diff)
				}
			}

			// A duplicate task name is refused, and its registration, written
			// before the insert failed, is gone.
			ts.expect(t, alice, "POST", "/agents/"+agentID+"/rpc", `{"method":"task/create","params":{"name":"report-q3"}}`, http.StatusConflict)
			if diff := cmp.Diff([]string{taskID}, ts.registered(t, "task")); diff != "" {
				t.Errorf("registered tasks after the duplicate mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ts.rows(t, "tasks"), ts.registered(t, "task")); diff != "" {
				t.Errorf("registered tasks differ from task rows (-rows +registered):\n%s", diff)
			}
			if !strings.Contains(ts.logs.String(), `"event":"compensated"`) {
				t.Errorf("no compensation was logged")
			}

			// The task gets children: a message, a state, a checkpoint; its
			// tracker was created with it.
			msgID := field(t, ts.expect(t, alice, "POST", "/messages", `{"task_id":"`+taskID+`","content":"hello"}`, http.StatusCreated), "id")
			ts.expect(t, alice, "GET", "/messages/"+msgID, "", http.StatusOK)
			stateID := field(t, ts.expect(t, alice, "POST", "/states", `{"task_id":"`+taskID+`","state":{"step":1}}`, http.StatusCreated), "id")
			ts.expect(t, alice, "POST", "/checkpoints/put", `{"thread_id":"`+taskID+`","checkpoint_id":"c1","checkpoint":{"v":1}}`, http.StatusOK)
			trackers := ids(t, ts.expect(t, alice, "GET", "/trackers?task_id="+taskID, "", http.StatusOK))
			if len(trackers) != 1 {
				t.Fatalf("task has %d trackers, want 1", len(trackers))
			}

			// alice deletes the task: its children answer 404, and no
			// relationship of it remains (bob's viewer role included).
			ts.expect(t, alice, "DELETE", "/tasks/"+taskID, "", http.StatusNoContent)
			for _, path := range []string{"/tasks/" + taskID, "/messages/" + msgID, "/states/" + stateID, "/trackers/" + trackers[0]} {
				ts.expect(t, alice, "GET", path, "", http.StatusNotFound)
				ts.expect(t, bob, "GET", path, "", http.StatusNotFound)
			}
			ts.expect(t, alice, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+taskID+`"}`, http.StatusNotFound)
			if got := ts.expect(t, alice, "GET", "/messages?task_id="+taskID, "", http.StatusOK); got != "[]\n" {
				t.Errorf("messages of the deleted task: %s, want []", got)
			}
			if diff := cmp.Diff([]string{}, ts.relationships(t, authz.Resource{Type: "task", ID: taskID})); diff != "" {
				t.Errorf("relationships of the deleted task mismatch (-want +got):\n%s", diff)
			}
			// The rows went with the task (ON DELETE CASCADE), not only
			// their permissions.
			if _, err := ts.srv.store.message(context.Background(), msgID); !errors.Is(err, authz.ErrNotFound) {
				t.Errorf("message row of the deleted task: %v, want not found", err)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
