package httpauthz_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/calllog"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
)

// world is a small service: a graph in memadapter, rows in maps, and a
// mux with every route shape the middleware supports.
type world struct {
	t        testing.TB
	engine   *memadapter.Authorizer
	rec      *calllog.Recorder
	guard    *authz.Guard
	srv      *httptest.Server
	mux      *http.ServeMux
	m        *httpauthz.Middleware // the middleware the routes use
	mu       sync.Mutex
	taskName map[string]string // name -> task id
	messages map[string]string // message id -> task id
	events   map[string]string // event id -> agent id
	handled  int
	lastBody []byte
	tok      authz.Token
	down     atomic.Bool // when set, the backend is unreachable
	plain    atomic.Bool // when set, the handler answers as a pre-fgac handler would
}

type tenantKey struct{}

// flaky is an engine that can be switched off, for outage tests.
type flaky struct {
	authz.Authorizer
	down *atomic.Bool
}

func (f flaky) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if f.down.Load() {
		return authz.Deny(), authz.ErrUnavailable
	}
	return f.Authorizer.Check(ctx, req)
}

func (f flaky) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if f.down.Load() {
		return nil, authz.ErrUnavailable
	}
	return f.Authorizer.CheckMany(ctx, req)
}

func (f flaky) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if f.down.Load() {
		return authz.LookupResult{}, authz.ErrUnavailable
	}
	return f.Authorizer.Lookup(ctx, req)
}

