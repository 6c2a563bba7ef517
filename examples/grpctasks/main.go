// Command grpctasks is a small task service whose gRPC API is authorized
// by fgac's interceptors (grpcauthz) and traced through OpenTelemetry:
// every call gets a server span (otelgrpc), every authorization decision
// a span under it, and every engine call a span under that.
//
// Agents own tasks; tasks carry messages, which have no permissions of
// their own and are authorized through their task. Run it from the
// repository root:
//
//	go run ./examples/grpctasks -trace
//
// It listens on 127.0.0.1:9090 with memadapter, two demo agents (a1,
// alice's; b1, bob's) and three users whose bearer tokens are tok-alice,
// tok-bob and tok-carol, sent as "authorization: Bearer tok-alice"
// metadata. -trace prints every span to standard output.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/examples/grpctasks/tasksv1"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
)

const schemaText = `
definition user {}

definition agent {
	relation owner: user
	permission read = owner
	permission update = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->read
	permission update = owner + parent->update
	permission cancel = owner
}
`

var demoUsers = map[string]string{"tok-alice": "alice", "tok-bob": "bob", "tok-carol": "carol"}

func main() {
	addr := flag.String("addr", "127.0.0.1:9090", "listen address")
	printSpans := flag.Bool("trace", false, "print every span to standard output")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var opts []sdktrace.TracerProviderOption
	if *printSpans {
		exp, err := stdouttrace.New(stdouttrace.WithPrettyPrint())
		if err != nil {
			log.Error("stdout exporter", "err", err)
			os.Exit(1)
		}
		opts = append(opts, sdktrace.WithSyncer(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	defer tp.Shutdown(context.Background())
	svc, err := newService(ctx, tp, log)
	if err != nil {
		log.Error("setup", "err", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("listen", "err", err)
		os.Exit(1)
	}
	log.Info("serving", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		svc.server.GracefulStop()
	}()
	if err := svc.server.Serve(ln); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// service is the task service: rows in memory, relationships in
// memadapter, and a gRPC server that authorizes every call.
type service struct {
	tasksv1.UnimplementedTaskServiceServer
	engine *memadapter.Authorizer
	server *grpc.Server

	mu       sync.Mutex // guards the rows
	agents   map[string]string
	tasks    map[string]*tasksv1.Task
	messages map[string]*tasksv1.Message
}

// newService builds the service, traced through tp (nil for none), with
// demo agents a1 (alice's) and b1 (bob's).
func newService(ctx context.Context, tp trace.TracerProvider, log *slog.Logger) (*service, error) {
	engine, err := memadapter.New(schemaText)
	if err != nil {
		return nil, err
	}
	s := &service{engine: engine, agents: map[string]string{}, tasks: map[string]*tasksv1.Task{}, messages: map[string]*tasksv1.Message{}}
	for id, owner := range map[string]string{"a1": "alice", "b1": "bob"} {
		if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: id}, Owner: authz.Subject{Type: "user", ID: owner}}); err != nil {
			return nil, err
		}
		s.agents[id] = owner
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"agent": {authz.OpRead: "read", authz.OpUpdate: "update"},
		"task":  {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpCancel: "cancel"},
	})
	if err != nil {
		return nil, err
	}
	tracer := otelauthz.New(otelauthz.Config{Provider: tp})
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(s.messageTask))
	ic := grpcauthz.New(grpcauthz.Config{
		// The engine's calls get spans too, under the decision's.
		Guard:   authz.NewGuard(tracer.Engine(engine), ops),
		Parents: parents,
		Subject: subjectFromMetadata,
		Rows:    enforce.RowsFunc(s.exists),
		// A missing id is checked as an id of the shape of real ones
		// (newID: a letter and 14 hex digits) that no row has.
		Decoy:  func(typ string) string { return typ[:1] + strings.Repeat("0", 14) },
		Hook:   audit.Slog{Logger: log},
		Tracer: tracer,
	}, methods())
	var serverOpts []grpc.ServerOption
	if tp != nil {
		serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))))
	}
	serverOpts = append(serverOpts, grpc.ChainUnaryInterceptor(ic.Unary()), grpc.ChainStreamInterceptor(ic.Stream()))
	s.server = grpc.NewServer(serverOpts...)
	tasksv1.RegisterTaskServiceServer(s.server, s)
	return s, nil
}

