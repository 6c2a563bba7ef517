package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
)

var loadDuration = flag.Duration("load.duration", 3*time.Second, "how long TestLoad drives each engine")

// Load users: each runs loadWorkers concurrent clients.
var loadUsers = []string{"alice", "bob", "carol", "dave"}

const loadWorkers = 2

// TestLoad drives the real server over a loopback port with a mix of
// reads, writes and lists from several users at once, and checks every
// answer against a model of who may see what: zero 5xx and zero wrong
// answers. The users' workers create tasks with the same names (names are
// unique per owner, so every create is a 201), and reads by name must
// resolve the reader's own task of that name, never another user's. It
// reports throughput and p50/p99 latency per engine; it asserts nothing
// about speed. Run it longer with
//
//	go test -run TestLoad -v ./examples/service/ -args -load.duration=30s
func TestLoad(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			users := map[string]string{}
			for _, u := range loadUsers {
				users["tok-"+u] = u
			}
			ts := start(t, engine, func(c *config) { c.users, c.logLevel = users, slog.LevelError })
			m := &model{tasks: map[taskKey]*taskModel{}, owners: map[string]int{}}
			agents := make([]string, len(loadUsers))
			for i, u := range loadUsers {
				agents[i], _ = ts.createAgent(t, "tok-"+u, "agent")
				m.owners[agents[i]] = i
			}

			var wg sync.WaitGroup
			results := make([]*loadWorker, 0, len(loadUsers)*loadWorkers)
			deadline := time.Now().Add(*loadDuration)
			begin := time.Now()
			for ui := range loadUsers {
				for wi := range loadWorkers {
					w := &loadWorker{
						t: t, ts: ts, m: m, user: ui, agent: agents[ui],
						name:   fmt.Sprintf("%s-%d", loadUsers[ui], wi),
						prefix: fmt.Sprintf("w%d", wi),
						rng:    rand.New(rand.NewPCG(uint64(ui), uint64(wi))),
					}
					results = append(results, w)
					wg.Go(func() { w.run(deadline) })
				}
			}
			wg.Wait()
			elapsed := time.Since(begin)

			var lat []time.Duration
			var wrong []string
			fivexx, ops := 0, map[string]int{}
			for _, w := range results {
				lat = append(lat, w.latencies...)
				wrong = append(wrong, w.wrong...)
				fivexx += w.fivexx
				for op, n := range w.ops {
					ops[op] += n
				}
			}
			slices.Sort(lat)
			t.Logf("%s: %d requests from %d clients in %v: %.0f req/s, p50 %v, p99 %v, 5xx %d, wrong %d",
				engine, len(lat), len(results), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(),
				percentile(lat, 0.50), percentile(lat, 0.99), fivexx, len(wrong))
			t.Logf("%s: %d tasks created; requests by operation: %v", engine, len(m.tasks), ops)
			if fivexx > 0 {
				t.Errorf("%d answers were 5xx", fivexx)
			}
			for i, msg := range wrong {
				if i == 20 {
					t.Errorf("... and %d more wrong answers", len(wrong)-i)
					break
				}
				t.Error(msg)
			}
		})
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(math.Ceil(p*float64(len(sorted))))-1)]
}

// The model. Every change to a task is made by the worker that created it,
// one at a time, and recorded as a new state with the sequence numbers of
// when its request was sent (start) and answered (commit). A request sent
// at sequence a and answered at b may have seen any state that could have
// been current in between; its answer is right if some such state
// explains it.

// pending is the commit of a state whose request has not been answered.
const pending = math.MaxUint64

type taskState struct {
	exists           bool
	cancelled        bool
	viewers, editors uint8 // one bit per user
	start, commit    uint64
}

type taskModel struct {
	id, name string // id is empty until the create is answered
	owner    int
	history  []taskState // guarded by model.mu
	// uncertain is set (under model.mu) when a change of the task answered
	// 503 in an outage: it may or may not have happened, so answers about
	// the task are no longer checked.
	uncertain bool
}

type messageModel struct {
	id   string
	task *taskModel
}

// taskKey names a task: names are unique per owner.
type taskKey struct {
	owner int
	name  string
}

type model struct {
	owners map[string]int // agent id -> owner; each user has one agent; read-only

	mu       sync.Mutex // guards everything below and every taskModel.history
	seq      uint64
	tasks    map[taskKey]*taskModel
	byID     []*taskModel // tasks whose create was answered
	messages []messageModel
}

