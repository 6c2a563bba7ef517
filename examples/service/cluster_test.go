package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/clustertest"
)

// The tests in this file run the service on a SpiceDB cluster over
// PostgreSQL (package clustertest), given to the service as
// -spicedb-endpoint with the nodes' endpoints comma-separated. They run when
// $FGAC_POSTGRES is set and skip, saying so, otherwise.

// clusterRequestTimeout is the service's -request-timeout in these tests.
const clusterRequestTimeout = 5 * time.Second

// startOnCluster starts a cluster and the service on it.
func startOnCluster(t *testing.T, opts ...func(*config)) (*clustertest.Cluster, *testServer) {
	t.Helper()
	c := clustertest.Start(t, clustertest.Options{})
	ts := start(t, "spicedb-cluster", append([]func(*config){func(cfg *config) {
		cfg.spicedbEndpoint = strings.Join(c.Endpoints(), ",")
		cfg.spicedbKey = c.Key
		cfg.requestTimeout = clusterRequestTimeout
	}}, opts...)...)
	if ts.srv.engineName != "spicedb" {
		t.Fatalf("engine %s, want spicedb", ts.srv.engineName)
	}
	return c, ts
}

// permissionCalls returns how many PermissionsService calls node i has
// served since it started.
func permissionCalls(t testing.TB, c *clustertest.Cluster, i int) float64 {
	t.Helper()
	v, err := c.Nodes[i].Metrics(t.Context(), "grpc_server_handled_total", `grpc_service="authzed.api.v1.PermissionsService"`)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestLoadSurvivesNodeKill runs TestLoad's workers against the service on
// the cluster, kills one node with SIGKILL, keeps it down for longer than
// the 503s may last, and starts it again, without restarting the service.
// Every answer is checked against the model: none may be wrong, every 5xx
// must be a 503, the 503s must stop while the node is still down (once its
// peers have re-resolved the dispatch name, see
// clustertest.DiscoveryInterval), and none may come in the last seconds,
// after the node's return. The test reports the window and how long the restarted
// node took to serve again. A list that leaves out a task the caller could
// read fails closed; it is reported apart (see the report in the log).
//
// Every answer must be one a state possible while its request was in
// flight explains: no stale answer is tolerated. SpiceDB's fully
// consistent reads are not read-your-writes under concurrent load, but the
// service's checks read at least as fresh as the caller's last write (see
// freshness and TestReadYourWritesOnCluster).
func TestLoadSurvivesNodeKill(t *testing.T) {
	t.Parallel()
	users := map[string]string{}
	for _, u := range loadUsers {
		users["tok-"+u] = u
	}
	c, ts := startOnCluster(t, func(cfg *config) { cfg.users, cfg.logLevel = users, slog.LevelError })
	m := &model{tasks: map[taskKey]*taskModel{}, owners: map[string]int{}}
	agents := make([]string, len(loadUsers))
	for i, u := range loadUsers {
		agents[i], _ = ts.createAgent(t, "tok-"+u, "agent")
		m.owners[agents[i]] = i
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var workers []*loadWorker
	for ui := range loadUsers {
		for wi := range loadWorkers {
			w := &loadWorker{
				t: t, ts: ts, m: m, user: ui, agent: agents[ui],
				name:   fmt.Sprintf("%s-%d", loadUsers[ui], wi),
				prefix: fmt.Sprintf("w%d", wi),
				rng:    rand.New(rand.NewPCG(uint64(ui), uint64(wi))),
				outage: true,
				stop:   stop,
			}
			workers = append(workers, w)
		}
	}
	begin := time.Now()
	for _, w := range workers {
		wg.Go(func() { w.run(begin.Add(10 * time.Minute)) })
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer halt()

	time.Sleep(2 * time.Second)
	const victim = 1
	killed := time.Now()
	t.Logf("node %d killed at %s", victim, killed.Format("15:04:05.000"))
	if err := c.Nodes[victim].Kill(); err != nil {
		t.Fatal(err)
	}
	// Down for longer than the 503s may last (bound, below), so that 503s
	// that go on until the node's return fail the test. That the 503s
	// stopped while the node was still down is checked at the end.
	bound := clustertest.DiscoveryInterval + clusterRequestTimeout + 3*time.Second
	time.Sleep(bound + 2*time.Second)
	downFor := time.Since(killed)
	if err := c.Nodes[victim].Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	t.Logf("node %d back at %s", victim, restarted.Format("15:04:05.000"))
	for permissionCalls(t, c, victim) == 0 {
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("the restarted node served no call within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	back := time.Since(restarted)
	time.Sleep(6 * time.Second)
	halt()
	elapsed := time.Since(begin)

	var lat []time.Duration
	var wrong, omitted []string
	var failures []time.Time
	fivexx := 0
	for _, w := range workers {
		lat = append(lat, w.latencies...)
		wrong = append(wrong, w.wrong...)
		omitted = append(omitted, w.omitted...)
		failures = append(failures, w.failures...)
		fivexx += w.fivexx
	}
	slices.SortFunc(failures, func(a, b time.Time) int { return a.Compare(b) })
	var window time.Duration
	var offsets []string
	afterBack := 0
	for _, at := range failures {
		offsets = append(offsets, at.Sub(killed).Round(100*time.Millisecond).String())
		if at.Before(killed) {
			t.Errorf("a request failed %v before the kill", killed.Sub(at))
		}
		if at.After(restarted) {
			afterBack++
			continue
		}
		window = max(window, at.Sub(killed))
	}
	t.Logf("node kill under load: %d requests in %v, %d answered 503 (all 5xx: %d), the last before the node's return %v after the kill, %d after it (node down %v); %d wrong; %d lists left out a readable task; the restarted node served calls %v after it was up",
		len(lat), elapsed.Round(time.Millisecond), len(failures), fivexx, window.Round(time.Millisecond), afterBack, downFor.Round(time.Millisecond), len(wrong), len(omitted), back.Round(time.Millisecond))
	t.Logf("503s at kill+: %s", strings.Join(offsets, " "))
	for _, o := range omitted {
		t.Log("omitted (fails closed): " + o)
	}
	if fivexx != len(failures) {
		t.Errorf("%d 5xx answers were not 503", fivexx-len(failures))
	}
	// The peers must have dropped the dead node while it was still down:
	// the 503s stop well before its return.
	if window > bound {
		t.Errorf("503s went on for %v after the kill, want them to stop within %v, while the node was down", window, bound)
	}
	if n := len(failures); n > 0 && failures[n-1].After(time.Now().Add(-3*time.Second)) {
		t.Errorf("requests still answered 503 in the last 3s of the run, after the node's return: no recovery")
	}
	for i, msg := range wrong {
		if i == 20 {
			t.Errorf("... and %d more wrong answers", len(wrong)-i)
			break
		}
		t.Error(msg)
	}
}

// TestPostgresOutageFailsClosed stops PostgreSQL under the cluster: every
// request, for an existing task, a missing one, another user's, a create
// and a delete, answers 503 within the request deadline, and no handler
// runs (no row appears or disappears). The requests are sent at once: each
// waits out its deadline. Once PostgreSQL is back the service
// answers again without being restarted, and a reconcile finds the graph
// and the database in agreement.
func TestPostgresOutageFailsClosed(t *testing.T) {
	t.Parallel()
	c, ts := startOnCluster(t)
	agentID, _ := ts.createAgent(t, alice, "helper")
	taskID := ts.createTask(t, alice, agentID, "report")
	rowsBefore := ts.rows(t, "tasks")

	if err := c.Postgres.Stop(); err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		name, credential, method, path, body string
	}{
		{"own task", alice, "GET", "/tasks/" + taskID, ""},
		{"other's task", bob, "GET", "/tasks/" + taskID, ""},
		{"missing task", alice, "GET", "/tasks/task_ffffffffffffffffffffffff", ""},
		{"create", alice, "POST", "/agents/" + agentID + "/rpc", `{"method":"task/create","params":{"name":"during-outage"}}`},
		{"delete", alice, "DELETE", "/tasks/" + taskID, ""},
		{"share", alice, "POST", "/tasks/" + taskID + "/share", `{"user":"bob","role":"viewer"}`},
		{"list", alice, "GET", "/tasks", ""},
	}
	took := make([]time.Duration, len(requests))
	got := make([]response, len(requests))
	var wg sync.WaitGroup
	for i, r := range requests {
		wg.Go(func() {
			began := time.Now()
			got[i] = ts.do(t, r.credential, r.method, r.path, r.body)
			took[i] = time.Since(began)
		})
	}
	wg.Wait()
	slowest := time.Duration(0)
	for i, r := range requests {
		slowest = max(slowest, took[i])
		if got[i].Status != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: status %d, want 503; body %s", r.name, got[i].Status, got[i].Body)
		}
		if took[i] > clusterRequestTimeout+time.Second {
			t.Errorf("%s took %v, past the request deadline of %v", r.name, took[i], clusterRequestTimeout)
		}
	}
	if diff := cmp.Diff(rowsBefore, ts.rows(t, "tasks")); diff != "" {
		t.Errorf("rows changed during the outage (-before +after):\n%s", diff)
	}
	t.Logf("PostgreSQL down: %d requests answered 503, the slowest in %v (deadline %v)", len(requests), slowest.Round(time.Millisecond), clusterRequestTimeout)

	if err := c.Postgres.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Recovered once reads and creates, spread round robin over the
	// nodes, have all succeeded 12 times in a row (each node's connection
	// pools reconnect on their own).
	back := time.Now()
	var firstOK time.Duration
	for streak, i := 0, 0; streak < 12; i++ {
		var got response
		if i%2 == 0 {
			got = ts.do(t, alice, "GET", "/tasks/"+taskID, "")
		} else {
			got = ts.do(t, alice, "POST", "/agents/"+agentID+"/rpc", fmt.Sprintf(`{"method":"task/create","params":{"name":"after-%d"}}`, i))
		}
		switch got.Status {
		case http.StatusOK, http.StatusCreated:
			if firstOK == 0 {
				firstOK = time.Since(back)
			}
			streak++
			continue
		case http.StatusServiceUnavailable:
			streak = 0
		default:
			t.Fatalf("after PostgreSQL returned: status %d, want 200/201 (or 503 until it recovers); body %s", got.Status, got.Body)
		}
		if time.Since(back) > time.Minute {
			t.Fatal("the service did not recover within a minute of PostgreSQL's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("PostgreSQL back: first success %v, and 12 in a row (every node) %v, after PostgreSQL accepted connections",
		firstOK.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	ts.expect(t, bob, "GET", "/tasks/"+taskID, "", http.StatusNotFound)
	newTask := ts.createTask(t, alice, agentID, "after-outage")
	ts.expect(t, alice, "GET", "/tasks/"+newTask, "", http.StatusOK)

	if err := ts.srv.reconcile(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ts.rows(t, "tasks"), ts.registered(t, "task")); diff != "" {
		t.Errorf("registered tasks differ from rows after the outage (-rows +registered):\n%s", diff)
	}
}

// TestSpiceDBEndpointList dials the comma-separated endpoints of a cluster
// (no node needs to run: connections are made lazily) and refuses a list
// with a malformed entry.
func TestSpiceDBEndpointList(t *testing.T) {
	for _, tc := range []struct {
		name, endpoint string
		ok             bool
	}{
		{name: "one", endpoint: "127.0.0.1:50051", ok: true},
		{name: "three on loopback", endpoint: "127.0.0.1:50051,127.0.0.2:50051, localhost:50052", ok: true},
		{name: "remote, over TLS", endpoint: "10.0.0.1:50051,10.0.0.2:50051", ok: true},
		{name: "empty entry", endpoint: "127.0.0.1:50051,,127.0.0.1:50052"},
		{name: "no port", endpoint: "127.0.0.1:50051,127.0.0.1"},
		{name: "repeated", endpoint: "127.0.0.1:50051,127.0.0.1:50051"},
		{name: "one node twice", endpoint: "127.0.0.1:50051,localhost:50051"},
		{name: "port out of range", endpoint: "127.0.0.1:50051,127.0.0.1:99999"},
		{name: "unix socket", endpoint: "127.0.0.1:50051,unix:///run/spicedb.sock"},
		// One endpoint is checked as strictly as a list.
		{name: "one, port out of range", endpoint: "127.0.0.1:99999"},
		{name: "one, port zero", endpoint: "127.0.0.1:0"},
		{name: "one, a scheme", endpoint: "dns:///spicedb:50051"},
		{name: "short IPv4 of a listed node", endpoint: "127.0.0.1:50051,127.1:50051"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialSpiceDB(tc.endpoint, "s3cret-preshared")
			if c != nil {
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("dialSpiceDB(%q): %v, want ok=%v", tc.endpoint, err, tc.ok)
			}
			if err != nil && !tc.ok && !strings.Contains(err.Error(), "endpoint ") {
				t.Errorf("dialSpiceDB(%q): %v does not name the entry", tc.endpoint, err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret-preshared") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
}

// pressureClients is how many other clients keep fully consistent checks
// in flight during TestReadYourWritesOnCluster.
const pressureClients = 16

// probeWorkers is how many clients share, read, unshare and read in
// TestReadYourWritesOnCluster, each on a task and with a reader of its own.
const probeWorkers = 8

// TestReadYourWritesOnCluster shares a task with a user who reads it at
// once (200 expected), unshares it, and the user reads it at once again
// (404 expected), round after round for 20 s, while other clients keep
// fully consistent checks in flight, as in a busy deployment. It does so
// side by side against the service, whose checks read at least as fresh
// as the caller's last write (see freshness), and against a control
// service on a cluster of its own whose checks are fully consistent
// (config.noFreshTokens): SpiceDB shares one in-flight HeadRevision query
// among the fully consistent requests that arrive while it runs, so the
// control may answer from a snapshot without the share or the unshare
// (spicedbadapter's TestFullyConsistentIsNotReadYourWrites). With tokens no answer may be stale; the control's
// stale answers are counted and reported.
func TestReadYourWritesOnCluster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		control bool
	}{{"tokens", false}, {"fully consistent (control)", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each on its own cluster
			users := map[string]string{"tok-owner": "owner"}
			for i := range probeWorkers {
				users[fmt.Sprintf("tok-reader%d", i)] = fmt.Sprintf("reader%d", i)
			}
			_, ts := startOnCluster(t, func(cfg *config) {
				cfg.users, cfg.logLevel, cfg.noFreshTokens = users, slog.LevelError, tc.control
			})
			agent, _ := ts.createAgent(t, "tok-owner", "agent")
			tasks := make([]string, probeWorkers)
			for i := range tasks {
				tasks[i] = ts.createTask(t, "tok-owner", agent, fmt.Sprintf("probe%d", i))
			}
			deadline := time.Now().Add(20 * time.Second)
			var wg sync.WaitGroup
			var pressure atomic.Int64
			for i := range pressureClients {
				wg.Go(func() {
					req := authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("pressure%d", i)}, Resource: authz.Resource{Type: "task", ID: tasks[0]}, Permission: "read", Consistency: authz.FullyConsistent()}
					for time.Now().Before(deadline) {
						ctx, cancel := context.WithTimeout(context.Background(), clusterRequestTimeout)
						_, _ = ts.srv.engine.Check(ctx, req)
						cancel()
						pressure.Add(1)
					}
				})
			}
			var rounds, staleRefused, staleAllowed, failed atomic.Int64
			for i, task := range tasks {
				reader, readerTok := fmt.Sprintf("reader%d", i), fmt.Sprintf("tok-reader%d", i)
				wg.Go(func() {
					for time.Now().Before(deadline) {
						rounds.Add(1)
						if res := ts.do(t, "tok-owner", "POST", "/tasks/"+task+"/share", `{"user":"`+reader+`","role":"viewer"}`); res.Status != http.StatusOK {
							failed.Add(1)
							continue
						}
						switch ts.do(t, readerTok, "GET", "/tasks/"+task, "").Status {
						case http.StatusOK:
						case http.StatusNotFound:
							staleRefused.Add(1)
						default:
							failed.Add(1)
						}
						if res := ts.do(t, "tok-owner", "DELETE", "/tasks/"+task+"/share/"+reader, ""); res.Status != http.StatusNoContent {
							failed.Add(1)
							continue
						}
						switch ts.do(t, readerTok, "GET", "/tasks/"+task, "").Status {
						case http.StatusNotFound:
						case http.StatusOK:
							staleAllowed.Add(1)
						default:
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			t.Logf("%s: %d rounds of share, read, unshare, read by %d clients (and %d fully consistent checks from %d other clients): %d reads refused right after the share, %d allowed right after the unshare, %d requests failed",
				tc.name, rounds.Load(), probeWorkers, pressure.Load(), pressureClients, staleRefused.Load(), staleAllowed.Load(), failed.Load())
			// A failed request (503 at the deadline, on a machine loaded by
			// the rest of the suite) fails closed and is no stale answer;
			// more than one round in 50 would hide stale answers.
			if n, r := failed.Load(), rounds.Load(); n*50 > r || r < 20 {
				t.Errorf("%d requests failed in %d rounds on a healthy cluster: want at least 20 rounds and at most one failure in 50", n, r)
			}
			if n, m := staleRefused.Load(), staleAllowed.Load(); !tc.control && n+m > 0 {
				t.Errorf("with tokens: %d reads refused right after the share, %d allowed right after the unshare; want none", n, m)
			}
		})
	}
}