func newWorld(t testing.TB, cfg ...func(*httpauthz.Config)) *world {
	t.Helper()
	w := &world{
		t:        t,
		taskName: map[string]string{}, messages: map[string]string{}, events: map[string]string{},
	}
	fx := testfixture.NewWrapped(t, func(a authz.Authorizer) authz.Authorizer { return flaky{Authorizer: a, down: &w.down} })
	w.engine, w.rec, w.guard = fx.Engine, fx.Calls, fx.Guard
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if p, ok := w.messages[id]; ok {
			return p, nil
		}
		return "", authz.ErrNotFound
	}))
	parents.Register("event", "agent", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if p, ok := w.events[id]; ok {
			return p, nil
		}
		return "", authz.ErrNotFound
	}))
	c := httpauthz.Config{
		Guard:       w.guard,
		Parents:     parents,
		Consistency: authz.FullyConsistent(),
		Subject: func(r *http.Request) (authz.Subject, bool) {
			u := r.Header.Get("X-Test-User")
			if u == "" {
				return authz.Subject{}, false
			}
			return authz.Subject{Type: "user", ID: u}, true
		},
	}
	for _, f := range cfg {
		f(&c)
	}
	m := httpauthz.New(c)
	w.m = m
	byName := func(x httpauthz.Extractor) httpauthz.Extractor {
		return httpauthz.ByName(x, func(_ context.Context, name string) (string, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if id, ok := w.taskName[name]; ok {
				return id, nil
			}
			return "", authz.ErrNotFound
		})
	}
	final := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if w.plain.Load() {
			fmt.Fprintf(rw, "%s %s %q", r.Method, r.URL.RequestURI(), body)
			return
		}
		tg, _ := httpauthz.TargetFrom(r.Context())
		w.mu.Lock()
		w.handled++
		w.lastBody = body
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]string{"checked": tg.Checked.String(), "requested": tg.Requested.String(), "method": tg.Method})
	})
	mux := http.NewServeMux()
	route := func(pattern string, mw func(http.Handler) http.Handler) { mux.Handle(pattern, mw(final)) }
	route("GET /tasks/{task_id}", m.Require("task", authz.OpRead, httpauthz.PathValue("task_id")))
	route("PUT /tasks/{task_id}", m.Require("task", authz.OpUpdate, httpauthz.PathValue("task_id")))
	route("POST /tasks/{task_id}/cancel", m.Require("task", authz.OpCancel, httpauthz.PathValue("task_id")))
	route("DELETE /tasks/{task_id}", m.Require("task", authz.OpDelete, httpauthz.PathValue("task_id")))
	route("GET /tasks/name/{name}", m.Require("task", authz.OpRead, byName(httpauthz.PathValue("name"))))
	route("POST /tasks/name/{name}/cancel", m.Require("task", authz.OpCancel, byName(httpauthz.PathValue("name"))))
	route("GET /states", m.Require("task", authz.OpRead, httpauthz.Query("task_id")))
	route("POST /states", m.Require("task", authz.OpUpdate, httpauthz.JSONField("task_id")))
	route("POST /checkpoints/get-tuple", m.Require("task", authz.OpRead, httpauthz.JSONField("thread_id")))
	route("POST /checkpoints/put", m.Require("task", authz.OpUpdate, httpauthz.JSONField("thread_id")))
	route("POST /checkpoints/delete-thread", m.Require("task", authz.OpDelete, httpauthz.JSONField("thread_id")))
	route("PUT /tasks/{task_id}/body", m.Require("task", authz.OpUpdate, httpauthz.PathValue("task_id"), httpauthz.JSONField("task_id")))
	route("GET /messages/{message_id}", m.Require("message", authz.OpRead, httpauthz.PathValue("message_id")))
	route("PUT /messages/{message_id}", m.Require("message", authz.OpUpdate, httpauthz.PathValue("message_id")))
	route("GET /events/{event_id}", m.Require("event", authz.OpRead, httpauthz.PathValue("event_id")))
	route("GET /agents/{agent_id}", m.Require("agent", authz.OpRead, httpauthz.PathValue("agent_id")))
	route("POST /agents/{agent_id}/rpc", m.Require("agent", authz.OpExecute, httpauthz.PathValue("agent_id")))
	var methods httpauthz.Methods
	taskRef := httpauthz.Either(httpauthz.JSONField("params", "task_id"), byName(httpauthz.JSONField("params", "task_name")))
	methods.Handle("message/send", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: taskRef})
	methods.Handle("event/send", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: taskRef})
	methods.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: taskRef})
	methods.Handle("task/interrupt", httpauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: taskRef})
	route("POST /rpc", m.RPC(&methods, httpauthz.JSONField("method")))
	mux.Handle("GET /tasks", m.List("task", authz.OpRead)(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.plain.Load() {
			fmt.Fprintf(rw, "%s %s", r.Method, r.URL.RequestURI())
			return
		}
		f := httpauthz.FilterFrom(r.Context())
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]any{"unfiltered": f.All(), "ids": f.IDs()})
	})))
	w.mux = mux
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), tenantKey{}, r.Header.Get("X-Tenant"))))
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *world) write(f func(context.Context) (authz.Token, error)) {
	w.t.Helper()
	tok, err := f(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	w.tok = tok
}

// agent registers an agent owned by user.
func (w *world) agent(id, owner string) {
	w.write(func(ctx context.Context) (authz.Token, error) {
		return w.engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: id}, Owner: authz.Subject{Type: "user", ID: owner}})
	})
}

// task registers a task with a name under an agent, owned by user.
func (w *world) task(id, name, agent, owner string) {
	p := authz.Resource{Type: "agent", ID: agent}
	w.write(func(ctx context.Context) (authz.Token, error) {
		return w.engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: id}, Owner: authz.Subject{Type: "user", ID: owner}, Parent: &p})
	})
	w.mu.Lock()
	w.taskName[name] = id
	w.mu.Unlock()
}

func (w *world) grant(taskID, relation, user string) {
	w.write(func(ctx context.Context) (authz.Token, error) {
		return w.engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{
			Resource: authz.Resource{Type: "task", ID: taskID}, Relation: relation, Subject: authz.Subject{Type: "user", ID: user}}})
	})
}

type response struct {
	status int
	header http.Header
	body   string
	calls  []string
}

// do sends a request as user and returns the answer and the backend calls
// it cost.
func (w *world) do(user, method, path, contentType, body string) response {
	w.t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w.rec.Reset()
	res, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	h := res.Header.Clone()
	h.Del("Date")
	return response{status: res.StatusCode, header: h, body: string(b), calls: w.rec.Calls()}
}

func (w *world) handledCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handled
}