// now returns a new sequence number.
func (m *model) now() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	return m.seq
}

// change starts a change of t to the state f makes of its current one.
func (m *model) change(t *taskModel, f func(*taskState)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	next := t.history[len(t.history)-1]
	f(&next)
	next.start, next.commit = m.seq, pending
	t.history = append(t.history, next)
}

// done records that the latest change of t was answered.
func (m *model) done(t *taskModel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	t.history[len(t.history)-1].commit = m.seq
}

// possible returns the states of t that could have been current at some
// moment between a and b. Call with m.mu held.
func (t *taskModel) possible(a, b uint64) []taskState {
	var out []taskState
	for k, s := range t.history {
		if s.start > b {
			continue
		}
		if k == len(t.history)-1 || t.history[k+1].commit >= a {
			out = append(out, s)
		}
	}
	return out
}

func (s taskState) canRead(u int, owner int) bool {
	return s.exists && (u == owner || s.viewers&(1<<u) != 0 || s.editors&(1<<u) != 0)
}

func (s taskState) canUpdate(u int, owner int) bool {
	return s.exists && (u == owner || s.editors&(1<<u) != 0)
}

// loadWorker is one client of one user.
type loadWorker struct {
	t     *testing.T
	ts    *testServer
	m     *model
	user  int
	agent string
	name  string
	// prefix starts the names of this worker's tasks. The workers of
	// different users share prefixes, so their names collide.
	prefix string
	rng    *rand.Rand
	mine   []*taskModel // tasks this worker created and has not deleted
	n      int

	latencies []time.Duration
	ops       map[string]int
	fivexx    int
	wrong     []string

	// outage makes a 503 a failure rather than a wrong answer (the cluster
	// tests kill nodes and PostgreSQL); failures records when each came.
	outage   bool
	failures []time.Time
	omitted  []string        // lists that left out a readable task, in an outage
	stop     <-chan struct{} // closed to end run early; nil: run to the deadline
}

func (w *loadWorker) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// failed reports whether res is a 503 that an outage explains. A change of
// t that failed so may or may not have happened, so t becomes uncertain and
// the worker stops changing it.
func (w *loadWorker) failed(res response, t *taskModel) bool {
	if !w.outage || res.Status != http.StatusServiceUnavailable {
		return false
	}
	if t != nil {
		w.m.mu.Lock()
		t.uncertain = true
		w.m.mu.Unlock()
		// No more changes to it: their answers would depend on the state
		// the model no longer knows.
		w.mine = slices.DeleteFunc(w.mine, func(x *taskModel) bool { return x == t })
	}
	return true
}

// send sends one request and records its latency and the sequence numbers
// around it.
func (w *loadWorker) send(op, method, path, body string) (res response, a, b uint64) {
	if w.ops == nil {
		w.ops = map[string]int{}
	}
	w.ops[op]++
	a = w.m.now()
	start := time.Now()
	res = w.ts.do(w.t, "tok-"+loadUsers[w.user], method, path, body)
	w.latencies = append(w.latencies, time.Since(start))
	b = w.m.now()
	if res.Status >= 500 {
		w.fivexx++
		if w.outage && res.Status == http.StatusServiceUnavailable {
			w.failures = append(w.failures, time.Now())
		}
	}
	return res, a, b
}

func (w *loadWorker) wrongf(format string, args ...any) {
	at := ""
	if w.outage {
		at = " at " + time.Now().Format("15:04:05.000")
	}
	w.wrong = append(w.wrong, fmt.Sprintf(w.name+at+": "+format, args...))
}

// expectOneOf checks a status against those the possible states allow.
func (w *loadWorker) expectOneOf(op string, got response, allowed map[int]bool) {
	if allowed == nil || w.failed(got, nil) {
		return // uncertain task, or an outage
	}
	if allowed[got.Status] {
		return
	}
	w.wrongf("%s: status %d, allowed %v; body %s", op, got.Status, allowed, got.Body)
}

// allowed maps each possible state of t in [a, b] to a status with f; nil
// (anything) for an uncertain task.
func (w *loadWorker) allowed(t *taskModel, a, b uint64, f func(taskState) int) map[int]bool {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if t.uncertain {
		return nil
	}
	out := map[int]bool{}
	for _, s := range t.possible(a, b) {
		out[f(s)] = true
	}
	return out
}

