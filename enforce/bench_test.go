package enforce_test

import (
	"context"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/spanrec"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkEvents measures what decision events cost: the same allowed
// decision with no hook and with a no-op hook, side by side.
func BenchmarkEvents(b *testing.B) {
	r := testfixture.New(b)
	r.RegisterTask(b, "t1", "alice")
	ops := r.Guard.Operations()
	guard := authz.NewGuard(r.Engine, ops)
	req := enforce.Request{Subject: user("alice"), Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead, Route: "GET /tasks/{task_id}"}
	for _, tc := range []struct {
		name string
		hook audit.Hook
	}{
		{"no-hook", nil},
		{"noop-hook", audit.HookFunc(func(context.Context, audit.Event) {})},
	} {
		e := &enforce.Enforcer{Guard: guard, Hook: tc.hook}
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Authorize(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const benchSchema = `
definition user {}
definition agent {
	relation owner: user
	permission read = owner
}
definition task {
	relation parent: agent
	relation owner: user
	permission read = owner + parent->read
}
`

// BenchmarkDecisionTracing measures one decision (a read through a parent
// arrow on memadapter) without a tracer, with a no-op provider and with a
// recording one, side by side.
func BenchmarkDecisionTracing(b *testing.B) {
	engine, err := memadapter.New(benchSchema)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	alice := authz.Subject{Type: "user", ID: "alice"}
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: "a1"}, Owner: alice})
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: authz.Subject{Type: "user", ID: "carol"}, Parent: &authz.Resource{Type: "agent", ID: "a1"}})
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})
	if err != nil {
		b.Fatal(err)
	}
	req := enforce.Request{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead}
	for _, tc := range []struct {
		name     string
		provider *otelauthz.Tracer
	}{
		{"none", nil},
		{"noop-provider", otelauthz.New(otelauthz.Config{Provider: noop.NewTracerProvider()})},
		{"recording", otelauthz.New(otelauthz.Config{Provider: &spanrec.Provider{}})},
	} {
		e := enforce.Enforcer{Guard: authz.NewGuard(tc.provider.Engine(engine), ops), Tracer: tc.provider}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Authorize(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallbacks measures an allowed decision on a child resource with
// every callback set (a parent resolver, Rows, Decoy, Modes), which the
// Enforcer runs under recover, against the same decision on its parent
// without callbacks, side by side.
func BenchmarkCallbacks(b *testing.B) {
	r := testfixture.New(b)
	r.RegisterTask(b, "t1", "alice")
	guard := authz.NewGuard(r.Engine, r.Guard.Operations())
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return "t1", nil }))
	rows := enforce.RowsFunc(func(context.Context, authz.Resource) (bool, error) { return true, nil })
	modes := func(context.Context, enforce.ModeRequest) enforce.Mode { return enforce.Enforce }
	decoy := func(string) string { return "t0" }
	for _, tc := range []struct {
		name string
		e    *enforce.Enforcer
		res  authz.Resource
	}{
		{"no-callbacks", &enforce.Enforcer{Guard: guard}, testfixture.Task("t1")},
		{"child-rows-modes-decoy", &enforce.Enforcer{Guard: guard, Parents: parents, Rows: rows, Modes: modes, Decoy: decoy}, authz.Resource{Type: "message", ID: "m1"}},
	} {
		req := enforce.Request{Subject: user("alice"), Resource: tc.res, Operation: authz.OpRead}
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.e.Authorize(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
