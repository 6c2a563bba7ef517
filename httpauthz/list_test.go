package httpauthz_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/google/go-cmp/cmp"
)

// TestListRoutes replays the reference list cases (behaviour.md 9.7, 70 and
// 78) with one rule for every list route: items under invisible parents are
// dropped, and an explicit filter on an invisible, missing or malformed
// parent is an empty list, never 403 or 404.
func TestListRoutes(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("tA", "a", "a1", "alice")
	w.task("tB", "b", "a1", "alice")
	w.grant("tA", "viewer", "bob")
	trackers := map[string][]string{"tA": {"trA1", "trA2"}, "tB": {"trB1"}}
	m := httpauthz.New(httpauthz.Config{Guard: w.guard, Consistency: authz.FullyConsistent(), Subject: func(r *http.Request) (authz.Subject, bool) {
		return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, r.Header.Get("X-Test-User") != ""
	}})
	list := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f := httpauthz.FilterFrom(r.Context())
		out := []string{}
		if !f.Empty() {
			for _, task := range []string{"tA", "tB"} {
				if f.Allows(task) {
					out = append(out, trackers[task]...)
				}
			}
		}
		slices.Sort(out)
		json.NewEncoder(rw).Encode(out)
	})
	w.mux.Handle("GET /tracker", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.Query("task_id")))(list))
	tests := []struct {
		name, user, query string
		want              []string
	}{
		{"70 search set filters", "bob", "", []string{"trA1", "trA2"}},
		{"70 explicit filter outside the set is empty", "bob", "?task_id=tB", []string{}},
		{"70 explicit filter inside the set", "bob", "?task_id=tA", []string{"trA1", "trA2"}},
		{"explicit filter on a missing task is empty", "bob", "?task_id=t-missing", []string{}},
		{"explicit filter on a malformed id is empty", "bob", "?task_id=a%20b", []string{}},
		{"70 empty search set is empty", "dave", "", []string{}},
		{"owner sees all", "alice", "", []string{"trA1", "trA2", "trB1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := w.do(tc.user, "GET", "/tracker"+tc.query, "", "")
			if got.status != http.StatusOK {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			var items []string
			if err := json.Unmarshal([]byte(got.body), &items); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, items); diff != "" {
				t.Errorf("items mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"lookup task#read"}, got.calls); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// A narrowing parameter that is given but empty or malformed is bad
	// input (400, no backend call, handler not run), never "no narrowing":
	// that would list everything the caller may see instead of one task.
	w.mux.Handle("POST /tracker", m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.JSONField("task_id")))(list))
	for _, bad := range []struct{ method, target, body string }{
		{"GET", "/tracker?task_id=", ""},
		{"GET", "/tracker?task_id=tA;x=1", ""},
		{"GET", "/tracker?x=1;task_id=tA", ""},
		{"GET", "/tracker?task_id=tA&task_id=tB", ""},
		{"GET", "/tracker?task_id=%zz", ""},
		{"POST", "/tracker", `{"task_id":""}`},
		{"POST", "/tracker", `{"task_id":null}`},
		{"POST", "/tracker", `{"task_id":7}`},
	} {
		got := w.do("bob", bad.method, bad.target, "application/json", bad.body)
		if got.status != http.StatusBadRequest || len(got.calls) != 0 {
			t.Errorf("%s %s %s = %d %s after calls %v, want 400 and no backend call", bad.method, bad.target, bad.body, got.status, got.body, got.calls)
		}
	}
	// Under a trusted bypass the filter is lifted; an explicit filter is
	// still honoured.
	for _, tc := range []struct {
		query string
		want  []string
	}{{"", []string{"trA1", "trA2", "trB1"}}, {"?task_id=tB", []string{"trB1"}}} {
		req := httptest.NewRequest("GET", "/tracker"+tc.query, nil)
		req.Header.Set("X-Test-User", "dave")
		req = req.WithContext(authz.WithBypass(req.Context(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "cron"}}))
		rec := httptest.NewRecorder()
		w.mux.ServeHTTP(rec, req)
		var items []string
		json.Unmarshal(rec.Body.Bytes(), &items)
		if diff := cmp.Diff(tc.want, items); diff != "" {
			t.Errorf("bypass %q: mismatch (-want +got):\n%s", tc.query, diff)
		}
	}
	// A handler mounted without the middleware lists nothing.
	if f := httpauthz.FilterFrom(httptest.NewRequest("GET", "/", nil).Context()); !f.Empty() {
		t.Error("missing filter is not empty")
	}
}

// TestListOfChildTypeFiltersByParentIDs: a list route for a child type
// (messages) is filtered by the ids of the type its permissions come from.
func TestListOfChildTypeFiltersByParentIDs(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("tA", "a", "a1", "alice")
	w.task("tB", "b", "a1", "alice")
	w.grant("tA", "viewer", "bob")
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		json.NewEncoder(rw).Encode(httpauthz.FilterFrom(r.Context()).IDs())
	})
	w.mux.Handle("GET /messages", w.m.List("message", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.Query("task_id")))(h))
	got := w.do("bob", "GET", "/messages", "", "")
	if got.status != http.StatusOK || strings.TrimSpace(got.body) != `["tA"]` {
		t.Errorf("bob's message list filter = %d %s, want 200 [\"tA\"]", got.status, got.body)
	}
	if diff := cmp.Diff([]string{"lookup task#read"}, got.calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
}

