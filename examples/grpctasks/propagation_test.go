package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// permissions is a stand-in PermissionsService that records the trace
// context each CheckPermission call arrives with (a request-shape test:
// what goes over the wire to SpiceDB).
type permissions struct {
	v1.UnimplementedPermissionsServiceServer
	mu          sync.Mutex
	traceparent []string
}

func (p *permissions) CheckPermission(ctx context.Context, _ *v1.CheckPermissionRequest) (*v1.CheckPermissionResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	p.mu.Lock()
	p.traceparent = append(p.traceparent, md.Get("traceparent")...)
	p.mu.Unlock()
	return &v1.CheckPermissionResponse{Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, CheckedAt: &v1.ZedToken{Token: "t"}}, nil
}

// TestTraceReachesSpiceDB: with otelgrpc's client handler among the
// authzed-go client's dial options, a decision's check goes to SpiceDB
// with the trace context of the client span under fgac.engine.Check.
func TestTraceReachesSpiceDB(t *testing.T) {
	fake := &permissions{}
	srv := grpc.NewServer()
	v1.RegisterPermissionsServiceServer(srv, fake)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	client, err := authzed.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken("key"),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	// The operation map is validated against the schema (memadapter
	// parses it); the checks go to SpiceDB.
	schemaEngine, err := memadapter.New(schemaText)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(schemaEngine, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	tracer := otelauthz.New(otelauthz.Config{Provider: tp, DropIDs: true})
	e := enforce.Enforcer{Guard: authz.NewGuard(tracer.Engine(spicedbadapter.New(client, nil)), ops), Tracer: tracer}
	if _, err := e.Authorize(context.Background(), enforce.Request{
		Subject: authz.Subject{Type: "user", ID: "alice"}, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead,
	}); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	names := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		names[s.Name] = s
	}
	rpc, check, decision := names["authzed.api.v1.PermissionsService/CheckPermission"], names["fgac.engine.Check"], names["fgac.decision"]
	if !rpc.SpanContext.IsValid() || rpc.Parent.SpanID() != check.SpanContext.SpanID() || check.Parent.SpanID() != decision.SpanContext.SpanID() {
		t.Fatalf("span tree: %d spans, want the client span under fgac.engine.Check under fgac.decision", len(spans))
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.traceparent) != 1 {
		t.Fatalf("SpiceDB got traceparent %v", fake.traceparent)
	}
	// traceparent is version-traceid-spanid-flags.
	parts := strings.Split(fake.traceparent[0], "-")
	if len(parts) != 4 || parts[1] != decision.SpanContext.TraceID().String() || parts[2] != rpc.SpanContext.SpanID().String() {
		t.Errorf("traceparent %q, want trace %s, parent %s", fake.traceparent[0], decision.SpanContext.TraceID(), rpc.SpanContext.SpanID())
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.Emit(), "alice") || strings.Contains(a.Value.Emit(), "t1") {
				t.Errorf("DropIDs: span %s carries %s=%s", s.Name, a.Key, a.Value.Emit())
			}
		}
	}
}
