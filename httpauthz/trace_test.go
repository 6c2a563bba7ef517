package httpauthz_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/spanrec"
	"github.com/fgac-go/fgac/otelauthz"
)

// TestDecisionsAreTraced: with a Tracer, every request's decision gets a
// span with the route, its outcome and the checked type, ids dropped on
// request.
func TestDecisionsAreTraced(t *testing.T) {
	rec := &spanrec.Provider{}
	w := newWorld(t, func(c *httpauthz.Config) { c.Tracer = otelauthz.New(otelauthz.Config{Provider: rec, DropIDs: true}) })
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.mu.Lock()
	w.messages["m1"] = "t1"
	w.mu.Unlock()
	for _, tc := range []struct {
		user, path string
		status     int
		want       map[string]string
	}{
		{"alice", "/messages/m1", http.StatusOK, map[string]string{"fgac.resource_type": "task", "fgac.requested_type": "message", "fgac.operation": "read", "fgac.permission": "read",
			"fgac.outcome": "allowed", "fgac.mode": "enforce", "fgac.consistency": "fully_consistent", "fgac.route": "GET /messages/{message_id}"}},
		{"bob", "/tasks/t1", http.StatusNotFound, map[string]string{"fgac.resource_type": "task", "fgac.operation": "read", "fgac.permission": "read",
			"fgac.outcome": "not_found", "fgac.mode": "enforce", "fgac.consistency": "fully_consistent", "fgac.route": "GET /tasks/{task_id}"}},
	} {
		rec.Reset()
		if got := w.do(tc.user, "GET", tc.path, "", ""); got.status != tc.status {
			t.Fatalf("%s %s: %d", tc.user, tc.path, got.status)
		}
		spans := rec.Ended()
		if len(spans) != 1 || spans[0].Name != otelauthz.DecisionSpan {
			t.Fatalf("%s %s: spans %+v, want one decision", tc.user, tc.path, spans)
		}
		if diff := cmp.Diff(tc.want, spans[0].Attrs); diff != "" {
			t.Errorf("%s %s: attributes mismatch (-want +got):\n%s", tc.user, tc.path, diff)
		}
	}
}
