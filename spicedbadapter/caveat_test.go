package spicedbadapter_test

import (
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fgac-go/fgac/authz"
)

// TestConditionsRequestShape checks that a check sends the request's
// context, a CONDITIONAL answer becomes a conditional decision with the
// missing parameters SpiceDB names, and a write sends the caveat with its
// stored context and the expiration.
func TestConditionsRequestShape(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	req := aliceReadsT1
	req.Context = authz.NewContext(map[string]any{"ip": "10.1.2.3", "n": 5})
	want := &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}},
		Resource:    &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
		Permission:  "read",
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
		Context:     &structpb.Struct{Fields: map[string]*structpb.Value{"ip": structpb.NewStringValue("10.1.2.3"), "n": structpb.NewNumberValue(5)}},
	}
	m.EXPECT().CheckPermission(gomock.Any(), protoEq(want)).Return(&v1.CheckPermissionResponse{
		Permissionship:    v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION,
		PartialCaveatInfo: &v1.PartialCaveatInfo{MissingRequiredContext: []string{"port", "cidr", "port"}},
	}, nil)
	d, err := a.Check(t.Context(), req)
	if err != nil || d.Allowed() || !d.Conditional() {
		t.Fatalf("Check = %v, %v; want a conditional decision", d, err)
	}
	if diff := cmp.Diff([]string{"cidr", "port"}, d.Missing()); diff != "" {
		t.Errorf("Missing mismatch (-want +got):\n%s", diff)
	}

	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	rel := authz.Relationship{Resource: task("t1"), Relation: "viewer", Subject: user("bob"),
		Caveat:     authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})},
		Expiration: at,
	}
	wantWrite := &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{{
		Operation: v1.RelationshipUpdate_OPERATION_TOUCH,
		Relationship: &v1.Relationship{
			Resource: &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
			Relation: "viewer",
			Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "bob"}},
			OptionalCaveat: &v1.ContextualizedCaveat{CaveatName: "on_network",
				Context: &structpb.Struct{Fields: map[string]*structpb.Value{"cidr": structpb.NewStringValue("10.0.0.0/8")}}},
			OptionalExpiresAt: timestamppb.New(at),
		},
	}}}
	m.EXPECT().WriteRelationships(gomock.Any(), protoEq(wantWrite)).Return(&v1.WriteRelationshipsResponse{WrittenAt: &v1.ZedToken{Token: "zed"}}, nil)
	if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{rel}}); err != nil {
		t.Fatalf("Write: %v", err)
	}
}
