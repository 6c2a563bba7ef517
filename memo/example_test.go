package memo_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/memo"
)

// calls counts the checks that reach an engine.
type calls struct {
	authz.Reader
	n atomic.Int64
}

func (c *calls) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	c.n.Add(1)
	return c.Reader.Check(ctx, req)
}

// A service wraps its engine in a memo.Reader under the Guard that the
// middleware and the handlers share, and gives every request a request
// cache with memo.Middleware, outside the fgac middleware.
func ExampleMiddleware() {
	engine, _ := memadapter.New(`
definition user {}
definition task {
	relation owner: user
	permission read = owner
}`)
	t1 := authz.Resource{Type: "task", ID: "t1"}
	alice := authz.Subject{Type: "user", ID: "alice"}
	engine.Register(context.Background(), authz.RegisterRequest{Resource: t1, Owner: alice})
	ops, _ := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})

	backend := &calls{Reader: engine}
	guard := authz.NewGuard(memo.New(backend, nil), ops)
	m := httpauthz.New(httpauthz.Config{
		Guard:   guard,
		Subject: func(*http.Request) (authz.Subject, bool) { return alice, true },
	})
	// The handler authorizes the task again, as a service layer would.
	show := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := authz.Question{Subject: alice, Resource: t1, Operation: authz.OpRead}
		if err := guard.Authorize(r.Context(), q); err != nil {
			http.Error(w, "forbidden", http.StatusForbidden)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{task_id}", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(show))
	srv := memo.Middleware(mux)

	for range 2 {
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest("GET", "/tasks/t1", nil))
		fmt.Println(w.Code, "after", backend.n.Load(), "backend checks")
	}
	// Output:
	// 200 after 1 backend checks
	// 200 after 2 backend checks
}
