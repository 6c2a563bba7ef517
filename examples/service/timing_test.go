package main

// TestProbeTiming is a measurement, not a test (issue 11 item 12). Over a
// real SpiceDB and the real service on loopback it compares how long bob
// waits for the 404 of a child of alice's task and for the 404 of a child
// that does not exist (and the same for top-level tasks), against two A/A
// controls that measure the noise floor, then takes the decision apart
// phase by phase in process. It runs only when asked:
//
//	go test -run TestProbeTiming -v ./examples/service/ -args -timing.probes=2000
//	go test -run TestProbeTiming -v ./examples/service/ -args -timing.probes=2000 -timing.others=2000
//
// It asserts nothing about time: only that every probe of a route answers
// the same bytes (a 404).
//
// What it showed: SpiceDB's memory datastore, which the tests run, finds a
// task's relationships by scanning every relationship of the type and
// relation and comparing resource ids as Go strings. collapse.DecoyID (26
// bytes) differs in length from every task id (29 bytes), so each of those
// comparisons stops at the length, while a real or real-shaped id pays a
// byte comparison per relationship: the decoy check is cheaper than the
// check of a real parent by an amount that grows with the number of task
// relationships in SpiceDB (about 17µs per 2,000, hence 26-55µs once other
// tenants' tasks fill it). A decoy shaped like the type's real ids
// (timingShapedDecoy) costs what a real one does; the "engine" and
// "library" phases measure both.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/parent"
	"github.com/fgac-go/fgac/schema"
)

var (
	timingProbes  = flag.Int("timing.probes", 0, "TestProbeTiming: probes per kind and run (0 skips the measurement)")
	timingRuns    = flag.Int("timing.runs", 3, "TestProbeTiming: number of runs")
	timingWarmup  = flag.Int("timing.warmup", 200, "TestProbeTiming: discarded warm-up rounds per run")
	timingOrder   = flag.String("timing.order", "random", "TestProbeTiming: order of the probes within a round: random (new every round), fixed (round robin, always the same; fixed:1023 names the order of the kinds) or blocks (all probes of a kind, then the next: not interleaved)")
	timingServer  = flag.String("timing.spicedb", "serve-testing", "TestProbeTiming: serve-testing (the tests' shared SpiceDB: no dispatch cache) or serve (spicedb serve, memory datastore, default dispatch cache)")
	timingService = flag.String("timing.service", "inprocess", "TestProbeTiming: inprocess (the service in the test binary, as the other tests run it) or binary (go build the service and run it as its own process with -spicedb-endpoint; implies -timing.spicedb=serve, no phases)")
	timingDB      = flag.String("timing.db", "memory", "TestProbeTiming: the service's SQLite database: memory or file")
	timingFill    = flag.Int("timing.fill", 0, "TestProbeTiming: extra messages put on alice's task before measuring (in process only)")
	timingOthers  = flag.Int("timing.others", 0, "TestProbeTiming: tasks carol creates (over HTTP, each with its owner and parent relationships) before measuring: other tenants' data in the same SpiceDB and database")
	timingViewers = flag.Int("timing.viewers", 0, "TestProbeTiming: extra users given viewer on alice's task before measuring (in process only)")
	timingPhase   = flag.String("timing.phases", "store,engine,library,variants", "TestProbeTiming: the phases to time in process after the HTTP probes (comma-separated, none for none): store, engine, library, variants")
	timingHTTPOn  = flag.Bool("timing.http", true, "TestProbeTiming: send the HTTP probes")
)

// Ids that name nothing.
const (
	timingNoMessage  = "msg_000000000000000000000000"
	timingNoMessage2 = "msg_000000000000000000000001"
	timingNoTask     = "task_000000000000000000000000"
)

// timingWorld is alice's agent, task and children, which bob cannot see.
type timingWorld struct {
	agent, task, message, state, tracker, event string
}

