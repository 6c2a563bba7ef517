package main

import (
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestShareRacingDeleteLeavesNoGrant: alice's share request is authorized
// (its id is in the path), but its body arrives only after the task was
// deleted. The share must not write a role on the deleted task: it answers
// exactly like a share of a missing task, and neither the graph nor any
// route gives bob anything on it.
func TestShareRacingDeleteLeavesNoGrant(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ts := start(t, engine)
			agentID, _ := ts.createAgent(t, alice, "helper")
			task := ts.createTask(t, alice, agentID, "racy")
			missing := "task_000000000000000000000000"
			share := `{"user":"bob","role":"editor"}`
			want := ts.do(t, alice, "POST", "/tasks/"+missing+"/share", share)

			body, feed := io.Pipe()
			req, err := http.NewRequest("POST", ts.url+"/tasks/"+task+"/share", body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+alice)
			req.Header.Set("Content-Type", "application/json")
			done := make(chan response, 1)
			go func() {
				res, err := ts.client.Do(req)
				if err != nil {
					t.Error(err)
					done <- response{}
					return
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				h := res.Header.Clone()
				h.Del("Date")
				done <- response{Status: res.StatusCode, Header: h, Body: string(b)}
			}()
			// Wait until the middleware has allowed the share: the handler
			// is now waiting for the body.
			deadline := time.Now().Add(30 * time.Second) // a bound for a hang, not a speed requirement
			for !strings.Contains(ts.logs.String(), `"route":"POST /tasks/{task_id}/share"`) {
				if time.Now().After(deadline) {
					t.Fatal("the share was never authorized")
				}
				time.Sleep(5 * time.Millisecond)
			}
			ts.expect(t, alice, "DELETE", "/tasks/"+task, "", http.StatusNoContent)
			io.WriteString(feed, share)
			feed.Close()
			got := <-done
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("share racing the delete vs share of a missing task (-missing +racing):\n%s", diff)
			}
			if rels := ts.relationships(t, authz.Resource{Type: "task", ID: task}); len(rels) != 0 {
				t.Errorf("relationships left on the deleted task: %v", rels)
			}
			ts.expect(t, bob, "POST", "/checkpoints/get-tuple", `{"thread_id":"`+task+`"}`, http.StatusNotFound)
			ts.expect(t, bob, "GET", "/tasks/"+task, "", http.StatusNotFound)
		})
	}
}
