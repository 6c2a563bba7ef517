package grpcauthz_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
)

// answerSchema is conditionSchema with one more caveated grant: a viewer
// whose stored key (a secret) the request's map must hold.
const answerSchema = `
caveat on_network(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
caveat lkk(m map<bool>, k string) { m[k] }
definition user {}
definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
	permission update = owner
}
definition task {
	relation parent: agent
	relation owner: user
	relation editor: user
	relation viewer: user | user with on_network | user with lkk
	relation canceller: user with on_network
	permission read = owner + editor + viewer + parent->read
	permission update = owner + editor + parent->update
	permission cancel = owner + canceller
}
`

// TestCaveatAnswersDoNotRevealExistence: a wrong-typed context value, a
// caveat that fails on stored data and a hook's failure answer a task
// shared under a caveat exactly as a missing task (same code, message and
// details), and no secret reaches an answer or an event.
func TestCaveatAnswersDoNotRevealExistence(t *testing.T) {
	engine, err := memadapter.New(answerSchema)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []audit.Event
	)
	w := newWorldOn(t, engine, func(c *grpcauthz.Config) {
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		})
		c.Context = func(ctx context.Context, _ any) (authz.Context, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			switch h := md.Get("x-hook"); {
			case len(h) == 0:
			case h[0] == "err":
				return authz.Context{}, errors.New("ERR-SECRET")
			case h[0] == "inv":
				return authz.Context{}, authz.Invalidf("INV-SECRET")
			case h[0] == "map":
				return authz.NewContext(map[string]any{"m": map[string]any{"x": true}}), nil
			case h[0] == "num":
				return authz.NewContext(map[string]any{"ip": 42}), nil
			}
			if ip := md.Get("x-ip"); len(ip) == 1 {
				return authz.NewContext(map[string]any{"ip": ip[0]}), nil
			}
			return authz.Context{}, nil
		}
	})
	w.seed()
	t1 := authz.Resource{Type: "task", ID: "t1"}
	bob := authz.Subject{Type: "user", ID: "bob"}
	if _, err := engine.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: t1, Relation: "canceller", Subject: bob, Caveat: authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}},
		{Resource: t1, Relation: "viewer", Subject: bob, Caveat: authz.Caveat{Name: "lkk", Context: authz.NewContext(map[string]any{"k": "ALICE-SECRET"})}},
	}}); err != nil {
		t.Fatal(err)
	}
	call := func(method, id string, md ...string) response {
		t.Helper()
		w.md = metadata.Pairs(md...)
		mu.Lock()
		events = nil
		mu.Unlock()
		r := w.call("acme", "bob", method, ri(method, id))
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if s := fmt.Sprintf("%v %+v", ev.Err, ev); strings.Contains(s, "SECRET") {
				t.Errorf("%s %s %v: an event carries a secret: %s", method, id, md, s)
			}
		}
		if s := fmt.Sprint(r.Message, r.Details); strings.Contains(s, "SECRET") {
			t.Errorf("%s %s %v: the answer carries a secret: %s", method, id, md, s)
		}
		r.Calls = nil // the backend calls differ only in the id
		return r
	}
	for _, tt := range []struct {
		name, method string
		md           []string
		code         string
	}{
		{"wrong-typed ip", "GetTask", []string{"x-ip", "garbage"}, "InvalidArgument"},
		{"a number for ip", "GetTask", []string{"x-hook", "num"}, "InvalidArgument"},
		{"a caveat failing on stored data", "GetTask", []string{"x-hook", "map"}, "NotFound"},
		{"a caveat failing on stored data, cancel", "CancelTask", []string{"x-hook", "map"}, "NotFound"},
		{"a hook error", "GetTask", []string{"x-hook", "err"}, "Internal"},
		{"a hook refusal", "GetTask", []string{"x-hook", "inv"}, "InvalidArgument"},
		{"wrong-typed ip on a stream", "WatchTask", []string{"x-ip", "garbage"}, "InvalidArgument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			existing := call(tt.method, "t1", tt.md...)
			missing := call(tt.method, "t404", tt.md...)
			if fmt.Sprint(existing) != fmt.Sprint(missing) {
				t.Errorf("existing t1 answers %+v, a missing task %+v: they must be identical", existing, missing)
			}
			if existing.Code != tt.code {
				t.Errorf("code %s, want %s (%s)", existing.Code, tt.code, existing.Message)
			}
		})
	}
}