// TestUnenforcedListsKeepTheirNarrowing: in shadow and off modes a list
// is what it would be without fgac (every id), but an explicit filter
// still narrows it to the one id the request names: a handler that relies
// on the narrowing to select its rows must not list every row in the
// store. Input that names no valid id lists nothing; no filter lists all.
func TestUnenforcedListsKeepTheirNarrowing(t *testing.T) {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("tA", "a", "a1", "alice")
	w.task("tB", "b", "a1", "alice")
	all := []string{"tA", "tB", "tC-not-in-the-graph"}
	for _, mode := range []enforce.Mode{enforce.Shadow, enforce.Off} {
		m := httpauthz.New(httpauthz.Config{Guard: w.guard, Consistency: authz.FullyConsistent(),
			Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { return mode },
			Subject: func(r *http.Request) (authz.Subject, bool) {
				return authz.Subject{Type: "user", ID: r.Header.Get("X-Test-User")}, r.Header.Get("X-Test-User") != ""
			}})
		list := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			f := httpauthz.FilterFrom(r.Context())
			out := []string{}
			for _, id := range all {
				if f.Allows(id) {
					out = append(out, id)
				}
			}
			json.NewEncoder(rw).Encode(out)
		})
		prefix := "/unenforced-" + mode.String()
		w.mux.Handle("GET "+prefix, m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.Query("task_id")))(list))
		w.mux.Handle("POST "+prefix, m.List("task", authz.OpRead, httpauthz.NarrowBy("task", httpauthz.JSONField("task_id")))(list))
		for _, tc := range []struct {
			name, user, method, query, body string
			want                            []string
		}{
			{"no filter", "bob", "GET", "", "", all},
			{"narrowed to a task bob cannot read", "bob", "GET", "?task_id=tB", "", []string{"tB"}},
			{"narrowed, no subject", "", "GET", "?task_id=tA", "", []string{"tA"}},
			{"malformed id", "bob", "GET", "?task_id=a%20b", "", []string{}},
			{"repeated parameter", "bob", "GET", "?task_id=tA&task_id=tB", "", []string{}},
			{"narrowed by body", "bob", "POST", "", `{"task_id":"tB"}`, []string{"tB"}},
			{"bad body", "bob", "POST", "", `{"task_id":`, []string{}},
		} {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			got := w.do(tc.user, tc.method, prefix+tc.query, ct, tc.body)
			var ids []string
			if err := json.Unmarshal([]byte(got.body), &ids); err != nil || got.status != http.StatusOK {
				t.Fatalf("%s/%s: %d %s", mode, tc.name, got.status, got.body)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("%s/%s (-want +got):\n%s", mode, tc.name, diff)
			}
		}
	}
}
