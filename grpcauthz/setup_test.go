package grpcauthz_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/internal/calllog"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
	"github.com/fgac-go/fgac/spicedbadapter"
)

const testSchema = `
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
	relation viewer: user
	permission read = owner + editor + viewer + parent->read
	permission update = owner + editor + parent->update
	permission cancel = owner
}
`

var testOps = map[string]map[authz.Operation]string{
	"agent": {authz.OpRead: "read", authz.OpUpdate: "update"},
	"task":  {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpCancel: "cancel"},
}

// The test service. Requests are generated messages the library already
// depends on: errdetails.ResourceInfo carries the id in resource_name
// (and a name in owner, padding in description); FileDescriptorProto
// carries one in options.go_package, a nested path.
const svc = "/fgactest.Tasks/"

// unary and streams are the methods of the test service.
var (
	unaryMethods  = []string{"GetTask", "CancelTask", "GetMessage", "GetByName", "GetNested", "Unrouted", "WrongType", "ListTasks"}
	streamMethods = []string{"WatchTask", "WatchMessage", "WatchUnrouted", "WatchTasks"}
)

// world is a small gRPC service over bufconn: a graph in memadapter
// behind a call recorder that can be switched off, rows in maps.
type world struct {
	t        testing.TB
	engine   authz.Authorizer
	rec      *calllog.Recorder
	guard    *authz.Guard
	conn     *grpc.ClientConn
	mu       sync.Mutex
	names    map[string]string // task name -> id
	messages map[string]string // message id -> task id
	handled  int
	down     atomic.Bool // the engine is unreachable
	plain    atomic.Bool // the handlers answer as they would without fgac
	md       metadata.MD // more metadata for every call
}

// flaky is an engine that can be switched off, for outage tests.
type flaky struct {
	authz.Authorizer
	down *atomic.Bool
}

func (f flaky) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if f.down.Load() {
		return authz.Deny(), authz.ErrUnavailable
	}
	return f.Authorizer.Check(ctx, req)
}

func (f flaky) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if f.down.Load() {
		return nil, authz.ErrUnavailable
	}
	return f.Authorizer.CheckMany(ctx, req)
}

func (f flaky) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if f.down.Load() {
		return authz.LookupResult{}, authz.ErrUnavailable
	}
	return f.Authorizer.Lookup(ctx, req)
}

type tenantKey struct{}

// subjectFromMetadata is the test service's authentication: the user in
// the x-user metadata.
func subjectFromMetadata(ctx context.Context) (authz.Subject, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	u := md.Get("x-user")
	if len(u) != 1 || u[0] == "" {
		return authz.Subject{}, false
	}
	return authz.Subject{Type: "user", ID: u[0]}, true
}

// table is the test service's authorization table.
func (w *world) table() *grpcauthz.Methods {
	ri := &errdetails.ResourceInfo{}
	byName := grpcauthz.IDFunc(func(_ context.Context, msg proto.Message) (string, error) {
		name := msg.(*errdetails.ResourceInfo).GetOwner()
		w.mu.Lock()
		defer w.mu.Unlock()
		if id, ok := w.names[name]; ok {
			return id, nil
		}
		return "", grpcauthz.ErrMissing
	})
	var t grpcauthz.Methods
	id := grpcauthz.Field("resource_name")
	t.Handle(svc+"GetTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: id, Request: ri})
	t.Handle(svc+"CancelTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: id, Request: ri})
	t.Handle(svc+"GetMessage", grpcauthz.Method{ResourceType: "message", Operation: authz.OpRead, ID: id, Request: ri})
	t.Handle(svc+"GetByName", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: byName, Request: ri})
	t.Handle(svc+"GetNested", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("options.go_package"), Request: &descriptorpb.FileDescriptorProto{}})
	// WrongType's handler decodes a message without resource_name, as a
	// table that names the wrong request type would meet it.
	t.Handle(svc+"WrongType", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: id, Request: ri})
	t.Handle(svc+"ListTasks", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, List: true})
	t.Handle(svc+"WatchTask", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: id, Request: ri})
	t.Handle(svc+"WatchMessage", grpcauthz.Method{ResourceType: "message", Operation: authz.OpRead, ID: id, Request: ri})
	t.Handle(svc+"WatchTasks", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, List: true})
	return &t
}