// newTimingWorld creates alice's agent and task with a message, a state,
// a checkpoint and an event (the tracker comes with the task), over HTTP.
func newTimingWorld(t *testing.T, ts *testServer) timingWorld {
	t.Helper()
	var w timingWorld
	w.agent = field(t, ts.expect(t, alice, "POST", "/agents", `{"name":"timing-agent"}`, http.StatusCreated), "id")
	w.task = field(t, ts.expect(t, alice, "POST", "/agents/"+w.agent+"/rpc", `{"method":"task/create","params":{"name":"timing-task"}}`, http.StatusCreated), "id")
	w.message = field(t, ts.expect(t, alice, "POST", "/messages", `{"task_id":"`+w.task+`","content":"hi"}`, http.StatusCreated), "id")
	w.state = field(t, ts.expect(t, alice, "POST", "/states", `{"task_id":"`+w.task+`","state":{}}`, http.StatusCreated), "id")
	w.tracker = ids(t, ts.expect(t, alice, "GET", "/trackers?task_id="+w.task, "", http.StatusOK))[0]
	w.event = field(t, ts.expect(t, alice, "POST", "/agents/"+w.agent+"/rpc", `{"method":"event/send","params":{"task_id":"`+w.task+`","content":"e"}}`, http.StatusCreated), "id")
	ts.expect(t, alice, "POST", "/checkpoints/put", `{"thread_id":"`+w.task+`","checkpoint_id":"c1","checkpoint":{}}`, http.StatusOK)
	return w
}

// timingKind is one kind of probe: a GET bob sends, which must answer
// exactly what the first probe of its group answered.
type timingKind struct {
	name  string
	group string
	path  string
	id    string // the resource the decision log names (type:id)
}

// timingGap is a comparison of two kinds.
type timingGap struct {
	name string
	a, b int
}

// timingStats summarises samples.
type timingStats struct {
	n                int
	p10, median, p90 time.Duration
}

func timingSummary(ds []time.Duration) timingStats {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(p*float64(len(s))))]
	}
	return timingStats{n: len(s), p10: q(0.1), median: q(0.5), p90: q(0.9)}
}

func timingUS(d time.Duration) string {
	return fmt.Sprintf("%6.1fµs", float64(d)/float64(time.Microsecond))
}

// timingPaired returns the median of a[i]-b[i] (the gap within a round,
// from which noise shared by the round cancels) and a 95% bootstrap
// interval of that median.
func timingPaired(a, b []time.Duration) (median, lo, hi time.Duration) {
	n := min(len(a), len(b))
	if n == 0 {
		return 0, 0, 0
	}
	d := make([]time.Duration, n)
	for i := range d {
		d[i] = a[i] - b[i]
	}
	median = timingSummary(d).median
	rng := rand.New(rand.NewPCG(3, 4))
	const resamples = 400
	meds := make([]time.Duration, resamples)
	s := make([]time.Duration, n)
	for r := range meds {
		for i := range s {
			s[i] = d[rng.IntN(n)]
		}
		slices.Sort(s)
		meds[r] = s[n/2]
	}
	slices.Sort(meds)
	return median, meds[resamples*25/1000], meds[resamples*975/1000]
}

// timingOrderOf returns the order of kinds of a fixed round.
func timingOrderOf(kinds int) []int {
	order := make([]int, 0, kinds)
	seen := make([]bool, kinds)
	perm, _ := strings.CutPrefix(*timingOrder, "fixed:")
	for _, c := range perm {
		if k := int(c - '0'); k >= 0 && k < kinds && !seen[k] {
			order, seen[k] = append(order, k), true
		}
	}
	for k := range kinds {
		if !seen[k] {
			order = append(order, k)
		}
	}
	return order
}

