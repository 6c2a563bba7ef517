package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/examples/grpctasks/tasksv1"
)

// start runs the service on a loopback port, traced into an in-memory
// exporter, and returns a client traced by the same provider.
func start(t *testing.T) (tasksv1.TaskServiceClient, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	svc, err := newService(context.Background(), tp, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go svc.server.Serve(ln)
	t.Cleanup(svc.server.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return tasksv1.NewTaskServiceClient(conn), exp
}

func as(user string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer tok-"+user)
}

// TestSpanTreeOfOneRequest: one GetTask call makes exactly this trace:
// the client's span, the server's span under it, the authorization
// decision under that, and the engine's check under the decision, with
// fgac's attributes and no principal beyond type:id.
func TestSpanTreeOfOneRequest(t *testing.T) {
	client, exp := start(t)
	task, err := client.CreateTask(as("alice"), &tasksv1.CreateTaskRequest{AgentId: "a1", Name: "report"})
	if err != nil {
		t.Fatal(err)
	}
	exp.Reset()
	if _, err := client.GetTask(as("alice"), &tasksv1.GetTaskRequest{TaskId: task.Id}); err != nil {
		t.Fatal(err)
	}
	// The server's span ends after the reply has left, so the client may
	// see the reply first: wait for all four spans.
	spans := exp.GetSpans()
	for deadline := time.Now().Add(5 * time.Second); len(spans) < 4 && time.Now().Before(deadline); spans = exp.GetSpans() {
		time.Sleep(time.Millisecond)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	type node struct {
		Name, Parent string
		Kind         trace.SpanKind
	}
	var got []node
	for _, s := range spans {
		if s.SpanContext.TraceID() != spans[0].SpanContext.TraceID() {
			t.Errorf("span %s is in another trace", s.Name)
		}
		got = append(got, node{Name: s.Name, Parent: byID[s.Parent.SpanID()].Name, Kind: s.SpanKind})
	}
	const method = "fgac.examples.tasks.v1.TaskService/GetTask"
	// In the order the spans are nested, innermost first (the order in
	// which the client's and the server's end varies).
	depth := map[trace.SpanKind]int{trace.SpanKindInternal: 0, trace.SpanKindServer: 1, trace.SpanKindClient: 2}
	slices.SortStableFunc(got, func(a, b node) int {
		if a.Kind != b.Kind {
			return depth[a.Kind] - depth[b.Kind]
		}
		return strings.Compare(b.Name, a.Name) // fgac.engine.Check before fgac.decision
	})
	want := []node{
		{Name: "fgac.engine.Check", Parent: "fgac.decision", Kind: trace.SpanKindInternal},
		{Name: "fgac.decision", Parent: method, Kind: trace.SpanKindInternal},
		{Name: method, Parent: method, Kind: trace.SpanKindServer},
		{Name: method, Parent: "", Kind: trace.SpanKindClient},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("span tree mismatch (-want +got):\n%s", diff)
	}
	attrs := func(s tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, a := range s.Attributes {
			m[string(a.Key)] = a.Value.Emit()
		}
		return m
	}
	wantDecision := map[string]string{
		"fgac.resource_type": "task", "fgac.operation": "read", "fgac.permission": "read", "fgac.outcome": "allowed",
		"fgac.mode": "enforce", "fgac.consistency": "minimize_latency", "fgac.route": "/" + method,
		"fgac.resource": "task:" + task.Id, "fgac.subject": "user:alice",
	}
	if diff := cmp.Diff(wantDecision, attrs(spans[1])); diff != "" {
		t.Errorf("decision attributes mismatch (-want +got):\n%s", diff)
	}
	wantCheck := map[string]string{
		"fgac.resource_type": "task", "fgac.permission": "read", "fgac.outcome": "allowed", "fgac.consistency": "minimize_latency",
		"fgac.resource": "task:" + task.Id, "fgac.subject": "user:alice",
	}
	if diff := cmp.Diff(wantCheck, attrs(spans[0])); diff != "" {
		t.Errorf("check attributes mismatch (-want +got):\n%s", diff)
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); v == "Bearer tok-alice" || v == "tok-alice" {
				t.Errorf("span %s carries the token in %s", s.Name, a.Key)
			}
		}
	}
}

func code(err error) codes.Code { return status.Code(err) }

// TestCallsAreAuthorized: the service's answers, as a client sees them.
func TestCallsAreAuthorized(t *testing.T) {
	client, _ := start(t)
	task, err := client.CreateTask(as("alice"), &tasksv1.CreateTaskRequest{AgentId: "a1", Name: "report"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := client.PostMessage(as("alice"), &tasksv1.PostMessageRequest{TaskId: task.Id, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	// bob cannot create tasks under alice's agent, nor see hers: NotFound,
	// exactly as for a task that does not exist.
	if _, err := client.CreateTask(as("bob"), &tasksv1.CreateTaskRequest{AgentId: "a1", Name: "x"}); code(err) != codes.NotFound {
		t.Errorf("bob creates under a1: %v", err)
	}
	unreadable, errU := client.GetTask(as("bob"), &tasksv1.GetTaskRequest{TaskId: task.Id})
	_, errM := client.GetTask(as("bob"), &tasksv1.GetTaskRequest{TaskId: "t00000000000000"})
	if unreadable != nil || code(errU) != codes.NotFound || !proto.Equal(status.Convert(errU).Proto(), status.Convert(errM).Proto()) {
		t.Errorf("unreadable %v vs missing %v", errU, errM)
	}
	if _, err := client.GetMessage(as("bob"), &tasksv1.GetMessageRequest{MessageId: msg.Id}); code(err) != codes.NotFound {
		t.Errorf("bob reads alice's message: %v", err)
	}
	// A stream bob may not open fails before any message.
	stream, err := client.WatchTask(as("bob"), &tasksv1.WatchTaskRequest{TaskId: task.Id})
	if err == nil {
		_, err = stream.Recv()
	}
	if code(err) != codes.NotFound {
		t.Errorf("bob watches alice's task: %v", err)
	}
	// alice reads, watches, lists and cancels her task.
	if got, err := client.GetMessage(as("alice"), &tasksv1.GetMessageRequest{MessageId: msg.Id}); err != nil || got.Text != "hi" {
		t.Errorf("alice reads her message: %v %v", got, err)
	}
	stream, err = client.WatchTask(as("alice"), &tasksv1.WatchTaskRequest{TaskId: task.Id})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := stream.Recv(); err != nil || m.Id != msg.Id {
		t.Errorf("alice watches her task: %v %v", m, err)
	}
	if l, err := client.ListTasks(as("alice"), &tasksv1.ListTasksRequest{}); err != nil || len(l.Tasks) != 1 {
		t.Errorf("alice lists: %v %v", l, err)
	}
	if l, err := client.ListTasks(as("bob"), &tasksv1.ListTasksRequest{}); err != nil || len(l.Tasks) != 0 {
		t.Errorf("bob lists: %v %v", l, err)
	}
	if got, err := client.CancelTask(as("alice"), &tasksv1.CancelTaskRequest{TaskId: task.Id}); err != nil || got.Status != "cancelled" {
		t.Errorf("alice cancels: %v %v", got, err)
	}
	// No credentials, and an empty id, are refused before any check.
	if _, err := client.GetTask(context.Background(), &tasksv1.GetTaskRequest{TaskId: task.Id}); code(err) != codes.Unauthenticated {
		t.Errorf("anonymous: %v", err)
	}
	if _, err := client.GetTask(as("alice"), &tasksv1.GetTaskRequest{}); code(err) != codes.InvalidArgument {
		t.Errorf("empty id: %v", err)
	}
}
