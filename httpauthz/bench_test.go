package httpauthz_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkMiddleware compares a request through the full chain (extract,
// resolve parent, check on memadapter, next handler) with the bare handler
// on the same mux, side by side in one run.
func BenchmarkMiddleware(b *testing.B) {
	w := newWorld(b)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.mu.Lock()
	w.messages["m1"] = "t1"
	w.mu.Unlock()
	m := httpauthz.New(httpauthz.Config{
		Guard: authz.NewGuard(w.engine, w.guard.Operations()),
		Subject: func(r *http.Request) (authz.Subject, bool) {
			return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, true
		},
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux := http.NewServeMux()
	mux.Handle("GET /bare/{task_id}", ok)
	mux.Handle("GET /tasks/{task_id}", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(ok))
	mux.Handle("GET /tasks/{task_id}/update", m.Require("task", authz.OpUpdate, httpauthz.PathValue("task_id"))(ok))
	okTarget := httpauthz.TargetHandlerFunc(func(w http.ResponseWriter, r *http.Request, t httpauthz.Target) {
		if t.Checked.ID == "" {
			panic("no target")
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /tasks/{task_id}/target", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(okTarget))
	mux.Handle("GET /tasks/{task_id}/target/update", m.Require("task", authz.OpUpdate, httpauthz.PathValue("task_id"))(okTarget))
	run := func(name, path string) {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("X-Test-User", "alice")
			rw := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				mux.ServeHTTP(rw, req)
			}
		})
	}
	run("bare", "/bare/t1")
	run("read-through-parent-arrow", "/tasks/t1")
	run("update-bulk-probe", "/tasks/t1/update")
	run("read-through-parent-arrow/target-handler", "/tasks/t1/target")
	run("update-bulk-probe/target-handler", "/tasks/t1/target/update")
}

// BenchmarkJSONExtractor shows that the body extractor costs one read of
// the body and nothing proportional to it beyond that.
func BenchmarkJSONExtractor(b *testing.B) {
	w := newWorld(b)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	m := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(w.engine, w.guard.Operations()),
		Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "alice"}, true },
	})
	// Both handlers read the body, as a real one would.
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	chain := m.Require("task", authz.OpRead, httpauthz.JSONField("thread_id"))(ok)
	for _, tc := range []struct {
		name string
		h    http.Handler
		size int
	}{
		{"bare/1KiB", ok, 1 << 10}, {"json/1KiB", chain, 1 << 10},
		{"bare/16KiB", ok, 16 << 10}, {"json/16KiB", chain, 16 << 10},
		{"bare/256KiB", ok, 256 << 10}, {"json/256KiB", chain, 256 << 10},
	} {
		body := []byte(`{"thread_id":"t1","pad":"` + strings.Repeat("x", tc.size) + `"}`)
		h := tc.h
		b.Run(tc.name, func(b *testing.B) {
			rw := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				req := httptest.NewRequest("POST", "/cp", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(rw, req)
			}
		})
	}
}
