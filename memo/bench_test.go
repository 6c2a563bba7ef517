package memo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fgac-go/fgac/memo"
)

// statusWriter is a ResponseWriter that keeps only the status.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkRepeatedParentChecks serves a route that asks the same parent
// check six times per request (the middleware's check of the task and one
// per message of the task), without and with memoisation, side by side.
// calls/op is the number of backend calls per request: 6 and 1.
func BenchmarkRepeatedParentChecks(b *testing.B) {
	for _, tc := range []struct {
		name     string
		memoised bool
	}{
		{"unmemoised", false},
		{"memoised", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			count := &counter{Reader: newEngine(b)}
			h := parentRoute(b, count, tc.memoised)
			req := httptest.NewRequest("GET", "/tasks/t1/messages", nil)
			w := &statusWriter{h: http.Header{}}
			count.n.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				w.code = http.StatusOK
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status = %d", w.code)
				}
			}
			b.ReportMetric(float64(count.n.Load())/float64(b.N), "calls/op")
		})
	}
}

// BenchmarkCheck measures what the Reader adds to one check on memadapter:
// the engine alone, a check through memo with no request cache (a shared
// call), and a check the request cache answers.
func BenchmarkCheck(b *testing.B) {
	engine := newEngine(b)
	q := ask("bob", "t1", "read")
	r := memo.New(engine, nil)
	unshared := memo.New(engine, &memo.Config{NoSharing: true})
	for _, tc := range []struct {
		name  string
		check func(context.Context) error
		ctx   context.Context
	}{
		{"engine", func(ctx context.Context) error { _, err := engine.Check(ctx, q); return err }, context.Background()},
		{"memo-shared-call", func(ctx context.Context) error { _, err := r.Check(ctx, q); return err }, context.Background()},
		{"memo-unshared-call", func(ctx context.Context) error { _, err := unshared.Check(ctx, q); return err }, context.Background()},
		{"memo-request-cache-hit", func(ctx context.Context) error { _, err := r.Check(ctx, q); return err }, memo.WithRequestCache(context.Background())},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.check(tc.ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
