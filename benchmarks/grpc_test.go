package benchmarks

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/otelauthz"
)

type userKey struct{}

// BenchmarkGRPCInterceptor compares a unary call through grpcauthz's
// interceptor on memadapter (subject, the id from a field of the request
// message, a read allowed through the task's parent agent, the target in
// the context) with the bare handler, side by side: the handler chain,
// not gRPC's transport. The graph holds 10,000 tasks.
func BenchmarkGRPCInterceptor(b *testing.B) {
	engine, err := memEngine(checkGraph(10_000))
	if err != nil {
		b.Fatal(err)
	}
	m, err := authz.NewOperationMap(engine, ops)
	if err != nil {
		b.Fatal(err)
	}
	owner, _, task := checkCase(10_000, true)
	const method = "/tasks.v1.TaskService/GetTask"
	var table grpcauthz.Methods
	// errdetails.ResourceInfo stands in for a generated request type.
	table.Handle(method, grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("resource_name"), Request: &errdetails.ResourceInfo{}})
	unary := grpcauthz.New(grpcauthz.Config{
		Guard: authz.NewGuard(engine, m),
		Subject: func(ctx context.Context) (authz.Subject, bool) {
			s, ok := ctx.Value(userKey{}).(*authz.Subject)
			if !ok {
				return authz.Subject{}, false
			}
			return *s, true
		},
	}, &table).Unary()
	sub := userSubject(owner)
	ctx := context.WithValue(context.Background(), userKey{}, &sub)
	req := &errdetails.ResourceInfo{ResourceName: task}
	info := &grpc.UnaryServerInfo{FullMethod: method}
	reply := &errdetails.RequestInfo{}
	handler := func(context.Context, any) (any, error) { return reply, nil }
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := handler(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fgac-read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unary(ctx, req, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		interleave(b,
			variant{"bare", func() { handler(ctx, req) }},
			variant{"fgac", func() {
				if _, err := unary(ctx, req, info, handler); err != nil {
					b.Fatal(err)
				}
			}})
	})
}

// BenchmarkDecisionTracing measures one decision (a read through the
// task's parent agent on memadapter, 10,000 tasks) with the engine and
// the Enforcer traced by otelauthz, side by side: no tracer, a no-op
// provider, an SDK provider that samples nothing, and an SDK provider
// that records every span (AlwaysSample, no exporter: the spans are built
// and dropped at End).
func BenchmarkDecisionTracing(b *testing.B) {
	engine, err := memEngine(checkGraph(10_000))
	if err != nil {
		b.Fatal(err)
	}
	m, err := authz.NewOperationMap(engine, ops)
	if err != nil {
		b.Fatal(err)
	}
	owner, _, task := checkCase(10_000, true)
	req := enforce.Request{Subject: userSubject(owner), Resource: authz.Resource{Type: "task", ID: task}, Operation: authz.OpRead}
	ctx := context.Background()
	var vs []variant
	for _, tc := range []struct {
		name   string
		tracer *otelauthz.Tracer
	}{
		{"none", nil},
		{"noop-provider", otelauthz.New(otelauthz.Config{Provider: noop.NewTracerProvider()})},
		{"sdk-sampled-out", otelauthz.New(otelauthz.Config{Provider: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))})},
		{"sdk-recording", otelauthz.New(otelauthz.Config{Provider: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))})},
	} {
		e := enforce.Enforcer{Guard: authz.NewGuard(tc.tracer.Engine(engine), m), Tracer: tc.tracer}
		decide := func() {
			if _, err := e.Authorize(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		vs = append(vs, variant{tc.name, decide})
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				decide()
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) { interleave(b, vs...) })
}

// variant is one side of an interleaved comparison.
type variant struct {
	name string
	f    func()
}

// interleave runs the variants in turn, a batch of calls of each per
// iteration (rotating which goes first), and reports each variant's median
// time per call and its allocations per call (testing.AllocsPerRun), so
// that a noisy, shared machine slows every variant alike: a side-by-side
// comparison that sequential sub-benchmarks cannot give there.
func interleave(b *testing.B, vs ...variant) {
	const batch = 64
	samples := make([][]time.Duration, len(vs))
	for i := 0; b.Loop(); i++ {
		for k := range vs {
			j := (i + k) % len(vs)
			start := time.Now()
			for range batch {
				vs[j].f()
			}
			samples[j] = append(samples[j], time.Since(start)/batch)
		}
	}
	for j, v := range vs {
		b.ReportMetric(float64(median(samples[j]).Nanoseconds()), v.name+"-ns/call")
		b.ReportMetric(testing.AllocsPerRun(100, v.f), v.name+"-allocs/call")
	}
}