// timingInterleave calls f(kind, round) for every kind in every round, in
// the order -timing.order chooses, and returns the durations per kind, in
// round order. Rounds below zero are warm-up, run but not recorded.
func timingInterleave(n, warmup, kinds int, f func(kind, round int) time.Duration) [][]time.Duration {
	out := make([][]time.Duration, kinds)
	for k := range out {
		out[k] = make([]time.Duration, 0, n)
	}
	order := timingOrderOf(kinds)
	if *timingOrder == "blocks" {
		for _, k := range order {
			for round := -warmup; round < n; round++ {
				if d := f(k, round); round >= 0 {
					out[k] = append(out[k], d)
				}
			}
		}
		return out
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fixed := strings.HasPrefix(*timingOrder, "fixed")
	for round := -warmup; round < n; round++ {
		if !fixed {
			rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		for _, k := range order {
			if d := f(k, round); round >= 0 {
				out[k] = append(out[k], d)
			}
		}
	}
	return out
}

// timingReport logs a table of the kinds and the gaps.
func timingReport(t *testing.T, title string, names []string, ds [][]time.Duration, gaps []timingGap) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", title)
	fmt.Fprintf(&b, "    %-44s %5s %9s %9s %9s\n", "kind", "n", "p10", "median", "p90")
	for i, name := range names {
		s := timingSummary(ds[i])
		fmt.Fprintf(&b, "    %-44s %5d %9s %9s %9s\n", name, s.n, timingUS(s.p10), timingUS(s.median), timingUS(s.p90))
	}
	for _, g := range gaps {
		m, lo, hi := timingPaired(ds[g.a], ds[g.b])
		fmt.Fprintf(&b, "    gap %-40s medians %s   paired median %s  [95%%: %s .. %s]\n", g.name,
			timingUS(timingSummary(ds[g.a]).median-timingSummary(ds[g.b]).median), timingUS(m), timingUS(lo), timingUS(hi))
	}
	t.Log(b.String())
}

func TestProbeTiming(t *testing.T) {
	if *timingProbes <= 0 {
		t.Skip("a measurement, not a test; run it with: go test -run TestProbeTiming -v ./examples/service/ -args -timing.probes=2000")
	}
	var ts *testServer
	var opts []func(*config)
	dbPath := ""
	switch *timingDB {
	case "memory":
	case "file":
		dbPath = filepath.Join(t.TempDir(), "service.db")
		opts = append(opts, func(c *config) { c.dbPath = dbPath })
	default:
		t.Fatalf("-timing.db=%q: want memory or file", *timingDB)
	}
	switch {
	case *timingService == "binary":
		ts = timingStartBinary(t, dbPath)
	case *timingService != "inprocess":
		t.Fatalf("-timing.service=%q: want inprocess or binary", *timingService)
	case *timingServer == "serve-testing":
		ts = start(t, "spicedb", opts...)
	case *timingServer == "serve":
		const key = "fgac-timing-key"
		srv := spicedbtest.StartServerWithKey(t, key)
		ts = start(t, "memadapter", append(opts, func(c *config) { c.spicedbClient = srv.Client(t) })...)
	default:
		t.Fatalf("-timing.spicedb=%q: want serve-testing or serve", *timingServer)
	}
	if ts.srv != nil && ts.srv.engineName != "spicedb" {
		t.Fatalf("engine %s, want spicedb", ts.srv.engineName)
	}
	w := newTimingWorld(t, ts)
	if *timingOthers > 0 {
		agent := field(t, ts.expect(t, carol, "POST", "/agents", `{"name":"carols-agent"}`, http.StatusCreated), "id")
		for i := range *timingOthers {
			ts.expect(t, carol, "POST", "/agents/"+agent+"/rpc", fmt.Sprintf(`{"method":"task/create","params":{"name":"other-%d"}}`, i), http.StatusCreated)
		}
	}
	if ts.srv != nil {
		for i := range *timingFill {
			m := message{ID: newID("msg"), TaskID: w.task, Author: "user:alice", Content: fmt.Sprint("filler ", i)}
			if err := ts.srv.store.insertMessage(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		for i := range *timingViewers {
			rel := authz.Relationship{Resource: authz.Resource{Type: "task", ID: w.task}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprint("viewer", i)}}
			if _, err := ts.srv.engine.Grant(context.Background(), authz.GrantRequest{Relationship: rel}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if *timingService == "binary" {
		*timingServer = "serve"
	}
	t.Logf("service=%s spicedb=%s db=%s order=%s others=%d fill=%d viewers=%d GOMAXPROCS=%d NumCPU=%d probes=%d warmup=%d runs=%d",
		*timingService, *timingServer, *timingDB, *timingOrder, *timingOthers, *timingFill, *timingViewers, runtime.GOMAXPROCS(0), runtime.NumCPU(), *timingProbes, *timingWarmup, *timingRuns)

	kinds := []timingKind{
		{"0 child of alice's task (message)", "message", "/messages/" + w.message, "message:" + w.message},
		{"1 missing child (message)", "message", "/messages/" + timingNoMessage, "message:" + timingNoMessage},
		{"2 alice's task (top level)", "task", "/tasks/" + w.task, "task:" + w.task},
		{"3 missing task (top level)", "task", "/tasks/" + timingNoTask, "task:" + timingNoTask},
		{"4 A/A: another missing child", "message", "/messages/" + timingNoMessage2, "message:" + timingNoMessage2},
		{"5 A/A: child of alice's task again", "message", "/messages/" + w.message, "message:" + w.message},
	}
	gaps := []timingGap{
		{"child: alice's(0) - missing(1)", 0, 1},
		{"task:  alice's(2) - missing(3)", 2, 3},
		{"A/A:   missing(4) - missing(1)", 4, 1},
		{"A/A:   alice's(5) - alice's(0)", 5, 0},
	}
	if *timingHTTPOn {
		t.Run("http", func(t *testing.T) { timingHTTP(t, ts, kinds, gaps) })
	}
	if *timingPhase != "none" && ts.srv != nil {
		t.Run("phases", func(t *testing.T) { timingPhases(t, ts, w) })
	}
}

// timingStartBinary builds the service, starts it as its own process
// against a `spicedb serve` of its own, and returns a testServer without
// srv whose logs are the process's standard error.
func timingStartBinary(t *testing.T, dbPath string) *testServer {
	const key = "fgac-timing-key"
	spice := spicedbtest.StartServerWithKey(t, key)
	bin := filepath.Join(t.TempDir(), "service")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"-addr", addr, "-spicedb-endpoint", spice.Addr(), "-users", "alice=" + alice + ",bob=" + bob + ",carol=" + carol}
	if dbPath != "" {
		args = append(args, "-db", dbPath)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "FGAC_SPICEDB_KEY="+key)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	ts := &testServer{url: "http://" + addr, client: &http.Client{Transport: transport}, logs: logs}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if res, err := ts.client.Get(ts.url + "/healthz"); err == nil {
			res.Body.Close()
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not start:\n%s", logs)
		}
	}
}

// timingHTTP sends the probes over one keep-alive connection, as bob, and
// reports client-side latencies and, from the service's logs, the
// decision latency and request duration of every probe.
func timingHTTP(t *testing.T, ts *testServer, kinds []timingKind, gaps []timingGap) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	ref := map[string]*response{}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	for run := 1; run <= *timingRuns; run++ {
		logStart := len(ts.logs.String())
		var sent []int // the kind of every probe, warm-up included, in order
		mismatches := 0
		ds := timingInterleave(*timingProbes, *timingWarmup, len(kinds), func(ki, _ int) time.Duration {
			k := kinds[ki]
			req, err := http.NewRequest("GET", ts.url+k.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+bob)
			start := time.Now()
			res, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", k.path, err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			d := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, ki)
			h := res.Header.Clone()
			h.Del("Date")
			got := response{Status: res.StatusCode, Header: h, Body: string(body)}
			if got.Status != http.StatusNotFound {
				t.Fatalf("GET %s: status %d, want 404; body %s", k.path, got.Status, got.Body)
			}
			if r := ref[k.group]; r == nil {
				ref[k.group] = &got
			} else if diff := cmp.Diff(*r, got); diff != "" {
				if mismatches++; mismatches < 5 {
					t.Errorf("GET %s answers differently from the first %s probe:\n%s", k.path, k.group, diff)
				}
			}
			return d
		})
		timingReport(t, fmt.Sprintf("run %d: client-side latency of GET (HTTP/1.1 keep-alive over loopback)", run), names, ds, gaps)

		decision, request := timingServerLog(t, ts.logs.String()[logStart:], kinds, sent, *timingWarmup)
		if decision != nil {
			timingReport(t, fmt.Sprintf("run %d: server side: fgac decision latency (audit event: parent resolution + check)", run), names, decision, gaps)
			timingReport(t, fmt.Sprintf("run %d: server side: request duration (request log)", run), names, request, gaps)
		}
	}
}

// timingLogDuration reads a duration from a JSON log (nanoseconds) or a
// text log ("523.4µs").
func timingLogDuration(v any) (time.Duration, bool) {
	switch v := v.(type) {
	case float64:
		return time.Duration(v), true
	case string:
		d, err := time.ParseDuration(v)
		return d, err == nil
	}
	return 0, false
}

var timingTextAttr = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)

// timingServerLog pairs the decision events and request lines of the logs
// with the probes that were sent, in order, and returns their latencies
// per kind, without the warm-up rounds; nil if the logs do not match the
// probes.
func timingServerLog(t *testing.T, logs string, kinds []timingKind, sent []int, warmup int) (decision, request [][]time.Duration) {
	var decisions, requests []time.Duration
	var resources []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rec := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			for _, m := range timingTextAttr.FindAllStringSubmatch(sc.Text(), -1) {
				rec[m[1]] = strings.Trim(m[2], `"`)
			}
		}
		switch rec["msg"] {
		case "fgac decision":
			d, _ := timingLogDuration(rec["latency"])
			decisions = append(decisions, d)
			r, _ := rec["resource"].(string)
			resources = append(resources, r)
		case "request":
			d, _ := timingLogDuration(rec["duration"])
			requests = append(requests, d)
		}
	}
	if len(decisions) != len(sent) || len(requests) != len(sent) {
		t.Logf("the logs hold %d decisions and %d requests for %d probes: no server-side figures", len(decisions), len(requests), len(sent))
		return nil, nil
	}
	decision = make([][]time.Duration, len(kinds))
	request = make([][]time.Duration, len(kinds))
	skip := make([]int, len(kinds)) // warm-up probes still to skip, per kind
	for i := range skip {
		skip[i] = warmup
	}
	for i, k := range sent {
		if resources[i] != kinds[k].id {
			t.Logf("decision %d is about %s, probe was %s: no server-side figures", i, resources[i], kinds[k].id)
			return nil, nil
		}
		if skip[k] > 0 {
			skip[k]--
			continue
		}
		decision[k] = append(decision[k], decisions[i])
		request[k] = append(request[k], requests[i])
	}
	return decision, request
}

