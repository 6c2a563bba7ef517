package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestAgentKeyActsOnlyOnItsOwnTasks checks that an agent API key is an
// ordinary subject, agent:<id>, scoped by the schema to its agent's tasks:
// never a bypass, and never more than read and update.
func TestAgentKeyActsOnlyOnItsOwnTasks(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			agentA, keyA := ts.createAgent(t, alice, "agent-a")
			agentB, keyB := ts.createAgent(t, alice, "agent-b")
			bobsAgent, _ := ts.createAgent(t, bob, "bobs-agent")
			mine := ts.createTask(t, alice, agentA, "task-a1")
			mine2 := ts.createTask(t, alice, agentA, "task-a2")
			sibling := ts.createTask(t, alice, agentB, "task-b1")
			foreign := ts.createTask(t, bob, bobsAgent, "task-bob")

			for _, tc := range []struct {
				name, method, path, body string
				want                     int
			}{
				{"reads its own task", "GET", "/tasks/" + mine, "", http.StatusOK},
				{"reads its own task by name", "GET", "/tasks/name/task-a1", "", http.StatusOK},
				{"posts a message to its own task", "POST", "/messages", `{"task_id":"` + mine + `","content":"working"}`, http.StatusCreated},
				{"writes a checkpoint of its own task", "POST", "/checkpoints/put", `{"thread_id":"` + mine + `","checkpoint_id":"c1","checkpoint":{}}`, http.StatusOK},
				{"updates its own task", "PUT", "/tasks/" + mine, `{"params":{"progress":1}}`, http.StatusOK},
				{"cannot cancel its own task", "POST", "/tasks/" + mine + "/cancel", "", http.StatusForbidden},
				{"cannot delete its own task", "DELETE", "/tasks/" + mine, "", http.StatusForbidden},
				{"cannot share its own task", "POST", "/tasks/" + mine + "/share", `{"user":"carol","role":"viewer"}`, http.StatusForbidden},
				{"cannot see a task of another agent of the same user", "GET", "/tasks/" + sibling, "", http.StatusNotFound},
				{"cannot see it by name either", "GET", "/tasks/name/task-b1", "", http.StatusNotFound},
				{"cannot see another user's task by name", "GET", "/tasks/name/task-bob", "", http.StatusNotFound},
				{"cannot see another user's task", "GET", "/tasks/" + foreign, "", http.StatusNotFound},
				{"cannot write to another agent's task", "POST", "/messages", `{"task_id":"` + sibling + `","content":"x"}`, http.StatusNotFound},
				{"cannot read its agent's record", "GET", "/agents/" + agentA, "", http.StatusNotFound},
				{"cannot call an agent", "POST", "/agents/" + agentA + "/rpc", `{"method":"task/create","params":{"name":"x"}}`, http.StatusNotFound},
				{"cannot create agents", "POST", "/agents", `{"name":"rogue"}`, http.StatusForbidden},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ts.expect(t, keyA, tc.method, tc.path, tc.body, tc.want)
				})
			}

			got := ids(t, ts.expect(t, keyA, "GET", "/tasks", "", http.StatusOK))
			want := []string{mine, mine2}
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tasks listed for agent-a's key mismatch (-want +got):\n%s", diff)
			}

			// Deleting an agent with tasks is refused; once its tasks are gone
			// it can be deleted, and its key stops working.
			ts.expect(t, alice, "DELETE", "/agents/"+agentB, "", http.StatusConflict)
			ts.expect(t, alice, "DELETE", "/tasks/"+sibling, "", http.StatusNoContent)
			ts.expect(t, alice, "DELETE", "/agents/"+agentB, "", http.StatusNoContent)
			ts.expect(t, keyB, "GET", "/tasks", "", http.StatusUnauthorized)
			ts.expect(t, "agk_not-a-key", "GET", "/tasks", "", http.StatusUnauthorized)
			ts.expect(t, "", "GET", "/tasks", "", http.StatusUnauthorized)
		})
	}
}