// methods is the authorization table: every method of TaskService, and
// nothing else (a method added to the proto but not here is refused).
func methods() *grpcauthz.Methods {
	const p = "/" + "fgac.examples.tasks.v1.TaskService/"
	var t grpcauthz.Methods
	t.Handle(p+"CreateTask", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpUpdate, ID: grpcauthz.Field("agent_id")})
	t.Handle(p+"GetTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("task_id")})
	t.Handle(p+"CancelTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: grpcauthz.Field("task_id")})
	t.Handle(p+"ListTasks", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, List: true})
	t.Handle(p+"PostMessage", grpcauthz.Method{ResourceType: "task", Operation: authz.OpUpdate, ID: grpcauthz.Field("task_id")})
	t.Handle(p+"GetMessage", grpcauthz.Method{ResourceType: "message", Operation: authz.OpRead, ID: grpcauthz.Field("message_id")})
	t.Handle(p+"WatchTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("task_id")})
	return &t
}

// subjectFromMetadata authenticates a call by its one bearer token.
func subjectFromMetadata(ctx context.Context) (authz.Subject, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return authz.Subject{}, false
	}
	tok, ok := strings.CutPrefix(vals[0], "Bearer ")
	user, known := demoUsers[tok]
	if !ok || !known {
		return authz.Subject{}, false
	}
	return authz.Subject{Type: "user", ID: user}, true
}

// exists is the store's answer to whether a row exists.
func (s *service) exists(_ context.Context, r authz.Resource) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Type {
	case "agent":
		_, ok := s.agents[r.ID]
		return ok, nil
	case "task":
		_, ok := s.tasks[r.ID]
		return ok, nil
	}
	return false, fmt.Errorf("grpctasks: no rows of type %q", r.Type)
}

// messageTask resolves a message to its task.
func (s *service) messageTask(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.messages[id]; ok {
		return m.TaskId, nil
	}
	return "", authz.ErrNotFound
}

func newID(prefix string) string {
	b := make([]byte, 7)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CreateTask registers the task's owner and parent, then stores its row.
func (s *service) CreateTask(ctx context.Context, req *tasksv1.CreateTaskRequest) (*tasksv1.Task, error) {
	caller, _ := subjectFromMetadata(ctx)
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is missing")
	}
	t := &tasksv1.Task{Id: newID("t"), AgentId: req.GetAgentId(), Name: req.GetName(), Status: "open"}
	res := authz.Resource{Type: "task", ID: t.Id}
	if _, err := s.engine.Register(ctx, authz.RegisterRequest{Resource: res, Owner: caller, Parent: &authz.Resource{Type: "agent", ID: t.AgentId}}); err != nil {
		return nil, grpcauthz.Status(err)
	}
	s.mu.Lock()
	s.tasks[t.Id] = t
	s.mu.Unlock()
	return proto.CloneOf(t), nil
}

// GetTask returns the task the interceptor authorized.
func (s *service) GetTask(ctx context.Context, req *tasksv1.GetTaskRequest) (*tasksv1.Task, error) {
	return s.task(req.GetTaskId())
}

func (s *service) task(id string) (*tasksv1.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return nil, grpcauthz.Status(authz.ErrNotFound)
	}
	return proto.CloneOf(t), nil
}

// CancelTask cancels the task.
func (s *service) CancelTask(ctx context.Context, req *tasksv1.CancelTaskRequest) (*tasksv1.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[req.GetTaskId()]
	if !ok {
		return nil, grpcauthz.Status(authz.ErrNotFound)
	}
	t.Status = "cancelled"
	return proto.CloneOf(t), nil
}

// ListTasks lists the tasks the interceptor's filter admits.
func (s *service) ListTasks(ctx context.Context, _ *tasksv1.ListTasksRequest) (*tasksv1.ListTasksResponse, error) {
	f := grpcauthz.FilterFrom(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &tasksv1.ListTasksResponse{}
	for id, t := range s.tasks {
		if f.Allows(id) {
			out.Tasks = append(out.Tasks, proto.CloneOf(t))
		}
	}
	sort.Slice(out.Tasks, func(i, j int) bool { return out.Tasks[i].Id < out.Tasks[j].Id })
	return out, nil
}

// PostMessage adds a message to the task.
func (s *service) PostMessage(ctx context.Context, req *tasksv1.PostMessageRequest) (*tasksv1.Message, error) {
	m := &tasksv1.Message{Id: newID("m"), TaskId: req.GetTaskId(), Text: req.GetText()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tasks[m.TaskId]; !ok {
		return nil, grpcauthz.Status(authz.ErrNotFound)
	}
	s.messages[m.Id] = m
	return proto.CloneOf(m), nil
}

// GetMessage returns the message.
func (s *service) GetMessage(ctx context.Context, req *tasksv1.GetMessageRequest) (*tasksv1.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[req.GetMessageId()]
	if !ok {
		return nil, grpcauthz.Status(authz.ErrNotFound)
	}
	return proto.CloneOf(m), nil
}

// WatchTask sends the task's messages, oldest id first, and ends.
func (s *service) WatchTask(req *tasksv1.WatchTaskRequest, stream grpc.ServerStreamingServer[tasksv1.Message]) error {
	s.mu.Lock()
	var out []*tasksv1.Message
	for _, m := range s.messages {
		if m.TaskId == req.GetTaskId() {
			out = append(out, proto.CloneOf(m))
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	for _, m := range out {
		if err := stream.Send(m); err != nil {
			return err
		}
	}
	return nil
}
