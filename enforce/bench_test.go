package enforce_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/spanrec"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
)

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