// TestRPCMethods checks the method table of the RPC endpoint: which
// resource each method is checked on, and what it refuses.
func TestRPCMethods(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			agentID, _ := ts.createAgent(t, alice, "helper")
			otherAgent, _ := ts.createAgent(t, alice, "other")
			taskID := ts.createTask(t, alice, agentID, "rpc-task")
			rpc := "/agents/" + agentID + "/rpc"
			call := func(method, params string) string { return `{"method":"` + method + `","params":` + params + `}` }

			for _, tc := range []struct {
				name, credential, path, body string
				want                         int
			}{
				{"message/send by id", alice, rpc, call("message/send", `{"task_id":"`+taskID+`","content":"hi"}`), http.StatusCreated},
				{"message/send by name", alice, rpc, call("message/send", `{"task_name":"rpc-task","content":"hi"}`), http.StatusCreated},
				{"event/send", alice, rpc, call("event/send", `{"task_id":"`+taskID+`","content":"e"}`), http.StatusCreated},
				{"both id and name", alice, rpc, call("message/send", `{"task_id":"`+taskID+`","task_name":"rpc-task"}`), http.StatusBadRequest},
				{"neither id nor name", alice, rpc, call("message/send", `{"content":"hi"}`), http.StatusBadRequest},
				{"message/send to an absent name does not create", alice, rpc, call("message/send", `{"task_name":"absent"}`), http.StatusNotFound},
				{"unknown method", alice, rpc, call("task/delete", `{"task_id":"`+taskID+`"}`), http.StatusBadRequest},
				{"task of another agent", alice, "/agents/" + otherAgent + "/rpc", call("message/send", `{"task_id":"`+taskID+`"}`), http.StatusBadRequest},
				{"bob cannot call alice's agent", bob, rpc, call("task/create", `{"name":"bobs"}`), http.StatusNotFound},
				{"task/interrupt", alice, rpc, call("task/interrupt", `{"task_id":"`+taskID+`"}`), http.StatusOK},
				{"task/cancel by name", alice, rpc, call("task/cancel", `{"task_name":"rpc-task"}`), http.StatusOK},
				{"task/cancel of a cancelled task", alice, rpc, call("task/cancel", `{"task_id":"`+taskID+`"}`), http.StatusConflict},
				{"task/create with a bad name", alice, rpc, call("task/create", `{"name":"no spaces"}`), http.StatusBadRequest},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ts.expect(t, tc.credential, "POST", tc.path, tc.body, tc.want)
				})
			}
			if got := field(t, ts.expect(t, alice, "GET", "/tasks/"+taskID, "", http.StatusOK), "status"); got != "cancelled" {
				t.Errorf("status %q, want cancelled", got)
			}
		})
	}
}