// timingShapedDecoy returns a decoy id shaped like id, a real id of the
// same type: its prefix up to the first '_' and zeros, to the same length.
func timingShapedDecoy(id string) string {
	prefix, _, _ := strings.Cut(id, "_")
	return prefix + "_" + strings.Repeat("0", len(id)-len(prefix)-1)
}

// timingPhaseOn reports whether -timing.phases names phase.
func timingPhaseOn(phase string) bool {
	return slices.Contains(strings.Split(*timingPhase, ","), phase)
}

// timingPhases takes the decision apart, in process, with the service's
// own store and SpiceDB client: the store's parent lookup, the engine's
// check on real, missing, decoy and shaped-decoy ids, the library's child
// path split into its three phases (with the shaped decoy as the fix), and
// variants of the store lookup.
func timingPhases(t *testing.T, ts *testServer, w timingWorld) {
	n, warm := *timingProbes, *timingWarmup
	bobSub := authz.Subject{Type: "user", ID: "bob"}
	full := authz.FullyConsistent()
	// A request's context can be cancelled; database/sql and the SQLite
	// driver watch such a context (a goroutine each per query).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	check := func(id string) {
		d, err := ts.srv.engine.Check(ctx, authz.CheckRequest{Subject: bobSub, Resource: authz.Resource{Type: "task", ID: id}, Permission: "read", Consistency: full})
		if err != nil || d.Allowed() {
			t.Fatalf("Check(task:%s): %v %v", id, d, err)
		}
	}

	// 1. The store, back to back (hot) and each lookup right after an
	// engine check (as in a request), with the request-like context and
	// with context.Background.
	storeIDs := []string{w.message, timingNoMessage}
	storeNames := []string{"row found (child of alice's task)", "row missing"}
	storeGaps := []timingGap{{"found - missing", 0, 1}}
	lookup := func(c context.Context, k int) time.Duration {
		start := time.Now()
		_, err := ts.srv.store.parentOf(c, "messages", "task_id", storeIDs[k])
		d := time.Since(start)
		if (k == 0) != (err == nil) {
			t.Fatalf("parentOf(%s): %v", storeIDs[k], err)
		}
		return d
	}
	for run := 1; run <= *timingRuns && timingPhaseOn("store"); run++ {
		timingReport(t, fmt.Sprintf("run %d: store.parentOf(messages), back to back", run), storeNames,
			timingInterleave(n, warm, 2, func(k, _ int) time.Duration { return lookup(ctx, k) }), storeGaps)
		timingReport(t, fmt.Sprintf("run %d: store.parentOf(messages), each right after an engine check", run), storeNames,
			timingInterleave(n, warm, 2, func(k, _ int) time.Duration { check(collapse.DecoyID); return lookup(ctx, k) }), storeGaps)
		timingReport(t, fmt.Sprintf("run %d: store.parentOf(messages), each right after an engine check, context.Background", run), storeNames,
			timingInterleave(n, warm, 2, func(k, _ int) time.Duration { check(collapse.DecoyID); return lookup(context.Background(), k) }), storeGaps)
	}

	// 2. The engine: bob's read on alice's task; on the missing id the
	// top-level probe uses (shaped like a real task id); on collapse's
	// DecoyID; on DecoyID padded to the length of a real task id; and on a
	// decoy shaped like a real task id ("task_" and zeros).
	shaped := timingShapedDecoy(w.task)
	padded := collapse.DecoyID + strings.Repeat("-", max(0, len(w.task)-len(collapse.DecoyID)))
	checkIDs := []string{w.task, timingNoTask, collapse.DecoyID, padded, shaped}
	checkNames := []string{
		fmt.Sprintf("alice's task (%d chars, owner+parent)", len(w.task)),
		fmt.Sprintf("%s (%d)", timingNoTask, len(timingNoTask)),
		fmt.Sprintf("DecoyID %s (%d)", collapse.DecoyID, len(collapse.DecoyID)),
		fmt.Sprintf("DecoyID padded (%d)", len(padded)),
		fmt.Sprintf("shaped decoy %s (%d)", shaped, len(shaped)),
	}
	checkGaps := []timingGap{
		{"alice's - DecoyID", 0, 2}, {"alice's - task_000…", 0, 1}, {"task_000… - DecoyID", 1, 2},
		{"DecoyID padded - DecoyID", 3, 2}, {"alice's - shaped decoy", 0, 4},
	}
	for run := 1; run <= *timingRuns && timingPhaseOn("engine"); run++ {
		timingReport(t, fmt.Sprintf("run %d: engine.Check(task:<id>#read@user:bob, fully consistent)", run), checkNames,
			timingInterleave(n, warm, len(checkIDs), func(k, _ int) time.Duration {
				start := time.Now()
				check(checkIDs[k])
				return time.Since(start)
			}), checkGaps)
	}

	// 3. The library's child path as enforce.Enforcer takes it (with the
	// service's Rows), copied so that its phases can be timed:
	// parent.Resolve; Rows.Exists on the parent, or on the decoy for a
	// missing child; CheckOrNotFound on the parent, or NotFound (the decoy
	// check). Then the real Enforcer, configured as the service's.
	parsed, err := schema.Parse(schemaText)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(parsed, operations())
	if err != nil {
		t.Fatal(err)
	}
	guard := authz.NewGuard(ts.srv.engine, ops)
	parents := &parent.Registry{}
	parents.Register("message", "task", ts.srv.resolver("messages", "task_id"))
	rows := enforce.RowsFunc(ts.srv.store.exists)
	enf := enforce.Enforcer{Guard: guard, Parents: parents, Rows: rows}
	childNames := []string{"child of alice's task", "missing child (decoy: DecoyID)", "missing child (decoy shaped like a task id)"}
	childGaps := []timingGap{{"alice's - missing, DecoyID (now)", 0, 1}, {"alice's - missing, shaped decoy (fix)", 0, 2}}
	for run := 1; run <= *timingRuns && timingPhaseOn("library"); run++ {
		phase := [3][][]time.Duration{{nil, nil, nil}, {nil, nil, nil}, {nil, nil, nil}}
		total := timingInterleave(n, warm, 3, func(k, round int) time.Duration {
			target := authz.Resource{Type: "message", ID: storeIDs[min(k, 1)]}
			q := authz.Question{Subject: bobSub, Resource: authz.Resource{Type: "task"}, Operation: authz.OpRead, Consistency: full}
			decoy := collapse.DecoyID
			if k == 2 {
				decoy = shaped
			}
			t0 := time.Now()
			resolved, err := parents.Resolve(ctx, target)
			t1 := time.Now()
			var t2 time.Time
			switch {
			case errors.Is(err, authz.ErrNotFound):
				// collapse's notFound: the existence query and the check,
				// both on the decoy.
				q.Resource.ID = decoy
				_, err = rows.Exists(ctx, q.Resource)
				t2 = time.Now()
				if err == nil {
					if err = collapse.CheckOrNotFound(ctx, guard, q); err == nil || errors.Is(err, authz.ErrDenied) {
						err = authz.ErrNotFound
					}
				}
			case err == nil:
				q.Resource = resolved
				var exists bool
				exists, err = rows.Exists(ctx, q.Resource)
				t2 = time.Now()
				if err == nil && exists {
					err = collapse.CheckOrNotFound(ctx, guard, q)
				}
			}
			t3 := time.Now()
			if !errors.Is(err, authz.ErrNotFound) {
				t.Fatalf("%s: %v", target, err)
			}
			if round >= 0 {
				phase[0][k] = append(phase[0][k], t1.Sub(t0))
				phase[1][k] = append(phase[1][k], t2.Sub(t1))
				phase[2][k] = append(phase[2][k], t3.Sub(t2))
			}
			return t3.Sub(t0)
		})
		timingReport(t, fmt.Sprintf("run %d: library child path (copy), total", run), childNames, total, childGaps)
		timingReport(t, fmt.Sprintf("run %d: library child path (copy), phase 1: parent.Resolve (message row lookup)", run), childNames, phase[0], childGaps)
		timingReport(t, fmt.Sprintf("run %d: library child path (copy), phase 2: Rows.Exists (task row: alice's / decoy)", run), childNames, phase[1], childGaps)
		timingReport(t, fmt.Sprintf("run %d: library child path (copy), phase 3: check (alice's task / decoy)", run), childNames, phase[2], childGaps)
		timingReport(t, fmt.Sprintf("run %d: enforce.Enforcer.Authorize", run), childNames[:2],
			timingInterleave(n, warm, 2, func(k, _ int) time.Duration {
				start := time.Now()
				_, err := enf.Authorize(ctx, enforce.Request{Subject: bobSub, Resource: authz.Resource{Type: "message", ID: storeIDs[k]}, Operation: authz.OpRead, Consistency: full, Route: "GET /messages/{message_id}"})
				d := time.Since(start)
				if !errors.Is(err, authz.ErrNotFound) {
					t.Fatalf("Authorize: %v", err)
				}
				return d
			}), childGaps[:1])
	}

	if !timingPhaseOn("variants") {
		return
	}
	// 4. Variants of the child lookup that could make a found and a
	// missing id cost the same, on copies of the messages table in the
	// service's database, each lookup right after an engine check as in a
	// request:
	//   - aggregate: one result row either way (coalesce(max(task_id), '')),
	//     so the missing path also steps a row and scans a column;
	//   - covering: an index on (id, task_id), so a found id is answered
	//     from the index like a missing one, without the table's B-tree;
	//   - without rowid: the table clustered on id, one B-tree either way.
	for _, stmt := range []string{
		`CREATE TABLE timing_msg_cover (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, author TEXT NOT NULL, content TEXT NOT NULL)`,
		`CREATE INDEX timing_msg_cover_idx ON timing_msg_cover(id, task_id)`,
		`INSERT INTO timing_msg_cover SELECT id, task_id, author, content FROM messages`,
		`CREATE TABLE timing_msg_wr (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, author TEXT NOT NULL, content TEXT NOT NULL) WITHOUT ROWID`,
		`INSERT INTO timing_msg_wr SELECT id, task_id, author, content FROM messages`,
	} {
		if _, err := ts.srv.store.db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	variants := []struct{ name, query string }{
		{"current", `SELECT task_id FROM messages WHERE id = ?`},
		{"aggregate", `SELECT coalesce(max(task_id), '') FROM messages WHERE id = ?`},
		{"covering", `SELECT task_id FROM timing_msg_cover INDEXED BY timing_msg_cover_idx WHERE id = ?`},
		{"without rowid", `SELECT task_id FROM timing_msg_wr WHERE id = ?`},
	}
	var variantNames []string
	var variantGaps []timingGap
	for i, v := range variants {
		variantNames = append(variantNames, v.name+": found", v.name+": missing")
		variantGaps = append(variantGaps, timingGap{v.name + " found - missing", 2 * i, 2*i + 1})
	}
	for i := range variants[1:] {
		variantGaps = append(variantGaps, timingGap{variants[i+1].name + " - current (found)", 2 * (i + 1), 0})
	}
	variantLookup := func(query, id string) (string, error) {
		var p string
		err := ts.srv.store.db.QueryRowContext(ctx, query, id).Scan(&p)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && p == "":
			return "", authz.ErrNotFound
		}
		return p, err
	}
	for run := 1; run <= *timingRuns; run++ {
		ds := timingInterleave(n, warm, len(variantNames), func(k, _ int) time.Duration {
			v, id := variants[k/2], storeIDs[k%2]
			check(collapse.DecoyID)
			start := time.Now()
			p, err := variantLookup(v.query, id)
			d := time.Since(start)
			if (k%2 == 0) != (err == nil) || k%2 == 0 && p != w.task {
				t.Fatalf("%s(%s): %q %v", v.name, id, p, err)
			}
			return d
		})
		timingReport(t, fmt.Sprintf("run %d: child lookup variants, each right after an engine check", run), variantNames, ds, variantGaps)
	}
}
