package grpcauthz_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/grpcauthz"
)

// badInputs are calls that must be refused before any check or handler,
// with the status each gets.
func badInputs() []struct {
	name, user, method string
	msg                proto.Message
	code, message      string
} {
	big := &errdetails.ResourceInfo{ResourceName: "t1", Description: strings.Repeat("x", 4096)}
	return []struct {
		name, user, method string
		msg                proto.Message
		code, message      string
	}{
		{"unknown method", "alice", "Unrouted", ri("GetTask", "t1"), "PermissionDenied", "method has no authorization route"},
		{"unknown stream method", "alice", "WatchUnrouted", ri("GetTask", "t1"), "PermissionDenied", "method has no authorization route"},
		{"missing id field", "alice", "GetTask", &errdetails.ResourceInfo{ResourceType: "task"}, "InvalidArgument", "resource_name is missing"},
		{"missing nested message", "alice", "GetNested", &descriptorpb.FileDescriptorProto{Name: proto.String("x")}, "InvalidArgument", "options.go_package is missing"},
		{"missing nested field", "alice", "GetNested", &descriptorpb.FileDescriptorProto{Options: &descriptorpb.FileOptions{}}, "InvalidArgument", "options.go_package is missing"},
		{"wrong field type", "alice", "WrongType", ri("WrongType", "t1"), "InvalidArgument", "resource_name is not a string field of the request"},
		{"oversized message", "alice", "GetTask", big, "InvalidArgument", "request message is too large"},
		{"oversized stream message", "alice", "WatchTask", big, "InvalidArgument", "request message is too large"},
		{"missing subject", "", "GetTask", ri("GetTask", "t1"), "Unauthenticated", "authentication required"},
		{"missing subject on a list", "", "ListTasks", ri("GetTask", "t1"), "Unauthenticated", "authentication required"},
		{"missing subject on a stream", "", "WatchTask", ri("GetTask", "t1"), "Unauthenticated", "authentication required"},
		{"missing id field on a stream", "alice", "WatchMessage", &errdetails.ResourceInfo{}, "InvalidArgument", "resource_name is missing"},
	}
}

// TestBadInputIsRefusedBeforeAnyCheck: every bad input gets a clear
// status with a fixed message, and neither the engine nor the handler is
// reached.
func TestBadInputIsRefusedBeforeAnyCheck(t *testing.T) {
	var mu sync.Mutex
	var events []audit.Event
	w := newWorld(t, func(c *grpcauthz.Config) {
		c.MaxMessageBytes = 1024
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		})
	})
	w.seed()
	handled := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.handled
	}
	for _, tc := range badInputs() {
		mu.Lock()
		events = nil
		mu.Unlock()
		before := handled()
		got := w.call("acme", tc.user, tc.method, tc.msg)
		if got.Code != tc.code || got.Message != tc.message {
			t.Errorf("%s: %s %q, want %s %q", tc.name, got.Code, got.Message, tc.code, tc.message)
		}
		if len(got.Calls) != 0 {
			t.Errorf("%s: backend calls %v", tc.name, got.Calls)
		}
		if handled() != before || len(got.Replies) != 0 {
			t.Errorf("%s: the handler ran", tc.name)
		}
		mu.Lock()
		if len(events) != 1 || events[0].Outcome != audit.Error {
			t.Errorf("%s: events %+v, want one error event", tc.name, events)
		}
		mu.Unlock()
	}
	// A server stream whose client sends no message: gRPC itself answers
	// (Internal, "cardinality violation"); fgac checks nothing and the
	// handler does not run.
	before := handled()
	if got := w.call("acme", "alice", "WatchTask", nil); got.ok() || len(got.Calls) != 0 || handled() != before {
		t.Errorf("stream without a message: %+v", got)
	}
	// The same inputs done right get through.
	for _, m := range []string{"GetTask", "GetNested", "WatchTask", "ListTasks", "WatchTasks"} {
		if got := w.call("acme", "alice", m, ri(m, "t1")); !got.ok() || len(got.Replies) == 0 {
			t.Errorf("%s as owner: %+v", m, got)
		}
	}
}

