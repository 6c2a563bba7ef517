package httpauthz_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The reference system's acceptance scenarios (behaviour.md section 9) that
// apply to a library, replayed through a real httptest server on
// memadapter. Each step states the calls it must cost.
func TestReferenceScenarios(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.task("t2", "beta", "a1", "alice")
	w.grant("t1", "viewer", "bob")   // bob reads t1 only
	w.grant("t2", "editor", "carol") // carol edits t2 (update, not cancel)
	w.mu.Lock()
	w.messages["m1"] = "t1"
	w.events["e1"] = "a1"
	w.mu.Unlock()

	tests := []struct {
		name   string // reference scenario number and summary
		user   string
		method string
		path   string
		body   string
		status int
		calls  []string
	}{
		{"9.1.1 allowed read costs one check", "alice", "GET", "/tasks/t1", "", 200, []string{"check task#read"}},
		{"9.1.2 read denied is 404 after one check", "dave", "GET", "/tasks/t1", "", 404, []string{"check task#read"}},
		{"9.1.3 op and read denied is 404", "dave", "POST", "/tasks/t1/cancel", "", 404, []string{"checkmany task#cancel,task#read"}},
		{"9.1.4 op denied read allowed is 403", "bob", "POST", "/tasks/t1/cancel", "", 403, []string{"checkmany task#cancel,task#read"}},
		{"9.1.5 allowed delete is forwarded", "alice", "DELETE", "/tasks/t1", "", 200, []string{"checkmany task#delete,task#read"}},
		{"9.2.6 message/send checks task update", "alice", "POST", "/rpc", `{"method":"message/send","params":{"task_id":"t1"}}`, 200, []string{"checkmany task#update,task#read"}},
		{"9.2.8 task/cancel checks cancel", "alice", "POST", "/rpc", `{"method":"task/cancel","params":{"task_id":"t1"}}`, 200, []string{"checkmany task#cancel,task#read"}},
		{"9.2.10 message/send by name checks the resolved id", "alice", "POST", "/rpc", `{"method":"message/send","params":{"task_name":"alpha"}}`, 200, []string{"checkmany task#update,task#read"}},
		{"9.2.13 task/cancel by name, editor is 403", "carol", "POST", "/rpc", `{"method":"task/cancel","params":{"task_name":"beta"}}`, 403, []string{"checkmany task#cancel,task#read"}},
		{"9.2.14 task/interrupt is update for an editor", "carol", "POST", "/rpc", `{"method":"task/interrupt","params":{"task_id":"t2"}}`, 200, []string{"checkmany task#update,task#read"}},
		{"9.2.15 unknown rpc method fails closed before any check", "alice", "POST", "/rpc", `{"method":"task/delete-everything","params":{"task_id":"t1"}}`, 400, nil},
		{"9.2 both task_id and task_name rejected", "alice", "POST", "/rpc", `{"method":"task/cancel","params":{"task_id":"t1","task_name":"alpha"}}`, 400, nil},
		{"9.2.22 body id, all denied is 404", "dave", "POST", "/states", `{"task_id":"t1"}`, 404, []string{"checkmany task#update,task#read"}},
		{"9.2.23 body id, update denied read allowed is 403", "bob", "POST", "/states", `{"task_id":"t1"}`, 403, []string{"checkmany task#update,task#read"}},
		{"9.2.26 name route denied is 404", "dave", "GET", "/tasks/name/alpha", "", 404, []string{"check task#read"}},
		{"9.2.27 name route update denied read allowed is 403", "bob", "POST", "/tasks/name/alpha/cancel", "", 403, []string{"checkmany task#cancel,task#read"}},
		{"9.3.31 agent execute and read denied is 404", "bob", "POST", "/agents/a1/rpc", "", 404, []string{"checkmany agent#execute,agent#read"}},
		{"9.7.66 checkpoint get-tuple authorized", "bob", "POST", "/checkpoints/get-tuple", `{"thread_id":"t1"}`, 200, []string{"check task#read"}},
		{"9.7.67 checkpoint put is update", "alice", "POST", "/checkpoints/put", `{"thread_id":"t1"}`, 200, []string{"checkmany task#update,task#read"}},
		{"9.7.67 checkpoint delete-thread is delete", "alice", "POST", "/checkpoints/delete-thread", `{"thread_id":"t1"}`, 200, []string{"checkmany task#delete,task#read"}},
		{"9.7.68 checkpoint route with task denied is 404", "dave", "POST", "/checkpoints/put", `{"thread_id":"t1"}`, 404, []string{"checkmany task#update,task#read"}},
		{"9.7.72 event get checks the agent, not the task", "bob", "GET", "/events/e1", "", 404, []string{"check agent#read"}},
		{"9.7.72 event get by the agent owner", "alice", "GET", "/events/e1", "", 200, []string{"check agent#read"}},
		{"9.7.72 unknown event costs the same check as a denied one", "alice", "GET", "/events/e-nope", "", 404, []string{"check agent#read"}},
		{"9.7.74 message get checks the parent task", "bob", "GET", "/messages/m1", "", 200, []string{"check task#read"}},
		{"9.7.76 no view on task: states by task_id is 404", "dave", "GET", "/states?task_id=t1", "", 404, []string{"check task#read"}},
		{"9.7.77 states by task_id with view is one check", "bob", "GET", "/states?task_id=t1", "", 200, []string{"check task#read"}},
		{"9.7.79 message PUT update denied read allowed is 403", "bob", "PUT", "/messages/m1", "", 403, []string{"checkmany task#update,task#read"}},
		{"agent key-less request is 401 before any check", "", "GET", "/tasks/t1", "", 401, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := w.handledCount()
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			got := w.do(tc.user, tc.method, tc.path, ct, tc.body)
			if got.status != tc.status {
				t.Errorf("status %d, want %d (body %s)", got.status, tc.status, got.body)
			}
			if diff := cmp.Diff(tc.calls, got.calls); diff != "" {
				t.Errorf("backend calls mismatch (-want +got):\n%s", diff)
			}
			ran := w.handledCount() > before
			if ran != (tc.status == http.StatusOK) {
				t.Errorf("handler ran = %v with status %d", ran, got.status)
			}
			if tc.status == http.StatusNotFound && strings.Contains(got.body, "t1") {
				t.Errorf("404 body names an id: %s", got.body)
			}
		})
	}
}

// TestForbiddenAndNotFoundBodiesAreFixed: every 403 and every 404 reads
// the same whatever resource it is about.
func TestForbiddenAndNotFoundBodiesAreFixed(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.task("t2", "beta", "a1", "alice")
	w.grant("t1", "viewer", "bob")
	w.grant("t2", "viewer", "bob")
	f1 := w.do("bob", "POST", "/tasks/t1/cancel", "", "")
	f2 := w.do("bob", "POST", "/tasks/t2/cancel", "", "")
	if f1.status != 403 || f1.body != f2.body {
		t.Errorf("403 bodies differ or wrong status: %d %q vs %q", f1.status, f1.body, f2.body)
	}
	n1 := w.do("dave", "GET", "/tasks/t1", "", "")
	if want := `{"error":{"code":"not_found","message":"not found"}}` + "\n"; n1.body != want {
		t.Errorf("404 body = %q, want %q", n1.body, want)
	}
}
