package memo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memo"
	"github.com/fgac-go/fgac/parent"
)

// counter counts the calls an engine receives.
type counter struct {
	authz.Reader
	n atomic.Int64
}

func (c *counter) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	c.n.Add(1)
	return c.Reader.Check(ctx, req)
}

func (c *counter) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	c.n.Add(1)
	return c.Reader.CheckMany(ctx, req)
}

func (c *counter) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	c.n.Add(1)
	return c.Reader.Lookup(ctx, req)
}

// messageIDs are the messages of task t1 that the route authorizes.
var messageIDs = []string{"m1", "m2", "m3", "m4", "m5"}

// parentRoute returns GET /tasks/{task_id}/messages: the middleware checks
// that alice may read the task, then the handler authorizes each of five
// messages, which are checked as their parent task. That is six identical
// questions per request. If memoised, the engine is wrapped in a
// [memo.Reader] and the mux in [memo.Middleware].
func parentRoute(t testing.TB, engine authz.Reader, memoised bool) http.Handler {
	t.Helper()
	ops := testfixture.OperationMap(t)
	if memoised {
		engine = memo.New(engine, nil)
	}
	guard := authz.NewGuard(engine, ops)
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return "t1", nil }))
	subject := func(*http.Request) (authz.Subject, bool) { return user("alice"), true }
	m := httpauthz.New(httpauthz.Config{Guard: guard, Parents: parents, Subject: subject})
	enforcer := &enforce.Enforcer{Guard: guard, Parents: parents}
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, id := range messageIDs {
			req := enforce.Request{Subject: user("alice"), Resource: authz.Resource{Type: "message", ID: id}, Operation: authz.OpRead}
			if _, err := enforcer.Authorize(r.Context(), req); err != nil {
				httpauthz.WriteJSONError(w, r, httpauthz.ProblemFor(err))
				return
			}
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{task_id}/messages", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(list))
	if memoised {
		return memo.Middleware(mux)
	}
	return mux
}

func TestRepeatedParentChecksCostOneCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		memoised  bool
		wantCalls int64
	}{
		{"unmemoised", false, 6},
		{"memoised", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			count := &counter{Reader: newEngine(t)}
			h := parentRoute(t, count, tc.memoised)
			for range 2 {
				before := count.n.Load()
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/tasks/t1/messages", nil))
				if w.Code != http.StatusOK {
					t.Fatalf("status = %d, want 200: %s", w.Code, w.Body)
				}
				if got := count.n.Load() - before; got != tc.wantCalls {
					t.Errorf("backend calls per request = %d, want %d", got, tc.wantCalls)
				}
			}
		})
	}
}