// TestListFilters: a list method hands the handler the ids the subject
// may read; a stranger's filter is empty, and an outage is Unavailable.
func TestListFilters(t *testing.T) {
	w := newWorld(t)
	w.seed()
	for _, m := range []string{"ListTasks", "WatchTasks"} {
		got := w.call("acme", "alice", m, ri(m, ""))
		if !got.ok() || !strings.Contains(got.Replies[0], "all=false ids=[t1]") {
			t.Errorf("%s alice: %+v", m, got)
		}
		got = w.call("acme", "bob", m, ri(m, ""))
		if !got.ok() || !strings.Contains(got.Replies[0], "all=false ids=[]") {
			t.Errorf("%s bob: %+v", m, got)
		}
		w.down.Store(true)
		if got := w.call("acme", "alice", m, ri(m, "")); got.Code != "Unavailable" {
			t.Errorf("%s down: %+v", m, got)
		}
		w.down.Store(false)
	}
}

// TestSubjectPanicIsAServerError: a Subject function that panics is a
// server error (Internal, reported as an error event), never a crash, an
// allow, nor an Unauthenticated that would pass a crashing authenticator
// off as clients without credentials.
func TestSubjectPanicIsAServerError(t *testing.T) {
	var events []audit.Event
	w := newWorld(t, func(c *grpcauthz.Config) {
		c.Subject = func(context.Context) (authz.Subject, bool) { panic("boom") }
		c.Hook = audit.HookFunc(func(_ context.Context, e audit.Event) { events = append(events, e) })
	})
	w.seed()
	if got := w.call("acme", "alice", "GetTask", ri("GetTask", "t1")); got.Code != "Internal" || len(got.Calls) != 0 {
		t.Errorf("panicking Subject: %+v", got)
	}
	if len(events) != 1 || events[0].Outcome != audit.Error || !errors.Is(events[0].Err, authz.ErrInternal) {
		t.Errorf("events: %+v", events)
	}
}

// TestPanickingCallbacksFailClosed: a callback that panics on the way to
// a decision (a ModeFunc, Rows, a Hook, ConsistencyFor) answers Internal
// before the handler, unary and stream, and the server keeps serving; in
// shadow mode the call goes on as if fgac were not there.
func TestPanickingCallbacksFailClosed(t *testing.T) {
	for name, c := range map[string]func(*grpcauthz.Config){
		"modes": func(c *grpcauthz.Config) {
			c.Modes = func(context.Context, enforce.ModeRequest) enforce.Mode { panic("modes") }
		},
		"rows": func(c *grpcauthz.Config) {
			c.Rows = enforce.RowsFunc(func(context.Context, authz.Resource) (bool, error) { panic("rows") })
		},
		"hook": func(c *grpcauthz.Config) {
			c.Hook = audit.HookFunc(func(context.Context, audit.Event) { panic("hook") })
		},
		"consistency": func(c *grpcauthz.Config) {
			c.ConsistencyFor = func(context.Context) authz.Consistency { panic("consistency") }
		},
	} {
		w := newWorld(t, c)
		w.seed()
		for _, m := range []string{"GetTask", "WatchTask"} {
			got := w.call("acme", "alice", m, ri(m, "t1"))
			if got.Code != "Internal" || got.Message != "internal error" || len(got.Replies) != 0 {
				t.Errorf("%s %s: %+v", name, m, got)
			}
		}
	}
	w := newWorld(t, func(c *grpcauthz.Config) {
		c.Modes = func(context.Context, enforce.ModeRequest) enforce.Mode { return enforce.Shadow }
		c.Hook = audit.HookFunc(func(context.Context, audit.Event) { panic("hook") })
	})
	w.seed()
	w.plain.Store(true)
	for _, m := range []string{"GetTask", "WatchTask"} {
		if got := w.call("acme", "bob", m, ri(m, "t1")); !got.ok() || len(got.Replies) == 0 {
			t.Errorf("shadow, panicking hook, %s: %+v", m, got)
		}
	}
}
