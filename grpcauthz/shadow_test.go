package grpcauthz_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/grpcauthz"
)

// TestShadowNeverChangesAResponse: for every method, user and input above
// (readable, unreadable, missing, orphan and malformed ids, bad input,
// unknown methods, no subject), with the engine up and down, shadow mode
// answers exactly what off mode (no fgac) answers: code, message,
// details, headers, trailers and messages.
func TestShadowNeverChangesAResponse(t *testing.T) {
	var mu sync.Mutex
	modes := map[string]enforce.Mode{}
	counts := map[audit.Outcome]int{}
	w := newWorld(t, func(c *grpcauthz.Config) {
		c.MaxMessageBytes = 1024
		c.Modes = func(ctx context.Context, _ enforce.ModeRequest) enforce.Mode {
			mu.Lock()
			defer mu.Unlock()
			tenant, _ := ctx.Value(tenantKey{}).(string)
			return modes[tenant]
		}
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Mode == enforce.Shadow.String() {
				counts[e.Outcome]++
			}
		})
	})
	w.seed()
	w.grant("t1", "viewer", "bob")
	w.plain.Store(true)
	set := func(m enforce.Mode) {
		mu.Lock()
		modes["acme"] = m
		mu.Unlock()
	}
	type call struct {
		user, method string
		msg          proto.Message
	}
	var calls []call
	for _, u := range []string{"alice", "bob", "carol", ""} {
		for _, s := range shapes() {
			for _, id := range []string{s.unreadable, s.missing, s.orphan, s.invalid} {
				if id != "" {
					calls = append(calls, call{u, s.method, ri(s.method, id)})
				}
			}
		}
		for _, m := range []string{"ListTasks", "WatchTasks", "Unrouted", "WatchUnrouted"} {
			calls = append(calls, call{u, m, ri("GetTask", "t1")})
		}
		for _, b := range badInputs() {
			calls = append(calls, call{u, b.method, b.msg})
		}
	}
	ignoreCalls := cmpopts.IgnoreFields(response{}, "Calls")
	for _, down := range []bool{false, true} {
		w.down.Store(down)
		for _, c := range calls {
			set(enforce.Off)
			off := w.call("acme", c.user, c.method, c.msg)
			set(enforce.Shadow)
			shadow := w.call("acme", c.user, c.method, c.msg)
			if diff := cmp.Diff(off, shadow, ignoreCalls); diff != "" {
				t.Errorf("down=%v %s %s: shadow changed the answer (-off +shadow):\n%s", down, c.user, c.method, diff)
			}
			// A method the table lacks is refused in every mode (the
			// table fails closed); everything else goes through in off
			// mode.
			if unrouted := strings.Contains(c.method, "Unrouted"); unrouted != (off.Code == "PermissionDenied") || (!unrouted && !off.ok()) {
				t.Errorf("down=%v %s %s: off mode answered %s %s", down, c.user, c.method, off.Code, off.Message)
			}
			if len(off.Calls) != 0 {
				t.Errorf("off mode made backend calls: %v", off.Calls)
			}
		}
	}
	// Shadow recorded what it would have denied.
	mu.Lock()
	defer mu.Unlock()
	for _, o := range []audit.Outcome{audit.Allowed, audit.ShadowDenied, audit.Error} {
		if counts[o] == 0 {
			t.Errorf("no shadow event with outcome %s (counts %v)", o, counts)
		}
	}
}
