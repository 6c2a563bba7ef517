package httpauthz_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
)

// panicky is an Extractor that panics.
type panicky struct{}

func (panicky) Extract(*http.Request, []byte) (string, error) { panic("extractor bug") }
func (panicky) UsesBody() bool                                { return false }

// callbackMux serves GET /tasks/{id} (Require) and POST /rpc (RPC) for
// mallory under cfg changed by change, with ids found by id, and counts
// the requests its handler served.
func callbackMux(t *testing.T, change func(*httpauthz.Config), id httpauthz.Extractor) (*http.ServeMux, *atomic.Int32) {
	t.Helper()
	cfg := httpauthz.Config{
		Guard:   authz.NewGuard(testfixture.Engine(t), testfixture.OperationMap(t)),
		Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "mallory"}, true },
	}
	change(&cfg)
	m := httpauthz.New(cfg)
	var handled atomic.Int32
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handled.Add(1) })
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{id}", m.Require("task", authz.OpRead, id)(h))
	var table httpauthz.Methods
	table.Handle("task/get", httpauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: id})
	mux.Handle("POST /rpc", m.RPC(&table, httpauthz.JSONField("method"))(h))
	return mux, &handled
}

// TestPanickingCallbacksAreServerErrors: a Subject, ConsistencyFor or
// Extractor that panics is a 500 on an existing and on a missing task
// alike, through Require and RPC, without reaching the handler (before,
// the panic escaped the middleware and net/http dropped the connection).
func TestPanickingCallbacksAreServerErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*httpauthz.Config)
		id     httpauthz.Extractor
	}{
		{"Subject", func(c *httpauthz.Config) {
			c.Subject = func(*http.Request) (authz.Subject, bool) { panic("authenticator bug") }
		}, nil},
		{"ConsistencyFor", func(c *httpauthz.Config) {
			c.ConsistencyFor = func(*http.Request) authz.Consistency { panic("token store bug") }
		}, nil},
		{"Extractor", func(*httpauthz.Config) {}, panicky{}},
		// In shadow mode too: a request whose consistency cannot be
		// known is enforced, through Require and RPC alike.
		{"ConsistencyFor in shadow mode", func(c *httpauthz.Config) {
			c.Modes = func(context.Context, enforce.ModeRequest) enforce.Mode { return enforce.Shadow }
			c.ConsistencyFor = func(*http.Request) authz.Consistency { panic("token store bug") }
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.id
			if id == nil {
				id = httpauthz.PathValue("id")
			}
			mux, handled := callbackMux(t, tt.change, id)
			var bodies []string
			for _, req := range []*http.Request{
				httptest.NewRequest("GET", "/tasks/t1", nil),
				httptest.NewRequest("GET", "/tasks/t-missing", nil),
			} {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusInternalServerError {
					t.Errorf("%s %s: %d, want 500", req.Method, req.URL, rec.Code)
				}
				bodies = append(bodies, rec.Body.String())
			}
			if bodies[0] != bodies[1] {
				t.Errorf("existing and missing task answered differently: %q vs %q", bodies[0], bodies[1])
			}
			if tt.name != "Extractor" {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest("POST", "/rpc", strings.NewReader(`{"method":"task/get","params":{"task_id":"t1"}}`)))
				if rec.Code != http.StatusInternalServerError {
					t.Errorf("POST /rpc: %d, want 500", rec.Code)
				}
			}
			if n := handled.Load(); n != 0 {
				t.Errorf("the handler ran %d times", n)
			}
		})
	}
}

// TestDecoyThatFailsLaterAnswersAllAlike: a Decoy that passes the setup
// check and fails later (panics, or returns a malformed id) used to fail
// only the requests for missing tasks, the only ones that called it, so
// that a missing task answered 500 and an unreadable one 404. The decoy
// is now taken for every request: both answer the same.
func TestDecoyThatFailsLaterAnswersAllAlike(t *testing.T) {
	for _, tt := range []struct {
		name  string
		later func() string
	}{
		{"panics", func() string { panic("decoy bug") }},
		{"malformed id", func() string { return "has space" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var armed atomic.Bool // after setup, whose check the Decoy passes
			mux, handled := callbackMux(t, func(c *httpauthz.Config) {
				// The rows decide existence: t1 exists (mallory may not
				// read it), nothing else does.
				c.Rows = enforce.RowsFunc(func(_ context.Context, r authz.Resource) (bool, error) { return r.ID == "t1", nil })
				c.Decoy = func(string) string {
					if !armed.Load() {
						return "t-decoy"
					}
					return tt.later()
				}
			}, httpauthz.PathValue("id"))
			armed.Store(true)
			answer := func(path string) (int, string) {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				return rec.Code, rec.Body.String()
			}
			c1, b1 := answer("/tasks/t1")
			c2, b2 := answer("/tasks/t-missing")
			if c1 != c2 || b1 != b2 {
				t.Errorf("unreadable t1: %d %q; missing: %d %q; want the same answer", c1, b1, c2, b2)
			}
			if handled.Load() != 0 {
				t.Error("the handler ran")
			}
		})
	}
}

// TestGoexitInACallbackLetsNothingThrough: a Subject, ConsistencyFor or
// Extractor that calls runtime.Goexit (t.FailNow in a test double, say)
// ends the request's goroutine; the middleware cannot answer it, but the
// handler never runs and the client gets no success, for an existing and
// a missing task alike (net/http closes the connection).
func TestGoexitInACallbackLetsNothingThrough(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*httpauthz.Config)
		id     httpauthz.Extractor
	}{
		{"Subject", func(c *httpauthz.Config) {
			c.Subject = func(*http.Request) (authz.Subject, bool) { runtime.Goexit(); return authz.Subject{}, true }
		}, httpauthz.PathValue("id")},
		{"ConsistencyFor", func(c *httpauthz.Config) {
			c.ConsistencyFor = func(*http.Request) authz.Consistency { runtime.Goexit(); return authz.Consistency{} }
		}, httpauthz.PathValue("id")},
		{"Extractor", func(*httpauthz.Config) {}, goexiting{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mux, handled := callbackMux(t, tt.change, tt.id)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			for _, path := range []string{"/tasks/t1", "/tasks/t-missing"} {
				res, err := srv.Client().Get(srv.URL + path)
				if err == nil {
					res.Body.Close()
					if res.StatusCode < 400 {
						t.Errorf("GET %s: %d, want no success", path, res.StatusCode)
					}
				}
			}
			if n := handled.Load(); n != 0 {
				t.Errorf("the handler ran %d times", n)
			}
		})
	}
}

// goexiting is an Extractor that calls runtime.Goexit.
type goexiting struct{}

func (goexiting) Extract(*http.Request, []byte) (string, error) { runtime.Goexit(); return "", nil }
func (goexiting) UsesBody() bool                                { return false }
