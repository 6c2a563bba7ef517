package grpcauthz_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/grpcauthz"
)

// chatServer serves fgactest.Chat/Talk, a bidirectional stream routed by
// the id in its messages, and fgactest.Chat/Admin, a method the table
// lacks, behind an Interceptor built from cfg; it returns a client
// connection.
func chatServer(t *testing.T, w *world, cfg grpcauthz.Config) *grpc.ClientConn {
	t.Helper()
	var table grpcauthz.Methods
	table.Handle("/fgactest.Chat/Talk", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("resource_name"), Request: &errdetails.ResourceInfo{}})
	table.Handle("/fgactest.Chat/List", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, List: true})
	ic := grpcauthz.New(cfg, &table)
	echo := func(_ any, ss grpc.ServerStream) error {
		for {
			in := &errdetails.ResourceInfo{}
			if err := ss.RecvMsg(in); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if err := ss.SendMsg(&errdetails.RequestInfo{RequestId: in.GetResourceName()}); err != nil {
				return err
			}
		}
	}
	admin := func(_ any, ss grpc.ServerStream) error {
		return ss.SendMsg(&errdetails.RequestInfo{RequestId: "admin secrets"})
	}
	list := func(_ any, ss grpc.ServerStream) error {
		f := grpcauthz.FilterFrom(ss.Context())
		got := "none"
		if f.All() {
			got = "all"
		}
		return ss.SendMsg(&errdetails.RequestInfo{RequestId: got})
	}
	desc := grpc.ServiceDesc{ServiceName: "fgactest.Chat", HandlerType: (*any)(nil), Streams: []grpc.StreamDesc{
		{StreamName: "Talk", Handler: echo, ServerStreams: true, ClientStreams: true},
		{StreamName: "Admin", Handler: admin, ServerStreams: true},
		{StreamName: "List", Handler: list, ServerStreams: true},
	}}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainStreamInterceptor(ic.Stream()))
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
	return conn
}

// talk opens method as user, sends one message per id, and returns the
// replies and the stream's final status.
func talk(t *testing.T, conn *grpc.ClientConn, method, user string, ids ...string) ([]string, error) {
	t.Helper()
	ctx := context.Background()
	if user != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-user", user)
	}
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := s.SendMsg(&errdetails.ResourceInfo{ResourceName: id}); err != nil {
			break // the server ended the stream
		}
	}
	s.CloseSend()
	var replies []string
	for {
		r := &errdetails.RequestInfo{}
		if err := s.RecvMsg(r); err != nil {
			if errors.Is(err, io.EOF) {
				return replies, nil
			}
			return replies, err
		}
		replies = append(replies, r.GetRequestId())
	}
}

// TestClientStreamMessagesNameTheCheckedResource: on a client or
// bidirectional stream routed by id, only the first message is checked, so
// every later message must name the same resource: a second message naming
// another task (here one bob may not read) ends the stream with
// InvalidArgument before the handler sees it.
func TestClientStreamMessagesNameTheCheckedResource(t *testing.T) {
	w := newWorld(t)
	w.seed()
	w.register("task", "t2", "bob", nil)
	conn := chatServer(t, w, grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata})
	replies, err := talk(t, conn, "/fgactest.Chat/Talk", "bob", "t2", "t2", "t1", "t2")
	if status.Code(err) != codes.InvalidArgument || len(replies) != 2 || replies[0] != "t2" || replies[1] != "t2" {
		t.Errorf("bob: replies %q, status %v; want [t2 t2] and InvalidArgument", replies, err)
	}
	if replies, err := talk(t, conn, "/fgactest.Chat/Talk", "alice", "t1", "t1"); err != nil || len(replies) != 2 {
		t.Errorf("alice on her own task: replies %q, status %v", replies, err)
	}
}