// TestRolesAndLists checks viewer against editor, and that list routes
// filter rather than refuse.
func TestRolesAndLists(t *testing.T) {
	ts := start(t, "memadapter")
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "shared")
	other := ts.createTask(t, alice, agentID, "private")
	ts.expect(t, alice, "POST", "/messages", `{"task_id":"`+taskID+`","content":"one"}`, http.StatusCreated)
	ts.expect(t, alice, "POST", "/messages", `{"task_id":"`+other+`","content":"two"}`, http.StatusCreated)

	// Before sharing, an explicit filter on alice's task is an empty list.
	if got := ts.expect(t, bob, "GET", "/messages?task_id="+taskID, "", http.StatusOK); got != "[]\n" {
		t.Errorf("bob's messages of an invisible task: %s, want []", got)
	}

	ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"bob","role":"viewer"}`, http.StatusOK)
	ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"carol","role":"editor"}`, http.StatusOK)
	ts.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"carol","role":"owner"}`, http.StatusBadRequest)
	ts.expect(t, bob, "POST", "/tasks/"+taskID+"/share", `{"user":"carol","role":"viewer"}`, http.StatusForbidden)

	for _, tc := range []struct {
		name, credential, method, path, body string
		want                                 int
	}{
		{"viewer reads", bob, "GET", "/tasks/" + taskID, "", http.StatusOK},
		{"viewer cannot update", bob, "PUT", "/tasks/" + taskID, `{"params":{}}`, http.StatusForbidden},
		{"viewer cannot post a message", bob, "POST", "/messages", `{"task_id":"` + taskID + `","content":"x"}`, http.StatusForbidden},
		{"editor updates", carol, "PUT", "/tasks/" + taskID, `{"params":{"x":1}}`, http.StatusOK},
		// Names are the owner's: carol's name routes resolve her own names.
		{"editor cannot address the task by alice's name", carol, "PUT", "/tasks/name/shared", `{"params":{"x":1}}`, http.StatusNotFound},
		{"editor posts a message", carol, "POST", "/messages", `{"task_id":"` + taskID + `","content":"x"}`, http.StatusCreated},
		{"editor cannot cancel", carol, "POST", "/tasks/" + taskID + "/cancel", "", http.StatusForbidden},
		{"editor cannot delete", carol, "DELETE", "/tasks/" + taskID, "", http.StatusForbidden},
		{"editor cannot delete a checkpoint thread", carol, "POST", "/checkpoints/delete-thread", `{"thread_id":"` + taskID + `"}`, http.StatusForbidden},
		{"bad limit", alice, "GET", "/tasks?limit=0", "", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.expect(t, tc.credential, tc.method, tc.path, tc.body, tc.want)
		})
	}

	// bob's lists hold exactly what he can see.
	if diff := cmp.Diff([]string{taskID}, ids(t, ts.expect(t, bob, "GET", "/tasks", "", http.StatusOK))); diff != "" {
		t.Errorf("bob's tasks mismatch (-want +got):\n%s", diff)
	}
	var msgs []message
	json.Unmarshal([]byte(ts.expect(t, bob, "GET", "/messages", "", http.StatusOK)), &msgs)
	for _, m := range msgs {
		if m.TaskID != taskID {
			t.Errorf("bob sees a message of task %s", m.TaskID)
		}
	}
	if len(msgs) != 2 {
		t.Errorf("bob sees %d messages, want 2", len(msgs))
	}

	// Pages of tasks: limit and after.
	all := ids(t, ts.expect(t, alice, "GET", "/tasks", "", http.StatusOK))
	page1 := ids(t, ts.expect(t, alice, "GET", "/tasks?limit=1", "", http.StatusOK))
	page2 := ids(t, ts.expect(t, alice, "GET", "/tasks?limit=1&after="+page1[0], "", http.StatusOK))
	if diff := cmp.Diff(all, append(page1, page2...)); diff != "" {
		t.Errorf("pages mismatch (-all +pages):\n%s", diff)
	}
}

// TestLogsCarryNoCredentials checks that no token or key reaches the log,
// and that request lines hold exactly method, route pattern, status and
// duration: no path (which carries ids and names), no header, no subject.
func TestLogsCarryNoCredentials(t *testing.T) {
	ts := start(t, "memadapter")
	agentID, key := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "secret-name")
	ts.expect(t, key, "GET", "/tasks/"+taskID, "", http.StatusOK)
	ts.expect(t, bob, "GET", "/tasks/name/secret-name", "", http.StatusNotFound)
	ts.expect(t, "wrong-token", "GET", "/tasks", "", http.StatusUnauthorized)

	logs := ts.logs.String()
	for _, secret := range []string{alice, bob, key, "wrong-token", "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
	requests := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] != "request" {
			continue
		}
		requests++
		var keys []string
		for k := range rec {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if diff := cmp.Diff([]string{"duration", "level", "method", "msg", "route", "status", "time"}, keys); diff != "" {
			t.Errorf("request log line %s has other fields (-want +got):\n%s", sc.Text(), diff)
		}
		if strings.Contains(sc.Text(), "secret-name") || strings.Contains(sc.Text(), taskID) {
			t.Errorf("request log line %s names a resource", sc.Text())
		}
	}
	if requests != 5 {
		t.Errorf("%d request lines, want 5", requests)
	}
}

// TestRestartKeepsTheGraph restarts the service on the same database
// file with memadapter, whose graph is in a file beside the database:
// owners, agent keys and roles granted by sharing all survive, and the
// reconciler, which still runs at start, finds nothing to repair.
func TestRestartKeepsTheGraph(t *testing.T) {
	db := filepath.Join(t.TempDir(), "service.db")
	withDB := func(c *config) { c.dbPath = db }

	first := start(t, "memadapter", withDB)
	agentID, key := first.createAgent(t, alice, "helper")
	taskID := first.createTask(t, alice, agentID, "durable")
	first.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"bob","role":"viewer"}`, http.StatusOK)
	first.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusOK)
	first.stop()

	second := start(t, "memadapter", withDB)
	second.expect(t, alice, "GET", "/tasks/"+taskID, "", http.StatusOK)
	second.expect(t, alice, "GET", "/agents/"+agentID, "", http.StatusOK)
	second.expect(t, key, "GET", "/tasks/"+taskID, "", http.StatusOK)
	second.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusOK)
	for _, typ := range []string{"agent", "task"} {
		reps := reports(t, second.logs.String(), "start", typ)
		if len(reps) != 1 || reps[0]["reregistered"] != 0.0 || reps[0]["registrations"] != 1.0 {
			t.Errorf("the restart's %s reports %v, want one with 1 registration that reregistered nothing", typ, reps)
		}
	}
}

