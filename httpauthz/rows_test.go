package httpauthz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/google/go-cmp/cmp"
)

// rowStore is the service's store as Rows sees it: which rows exist, and
// the existence queries made.
type rowStore struct {
	mu      sync.Mutex
	present map[authz.Resource]bool
	queries []string
}

func (s *rowStore) Exists(_ context.Context, r authz.Resource) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, "exists "+r.Type)
	return s.present[r], nil
}

func (s *rowStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queries
	s.queries = nil
	return q
}

// ghostWorld is probeWorld plus resources whose rows are gone but whose
// relationships linger (a failed deregistration, a grant that raced the
// delete): task tg (alice owner, bob viewer, named "ghost"), its message
// m-ghost, and agent ag (alice owner) with event e-ghost. With rows set,
// the middleware confirms existence through it.
func ghostWorld(t *testing.T, rows *rowStore) *world {
	var w *world
	if rows != nil {
		w = newWorld(t, func(c *httpauthz.Config) { c.Rows = rows })
	} else {
		w = newWorld(t)
	}
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.agent("ag", "alice")
	w.task("tg", "ghost", "ag", "alice")
	w.grant("tg", "viewer", "bob")
	w.mu.Lock()
	w.messages["m1"] = "t1"
	w.messages["m-ghost"] = "tg"
	w.messages["m-orphan"] = "t-gone"
	w.events["e1"] = "a1"
	w.events["e-ghost"] = "ag"
	w.events["e-orphan"] = "a-gone"
	w.mu.Unlock()
	if rows != nil {
		rows.present = map[authz.Resource]bool{{Type: "task", ID: "t1"}: true, {Type: "agent", ID: "a1"}: true}
	}
	return w
}

// ghostOf returns the id, in shape s, of a resource whose row is gone.
func ghostOf(s shape) string {
	switch s.unreadable {
	case "alpha":
		return "ghost"
	case "m1":
		return "m-ghost"
	case "e1":
		return "e-ghost"
	}
	return "tg"
}

// TestDeletedRowsGrantNothing: with Config.Rows, a resource whose row is
// gone answers on every route shape exactly like one that never existed
// (status, headers, body, engine calls and store queries), to its former
// owner, to a user it was shared with, with the engine up and down, and
// under a trusted bypass; an existing resource still answers 200 to its
// owner. Without Rows the owner of the deleted task gets through, which
// is the failure this guards against.
func TestDeletedRowsGrantNothing(t *testing.T) {
	rows := &rowStore{}
	w := ghostWorld(t, rows)
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			ghost := ghostOf(s)
			for _, user := range []string{"alice", "bob"} {
				for _, down := range []bool{false, true} {
					w.down.Store(down)
					rows.take()
					missing := w.do(user, s.method, s.path(s.missing), s.contentType, s.body(s.missing))
					missingQueries := rows.take()
					got := w.do(user, s.method, s.path(ghost), s.contentType, s.body(ghost))
					gotQueries := rows.take()
					want := http.StatusNotFound
					if down {
						want = http.StatusServiceUnavailable
					}
					if got.status != want {
						t.Errorf("%s down=%v: deleted row answered %d %s, want %d", user, down, got.status, got.body, want)
					}
					if diff := cmp.Diff(missing, got, cmp.AllowUnexported(response{})); diff != "" {
						t.Errorf("%s down=%v: deleted row vs missing (-missing +deleted):\n%s", user, down, diff)
					}
					if diff := cmp.Diff(missingQueries, gotQueries); diff != "" || len(gotQueries) == 0 {
						t.Errorf("%s down=%v: store queries differ or none (-missing +deleted):\n%s", user, down, diff)
					}
				}
			}
			w.down.Store(false)
			if got := w.do("alice", s.method, s.path(s.unreadable), s.contentType, s.body(s.unreadable)); got.status != http.StatusOK {
				t.Errorf("owner of an existing resource: %d %s", got.status, got.body)
			}
		})
	}
	// A bypass does not reach what does not exist.
	bypass := func(path string) int {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Test-User", "dave")
		req = req.WithContext(authz.WithBypass(req.Context(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "cron"}}))
		rec := httptest.NewRecorder()
		w.mux.ServeHTTP(rec, req)
		return rec.Code
	}
	for path, want := range map[string]int{
		"/tasks/t1": http.StatusOK, "/messages/m1": http.StatusOK,
		"/tasks/tg": http.StatusNotFound, "/messages/m-ghost": http.StatusNotFound, "/events/e-ghost": http.StatusNotFound,
		"/tasks/t-missing": http.StatusNotFound, "/messages/m-orphan": http.StatusNotFound,
	} {
		if got := bypass(path); got != want {
			t.Errorf("bypassed GET %s = %d, want %d", path, got, want)
		}
	}
	// The control: without Rows the graph alone decides, and the former
	// owner still reads and cancels the deleted task.
	plain := ghostWorld(t, nil)
	for _, path := range []string{"/tasks/tg", "/messages/m-ghost"} {
		if got := plain.do("alice", "GET", path, "", ""); got.status != http.StatusOK {
			t.Errorf("control without Rows: GET %s = %d, want 200 (the scenario has no teeth)", path, got.status)
		}
	}
}

var _ enforce.Rows = (*rowStore)(nil)
