package grpcauthz_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
)

// conditionSchema is testSchema with caveated grants on tasks: a viewer
// or a canceller on the office network.
const conditionSchema = `
caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

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
	relation viewer: user | user with on_network
	relation canceller: user with on_network
	permission read = owner + editor + viewer + parent->read
	permission update = owner + editor + parent->update
	permission cancel = owner + canceller
}
`

// TestRequestContextReachesEveryCheck checks that Config.Context gives
// the checks and lookups of unary and streaming calls their caveat
// parameters, that without them a caveated grant is denied under the
// collapse rule (NotFound unreadable, PermissionDenied readable with the
// missing names in the event), and that a hook that fails or panics
// answers InvalidArgument or Internal before any engine call or handler.
func TestRequestContextReachesEveryCheck(t *testing.T) {
	engine, err := memadapter.New(conditionSchema)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []audit.Event
		seen   []string // what the hook got as req
	)
	w := newWorldOn(t, engine, func(c *grpcauthz.Config) {
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
		})
		c.Context = func(ctx context.Context, req any) (authz.Context, error) {
			mu.Lock()
			if m, ok := req.(proto.Message); ok && m != nil {
				seen = append(seen, string(m.ProtoReflect().Descriptor().Name()))
			} else {
				seen = append(seen, fmt.Sprint(req))
			}
			mu.Unlock()
			md, _ := metadata.FromIncomingContext(ctx)
			switch f := md.Get("x-context"); {
			case len(f) == 0:
			case f[0] == "invalid":
				return authz.Context{}, fmt.Errorf("ip is malformed: %w", authz.ErrInvalidRequest)
			case f[0] == "failed":
				return authz.Context{}, fmt.Errorf("geo lookup down: %w", authz.ErrNotFound)
			case f[0] == "panic":
				panic("secret-token-123")
			}
			if ip := md.Get("x-ip"); len(ip) == 1 {
				return authz.NewContext(map[string]any{"ip": ip[0]}), nil
			}
			return authz.Context{}, nil
		}
	})
	w.seed()
	network := authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	if _, err := engine.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: t1, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}, Caveat: network},
		{Resource: t1, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "carol"}},
		{Resource: t1, Relation: "canceller", Subject: authz.Subject{Type: "user", ID: "carol"}, Caveat: network},
	}}); err != nil {
		t.Fatal(err)
	}

	const inside, outside = "10.1.2.3", "192.168.1.1"
	for _, tt := range []struct {
		name, user, method, ip, fault string
		code, reply                   string
		outcome                       audit.Outcome
		missing                       []string
		req                           string // what the hook got
	}{
		{name: "get with the parameter", user: "bob", method: "GetTask", ip: inside, code: "OK", reply: "checked=task:t1", outcome: audit.Allowed, req: "ResourceInfo"},
		{name: "get from another network", user: "bob", method: "GetTask", ip: outside, code: "NotFound", outcome: audit.NotFound, req: "ResourceInfo"},
		{name: "get without the parameter", user: "bob", method: "GetTask", code: "NotFound", outcome: audit.NotFound, req: "ResourceInfo", missing: []string{"ip"}},
		{name: "watch with the parameter", user: "bob", method: "WatchTask", ip: inside, code: "OK", reply: "checked=task:t1", outcome: audit.Allowed, req: "ResourceInfo"},
		{name: "watch without the parameter", user: "bob", method: "WatchTask", code: "NotFound", outcome: audit.NotFound, req: "ResourceInfo", missing: []string{"ip"}},
		{name: "cancel with the parameter", user: "carol", method: "CancelTask", ip: inside, code: "OK", reply: "checked=task:t1", outcome: audit.Allowed, req: "ResourceInfo"},
		{name: "cancel without the parameter", user: "carol", method: "CancelTask", code: "PermissionDenied", outcome: audit.Denied, missing: []string{"ip"}, req: "ResourceInfo"},
		{name: "unary list with the parameter", user: "bob", method: "ListTasks", ip: inside, code: "OK", reply: "ids=[t1]", outcome: audit.Allowed, req: "ResourceInfo"},
		{name: "unary list without the parameter", user: "bob", method: "ListTasks", code: "OK", reply: "ids=[]", outcome: audit.Allowed, req: "ResourceInfo"},
		{name: "stream list with the parameter", user: "bob", method: "WatchTasks", ip: inside, code: "OK", reply: "ids=[t1]", outcome: audit.Allowed, req: "<nil>"},
		{name: "invalid context", user: "bob", method: "GetTask", ip: inside, fault: "invalid", code: "InvalidArgument", outcome: audit.Error, req: "ResourceInfo"},
		{name: "invalid context on a stream", user: "bob", method: "WatchTask", ip: inside, fault: "invalid", code: "InvalidArgument", outcome: audit.Error, req: "ResourceInfo"},
		{name: "failed context", user: "bob", method: "GetTask", ip: inside, fault: "failed", code: "Internal", outcome: audit.Error, req: "ResourceInfo"},
		{name: "failed context on a list", user: "bob", method: "ListTasks", ip: inside, fault: "failed", code: "Internal", outcome: audit.Error, req: "ResourceInfo"},
		{name: "panicking context", user: "carol", method: "CancelTask", ip: inside, fault: "panic", code: "Internal", outcome: audit.Error, req: "ResourceInfo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w.md = metadata.MD{}
			if tt.ip != "" {
				w.md.Set("x-ip", tt.ip)
			}
			if tt.fault != "" {
				w.md.Set("x-context", tt.fault)
			}
			mu.Lock()
			events, seen = nil, nil
			mu.Unlock()
			handled := w.handledCount()
			got := w.call("acme", tt.user, tt.method, ri(tt.method, "t1"))
			if got.Code != tt.code || tt.reply != "" && (len(got.Replies) == 0 || !strings.Contains(got.Replies[0], tt.reply)) {
				t.Errorf("%s %s: %s %q, want %s with %q", tt.user, tt.method, got.Code, got.Replies, tt.code, tt.reply)
			}
			if ran := w.handledCount() > handled; ran != (tt.code == "OK") {
				t.Errorf("handler ran: %v, want %v", ran, tt.code == "OK")
			}
			if tt.fault != "" && len(got.Calls) != 0 {
				t.Errorf("engine calls %v, want none", got.Calls)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]string{tt.req}, seen); diff != "" {
				t.Errorf("hook's req mismatch (-want +got):\n%s", diff)
			}
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			ev := events[0]
			if ev.Outcome != tt.outcome {
				t.Errorf("outcome %v, want %v (err %v)", ev.Outcome, tt.outcome, ev.Err)
			}
			if diff := cmp.Diff(tt.missing, ev.Missing); diff != "" {
				t.Errorf("event Missing mismatch (-want +got):\n%s", diff)
			}
			switch tt.fault {
			case "invalid":
				if !errors.Is(ev.Err, authz.ErrInvalidRequest) {
					t.Errorf("event error %v does not match authz.ErrInvalidRequest", ev.Err)
				}
			case "failed", "panic":
				if !errors.Is(ev.Err, authz.ErrInternal) || errors.Is(ev.Err, authz.ErrNotFound) || strings.Contains(fmt.Sprint(ev.Err), "secret") {
					t.Errorf("event error %v: want authz.ErrInternal only, no panic value", ev.Err)
				}
			}
		})
	}
}

// handledCount returns how many calls reached a handler.
func (w *world) handledCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handled
}
