package httpauthz_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/memadapter"
)

// answerSchema shares d1 with every user on a network, and d3 with bob
// under a caveat whose stored key (alice's secret) the request's map must
// hold.
const answerSchema = `
caveat netc(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
caveat lkk(m map<bool>, k string) { m[k] }
definition user {}
definition doc {
	relation owner: user
	relation viewer: user:* with netc | user with netc | user with lkk
	relation editor: user with netc
	permission read = owner + viewer
	permission update = owner + editor
}`

// TestCaveatAnswersDoNotRevealExistence: a wrong-typed context value, a
// caveat that fails on stored data and a hook's failure answer an
// existing, conditionally shared document exactly as a missing one (same
// status, same bytes), and no secret (a stored value, the hook's message,
// a panic's value) reaches an answer or an event.
func TestCaveatAnswersDoNotRevealExistence(t *testing.T) {
	ctx := t.Context()
	mem, err := memadapter.New(answerSchema)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(id string) authz.Resource { return authz.Resource{Type: "doc", ID: id} }
	alice, bob := authz.Subject{Type: "user", ID: "alice"}, authz.Subject{Type: "user", ID: "bob"}
	netc := authz.Caveat{Name: "netc", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}
	if _, err := mem.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: doc("d1"), Relation: "owner", Subject: alice},
		{Resource: doc("d1"), Relation: "viewer", Subject: authz.Wildcard("user"), Caveat: netc},
		{Resource: doc("d2"), Relation: "owner", Subject: alice},
		{Resource: doc("d2"), Relation: "editor", Subject: bob, Caveat: netc},
		{Resource: doc("d3"), Relation: "owner", Subject: alice},
		{Resource: doc("d3"), Relation: "viewer", Subject: bob, Caveat: authz.Caveat{Name: "lkk", Context: authz.NewContext(map[string]any{"k": "ALICE-SECRET"})}},
	}}); err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(mem, map[string]map[authz.Operation]string{"doc": {authz.OpRead: "read", authz.OpUpdate: "update"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	mw := httpauthz.New(httpauthz.Config{
		Guard:   authz.NewGuard(mem, ops),
		Subject: exampleSubject,
		Hook:    audit.HookFunc(func(_ context.Context, ev audit.Event) { events = append(events, ev) }),
		Context: func(r *http.Request) (authz.Context, error) {
			switch r.Header.Get("X-Hook") {
			case "err":
				return authz.Context{}, errors.New("ERR-SECRET " + r.Header.Get("X-Client-IP"))
			case "inv":
				return authz.Context{}, authz.Invalidf("INV-SECRET %s", r.Header.Get("X-Client-IP"))
			case "panic":
				panic("PANIC-SECRET")
			case "map":
				return authz.NewContext(map[string]any{"m": map[string]any{"x": true}}), nil
			case "num":
				return authz.NewContext(map[string]any{"ip": 42}), nil
			}
			if ip := r.Header.Get("X-Client-IP"); ip != "" {
				return authz.NewContext(map[string]any{"ip": ip}), nil
			}
			return authz.Context{}, nil
		},
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })
	mux := http.NewServeMux()
	mux.Handle("GET /docs/{id}", mw.Require("doc", authz.OpRead, httpauthz.PathValue("id"))(ok))
	mux.Handle("PUT /docs/{id}", mw.Require("doc", authz.OpUpdate, httpauthz.PathValue("id"))(ok))

	type answer struct {
		status int
		body   string
	}
	do := func(method, path string, hdr ...string) answer {
		t.Helper()
		events = nil
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("X-User", "bob")
		for i := 0; i < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		for _, ev := range events {
			if s := fmt.Sprintf("%v %+v", ev.Err, ev); strings.Contains(s, "SECRET") {
				t.Errorf("%s %s %v: an event carries a secret: %s", method, path, hdr, s)
			}
		}
		if strings.Contains(rec.Body.String(), "SECRET") {
			t.Errorf("%s %s %v: the answer carries a secret: %s", method, path, hdr, rec.Body)
		}
		return answer{rec.Code, rec.Body.String()}
	}
	for _, tt := range []struct {
		name         string
		method, path string
		hdr          []string
		want         int
	}{
		{"wrong-typed ip on a shared doc", "GET", "/docs/d1", []string{"X-Client-IP", "garbage"}, 400},
		{"a number for ip", "GET", "/docs/d1", []string{"X-Hook", "num"}, 400},
		{"a caveat failing on stored data", "GET", "/docs/d3", []string{"X-Hook", "map"}, 404},
		{"a hook error", "GET", "/docs/d3", []string{"X-Hook", "err", "X-Client-IP", "1.2.3.4"}, 500},
		{"a hook refusal", "GET", "/docs/d3", []string{"X-Hook", "inv", "X-Client-IP", "1.2.3.4"}, 400},
		{"a hook panic", "GET", "/docs/d3", []string{"X-Hook", "panic"}, 500},
		{"wrong-typed ip on an update", "PUT", "/docs/d2", []string{"X-Client-IP", "garbage"}, 400},
		{"outside the network on an update", "PUT", "/docs/d2", []string{"X-Client-IP", "1.2.3.4"}, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			existing := do(tt.method, tt.path, tt.hdr...)
			missing := do(tt.method, "/docs/nope", tt.hdr...)
			if existing != missing {
				t.Errorf("existing %s answers %d %q, a missing doc %d %q: they must be identical", tt.path, existing.status, existing.body, missing.status, missing.body)
			}
			if existing.status != tt.want {
				t.Errorf("status %d, want %d (%s)", existing.status, tt.want, existing.body)
			}
		})
	}
}

// TestUndecidableAnswersDoNotRevealExistence: a folder whose permission
// depends on itself through an exclusion (a cycle of parents under "-")
// has no well-defined answer; the engine says so (an
// *authz.UndecidableError), and the middleware answers it exactly as a
// missing folder, for a reader on the cycle and for a stranger.
func TestUndecidableAnswersDoNotRevealExistence(t *testing.T) {
	ctx := t.Context()
	mem, err := memadapter.New(`
definition user {}
definition folder {
	relation parent: folder
	relation member: user
	permission read = member - parent->read
}`)
	if err != nil {
		t.Fatal(err)
	}
	f := func(id string) authz.Resource { return authz.Resource{Type: "folder", ID: id} }
	eve := authz.Subject{Type: "user", ID: "eve"}
	if _, err := mem.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: f("f1"), Relation: "parent", Subject: authz.Subject{Type: "folder", ID: "f2"}},
		{Resource: f("f2"), Relation: "parent", Subject: authz.Subject{Type: "folder", ID: "f1"}},
		{Resource: f("f1"), Relation: "member", Subject: eve},
		{Resource: f("f2"), Relation: "member", Subject: eve},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err = mem.Check(ctx, authz.CheckRequest{Subject: eve, Resource: f("f1"), Permission: "read"})
	var ue *authz.UndecidableError
	if !errors.As(err, &ue) || !errors.Is(err, authz.ErrInvalidRequest) {
		t.Fatalf("the engine's check on the cycle: %v, want an *authz.UndecidableError", err)
	}
	ops, err := authz.NewOperationMap(mem, map[string]map[authz.Operation]string{"folder": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	mw := httpauthz.New(httpauthz.Config{Guard: authz.NewGuard(mem, ops), Subject: exampleSubject})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })
	mux := http.NewServeMux()
	mux.Handle("GET /folders/{id}", mw.Require("folder", authz.OpRead, httpauthz.PathValue("id"))(ok))
	get := func(user, id string) (int, string) {
		req := httptest.NewRequest("GET", "/folders/"+id, nil)
		req.Header.Set("X-User", user)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, user := range []string{"eve", "mallory"} {
		code, body := get(user, "f1")
		mcode, mbody := get(user, "nope")
		if code != http.StatusNotFound || code != mcode || body != mbody {
			t.Errorf("%s: f1 answers %d %q, a missing folder %d %q: want the same 404", user, code, body, mcode, mbody)
		}
	}
}
