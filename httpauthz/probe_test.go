package httpauthz_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// probeWorld: alice owns agent a1 and task t1 ("alpha"); message m1 and
// event e1 hang off them; m-orphan and e-orphan point at parents that do
// not exist. Bob can see nothing.
func probeWorld(t *testing.T) *world {
	w := newWorld(t)
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.mu.Lock()
	w.messages["m1"] = "t1"
	w.messages["m-orphan"] = "t-gone"
	w.events["e1"] = "a1"
	w.events["e-orphan"] = "a-gone"
	w.mu.Unlock()
	return w
}

type shape struct {
	name        string
	method      string
	path        func(id string) string
	contentType string
	body        func(id string) string
	// ids: an existing id bob cannot read, a missing one, a child of a
	// missing parent (child shapes only) and one that breaks the grammar.
	unreadable, missing, orphan, invalid string
}

func shapes() []shape {
	p := func(prefix string) func(string) string { return func(id string) string { return prefix + id } }
	none := func(string) string { return "" }
	jsonBody := func(field string) func(string) string {
		return func(id string) string { return `{"` + field + `":"` + id + `","other":1}` }
	}
	rpc := func(method, field string) func(string) string {
		return func(id string) string {
			return `{"method":"` + method + `","params":{"` + field + `":"` + id + `"}}`
		}
	}
	return []shape{
		{name: "path read", method: "GET", path: p("/tasks/"), body: none, unreadable: "t1", missing: "t-missing", invalid: "bad%21id"},
		{name: "path cancel", method: "POST", path: func(id string) string { return "/tasks/" + id + "/cancel" }, body: none, unreadable: "t1", missing: "t-missing", invalid: "bad%21id"},
		{name: "path delete", method: "DELETE", path: p("/tasks/"), body: none, unreadable: "t1", missing: "t-missing", invalid: strings.Repeat("x", 1025)},
		{name: "query read", method: "GET", path: p("/states?task_id="), body: none, unreadable: "t1", missing: "t-missing", invalid: "bad%20id"},
		{name: "body read", method: "POST", path: func(string) string { return "/checkpoints/get-tuple" }, contentType: "application/json", body: jsonBody("thread_id"), unreadable: "t1", missing: "t-missing", invalid: "bad id"},
		{name: "body update", method: "POST", path: func(string) string { return "/checkpoints/put" }, contentType: "application/json", body: jsonBody("thread_id"), unreadable: "t1", missing: "t-missing", invalid: "bad*id"},
		{name: "name read", method: "GET", path: p("/tasks/name/"), body: none, unreadable: "alpha", missing: "no-such-name", invalid: "%E2%98%83%20snow"},
		{name: "name cancel", method: "POST", path: func(id string) string { return "/tasks/name/" + id + "/cancel" }, body: none, unreadable: "alpha", missing: "no-such-name", invalid: "x%20y"},
		{name: "child read", method: "GET", path: p("/messages/"), body: none, unreadable: "m1", missing: "m-missing", orphan: "m-orphan", invalid: "m%2A"},
		{name: "child update", method: "PUT", path: p("/messages/"), body: none, unreadable: "m1", missing: "m-missing", orphan: "m-orphan", invalid: "m%2A"},
		{name: "agent child", method: "GET", path: p("/events/"), body: none, unreadable: "e1", missing: "e-missing", orphan: "e-orphan", invalid: "e%3Ae"},
		{name: "rpc id", method: "POST", path: func(string) string { return "/rpc" }, contentType: "application/json", body: rpc("task/cancel", "task_id"), unreadable: "t1", missing: "t-missing", invalid: "t 1"},
		{name: "rpc name", method: "POST", path: func(string) string { return "/rpc" }, contentType: "application/json", body: rpc("message/send", "task_name"), unreadable: "alpha", missing: "nope", invalid: "\\u2603"},
	}
}

// TestCannotProbeForExistence: for every route shape, a request for a
// missing resource, an unreadable one, a child of a missing parent and a
// malformed id get byte-identical answers (status, headers, body) after the
// same backend calls; with the backend down they all get the same 503.
func TestCannotProbeForExistence(t *testing.T) {
	w := probeWorld(t)
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			ids := map[string]string{"unreadable": s.unreadable, "missing": s.missing, "invalid": s.invalid}
			if s.orphan != "" {
				ids["orphan"] = s.orphan
			}
			for _, down := range []bool{false, true} {
				w.down.Store(down)
				want := http.StatusNotFound
				if down {
					want = http.StatusServiceUnavailable
				}
				ref := w.do("bob", s.method, s.path(s.unreadable), s.contentType, s.body(s.unreadable))
				if ref.status != want {
					t.Fatalf("down=%v unreadable: status %d, want %d (body %s)", down, ref.status, want, ref.body)
				}
				if len(ref.calls) == 0 {
					t.Fatalf("down=%v unreadable: no backend call recorded", down)
				}
				if strings.Contains(ref.body, s.unreadable) {
					t.Errorf("body %q names the id", ref.body)
				}
				for kind, id := range ids {
					got := w.do("bob", s.method, s.path(id), s.contentType, s.body(id))
					if diff := cmp.Diff(ref, got, cmp.AllowUnexported(response{})); diff != "" {
						t.Errorf("down=%v %s vs unreadable: mismatch (-unreadable +%s):\n%s", down, kind, kind, diff)
					}
				}
			}
			w.down.Store(false)
			// The owner gets through on the same route: the 404s above are
			// not an artefact of a broken route.
			if got := w.do("alice", s.method, s.path(s.unreadable), s.contentType, s.body(s.unreadable)); got.status != http.StatusOK {
				t.Errorf("owner: status %d, body %s", got.status, got.body)
			}
		})
	}
}