// TestReconcilerRestoresALostGraph starts the service on a database whose
// graph file is gone: the reconciler re-registers every row from the owner
// and parent the database records, so owners and agent keys work again;
// roles granted by sharing lived only in the graph and are gone.
func TestReconcilerRestoresALostGraph(t *testing.T) {
	db := filepath.Join(t.TempDir(), "service.db")
	withDB := func(c *config) { c.dbPath = db }

	first := start(t, "memadapter", withDB)
	agentID, key := first.createAgent(t, alice, "helper")
	taskID := first.createTask(t, alice, agentID, "durable")
	first.expect(t, alice, "POST", "/tasks/"+taskID+"/share", `{"user":"bob","role":"viewer"}`, http.StatusOK)
	first.stop()
	if err := os.Remove(graphPath(db)); err != nil {
		t.Fatal(err)
	}

	second := start(t, "memadapter", withDB)
	second.expect(t, alice, "GET", "/tasks/"+taskID, "", http.StatusOK)
	second.expect(t, alice, "GET", "/agents/"+agentID, "", http.StatusOK)
	second.expect(t, key, "GET", "/tasks/"+taskID, "", http.StatusOK)
	second.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusNotFound)
	for _, typ := range []string{"agent", "task"} {
		reps := reports(t, second.logs.String(), "start", typ)
		if len(reps) != 1 || reps[0]["reregistered"] != 1.0 {
			t.Errorf("the restart's %s reports %v, want one that reregistered 1", typ, reps)
		}
	}
}

// TestSpiceDBFromFlags starts the service the way main does, with
// -spicedb-endpoint and -spicedb-key, against a SpiceDB of its own: the
// schema is written at start and the walkthrough's first steps work.
func TestSpiceDBFromFlags(t *testing.T) {
	const key = "fgac-service-test-key"
	srv := spicedbtest.StartServerWithKey(t, key)
	cfg, err := parseConfig([]string{"-users", "alice=tok-alice,bob=tok-bob", "-spicedb-endpoint", srv.Addr()},
		func(name string) string {
			if name == "FGAC_SPICEDB_KEY" {
				return key
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- run(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), ln) }()
	transport := &http.Transport{}
	ts := &testServer{url: "http://" + ln.Addr().String(), client: &http.Client{Transport: transport}, logs: logs}
	t.Cleanup(transport.CloseIdleConnections)

	ts.expect(t, "", "GET", "/healthz", "", http.StatusOK)
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "report")
	ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusNotFound)
	ts.expect(t, alice, "GET", "/tasks/"+taskID, "", http.StatusOK)

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(logs.String(), `"engine":"spicedb"`) {
		t.Errorf("the service did not report the spicedb engine:\n%s", logs)
	}
}

// TestShutdownLetsRequestsFinish cancels serve's context while a request
// is in flight: the request completes, then serve returns nil.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write([]byte("done"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	log := slog.New(slog.DiscardHandler)
	go func() { served <- serve(ctx, newHTTPServer(h, log, defaultRequestTimeout), log, ln) }()

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	got := make(chan error, 1)
	go func() {
		res, err := (&http.Client{Transport: transport}).Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				err = errors.New(res.Status)
			}
		}
		got <- err
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		t.Fatalf("serve returned with a request in flight: %v", err)
	default:
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after shutdown")
	}
}

