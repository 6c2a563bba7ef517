package httpauthz_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
)

// panicMessage runs f and returns what it panicked with, or "".
func panicMessage(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

// TestSetupCatchesWiringMistakes: routes that could only ever fail panic
// when they are built, with a message that names what is missing and
// where, like http.ServeMux.Handle on a bad pattern.
func TestSetupCatchesWiringMistakes(t *testing.T) {
	engine := testfixture.Engine(t)
	// A wiring mistake of its own, on purpose: task maps cancel but not
	// read, so a denied cancel could not tell 403 from 404.
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpCancel: "cancel"}, "agent": {authz.OpRead: "read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return "t1", nil }))
	m := httpauthz.New(httpauthz.Config{Guard: authz.NewGuard(engine, ops), Parents: parents, Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{}, false }})
	id := httpauthz.PathValue("id")
	for _, tc := range []struct {
		name  string
		build func()
		want  []string
	}{
		{"stronger op without read", func() { m.Require("task", authz.OpCancel, id) }, []string{"read must be mapped", `"task"`}},
		{"rpc method without read", func() {
			var t httpauthz.Methods
			t.Handle("task/cancel", httpauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: id})
			m.RPC(&t, httpauthz.JSONField("method"))
		}, []string{"read must be mapped"}},
		{"unregistered child", func() { m.Require("note", authz.OpRead, id) }, []string{"note", "Parents.Register", "NewOperationMap"}},
		{"child whose parent type is unmapped", func() { m.Require("message", authz.OpUpdate, id) }, []string{"message", "task", "NewOperationMap"}},
		{"unmapped operation", func() { m.Require("agent", authz.OpDelete, id) }, []string{"delete", "agent", "NewOperationMap"}},
	} {
		msg := panicMessage(tc.build)
		if msg == "" {
			t.Errorf("%s: no panic at setup", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: panic %q does not mention %s", tc.name, msg, w)
			}
		}
	}
	// A typed-nil resolver is refused at registration, not at request time.
	var nilFunc parent.ResolverFunc
	if msg := panicMessage(func() { parents.Register("state", "task", nilFunc) }); !strings.Contains(msg, "nil resolver") {
		t.Errorf("typed-nil ResolverFunc: panic %q", msg)
	}
	// An empty schema is an error, not an engine that denies everything.
	if _, err := memadapter.New("  \n"); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("memadapter.New(empty) = %v, want %v", err, authz.ErrInvalidRequest)
	}
}

// TestStoreNotFoundFromResolverIsNotFound: a resolver written the natural
// way, returning its store's sql.ErrNoRows for a missing child, answers
// exactly like a missing child (404, same bytes, same calls), not 500.
func TestStoreNotFoundFromResolverIsNotFound(t *testing.T) {
	w := probeWorld(t)
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		if id == "m1" {
			return "t1", nil
		}
		return "", fmt.Errorf("store: select message %s: %w", id, sql.ErrNoRows)
	}))
	m := httpauthz.New(httpauthz.Config{Guard: w.guard, Parents: parents, Consistency: authz.FullyConsistent(), Subject: func(r *http.Request) (authz.Subject, bool) {
		return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, true
	}})
	w.mux.Handle("GET /sqlmessages/{id}", m.Require("message", authz.OpRead, httpauthz.PathValue("id"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	unreadable := w.do("bob", "GET", "/sqlmessages/m1", "", "")
	missing := w.do("bob", "GET", "/sqlmessages/m-missing", "", "")
	if missing.status != http.StatusNotFound || missing.body != unreadable.body || strings.Join(missing.calls, ",") != strings.Join(unreadable.calls, ",") {
		t.Errorf("missing child via sql.ErrNoRows: %d %s %v; unreadable: %d %s %v", missing.status, missing.body, missing.calls, unreadable.status, unreadable.body, unreadable.calls)
	}
}

// TestHandleCatchesPathValuesThePatternLacks: a PathValue name the route
// pattern does not define panics at registration (it would otherwise answer
// 400 to every request), also inside ByName and Either; a matching one
// registers and serves.
func TestHandleCatchesPathValuesThePatternLacks(t *testing.T) {
	w := probeWorld(t)
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusOK) })
	lookup := func(context.Context, string) (string, error) { return "", authz.ErrNotFound }
	for name, tc := range map[string]struct {
		pattern string
		ids     []httpauthz.Extractor
	}{
		"misspelt":        {"GET /x/tasks/{task_id}", []httpauthz.Extractor{httpauthz.PathValue("taskid")}},
		"inside ByName":   {"GET /x/tasks/name/{name}", []httpauthz.Extractor{httpauthz.ByName(httpauthz.PathValue("task_name"), lookup)}},
		"inside Either":   {"GET /x/tasks/either/{id}", []httpauthz.Extractor{httpauthz.Either(httpauthz.PathValue("task"), httpauthz.Query("task_id"))}},
		"second of two":   {"PUT /x/tasks/{task_id}", []httpauthz.Extractor{httpauthz.PathValue("task_id"), httpauthz.PathValue("id")}},
		"no wildcard yet": {"GET /x/tasks", []httpauthz.Extractor{httpauthz.PathValue("task_id")}},
	} {
		msg := panicMessage(func() { w.m.Handle(mux, tc.pattern, "task", authz.OpRead, ok, tc.ids...) })
		if !strings.Contains(msg, "pattern does not define") {
			t.Errorf("%s: panic %q", name, msg)
		}
	}
	w.m.Handle(w.mux, "GET /y/tasks/{task_id...}", "task", authz.OpRead, ok, httpauthz.PathValue("task_id"))
	if got := w.do("alice", "GET", "/y/tasks/t1", "", ""); got.status != http.StatusOK {
		t.Errorf("registered route: %d %s", got.status, got.body)
	}
}

