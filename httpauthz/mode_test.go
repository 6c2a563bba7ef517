package httpauthz_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/google/go-cmp/cmp"
)

// modeMatrix is the rollout matrix plus the list route, whose filter the
// handler shows.
func modeMatrix() []call {
	out := matrix()
	for _, u := range []string{"alice", "bob", "dave"} {
		out = append(out, call{u, "GET", "/tasks", "", ""})
	}
	return out
}

// sendCounted sends c in tenant and returns the answer and its backend
// calls.
func (ro *rollout) sendCounted(tenant string, c call) response {
	ro.rec.Reset()
	res := ro.send(tenant, c.user, c.method, c.path, c.ct, c.body)
	res.calls = ro.rec.Calls()
	return res
}

// TestUnknownModeEnforces: a ModeFunc that returns a value outside
// Enforce, Shadow and Off (a faulty flag system) gets exactly the enforced
// answer on every route shape (id, name, body, child, RPC, list), with the
// same backend calls, and its events report the mode as the value it was,
// not as "enforce".
func TestUnknownModeEnforces(t *testing.T) {
	ro := newRollout(t)
	ro.seed()
	ro.plain.Store(false) // the handler shows what it was handed
	for _, mode := range []enforce.Mode{3, 7, 255} {
		for _, c := range modeMatrix() {
			ro.set("acme", enforce.Enforce)
			want := ro.sendCounted("acme", c)
			ro.set("acme", mode)
			ro.mu.Lock()
			ro.events = nil
			ro.mu.Unlock()
			got := ro.sendCounted("acme", c)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(response{})); diff != "" {
				t.Errorf("mode %d %+v: answer differs from enforce (-enforce +got):\n%s", mode, c, diff)
			}
			ro.mu.Lock()
			for _, e := range ro.events {
				if strings.Contains(c.body, "bogus") && c.user != "" {
					// A method the table lacks is enforced without asking
					// the mode function.
					if e.Mode != "enforce" {
						t.Errorf("mode %d %+v: event reports mode %q for an unknown method", mode, c, e.Mode)
					}
					continue
				}
				if e.Mode != mode.String() || e.Mode == "enforce" || !strings.Contains(e.Mode, "Mode(") {
					t.Errorf("mode %d %+v: event reports mode %q", mode, c, e.Mode)
				}
			}
			ro.mu.Unlock()
		}
	}
}

// FuzzMode: whatever mode value a ModeFunc returns, a request gets either
// the enforced answer (every value but Shadow and Off) or, for Shadow and
// Off, the answer of the service without fgac.
func FuzzMode(f *testing.F) {
	for _, m := range []uint8{0, 1, 2, 3, 4, 128, 255} {
		f.Add(m, uint8(0))
		f.Add(m, uint8(len(modeMatrix())-1))
	}
	ro := newRollout(f)
	ro.seed()
	cases := modeMatrix()
	f.Fuzz(func(t *testing.T, m, i uint8) {
		c := cases[int(i)%len(cases)]
		mode := enforce.Mode(m)
		ro.plain.Store(false)
		ro.set("acme", enforce.Enforce)
		enforced := ro.sendCounted("acme", c)
		ro.set("acme", mode)
		got := ro.sendCounted("acme", c)
		if mode.Enforced() {
			if diff := cmp.Diff(enforced, got, cmp.AllowUnexported(response{})); diff != "" {
				t.Fatalf("mode %d %+v: not enforced (-enforce +got):\n%s", m, c, diff)
			}
			return
		}
		if got.status == http.StatusNotFound || got.status == http.StatusForbidden {
			t.Fatalf("mode %s %+v answered %d", mode, c, got.status)
		}
	})
}

// TestPanickingModeFuncIsAServerError: a ModeFunc that panics (a faulty
// flag system) relaxes nothing: every route shape answers 500 without
// reaching the handler, even for the owner, whose request would be
// allowed, and the event says why.
func TestPanickingModeFuncIsAServerError(t *testing.T) {
	var mu sync.Mutex
	var got []audit.Event
	w := newWorld(t, func(c *httpauthz.Config) {
		c.Modes = func(context.Context, enforce.ModeRequest) enforce.Mode { panic("flag system down") }
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})
	})
	w.agent("a1", "alice")
	w.task("t1", "first", "a1", "alice")
	for _, c := range []call{
		{"alice", "GET", "/tasks/t1", "", ""},
		{"alice", "GET", "/tasks", "", ""},
		{"alice", "POST", "/rpc", "application/json", `{"method":"task/cancel","params":{"task_id":"t1"}}`},
		{"", "GET", "/tasks/t1", "", ""},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		before := w.handledCount()
		res := w.do(c.user, c.method, c.path, c.ct, c.body)
		if res.status != http.StatusInternalServerError {
			t.Errorf("%+v: status %d, want 500", c, res.status)
		}
		if w.handledCount() != before {
			t.Errorf("%+v: the handler ran", c)
		}
		mu.Lock()
		if len(got) != 1 || got[0].Outcome != audit.Error || !errors.Is(got[0].Err, authz.ErrInternal) || got[0].Mode != "enforce" {
			t.Errorf("%+v: events %+v, want one enforced error matching %v", c, got, authz.ErrInternal)
		}
		mu.Unlock()
	}
}