// newRequest returns a zero request message of method.
func newRequest(method string) proto.Message {
	switch method {
	case "GetNested":
		return &descriptorpb.FileDescriptorProto{}
	case "WrongType":
		return &errdetails.ErrorInfo{}
	}
	return &errdetails.ResourceInfo{}
}

func newWorld(t testing.TB, cfg ...func(*grpcauthz.Config)) *world {
	t.Helper()
	engine, err := memadapter.New(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	return newWorldOn(t, engine, cfg...)
}

// newSpiceDBWorld is a world whose engine is a real SpiceDB (its own
// empty datastore) through spicedbadapter.
func newSpiceDBWorld(t testing.TB, cfg ...func(*grpcauthz.Config)) *world {
	t.Helper()
	c := spicedbtest.Client(t)
	if _, err := spicedbadapter.WriteSchema(context.Background(), c, testSchema); err != nil {
		t.Fatal(err)
	}
	return newWorldOn(t, spicedbadapter.New(c, nil), cfg...)
}

// newWorldOn is a world over engine, whose schema is testSchema.
func newWorldOn(t testing.TB, engine authz.Authorizer, cfg ...func(*grpcauthz.Config)) *world {
	t.Helper()
	schema, err := memadapter.New(testSchema) // validates the operation map
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, engine: engine, names: map[string]string{}, messages: map[string]string{}}
	w.rec = calllog.New(flaky{Authorizer: engine, down: &w.down})
	ops, err := authz.NewOperationMap(schema, testOps)
	if err != nil {
		t.Fatal(err)
	}
	w.guard = authz.NewGuard(w.rec, ops)
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if p, ok := w.messages[id]; ok {
			return p, nil
		}
		return "", authz.ErrNotFound
	}))
	c := grpcauthz.Config{Guard: w.guard, Parents: parents, Consistency: authz.FullyConsistent(), Subject: subjectFromMetadata}
	for _, f := range cfg {
		f(&c)
	}
	ic := grpcauthz.New(c, w.table())
	desc := grpc.ServiceDesc{ServiceName: "fgactest.Tasks", HandlerType: (*any)(nil)}
	for _, name := range unaryMethods {
		desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: name, Handler: w.unaryHandler(name)})
	}
	for _, name := range streamMethods {
		desc.Streams = append(desc.Streams, grpc.StreamDesc{StreamName: name, Handler: w.streamHandler(name), ServerStreams: true})
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(tenant, ic.Unary()), grpc.ChainStreamInterceptor(tenantStream, ic.Stream()))
	srv.RegisterService(&desc, struct{}{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.conn = conn
	return w
}

// tenant puts the x-tenant metadata in the context, as a service's own
// interceptor would, for the mode choice.
func tenant(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(withTenant(ctx), req)
}

func withTenant(ctx context.Context) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	t := md.Get("x-tenant")
	if len(t) == 1 {
		return context.WithValue(ctx, tenantKey{}, t[0])
	}
	return ctx
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s ctxStream) Context() context.Context { return s.ctx }

func tenantStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, ctxStream{ss, withTenant(ss.Context())})
}

// answer is what a handler answers: what it checked, or in plain mode
// only what it was sent.
func (w *world) answer(ctx context.Context, method string, req proto.Message) string {
	if w.plain.Load() {
		return method + " " + prototext.MarshalOptions{}.Format(req)
	}
	w.mu.Lock()
	w.handled++
	w.mu.Unlock()
	if f := grpcauthz.FilterFrom(ctx); method == "ListTasks" || method == "WatchTasks" {
		return fmt.Sprintf("all=%v ids=%v", f.All(), f.IDs())
	}
	tg, _ := grpcauthz.TargetFrom(ctx)
	return fmt.Sprintf("checked=%s requested=%s method=%s", tg.Checked, tg.Requested, tg.Method)
}

func (w *world) unaryHandler(name string) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
		in := newRequest(name)
		if err := dec(in); err != nil {
			return nil, err
		}
		h := func(ctx context.Context, req any) (any, error) {
			grpc.SetTrailer(ctx, metadata.Pairs("x-handled", name))
			return &errdetails.RequestInfo{RequestId: w.answer(ctx, name, req.(proto.Message))}, nil
		}
		if ic == nil {
			return h(ctx, in)
		}
		return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: svc + name}, h)
	}
}