// TestFiveHundredsWithoutAHookSaySo: fgac never logs, so a middleware
// without a Hook answers a 500 with a fixed message that says its cause
// was not recorded and names the fix; with a Hook, the 500 is the plain
// one and the hook gets the cause. Neither message carries the cause.
func TestFiveHundredsWithoutAHookSaySo(t *testing.T) {
	w := probeWorld(t)
	broken := errors.New("store: connection refused to db.internal:5432")
	var events []audit.Event
	for _, hook := range []audit.Hook{nil, audit.HookFunc(func(_ context.Context, e audit.Event) { events = append(events, e) })} {
		parents := &parent.Registry{}
		parents.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return "", broken }))
		m := httpauthz.New(httpauthz.Config{Guard: w.guard, Parents: parents, Hook: hook, Subject: func(r *http.Request) (authz.Subject, bool) {
			return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, true
		}})
		mux := http.NewServeMux()
		m.Handle(mux, "GET /m/{id}", "message", authz.OpRead, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler ran") }), httpauthz.PathValue("id"))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/m/m1", nil)
		req.Header.Set("X-Test-User", "alice")
		mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError || strings.Contains(body, "db.internal") {
			t.Fatalf("hook %v: %d %s", hook != nil, rec.Code, body)
		}
		if unrecorded := strings.Contains(body, "Config.Hook is nil"); unrecorded != (hook == nil) {
			t.Errorf("hook %v: body %s", hook != nil, body)
		}
	}
	if len(events) != 1 || events[0].Outcome != audit.Error || !errors.Is(events[0].Err, broken) {
		t.Errorf("events with the hook: %+v", events)
	}
}

// TestSetupRefusesABadDecoy: the decoy is spent only on missing ids, so a
// Decoy that returns a malformed id (or panics) would answer them, and only
// them, with a 500: refused when the route is built, for lists too.
func TestSetupRefusesABadDecoy(t *testing.T) {
	w := probeWorld(t)
	for name, decoy := range map[string]func(string) string{
		"empty":     func(string) string { return "" },
		"malformed": func(string) string { return "bad id" },
		"bad for the parent type only": func(typ string) string {
			if typ == "task" {
				return "*"
			}
			return "ok_000000"
		},
		"panics": func(string) string { panic("decoy") },
	} {
		m := httpauthz.New(httpauthz.Config{Guard: w.guard, Decoy: decoy, Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{}, false }})
		for route, build := range map[string]func(){
			"require": func() { m.Require("task", authz.OpRead, httpauthz.PathValue("id")) },
			"list":    func() { m.List("task", authz.OpRead) },
		} {
			if msg := panicMessage(build); msg == "" {
				t.Errorf("%s, %s: accepted", name, route)
			} else if name != "panics" && !strings.Contains(msg, "Config.Decoy") {
				t.Errorf("%s, %s: panic %q does not name Config.Decoy", name, route, msg)
			}
		}
	}
	good := httpauthz.New(httpauthz.Config{Guard: w.guard, Decoy: func(string) string { return "task_000000" }, Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{}, false }})
	if msg := panicMessage(func() { good.Require("task", authz.OpRead, httpauthz.PathValue("id")) }); msg != "" {
		t.Errorf("good decoy: %s", msg)
	}
}