// readable is the status of a read: 200 if the user can read, else 404.
func (w *loadWorker) readable(owner int) func(taskState) int {
	return func(s taskState) int {
		if s.canRead(w.user, owner) {
			return http.StatusOK
		}
		return http.StatusNotFound
	}
}

func (w *loadWorker) run(deadline time.Time) {
	type op struct {
		weight int
		do     func()
	}
	ops := []op{
		{12, w.create}, {2, w.createDuplicate}, {8, w.share}, {3, w.unshare}, {4, w.cancelOwn}, {3, w.cancelOther},
		{3, w.delete}, {25, w.getTask}, {6, w.getByName}, {3, w.getMissing}, {10, w.list}, {12, w.postMessage},
		{10, w.getMessage}, {8, w.getCheckpoint},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for time.Now().Before(deadline) && !w.stopped() {
		n := w.rng.IntN(total)
		for _, o := range ops {
			if n < o.weight {
				o.do()
				break
			}
			n -= o.weight
		}
	}
}

// anyTask picks a task any worker created, or nil.
func (w *loadWorker) anyTask() *taskModel {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if len(w.m.byID) == 0 {
		return nil
	}
	return w.m.byID[w.rng.IntN(len(w.m.byID))]
}

// ownTask picks a live task of this worker, or nil.
func (w *loadWorker) ownTask() *taskModel {
	if len(w.mine) == 0 {
		return nil
	}
	return w.mine[w.rng.IntN(len(w.mine))]
}

func (w *loadWorker) create() {
	w.n++
	t := &taskModel{name: fmt.Sprintf("%s-t%d", w.prefix, w.n), owner: w.user, history: []taskState{{}}}
	w.m.mu.Lock()
	w.m.tasks[taskKey{w.user, t.name}] = t
	w.m.mu.Unlock()
	w.m.change(t, func(s *taskState) { s.exists = true })
	res, _, _ := w.send("create", "POST", "/agents/"+w.agent+"/rpc", `{"method":"task/create","params":{"name":"`+t.name+`"}}`)
	if res.Status != http.StatusCreated {
		if !w.failed(res, t) {
			w.wrongf("create %s: status %d; body %s", t.name, res.Status, res.Body)
		}
		w.m.change(t, func(s *taskState) { s.exists = false })
		w.m.done(t)
		return
	}
	var body struct{ ID string }
	json.Unmarshal([]byte(res.Body), &body)
	w.m.mu.Lock()
	t.id = body.ID
	w.m.byID = append(w.m.byID, t)
	w.m.mu.Unlock()
	w.m.done(t)
	w.mine = append(w.mine, t)
}

// createDuplicate creates a task with a taken name: 409, and nothing
// changes.
func (w *loadWorker) createDuplicate() {
	t := w.ownTask()
	if t == nil {
		return
	}
	res, _, _ := w.send("create-duplicate", "POST", "/agents/"+w.agent+"/rpc", `{"method":"task/create","params":{"name":"`+t.name+`"}}`)
	if res.Status != http.StatusConflict && !w.failed(res, nil) {
		w.wrongf("duplicate %s: status %d, want 409; body %s", t.name, res.Status, res.Body)
	}
}

func (w *loadWorker) share() {
	t := w.ownTask()
	if t == nil {
		return
	}
	other := w.rng.IntN(len(loadUsers))
	role := []string{"viewer", "editor"}[w.rng.IntN(2)]
	// Sharing sets the role: the other one goes.
	w.m.change(t, func(s *taskState) {
		s.viewers &^= 1 << other
		s.editors &^= 1 << other
		if role == "viewer" {
			s.viewers |= 1 << other
		} else {
			s.editors |= 1 << other
		}
	})
	res, _, _ := w.send("share", "POST", "/tasks/"+t.id+"/share", `{"user":"`+loadUsers[other]+`","role":"`+role+`"}`)
	w.m.done(t)
	if res.Status != http.StatusOK && !w.failed(res, t) {
		again := ""
		if w.outage {
			again = "; asked again: " + w.askAgain(t)
		}
		w.wrongf("share %s: status %d; body %s%s", t.id, res.Status, res.Body, again)
	}
}

// unshare removes another user's role on an own task: 204 whether or not
// there was one.
func (w *loadWorker) unshare() {
	t := w.ownTask()
	if t == nil {
		return
	}
	other := w.rng.IntN(len(loadUsers))
	w.m.change(t, func(s *taskState) {
		s.viewers &^= 1 << other
		s.editors &^= 1 << other
	})
	res, _, _ := w.send("unshare", "DELETE", "/tasks/"+t.id+"/share/"+loadUsers[other], "")
	w.m.done(t)
	if res.Status != http.StatusNoContent && !w.failed(res, t) {
		w.wrongf("unshare %s: status %d; body %s", t.id, res.Status, res.Body)
	}
}

func (w *loadWorker) cancelOwn() {
	t := w.ownTask()
	if t == nil {
		return
	}
	w.m.mu.Lock()
	was := t.history[len(t.history)-1].cancelled
	w.m.mu.Unlock()
	w.m.change(t, func(s *taskState) { s.cancelled = true })
	res, _, _ := w.send("cancel-own", "POST", "/tasks/"+t.id+"/cancel", "")
	w.m.done(t)
	want := http.StatusOK
	if was {
		want = http.StatusConflict
	}
	if res.Status != want && !w.failed(res, t) {
		w.wrongf("cancel own %s: status %d, want %d; body %s", t.id, res.Status, want, res.Body)
	}
}

// cancelOther tries to cancel another user's task: never allowed, 403 if
// the user can read it and 404 if not.
func (w *loadWorker) cancelOther() {
	t := w.anyTask()
	if t == nil || t.owner == w.user {
		return
	}
	res, a, b := w.send("cancel-other", "POST", "/tasks/"+t.id+"/cancel", "")
	w.expectOneOf("cancel other "+t.id, res, w.allowed(t, a, b, func(s taskState) int {
		if s.canRead(w.user, t.owner) {
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}))
}

func (w *loadWorker) delete() {
	if len(w.mine) == 0 {
		return
	}
	i := w.rng.IntN(len(w.mine))
	t := w.mine[i]
	w.mine = slices.Delete(w.mine, i, i+1)
	w.m.change(t, func(s *taskState) { s.exists = false })
	res, _, _ := w.send("delete", "DELETE", "/tasks/"+t.id, "")
	w.m.done(t)
	if res.Status != http.StatusNoContent && !w.failed(res, t) {
		w.wrongf("delete %s: status %d; body %s", t.id, res.Status, res.Body)
	}
}

func (w *loadWorker) getTask() {
	t := w.anyTask()
	if t == nil {
		return
	}
	res, a, b := w.send("get", "GET", "/tasks/"+t.id, "")
	w.expectOneOf("get "+t.id, res, w.allowed(t, a, b, w.readable(t.owner)))
}

// getByName reads a task that any user created, by its name: the name
// resolves among the reader's own names, so the answer is the reader's own
// task of that name if it exists, and 404 otherwise, even where another
// user's task of that name is shared with the reader.
func (w *loadWorker) getByName() {
	t := w.anyTask()
	if t == nil {
		return
	}
	res, a, b := w.send("get-by-name", "GET", "/tasks/name/"+t.name, "")
	w.m.mu.Lock()
	own := w.m.tasks[taskKey{w.user, t.name}]
	w.m.mu.Unlock()
	allowed := map[int]bool{http.StatusNotFound: true}
	if own != nil {
		allowed = w.allowed(own, a, b, w.readable(own.owner))
	}
	w.expectOneOf("get by name "+t.name, res, allowed)
	if res.Status == http.StatusOK {
		var body struct{ ID string }
		json.Unmarshal([]byte(res.Body), &body)
		w.m.mu.Lock()
		ownID := own.id
		w.m.mu.Unlock()
		if ownID != "" && body.ID != ownID {
			w.wrongf("get by name %s: task %s, want the reader's own %s", t.name, body.ID, ownID)
		}
	}
}

func (w *loadWorker) getMissing() {
	res, _, _ := w.send("get-missing", "GET", "/tasks/task_ffffffffffffffffffffffff", "")
	if res.Status != http.StatusNotFound && !w.failed(res, nil) {
		w.wrongf("get missing: status %d", res.Status)
	}
}

func (w *loadWorker) postMessage() {
	t := w.anyTask()
	if t == nil {
		return
	}
	res, a, b := w.send("post-message", "POST", "/messages", `{"task_id":"`+t.id+`","content":"m"}`)
	w.expectOneOf("post message to "+t.id, res, w.allowed(t, a, b, func(s taskState) int {
		switch {
		case s.canUpdate(w.user, t.owner):
			return http.StatusCreated
		case s.canRead(w.user, t.owner):
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}))
	if res.Status == http.StatusCreated {
		var body struct{ ID string }
		json.Unmarshal([]byte(res.Body), &body)
		w.m.mu.Lock()
		w.m.messages = append(w.m.messages, messageModel{id: body.ID, task: t})
		w.m.mu.Unlock()
	}
}

func (w *loadWorker) getMessage() {
	w.m.mu.Lock()
	if len(w.m.messages) == 0 {
		w.m.mu.Unlock()
		return
	}
	msg := w.m.messages[w.rng.IntN(len(w.m.messages))]
	w.m.mu.Unlock()
	res, a, b := w.send("get-message", "GET", "/messages/"+msg.id, "")
	w.expectOneOf("get message "+msg.id, res, w.allowed(msg.task, a, b, w.readable(msg.task.owner)))
}

func (w *loadWorker) getCheckpoint() {
	t := w.anyTask()
	if t == nil {
		return
	}
	res, a, b := w.send("get-checkpoint", "POST", "/checkpoints/get-tuple", `{"thread_id":"`+t.id+`"}`)
	w.expectOneOf("get checkpoint of "+t.id, res, w.allowed(t, a, b, w.readable(t.owner)))
}

// list checks GET /tasks: every task listed may have been readable, every
// task readable throughout is listed (up to the page's last id), and the
// page is in id order.
func (w *loadWorker) list() {
	const limit = 1000
	res, a, b := w.send("list", "GET", fmt.Sprintf("/tasks?limit=%d", limit), "")
	if res.Status != http.StatusOK {
		if w.failed(res, nil) {
			return
		}
		w.wrongf("list: status %d; body %s", res.Status, res.Body)
		return
	}
	var rows []struct {
		ID, Name string
		AgentID  string `json:"agent_id"`
	}
	if err := json.Unmarshal([]byte(res.Body), &rows); err != nil {
		w.wrongf("list: %v", err)
		return
	}
	listed := map[string]bool{}
	last := ""
	for _, r := range rows {
		if r.ID <= last {
			w.wrongf("list: %s after %s", r.ID, last)
		}
		last = r.ID
		listed[r.ID] = true
	}
	var omitted []*taskModel // diagnosed once the model is unlocked
	defer func() {
		for _, t := range omitted {
			w.omitted = append(w.omitted, fmt.Sprintf("%s at %s: list: %s (%s) readable throughout but not listed; asked again: %s",
				w.name, time.Now().Format("15:04:05.000"), t.name, t.id, w.askAgain(t)))
		}
	}()
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	for _, r := range rows {
		owner, ok := w.m.owners[r.AgentID]
		t := w.m.tasks[taskKey{owner, r.Name}]
		if !ok || t == nil {
			w.wrongf("list: unknown task %s", r.Name)
			continue
		}
		if t.uncertain {
			continue
		}
		if !slices.ContainsFunc(t.possible(a, b), func(s taskState) bool { return s.canRead(w.user, t.owner) }) {
			w.wrongf("list: %s listed but never readable", r.Name)
		}
	}
	for _, t := range w.m.tasks {
		if t.id == "" || t.uncertain || listed[t.id] || (len(rows) == limit && t.id > last) {
			continue
		}
		ps := t.possible(a, b)
		if len(ps) > 0 && !slices.ContainsFunc(ps, func(s taskState) bool { return !s.canRead(w.user, t.owner) }) {
			if w.outage {
				// Fails closed (nothing is shown that should not be), so
				// the cluster tests count it apart from wrong answers.
				omitted = append(omitted, t)
				continue
			}
			w.wrongf("list: %s readable throughout but not listed", t.name)
		}
	}
}

// askAgain asks the engine directly, fully consistent, whether the worker's
// user may read t and whether a lookup lists it, to tell an omission the
// engine repeats from a passing one.
func (w *loadWorker) askAgain(t *taskModel) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e := w.ts.srv.engine
	subject := authz.Subject{Type: "user", ID: loadUsers[w.user]}
	resource := authz.Resource{Type: "task", ID: t.id}
	d, err := e.Check(ctx, authz.CheckRequest{Subject: subject, Resource: resource, Permission: "read", Consistency: authz.FullyConsistent()})
	lookup, lerr := e.Lookup(ctx, authz.LookupRequest{Subject: subject, ResourceType: "task", Permission: "read", Consistency: authz.FullyConsistent()})
	return fmt.Sprintf("check allowed=%v err=%v; lookup lists it=%v err=%v", d.Allowed(), err, slices.Contains(lookup.IDs(), t.id), lerr)
}
