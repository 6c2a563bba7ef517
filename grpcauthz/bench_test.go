package grpcauthz_test

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
)

type benchUser struct{}

// BenchmarkUnary compares a call through the unary interceptor (subject,
// field path, size limit, a read of t1 through its parent arrow on
// memadapter, the target in the context) with the bare handler, side by
// side: the handler chain, not gRPC's transport.
func BenchmarkUnary(b *testing.B) {
	engine, err := memadapter.New(testSchema)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	alice := authz.Subject{Type: "user", ID: "alice"}
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: "a1"}, Owner: alice})
	engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: authz.Subject{Type: "user", ID: "carol"}, Parent: &authz.Resource{Type: "agent", ID: "a1"}})
	ops, err := authz.NewOperationMap(engine, testOps)
	if err != nil {
		b.Fatal(err)
	}
	var table grpcauthz.Methods
	table.Handle("/fgactest.Tasks/GetTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("resource_name"), Request: &errdetails.ResourceInfo{}})
	ic := grpcauthz.New(grpcauthz.Config{
		Guard: authz.NewGuard(engine, ops),
		Subject: func(ctx context.Context) (authz.Subject, bool) {
			s, ok := ctx.Value(benchUser{}).(*authz.Subject)
			if !ok {
				return authz.Subject{}, false
			}
			return *s, true
		},
	}, &table).Unary()
	reply := &errdetails.RequestInfo{RequestId: "ok"}
	handler := func(context.Context, any) (any, error) { return reply, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/fgactest.Tasks/GetTask"}
	req := &errdetails.ResourceInfo{ResourceName: "t1", ResourceType: "task"}
	ctx = context.WithValue(ctx, benchUser{}, &alice)
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := handler(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The decision alone, as the interceptor makes it, for reference.
	e := enforce.Enforcer{Guard: authz.NewGuard(engine, ops)}
	ereq := enforce.Request{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead, Route: info.FullMethod}
	b.Run("decision-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Authorize(ctx, ereq); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read-through-parent-arrow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ic(ctx, req, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
