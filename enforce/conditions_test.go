package enforce_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
)

// TestConditionalIsADenial checks that a conditional decision is enforced
// as a denial, under the collapse rule (not readable: 404; readable but
// not allowed: 403), and that the event names the missing parameters; with
// the context the same request is allowed.
func TestConditionalIsADenial(t *testing.T) {
	ctx := context.Background()
	engine, err := memadapter.New(testfixture.ConditionSchema)
	if err != nil {
		t.Fatal(err)
	}
	network := authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}
	task := authz.Resource{Type: "task", ID: "t1"}
	alice, bob := authz.Subject{Type: "user", ID: "alice"}, authz.Subject{Type: "user", ID: "bob"}
	if _, err := engine.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: task, Relation: "viewer", Subject: alice},
		{Resource: task, Relation: "canceller", Subject: alice, Caveat: network},
		{Resource: task, Relation: "viewer", Subject: bob, Caveat: network},
	}}); err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read", authz.OpCancel: "cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	e := &enforce.Enforcer{Guard: authz.NewGuard(engine, ops), Hook: audit.HookFunc(func(_ context.Context, ev audit.Event) { events = append(events, ev) })}
	inside := authz.NewContext(map[string]any{"ip": "10.1.2.3"})

	for _, tt := range []struct {
		name    string
		req     enforce.Request
		want    error
		outcome audit.Outcome
		missing []string
	}{
		{"conditional read is not found", enforce.Request{Subject: bob, Resource: task, Operation: authz.OpRead}, authz.ErrNotFound, audit.NotFound, []string{"ip"}},
		{"conditional cancel of an unreadable task is not found", enforce.Request{Subject: bob, Resource: task, Operation: authz.OpCancel}, authz.ErrNotFound, audit.NotFound, []string{"ip"}},
		{"a missing task is not found, missing nothing", enforce.Request{Subject: bob, Resource: authz.Resource{Type: "task", ID: "t404"}, Operation: authz.OpRead}, authz.ErrNotFound, audit.NotFound, nil},
		{"conditional cancel of a readable task is denied", enforce.Request{Subject: alice, Resource: task, Operation: authz.OpCancel}, authz.ErrDenied, audit.Denied, []string{"ip"}},
		{"with the context, read is allowed", enforce.Request{Subject: bob, Resource: task, Operation: authz.OpRead, Context: inside}, nil, audit.Allowed, nil},
		{"with the context, cancel is allowed", enforce.Request{Subject: alice, Resource: task, Operation: authz.OpCancel, Context: inside}, nil, audit.Allowed, nil},
	} {
		events = nil
		_, err := e.Authorize(ctx, tt.req)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: Authorize = %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == authz.ErrNotFound && err != authz.ErrNotFound {
			t.Errorf("%s: Authorize = %#v, want the bare authz.ErrNotFound (a missing resource's answer)", tt.name, err)
		}
		if len(events) != 1 {
			t.Fatalf("%s: %d events, want 1", tt.name, len(events))
		}
		if events[0].Outcome != tt.outcome {
			t.Errorf("%s: outcome %v, want %v", tt.name, events[0].Outcome, tt.outcome)
		}
		if diff := cmp.Diff(tt.missing, events[0].Missing); diff != "" {
			t.Errorf("%s: event Missing mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
