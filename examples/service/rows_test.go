package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// TestDeletedTaskGrantsNothing deletes alice's task row behind the
// service's back (as a delete whose deregistration failed leaves it: the
// row gone, the owner, parent and share relationships still in the graph;
// no reconcile runs) and sends every route that takes a task id, as the
// former owner and as the user it was shared with: each answers exactly as
// for a task id that never existed (404, same bytes; an empty list on list
// routes). Without the existence check the owner could still share the
// deleted task, write its checkpoints and delete its thread.
func TestDeletedTaskGrantsNothing(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "service.db")
			ts := start(t, engine, func(c *config) { c.dbPath = path })
			w := newWorld(t, ts)
			ts.expect(t, alice, "POST", "/tasks/"+w.task+"/share", `{"user":"bob","role":"editor"}`, http.StatusOK)
			ts.expect(t, bob, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+w.task+`","checkpoint_id":"c1"}`, http.StatusOK)

			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`DELETE FROM tasks WHERE id = ?`, w.task); err != nil {
				t.Fatal(err)
			}
			if rels := ts.relationships(t, authz.Resource{Type: "task", ID: w.task}); len(rels) < 3 {
				t.Fatalf("the deleted task's relationships are gone already (%v): the test has no teeth", rels)
			}
			missing := w.kinds()["task"].missing
			for _, p := range probes() {
				if p.kind != "task" {
					continue
				}
				for _, user := range []string{alice, bob} {
					method, target, body := p.req(w, missing)
					want := ts.do(t, user, method, target, body)
					method, target, body = p.req(w, w.task)
					got := ts.do(t, user, method, target, body)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("%s %s as %s: the deleted task answers differently from a missing one (-missing +deleted):\n%s", method, target, user, diff)
					}
				}
			}
			// Alice's own RPC calls go through her agent, which still
			// exists: the task they name is checked like any other.
			for _, method := range []string{"message/send", "event/send", "task/cancel", "task/interrupt"} {
				rpc := func(id string) response {
					return ts.do(t, alice, "POST", "/agents/"+w.agent+"/rpc", `{"method":"`+method+`","params":{"task_id":`+q(id)+`,"content":"x"}}`)
				}
				want, got := rpc(missing), rpc(w.task)
				if got.Status != http.StatusNotFound {
					t.Errorf("alice's %s on the deleted task: %d %s", method, got.Status, got.Body)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("alice's %s: deleted vs missing (-missing +deleted):\n%s", method, diff)
				}
			}
		})
	}
}