// TestUnknownMethodsFailClosedInEveryMode: a method the table lacks is
// refused (PermissionDenied, before its handler) in every mode, without
// asking the mode function: a rollout that shadows every type it has not
// enabled yet must not open the server's unrouted methods.
func TestUnknownMethodsFailClosedInEveryMode(t *testing.T) {
	w := newWorld(t)
	w.seed()
	for _, mode := range []enforce.Mode{enforce.Enforce, enforce.Shadow, enforce.Off, enforce.Mode(7)} {
		var asked []string
		var events []audit.Event
		conn := chatServer(t, w, grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata,
			Modes: func(_ context.Context, r enforce.ModeRequest) enforce.Mode {
				asked = append(asked, r.ResourceType)
				return mode
			},
			Hook: audit.HookFunc(func(_ context.Context, e audit.Event) { events = append(events, e) }),
		})
		for _, user := range []string{"alice", ""} {
			replies, err := talk(t, conn, "/fgactest.Chat/Admin", user)
			if status.Code(err) != codes.PermissionDenied || len(replies) != 0 {
				t.Errorf("%s, user %q: replies %q, status %v; want PermissionDenied", mode, user, replies, err)
			}
		}
		if len(asked) != 0 {
			t.Errorf("%s: the mode function was asked about %q", mode, asked)
		}
		if len(events) != 2 || events[0].Mode != "enforce" || events[0].Outcome != audit.Error {
			t.Errorf("%s: events %+v", mode, events)
		}
	}
}

// TestUnenforcedListsListEverything: in shadow and off modes a list
// method's handler gets the filter it would have without fgac (every id),
// also when the call has no subject or the engine is down.
func TestUnenforcedListsListEverything(t *testing.T) {
	w := newWorld(t)
	w.seed()
	for _, mode := range []enforce.Mode{enforce.Shadow, enforce.Off} {
		conn := chatServer(t, w, grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata,
			Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { return mode }})
		for _, down := range []bool{false, true} {
			w.down.Store(down)
			for _, user := range []string{"bob", ""} {
				replies, err := talk(t, conn, "/fgactest.Chat/List", user, "x")
				if err != nil || len(replies) != 1 || replies[0] != "all" {
					t.Errorf("%s, down=%v, user %q: replies %q, status %v; want [all]", mode, down, user, replies, err)
				}
			}
		}
		w.down.Store(false)
	}
}

// TestConsistencyForPanicIsReported: a ConsistencyFor that panics answers
// Internal and is reported as an error event (not lost to monitoring).
func TestConsistencyForPanicIsReported(t *testing.T) {
	w := newWorld(t)
	w.seed()
	var events []audit.Event
	conn := chatServer(t, w, grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata,
		ConsistencyFor: func(context.Context) authz.Consistency { panic("consistency") },
		Hook:           audit.HookFunc(func(_ context.Context, e audit.Event) { events = append(events, e) })})
	if replies, err := talk(t, conn, "/fgactest.Chat/Talk", "alice", "t1"); status.Code(err) != codes.Internal || len(replies) != 0 {
		t.Errorf("replies %q, status %v; want Internal", replies, err)
	}
	if len(events) != 1 || events[0].Outcome != audit.Error || !errors.Is(events[0].Err, authz.ErrInternal) {
		t.Errorf("events %+v", events)
	}
}

// TestNewNeedsATable: a nil method table is a setup error that says so.
func TestNewNeedsATable(t *testing.T) {
	g := newWorld(t).guard
	if msg := panicMessage(func() { grpcauthz.New(grpcauthz.Config{Guard: g, Subject: subjectFromMetadata}, nil) }); !strings.Contains(msg, "method table") {
		t.Errorf("New(cfg, nil) panicked with %q", msg)
	}
}

// TestNewRefusesABadDecoy: only missing ids reach the decoy, so a Decoy
// that returns a malformed id is refused at setup (enforce.CheckRoute, the
// check httpauthz shares), not found at request time for missing ids only.
func TestNewRefusesABadDecoy(t *testing.T) {
	w := newWorld(t)
	var table grpcauthz.Methods
	table.Handle("/fgactest.Chat/Talk", grpcauthz.Method{ResourceType: "task", Operation: authz.OpRead, ID: grpcauthz.Field("resource_name"), Request: &errdetails.ResourceInfo{}})
	msg := panicMessage(func() {
		grpcauthz.New(grpcauthz.Config{Guard: w.guard, Subject: subjectFromMetadata, Decoy: func(string) string { return "bad id" }}, &table)
	})
	if !strings.Contains(msg, "Decoy") {
		t.Errorf("New with a bad Decoy panicked with %q", msg)
	}
}
