package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/authz"
)

// TestReconcilesPeriodically runs the service with -reconcile-every 200ms
// on a database file and changes the file behind the service's back: it
// deletes a task's row, which leaves the task's registration an orphan,
// and inserts a task row that has no registration. Without a restart, a
// periodic pass removes the orphan (the task's checkpoint route, which
// answered 200 null while the check still allowed it, answers 404) and
// registers the row (alice reads the task), and logs its report.
func TestReconcilesPeriodically(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "service.db")
			ts := start(t, engine, func(c *config) { c.dbPath, c.reconcileEvery = path, 200*time.Millisecond })
			agentID, _ := ts.createAgent(t, alice, "helper")
			orphan := ts.createTask(t, alice, agentID, "orphan")
			kept := ts.createTask(t, alice, agentID, "kept")

			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const backfilled = "task_0123456789abcdef01234567"
			for _, stmt := range []struct {
				query string
				args  []any
			}{
				{`DELETE FROM tasks WHERE id = ?`, []any{orphan}},
				{`INSERT INTO tasks (id, name, agent_id, owner, status, params) VALUES (?, 'backfilled', ?, 'alice', 'running', '{}')`, []any{backfilled, agentID}},
			} {
				if _, err := db.Exec(stmt.query, stmt.args...); err != nil {
					t.Fatalf("%s: %v", stmt.query, err)
				}
			}

			repaired := func() (bool, string) {
				checkpoint := ts.do(t, alice, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+orphan+`"}`)
				task := ts.do(t, alice, "GET", "/tasks/"+backfilled, "")
				rels := ts.relationships(t, authz.Resource{Type: "task", ID: orphan})
				var removed, reregistered float64
				for _, rep := range reports(t, ts.logs.String(), "periodic", "task") {
					removed += rep["orphans_removed"].(float64)
					reregistered += rep["reregistered"].(float64)
				}
				state := fmt.Sprintf("orphan's checkpoint: %d %s; backfilled task: %d; orphan's relationships: %v; periodic reports removed %v orphans and reregistered %v rows",
					checkpoint.Status, strings.TrimSpace(checkpoint.Body), task.Status, rels, removed, reregistered)
				return checkpoint.Status == http.StatusNotFound && task.Status == http.StatusOK && len(rels) == 0 && removed == 1 && reregistered == 1, state
			}
			deadline := time.Now().Add(30 * time.Second) // a bound for a broken loop, not a speed requirement
			for {
				ok, state := repaired()
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no periodic pass repaired the graph: %s", state)
				}
				time.Sleep(20 * time.Millisecond)
			}

			// The repairs touched nothing else.
			ts.expect(t, alice, "GET", "/tasks/"+kept, "", http.StatusOK)
			ts.expect(t, alice, "GET", "/agents/"+agentID, "", http.StatusOK)
			ts.expect(t, bob, "GET", "/tasks/"+backfilled, "", http.StatusNotFound)
		})
	}
}

// TestReconcileLoopStopsWithTheServer runs passes back to back (every
// millisecond) and shuts the service down: once it has stopped, no
// goroutine of it is left, and no pass failed (as one running on after the
// database was closed would). It is not parallel, so that the goroutines
// it compares are its own.
func TestReconcileLoopStopsWithTheServer(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ts := start(t, "memadapter", func(c *config) { c.reconcileEvery = time.Millisecond })
	ts.createAgent(t, alice, "helper")
	deadline := time.Now().Add(30 * time.Second) // a bound for a broken loop, not a speed requirement
	for len(reports(t, ts.logs.String(), "periodic", "agent")) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than two periodic passes ran")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.stop()
	if logs := ts.logs.String(); strings.Contains(logs, `"msg":"reconcile"`) {
		t.Errorf("a periodic pass failed:\n%s", logs)
	}
}

// reports returns the reconciler's reports of run ("start" or "periodic")
// for resource type typ, from the service's JSON log.
func reports(t testing.TB, logs, run, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == "reconciled" && rec["run"] == run && rec["type"] == typ {
			out = append(out, rec)
		}
	}
	return out
}
