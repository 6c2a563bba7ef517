package grpcauthz_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/memadapter"
)

func panicMessage(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

// TestSetupCatchesWiringMistakes: tables that could only ever fail panic
// when they are built, with a message that says what is wrong.
func TestSetupCatchesWiringMistakes(t *testing.T) {
	engine, err := memadapter.New(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{"task": {authz.OpCancel: "cancel"}, "agent": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := grpcauthz.Config{Guard: authz.NewGuard(engine, ops), Subject: subjectFromMetadata}
	ri := &errdetails.ResourceInfo{}
	one := func(name string, m grpcauthz.Method) func() {
		return func() {
			var tb grpcauthz.Methods
			tb.Handle(name, m)
			grpcauthz.New(cfg, &tb)
		}
	}
	id := grpcauthz.Field("resource_name")
	for _, tc := range []struct {
		name  string
		build func()
		want  []string
	}{
		{"no guard", func() { grpcauthz.New(grpcauthz.Config{Subject: subjectFromMetadata}, &grpcauthz.Methods{}) }, []string{"Guard and Subject"}},
		{"no subject", func() { grpcauthz.New(grpcauthz.Config{Guard: cfg.Guard}, &grpcauthz.Methods{}) }, []string{"Guard and Subject"}},
		{"stronger op without read", one("/s.S/Cancel", grpcauthz.Method{ResourceType: "task", Operation: authz.OpCancel, ID: id, Request: ri}), []string{"read must be mapped"}},
		{"unmapped op", one("/s.S/Del", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpDelete, ID: id, Request: ri}), []string{"delete", "agent", "NewOperationMap"}},
		{"unknown type", one("/s.S/Note", grpcauthz.Method{ResourceType: "note", Operation: authz.OpRead, ID: id, Request: ri}), []string{"note", "Parents.Register"}},
		{"path the type lacks", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: grpcauthz.Field("task_id"), Request: ri}), []string{"task_id", "has no field"}},
		{"path to a non-string", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: grpcauthz.Field("options.deprecated"), Request: &descriptorpb.FileDescriptorProto{}}), []string{"deprecated", "not a string"}},
		{"path through a repeated field", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: grpcauthz.Field("message_type.name"), Request: &descriptorpb.FileDescriptorProto{}}), []string{"repeated"}},
		{"unregistered request type", one("/no.Such/Method", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: id}), []string{"Method.Request"}},
		{"malformed path", func() { grpcauthz.Field("a..b") }, []string{"not a field name"}},
		{"malformed method name", one("GetTask", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: id}), []string{"full method name"}},
		{"neither id nor list", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead}), []string{"either ID or List"}},
		{"both id and list", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: id, List: true}), []string{"either ID or List"}},
		{"nil IDFunc", one("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: grpcauthz.IDFunc(nil)}), []string{"nil IDFunc"}},
		{"duplicate", func() {
			var tb grpcauthz.Methods
			tb.Handle("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: id})
			tb.Handle("/s.S/Get", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: id})
		}, []string{"duplicate"}},
	} {
		msg := panicMessage(tc.build)
		if msg == "" {
			t.Errorf("%s: no panic at setup", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: panic %q does not mention %s", tc.name, msg, w)
			}
		}
	}
	// A request type registered by generated code is found without
	// Method.Request: grpc.health.v1's Check takes HealthCheckRequest,
	// whose service field is a string.
	var tb grpcauthz.Methods
	tb.Handle("/grpc.health.v1.Health/Check", grpcauthz.Method{ResourceType: "agent", Operation: authz.OpRead, ID: grpcauthz.Field("service")})
	if msg := panicMessage(func() { grpcauthz.New(cfg, &tb) }); msg != "" {
		t.Errorf("registered request type: %s", msg)
	}
}
