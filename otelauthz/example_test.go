package otelauthz_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
)

// Tracing is wired once: the engine is wrapped so that its calls get
// spans, and the Enforcer (or httpauthz.Config / grpcauthz.Config) gets
// the same Tracer so that each decision gets a span above them. The
// provider is the service's SDK TracerProvider (examples/grpctasks wires
// one); a no-op provider, as here, turns tracing off at no cost.
func ExampleNew() {
	var provider trace.TracerProvider = noop.NewTracerProvider() // sdktrace.NewTracerProvider(...)
	tracer := otelauthz.New(otelauthz.Config{Provider: provider, DropIDs: true})

	engine, _ := memadapter.New(`
definition user {}
definition task {
	relation owner: user
	permission read = owner
}`)
	ctx := context.Background()
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: authz.Subject{Type: "user", ID: "alice"}})
	ops, _ := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})

	e := enforce.Enforcer{Guard: authz.NewGuard(tracer.Engine(engine), ops), Tracer: tracer}
	_, err := e.Authorize(ctx, enforce.Request{
		Subject:   authz.Subject{Type: "user", ID: "alice"},
		Resource:  authz.Resource{Type: "task", ID: "t1"},
		Operation: authz.OpRead,
	})
	fmt.Println(err, tracer == nil)
	// Output: <nil> true
}
