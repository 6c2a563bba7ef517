package httpauthz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/google/go-cmp/cmp"
)

// rollout is a service whose mode is chosen per tenant; its handler
// answers as a pre-fgac handler would (method, path, body), so answers can
// be compared across modes.
type rollout struct {
	*world
	mu     sync.Mutex
	modes  map[string]enforce.Mode
	events []audit.Event
}

func newRollout(t testing.TB) *rollout {
	ro := &rollout{modes: map[string]enforce.Mode{}}
	ro.world = newWorld(t, func(c *httpauthz.Config) {
		c.Modes = func(ctx context.Context, _ enforce.ModeRequest) enforce.Mode {
			ro.mu.Lock()
			defer ro.mu.Unlock()
			tenant, _ := ctx.Value(tenantKey{}).(string)
			return ro.modes[tenant]
		}
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			ro.mu.Lock()
			ro.events = append(ro.events, e)
			ro.mu.Unlock()
		})
	})
	ro.plain.Store(true)
	return ro
}

func (ro *rollout) set(tenant string, m enforce.Mode) {
	ro.mu.Lock()
	ro.modes[tenant] = m
	ro.mu.Unlock()
}

func (ro *rollout) send(tenant, user, method, path, ct, body string) response {
	req, _ := http.NewRequest(method, ro.world.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Tenant", tenant)
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := ro.world.srv.Client().Do(req)
	if err != nil {
		ro.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	h := res.Header.Clone()
	h.Del("Date")
	return response{status: res.StatusCode, header: h, body: string(b)}
}

type call struct{ user, method, path, ct, body string }

// matrix is every route shape with users that are allowed, readable-only,
// and unknown, plus bad input.
func matrix() []call {
	const js = "application/json"
	var out []call
	for _, u := range []string{"alice", "bob", "dave", ""} {
		out = append(out,
			call{u, "GET", "/tasks/t1", "", ""},
			call{u, "GET", "/tasks/t-missing", "", ""},
			call{u, "POST", "/tasks/t1/cancel", "", ""},
			call{u, "DELETE", "/tasks/bad%21id", "", ""},
			call{u, "GET", "/tasks/name/alpha", "", ""},
			call{u, "GET", "/tasks/name/nope", "", ""},
			call{u, "GET", "/states?task_id=t1", "", ""},
			call{u, "GET", "/states?task_id=t1&task_id=t2", "", ""},
			call{u, "POST", "/checkpoints/put", js, `{"thread_id":"t1"}`},
			call{u, "POST", "/checkpoints/put", js, `{"thread_id":"t1","THREAD_ID":"t2"}`},
			call{u, "POST", "/checkpoints/put", js, `{"thread_id":`},
			call{u, "POST", "/checkpoints/put", "text/plain", `{"thread_id":"t1"}`},
			call{u, "GET", "/messages/m1", "", ""},
			call{u, "GET", "/messages/m-missing", "", ""},
			call{u, "GET", "/events/e1", "", ""},
			call{u, "POST", "/rpc", js, `{"method":"task/cancel","params":{"task_id":"t1"}}`},
			call{u, "POST", "/rpc", js, `{"method":"bogus","params":{"task_id":"t1"}}`},
		)
	}
	return out
}

func (ro *rollout) seed() {
	ro.agent("a1", "alice")
	ro.task("t1", "alpha", "a1", "alice")
	ro.grant("t1", "viewer", "bob")
	ro.world.mu.Lock()
	ro.messages["m1"] = "t1"
	ro.world.events["e1"] = "a1"
	ro.world.mu.Unlock()
}

// TestShadowNeverChangesAResponse: for every route, user and input of the
// matrix, with the backend up and down, shadow mode answers exactly what
// off mode (no fgac) answers, status, headers and body.
func TestShadowNeverChangesAResponse(t *testing.T) {
	ro := newRollout(t)
	ro.seed()
	for _, down := range []bool{false, true} {
		ro.down.Store(down)
		for _, c := range matrix() {
			ro.set("acme", enforce.Off)
			off := ro.send("acme", c.user, c.method, c.path, c.ct, c.body)
			ro.set("acme", enforce.Shadow)
			shadow := ro.send("acme", c.user, c.method, c.path, c.ct, c.body)
			if diff := cmp.Diff(off, shadow, cmp.AllowUnexported(response{})); diff != "" {
				t.Errorf("down=%v %+v: shadow changed the answer (-off +shadow):\n%s", down, c, diff)
			}
			if unknown := strings.Contains(c.body, "bogus") && c.user != ""; unknown != (off.status != http.StatusOK) {
				// A method the table lacks is refused in every mode (once
				// a subject lets the body be read); all
				// else goes through in off mode.
				t.Errorf("down=%v %+v: off mode answered %d", down, c, off.status)
			}
		}
	}
	ro.down.Store(false)
	// Shadow recorded what it would have denied.
	ro.mu.Lock()
	defer ro.mu.Unlock()
	counts := map[audit.Outcome]int{}
	for _, e := range ro.events {
		if e.Mode == enforce.Shadow.String() {
			counts[e.Outcome]++
		}
	}
	for _, o := range []audit.Outcome{audit.Allowed, audit.ShadowDenied, audit.Error} {
		if counts[o] == 0 {
			t.Errorf("no shadow event with outcome %s (counts %v)", o, counts)
		}
	}
}

// TestTenantSwitchChangesOnlyThatTenant: moving one tenant from shadow to
// enforce changes that tenant's answers and no other's.
func TestTenantSwitchChangesOnlyThatTenant(t *testing.T) {
	ro := newRollout(t)
	ro.seed()
	snapshot := func(tenant string) []response {
		var out []response
		for _, c := range matrix() {
			out = append(out, ro.send(tenant, c.user, c.method, c.path, c.ct, c.body))
		}
		return out
	}
	ro.set("acme", enforce.Shadow)
	ro.set("globex", enforce.Shadow)
	acmeBefore, globexBefore := snapshot("acme"), snapshot("globex")
	ro.set("acme", enforce.Enforce)
	acmeAfter, globexAfter := snapshot("acme"), snapshot("globex")
	if diff := cmp.Diff(globexBefore, globexAfter, cmp.AllowUnexported(response{})); diff != "" {
		t.Errorf("globex changed when acme switched (-before +after):\n%s", diff)
	}
	changed := 0
	for i := range acmeBefore {
		if acmeBefore[i].status != acmeAfter[i].status {
			changed++
		}
	}
	if changed == 0 {
		t.Error("switching acme to enforce changed none of its answers")
	}
	// Enforced answers are the enforced ones: bob cannot cancel (403),
	// dave cannot see t1 (404).
	for i, c := range matrix() {
		if c.user == "bob" && c.path == "/tasks/t1/cancel" && acmeAfter[i].status != http.StatusForbidden {
			t.Errorf("acme bob cancel = %d, want 403", acmeAfter[i].status)
		}
		if c.user == "dave" && c.path == "/tasks/t1" && acmeAfter[i].status != http.StatusNotFound {
			t.Errorf("acme dave read = %d, want 404", acmeAfter[i].status)
		}
	}
}

// TestSlogEventsCarryFieldsAndNoSecret: each outcome is written by the slog
// adapter with its fields, and a secret in the caller's principal appears
// nowhere.
func TestSlogEventsCarryFieldsAndNoSecret(t *testing.T) {
	const secret = "sk_live_DO_NOT_LOG_4242"
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mode := enforce.Enforce
	w := newWorld(t, func(c *httpauthz.Config) {
		c.Hook = audit.Slog{Logger: logger}
		c.Modes = func(ctx context.Context, r enforce.ModeRequest) enforce.Mode {
			if strings.HasPrefix(r.Route, "GET /states") {
				return enforce.Shadow
			}
			return mode
		}
		// The principal carries an API key; fgac only ever sees the
		// subject derived from it.
		c.Subject = func(r *http.Request) (authz.Subject, bool) {
			var principal struct {
				UserID string `json:"user_id"`
				APIKey string `json:"api_key"`
			}
			if json.Unmarshal([]byte(r.Header.Get("X-Principal")), &principal) != nil || principal.UserID == "" {
				return authz.Subject{}, false
			}
			return authz.Subject{Type: "user", ID: principal.UserID}, true
		}
	})
	w.agent("a1", "alice")
	w.task("t1", "alpha", "a1", "alice")
	w.grant("t1", "viewer", "bob")
	send := func(user, method, path string, bypass bool) {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("X-Principal", `{"user_id":"`+user+`","api_key":"`+secret+`"}`)
		if bypass {
			req = req.WithContext(authz.WithBypass(req.Context(), authz.Bypass{Identity: authz.Subject{Type: "agent", ID: "a1"}}))
		}
		w.mux.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("alice", "GET", "/tasks/t1", false)         // allowed
	send("bob", "POST", "/tasks/t1/cancel", false)   // denied
	send("dave", "GET", "/tasks/t1", false)          // not_found
	send("dave", "GET", "/tasks/t1", true)           // bypassed
	send("dave", "GET", "/states?task_id=t1", false) // shadow_denied
	w.down.Store(true)
	send("alice", "GET", "/tasks/t1", false) // error
	w.down.Store(false)

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Contains(out, secret) || strings.Contains(out, "api_key") || strings.Contains(out, "principal") {
		t.Fatalf("log output leaks the principal:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"allowed", "denied", "not_found", "bypassed", "shadow_denied", "error"}
	if len(lines) != len(want) {
		t.Fatalf("got %d records, want %d (one per decision):\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["outcome"] != want[i] {
			t.Errorf("record %d outcome = %v, want %s", i, rec["outcome"], want[i])
		}
		for _, field := range []string{"subject", "resource", "operation", "mode", "latency", "consistency", "route"} {
			if _, ok := rec[field]; !ok {
				t.Errorf("record %d (%s) lacks %q: %s", i, want[i], field, line)
			}
		}
		if want[i] == "bypassed" && rec["bypass"] != "agent:a1" {
			t.Errorf("bypassed record names bypass %v", rec["bypass"])
		}
		if want[i] == "error" && rec["error"] == nil {
			t.Errorf("error record has no error: %s", line)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