func (w *world) streamHandler(name string) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		in := newRequest(name)
		if err := ss.RecvMsg(in); err != nil {
			return err
		}
		ss.SetTrailer(metadata.Pairs("x-handled", name))
		a := w.answer(ss.Context(), name, in)
		for i := range 2 {
			if err := ss.SendMsg(&errdetails.RequestInfo{RequestId: fmt.Sprintf("%d %s", i, a)}); err != nil {
				return err
			}
		}
		return nil
	}
}

// response is everything a client can observe of a call.
type response struct {
	Code    string
	Message string
	Details []string
	Header  metadata.MD
	Trailer metadata.MD
	Replies []string
	Calls   []string
}

func (r response) ok() bool { return r.Code == "OK" }

// call makes one call as user (none if empty) in tenant and records the
// backend calls it caused. A stream sends msg (none if nil) and closes.
func (w *world) call(tenantName, user, method string, msg proto.Message) response {
	w.t.Helper()
	md := metadata.Pairs("x-tenant", tenantName)
	if user != "" {
		md.Append("x-user", user)
	}
	for k, v := range w.md {
		md.Append(k, v...)
	}
	ctx := metadata.NewOutgoingContext(context.Background(), md)
	w.rec.Reset()
	var r response
	var err error
	if isStream(method) {
		err = w.stream(ctx, method, msg, &r)
	} else {
		reply := &errdetails.RequestInfo{}
		err = w.conn.Invoke(ctx, svc+method, msg, reply, grpc.Header(&r.Header), grpc.Trailer(&r.Trailer))
		if err == nil {
			r.Replies = append(r.Replies, reply.GetRequestId())
		}
	}
	st := status.Convert(err)
	r.Code, r.Message = st.Code().String(), st.Message()
	for _, d := range st.Proto().GetDetails() {
		r.Details = append(r.Details, prototext.Format(d))
	}
	delete(r.Header, "date")
	r.Calls = w.rec.Calls()
	return r
}

func isStream(method string) bool {
	for _, s := range streamMethods {
		if s == method {
			return true
		}
	}
	return false
}

func (w *world) stream(ctx context.Context, method string, msg proto.Message, r *response) error {
	s, err := w.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, svc+method)
	if err != nil {
		return err
	}
	if msg != nil {
		if err := s.SendMsg(msg); err != nil {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	for {
		reply := &errdetails.RequestInfo{}
		if err = s.RecvMsg(reply); err != nil {
			break
		}
		r.Replies = append(r.Replies, reply.GetRequestId())
	}
	r.Header, _ = s.Header()
	r.Trailer = s.Trailer()
	if err.Error() == "EOF" {
		return nil
	}
	return err
}

// grant and helpers build the graph and the rows.
func (w *world) register(typ, id, owner string, parentRes *authz.Resource) {
	w.t.Helper()
	if _, err := w.engine.Register(context.Background(), authz.RegisterRequest{Resource: authz.Resource{Type: typ, ID: id}, Owner: authz.Subject{Type: "user", ID: owner}, Parent: parentRes}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) grant(taskID, relation, user string) {
	w.t.Helper()
	if _, err := w.engine.Grant(context.Background(), authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: taskID}, Relation: relation, Subject: authz.Subject{Type: "user", ID: user}}}); err != nil {
		w.t.Fatal(err)
	}
}

// seed: alice owns agent a1 and task t1 ("alpha") under it; message m1 is
// t1's, m-orphan's task does not exist.
func (w *world) seed() {
	w.register("agent", "a1", "alice", nil)
	w.register("task", "t1", "alice", &authz.Resource{Type: "agent", ID: "a1"})
	w.mu.Lock()
	w.names["alpha"] = "t1"
	w.messages["m1"] = "t1"
	w.messages["m-orphan"] = "t-gone"
	w.mu.Unlock()
}

// ri is a request addressing id (the id goes where each method reads it).
func ri(method, id string) proto.Message {
	switch method {
	case "GetByName":
		return &errdetails.ResourceInfo{Owner: id, ResourceType: "task"}
	case "GetNested":
		return &descriptorpb.FileDescriptorProto{Name: proto.String("x.proto"), Options: &descriptorpb.FileOptions{GoPackage: proto.String(id)}}
	case "WrongType":
		return &errdetails.ErrorInfo{Reason: id}
	}
	return &errdetails.ResourceInfo{ResourceName: id, ResourceType: "task"}
}
