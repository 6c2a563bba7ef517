package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/memo"
)

// BenchmarkMiddleware compares a request through the fgac middleware on
// memadapter (extract the path id, check, call the handler) with the bare
// handler on the same mux, side by side: a read allowed through the task's
// parent agent, an update (whose 403-vs-404 read probe goes in the same
// bulk call), and the read again with memo wired in (memo.Middleware and a
// memo.Reader under the guard). The graph holds 10,000 tasks.
func BenchmarkMiddleware(b *testing.B) {
	engine, err := memEngine(checkGraph(10_000))
	if err != nil {
		b.Fatal(err)
	}
	m, err := authz.NewOperationMap(engine, ops)
	if err != nil {
		b.Fatal(err)
	}
	owner, _, task := checkCase(10_000, true)
	subject := func(r *http.Request) (authz.Subject, bool) { return userSubject(r.Header.Get("X-User")), true }
	plain := httpauthz.New(httpauthz.Config{Guard: authz.NewGuard(engine, m), Subject: subject})
	memoised := httpauthz.New(httpauthz.Config{Guard: authz.NewGuard(memo.New(engine, nil), m), Subject: subject})

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	id := httpauthz.PathValue("task_id")
	mux := http.NewServeMux()
	mux.Handle("GET /bare/{task_id}", ok)
	mux.Handle("GET /tasks/{task_id}", plain.Require("task", authz.OpRead, id)(ok))
	mux.Handle("GET /tasks/{task_id}/update", plain.Require("task", authz.OpUpdate, id)(ok))
	mux.Handle("GET /memo/tasks/{task_id}", memoised.Require("task", authz.OpRead, id)(ok))
	// A handler that takes the checked Target as an argument spares the
	// request clone that carrying it in the context costs.
	okTarget := httpauthz.TargetHandlerFunc(func(w http.ResponseWriter, _ *http.Request, _ httpauthz.Target) { w.WriteHeader(http.StatusOK) })
	mux.Handle("GET /target/tasks/{task_id}", plain.Require("task", authz.OpRead, id)(okTarget))
	mux.Handle("GET /target/tasks/{task_id}/update", plain.Require("task", authz.OpUpdate, id)(okTarget))
	withMemo := memo.Middleware(mux)

	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
	}{
		{"bare", mux, "/bare/" + task},
		{"fgac-read", mux, "/tasks/" + task},
		{"fgac-update", mux, "/tasks/" + task + "/update"},
		{"fgac-memo-read", withMemo, "/memo/tasks/" + task},
		{"fgac-read-target-handler", mux, "/target/tasks/" + task},
		{"fgac-update-target-handler", mux, "/target/tasks/" + task + "/update"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", tc.path, nil)
			req.Header.Set("X-User", owner)
			w := &statusWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				w.code = http.StatusOK
				tc.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status = %d, want 200", w.code)
				}
			}
		})
	}
}
