package httpauthz_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
)

// fuzzRig runs one middleware under a trusted bypass, so every
// well-formed id reaches the handler, which asserts that what it received
// passes the id grammar and equals what encoding/json would decode.
type fuzzRig struct {
	m       *httpauthz.Middleware
	handled bool
	target  httpauthz.Target
}

func newFuzzRig(f *testing.F) *fuzzRig {
	return &fuzzRig{m: httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(testfixture.Engine(f), testfixture.OperationMap(f)),
		Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "fuzz"}, true },
	})}
}

func (r *fuzzRig) serve(t *testing.T, mw func(http.Handler) http.Handler, pattern string, req *http.Request) *httptest.ResponseRecorder {
	r.handled = false
	mux := http.NewServeMux()
	mux.Handle(pattern, mw(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.handled = true
		r.target, _ = httpauthz.TargetFrom(req.Context())
		if !authz.ValidID(r.target.Requested.ID) {
			t.Fatalf("handler got an id outside the grammar: %q", r.target.Requested.ID)
		}
	})))
	ctx := authz.WithBypass(req.Context(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "fuzz"}})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req.WithContext(ctx))
	// The mux itself may redirect (a "." segment) before any middleware.
	if !r.handled && rec.Code < 300 {
		t.Fatalf("request neither handled nor rejected: %d", rec.Code)
	}
	return rec
}

func FuzzPathValue(f *testing.F) {
	rig := newFuzzRig(f)
	mw := rig.m.Require("task", authz.OpRead, httpauthz.PathValue("id"))
	for _, s := range []string{"t1", "bad%21", "%2A", strings.Repeat("a", 1025), "a%2Fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		req, err := http.NewRequest("GET", "http://x/tasks/"+url.PathEscape(seg), nil)
		if err != nil {
			return
		}
		rig.serve(t, mw, "GET /tasks/{id}", req)
		if rig.handled && rig.target.Requested.ID != seg {
			t.Fatalf("authorized %q, request had %q", rig.target.Requested.ID, seg)
		}
	})
}

func FuzzQuery(f *testing.F) {
	rig := newFuzzRig(f)
	mw := rig.m.Require("task", authz.OpRead, httpauthz.Query("task_id"))
	for _, s := range []string{"task_id=t1", "task_id=t1&task_id=t2", "task_id=", "task_id=%00", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		req := httptest.NewRequest("GET", "http://x/states", nil)
		req.URL.RawQuery = rawQuery
		rig.serve(t, mw, "GET /states", req)
		if rig.handled && req.URL.Query().Get("task_id") != rig.target.Requested.ID {
			t.Fatalf("authorized %q, handler would read %q", rig.target.Requested.ID, req.URL.Query().Get("task_id"))
		}
	})
}

// decodeThreadID is what a handler using encoding/json would read.
func decodeThreadID(body []byte) (string, bool) {
	var v struct {
		ThreadID string `json:"thread_id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	return v.ThreadID, true
}

func FuzzJSONField(f *testing.F) {
	rig := newFuzzRig(f)
	mw := rig.m.Require("task", authz.OpRead, httpauthz.JSONField("thread_id"))
	for _, s := range []string{`{"thread_id":"t1"}`, `{"thread_id":"t1","THREAD_ID":"t2"}`, `{"thread_id":null}`, `{"thread\u005fid":"t\u0031"}`, `{"a":{"thread_id":"x"},"thread_id":"y"}`, `{"thread_id":"t1"}{}`, `[]`, `"s"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "http://x/cp", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rig.serve(t, mw, "POST /cp", req)
		if !rig.handled {
			return
		}
		got, ok := decodeThreadID(body)
		if !ok || got != rig.target.Requested.ID {
			t.Fatalf("authorized %q, encoding/json reads %q (ok=%v) from %q", rig.target.Requested.ID, got, ok, body)
		}
	})
}

func FuzzByName(f *testing.F) {
	rig := newFuzzRig(f)
	lookup := func(_ context.Context, name string) (string, error) {
		if strings.HasPrefix(name, "n") {
			return "id-" + strings.TrimPrefix(name, "n"), nil
		}
		return "", authz.ErrNotFound
	}
	mw := rig.m.Require("task", authz.OpRead, httpauthz.ByName(httpauthz.PathValue("name"), lookup))
	for _, s := range []string{"nabc", "abc", "n", "n%21", "n" + strings.Repeat("x", 1030)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		req, err := http.NewRequest("GET", "http://x/tasks/name/"+url.PathEscape(seg), nil)
		if err != nil {
			return
		}
		rec := rig.serve(t, mw, "GET /tasks/name/{name}", req)
		if rig.handled && rig.target.Requested.ID != "id-"+strings.TrimPrefix(seg, "n") {
			t.Fatalf("authorized %q for name %q", rig.target.Requested.ID, seg)
		}
		if !strings.HasPrefix(seg, "n") && rec.Code < 300 {
			t.Fatalf("unknown name answered %d", rec.Code)
		}
	})
}

func FuzzRPC(f *testing.F) {
	rig := newFuzzRig(f)
	var methods httpauthz.Methods
	methods.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel,
		ID: httpauthz.Either(httpauthz.JSONField("params", "task_id"), httpauthz.JSONField("params", "task_ref"))})
	mw := rig.m.RPC(&methods, httpauthz.JSONField("method"))
	for _, s := range []string{`{"method":"task/cancel","params":{"task_id":"t1"}}`, `{"method":"x","params":{"task_id":"t1"}}`, `{"method":"task/cancel","params":{"task_id":"t1","task_ref":"t2"}}`, `{"method":"task/cancel","Params":{"task_id":"a"},"params":{"task_id":"b"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "http://x/rpc", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		rig.serve(t, mw, "POST /rpc", req)
		if !rig.handled {
			return
		}
		var v struct {
			Method string `json:"method"`
			Params struct {
				TaskID  string `json:"task_id"`
				TaskRef string `json:"task_ref"`
			} `json:"params"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("handled a body encoding/json rejects: %v", err)
		}
		if v.Method != "task/cancel" || (v.Params.TaskID != rig.target.Requested.ID && v.Params.TaskRef != rig.target.Requested.ID) {
			t.Fatalf("authorized %s %q, handler would read %+v", rig.target.Method, rig.target.Requested.ID, v)
		}
	})
}
