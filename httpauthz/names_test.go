package httpauthz_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
)

// TestNameWithAnotherIDCannotProbeForExistence: on routes that take a name
// and an id together, whether the name exists (and which id it has) must
// not decide the answer: a request with an existing name and one with a
// missing name, otherwise alike, get the same answer after the same
// backend calls.
func TestNameWithAnotherIDCannotProbeForExistence(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.task("t2", "beta", "a1", "alice")
	m := httpauthz.New(httpauthz.Config{
		Guard:       w.guard,
		Consistency: authz.FullyConsistent(),
		Subject: func(r *http.Request) (authz.Subject, bool) {
			return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, true
		},
	})
	byName := httpauthz.ByName(httpauthz.PathValue("name"), func(_ context.Context, name string) (string, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if id, ok := w.taskName[name]; ok {
			return id, nil
		}
		return "", authz.ErrNotFound
	})
	final := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte(fmt.Sprint(httpauthz.FilterFrom(r.Context()).IDs())))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /named/{name}", m.Require("task", authz.OpRead, byName, httpauthz.Query("task_id"))(final))
	mux.Handle("GET /list/{name}", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.Query("task_id"), byName))(final))
	do := func(user, path string) response {
		t.Helper()
		w.rec.Reset()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Test-User", user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return response{status: rec.Code, header: rec.Header(), body: rec.Body.String(), calls: w.rec.Calls()}
	}
	tests := []struct {
		name            string
		user            string
		existing, other string // paths with an existing and a missing name
	}{
		{"require without the id", "bob", "/named/alpha", "/named/no-such-name"},
		{"require with another id", "bob", "/named/alpha?task_id=t2", "/named/no-such-name?task_id=t2"},
		{"require with another id, as the owner", "alice", "/named/alpha?task_id=t2", "/named/no-such-name?task_id=t2"},
		{"list with the name's id", "bob", "/list/alpha?task_id=t1", "/list/no-such-name?task_id=t1"},
		{"list with another id", "alice", "/list/alpha?task_id=t2", "/list/no-such-name?task_id=t2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := do(tt.user, tt.other)
			got := do(tt.user, tt.existing)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(response{})); diff != "" {
				t.Errorf("existing name vs missing name: mismatch (-missing +existing):\n%s", diff)
			}
		})
	}
	// The routes work: the owner gets through with a name and its own id.
	if got := do("alice", "/named/alpha?task_id=t1"); got.status != http.StatusOK {
		t.Errorf("owner: status %d, body %s", got.status, got.body)
	}
	if got, want := do("alice", "/list/alpha?task_id=t1").body, fmt.Sprint(authz.FilterIDs([]string{"t1"}, "").IDs()); got != want {
		t.Errorf("owner's list = %s, want %s", got, want)
	}
}