// TestParseConfig checks flags, their environment variables and the
// validation of users; its errors never contain a token.
func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{
			name: "defaults",
			want: config{addr: "127.0.0.1:8080", demoUsers: true, users: map[string]string{"tok-alice": "alice", "tok-bob": "bob", "tok-carol": "carol"}, reconcileEvery: time.Minute, requestTimeout: 10 * time.Second},
		},
		{
			name: "environment",
			env:  map[string]string{"FGAC_ADDR": ":9000", "FGAC_DB": "x.db", "FGAC_USERS": "dana=s3cret", "FGAC_SPICEDB_ENDPOINT": "localhost:50051", "FGAC_SPICEDB_KEY": "k", "FGAC_LOG_LEVEL": "debug", "FGAC_RECONCILE_EVERY": "30s", "FGAC_REQUEST_TIMEOUT": "3s"},
			want: config{addr: ":9000", dbPath: "x.db", users: map[string]string{"s3cret": "dana"}, spicedbEndpoint: "localhost:50051", spicedbKey: "k", logLevel: slog.LevelDebug, reconcileEvery: 30 * time.Second, requestTimeout: 3 * time.Second},
		},
		{
			name: "flags win over the environment",
			args: []string{"-addr", ":9001", "-users", "erin=t1,frank=t2", "-reconcile-every", "0", "-request-timeout", "250ms"},
			env:  map[string]string{"FGAC_ADDR": ":9000", "FGAC_USERS": "dana=s3cret", "FGAC_RECONCILE_EVERY": "30s", "FGAC_REQUEST_TIMEOUT": "3s"},
			want: config{addr: ":9001", users: map[string]string{"t1": "erin", "t2": "frank"}, requestTimeout: 250 * time.Millisecond},
		},
		{name: "endpoint without key", args: []string{"-spicedb-endpoint", "localhost:50051"}, wantErr: "needs -spicedb-key"},
		{name: "entry without token", args: []string{"-users", "dana=s3cret,erin"}, wantErr: "entry 2 is not name=token"},
		{name: "shared token", args: []string{"-users", "dana=s3cret,erin=s3cret"}, wantErr: "reuses another user's token"},
		{name: "bad user name", args: []string{"-users", "da na=s3cret"}, wantErr: "entry 1: name must be"},
		{name: "token like an agent key", args: []string{"-users", "dana=agk_s3cret"}, wantErr: "must not start with agk_"},
		{name: "bad log level", args: []string{"-log-level", "loud"}, wantErr: "log level"},
		{name: "negative reconcile interval", args: []string{"-reconcile-every", "-1m"}, wantErr: "reconcile-every"},
		{name: "reconcile interval without unit", args: []string{"-reconcile-every", "60"}, wantErr: "reconcile-every"},
		{name: "zero request timeout", args: []string{"-request-timeout", "0"}, wantErr: "request-timeout"},
		{name: "request timeout without unit", args: []string{"-request-timeout", "10"}, wantErr: "request-timeout"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, func(name string) string { return tc.env[name] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q contains a token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("config mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStartFailsCleanly checks that a service that cannot start (here:
// SpiceDB is not there) returns the error, closes the listener and leaves
// nothing running.
func TestStartFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := nowhere.Addr().String()
	nowhere.Close()
	cfg := config{users: map[string]string{alice: "alice"}, spicedbEndpoint: addr, spicedbKey: "k"}
	if err := run(context.Background(), cfg, slog.New(slog.DiscardHandler), ln); err == nil || !strings.Contains(err.Error(), "write schema") {
		t.Fatalf("run = %v, want a schema write error", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
}

// TestAuthentication checks the Authorization header: a bearer user token
// or agent key, the scheme in any letter case; anything else is 401 on
// every route but /healthz.
func TestAuthentication(t *testing.T) {
	ts := start(t, "memadapter")
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"user token", "Bearer tok-alice", http.StatusOK},
		{"scheme in lower case", "bearer tok-alice", http.StatusOK},
		{"no header", "", http.StatusUnauthorized},
		{"empty token", "Bearer ", http.StatusUnauthorized},
		{"unknown token", "Bearer tok-mallory", http.StatusUnauthorized},
		{"other scheme", "Basic tok-alice", http.StatusUnauthorized},
		{"token without scheme", "tok-alice", http.StatusUnauthorized},
		{"unknown agent key", "Bearer agk_0000", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", ts.url+"/tasks", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := ts.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Errorf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	ts.expect(t, "", "GET", "/healthz", "", http.StatusOK)
}