// TestListRefusesANarrowingOfTheWrongType: a list narrows by an id of the
// type its filter holds; a child's own id (always an empty list) or a third
// type's id panics at setup, naming the type to narrow by.
func TestListRefusesANarrowingOfTheWrongType(t *testing.T) {
	w := probeWorld(t)
	q := httpauthz.Query("id")
	for _, tc := range []struct {
		name  string
		build func()
		want  []string // in the panic message; nil: no panic
	}{
		{"child by its own id", func() { w.m.List("message", authz.OpRead, httpauthz.NarrowBy("message", q)) }, []string{`List("message")`, "always be empty", `NarrowBy("task"`}},
		{"task by agent id", func() { w.m.List("task", authz.OpRead, httpauthz.NarrowBy("agent", q)) }, []string{`List("task")`, "agent id", `NarrowBy("task"`}},
		{"two narrowings", func() {
			w.m.List("task", authz.OpRead, httpauthz.NarrowBy("task", q), httpauthz.NarrowBy("task", q))
		}, []string{"at most one"}},
		{"no extractor", func() { w.m.List("task", authz.OpRead, httpauthz.NarrowBy("task")) }, []string{"no extractor"}},
		{"child by its parent", func() { w.m.List("message", authz.OpRead, httpauthz.NarrowBy("task", q)) }, nil},
		{"task by task", func() { w.m.List("task", authz.OpRead, httpauthz.NarrowBy("task", q)) }, nil},
	} {
		msg := panicMessage(tc.build)
		if tc.want == nil {
			if msg != "" {
				t.Errorf("%s: panicked: %s", tc.name, msg)
			}
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: panic %q lacks %q", tc.name, msg, want)
			}
		}
	}
}

// TestSetupRefusesNilParts: a typed-nil Hook or Rows, a nil extractor, a
// nil Mux or handler panic at setup with a message, not on every request.
func TestSetupRefusesNilParts(t *testing.T) {
	w := probeWorld(t)
	subject := func(*http.Request) (authz.Subject, bool) { return authz.Subject{}, false }
	var nilHook audit.HookFunc
	var nilSlog *audit.Slog
	var nilRows enforce.RowsFunc
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	var nilHandler http.HandlerFunc
	for name, tc := range map[string]struct {
		build func()
		want  string
	}{
		"nil HookFunc":              {func() { httpauthz.New(httpauthz.Config{Guard: w.guard, Subject: subject, Hook: nilHook}) }, "Config.Hook"},
		"nil *Slog":                 {func() { httpauthz.New(httpauthz.Config{Guard: w.guard, Subject: subject, Hook: nilSlog}) }, "Config.Hook"},
		"nil RowsFunc":              {func() { httpauthz.New(httpauthz.Config{Guard: w.guard, Subject: subject, Rows: nilRows}) }, "Config.Rows"},
		"nil extractor in Require":  {func() { w.m.Require("task", authz.OpRead, nil) }, "extractor 0 is nil"},
		"nil extractor in NarrowBy": {func() { w.m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.Query("a"), nil)) }, "extractor 1 is nil"},
		"nil extractor in Handle":   {func() { w.m.Handle(w.mux, "GET /nil/{id}", "task", authz.OpRead, ok, nil) }, "extractor 0 is nil"},
		"nil Mux":                   {func() { w.m.Handle(nil, "GET /nil2/{id}", "task", authz.OpRead, ok, httpauthz.PathValue("id")) }, "needs a Mux"},
		"nil handler": {func() {
			w.m.Handle(w.mux, "GET /nil3/{id}", "task", authz.OpRead, nilHandler, httpauthz.PathValue("id"))
		}, "needs a Mux and a handler"},
	} {
		if msg := panicMessage(tc.build); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: panic %q, want it to say %q", name, msg, tc.want)
		}
	}
}
