package spicedbadapter_test

import (
	"errors"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// explainSchema is the schema of the explanation examples, the same as
// memadapter's: tasks under agents, without caveats so that the adapter
// can read the schema SpiceDB reports.
const explainSchema = `
definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user | user:*
	permission read = owner + viewer + parent->read
}
`

// findNode returns the first node of e, depth first, for which f holds.
func findNode(e authz.Explanation, f func(authz.Explanation) bool) *authz.Explanation {
	if f(e) {
		return &e
	}
	for _, c := range e.Children {
		if n := findNode(c, f); n != nil {
			return n
		}
	}
	return nil
}

func TestExplainThroughParentArrow(t *testing.T) {
	t.Parallel()
	a := newAdapter(t, explainSchema)
	mustWrite(t, a,
		rel(agent("a1"), "owner", user("alice")),
		rel(task("t1"), "parent", authz.Subject{Type: "agent", ID: "a1"}),
		rel(task("t1"), "owner", user("bob")),
	)
	tests := []struct {
		name    string
		subject authz.Subject
		allowed bool
		leaf    string // a relationship leaf under the arrow, found (allowed) or missing
	}{
		{name: "allowed through the parent's owner", subject: user("alice"), allowed: true, leaf: "agent:a1#owner@user:alice"},
		{name: "denied", subject: user("mallory"), allowed: false, leaf: "no agent:a1#owner@user:mallory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := authz.CheckRequest{Subject: tt.subject, Resource: task("t1"), Permission: "read", Consistency: authz.FullyConsistent()}
			e, err := a.Explain(t.Context(), req)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			t.Logf("Explain(task:t1#read@%s):\n%s", tt.subject, e)
			if e.Result != tt.allowed || e.Resource != task("t1") || e.Permission != "read" || e.Kind != "permission" {
				t.Errorf("root = %v %s#%s (%s), want %v task:t1#read (permission)", e.Result, e.Resource, e.Permission, e.Kind, tt.allowed)
			}
			if e.Detail != "owner + viewer + parent->read" {
				t.Errorf("root Detail = %q, want the expression", e.Detail)
			}
			arrow := findNode(e, func(n authz.Explanation) bool {
				return n.Kind == "arrow" && n.Resource == task("t1") && n.Permission == "parent"
			})
			if arrow == nil {
				t.Fatal("no arrow node for task:t1#parent")
			}
			if arrow.Result != tt.allowed || arrow.Detail != "parent->read" {
				t.Errorf("arrow = %v %q, want %v %q", arrow.Result, arrow.Detail, tt.allowed, "parent->read")
			}
			target := findNode(*arrow, func(n authz.Explanation) bool { return n.Resource == agent("a1") && n.Permission == "read" })
			if target == nil || target.Result != tt.allowed {
				t.Errorf("no agent:a1#read node with Result %v under the arrow", tt.allowed)
			}
			leaf := findNode(*arrow, func(n authz.Explanation) bool { return n.Kind == "relationship" && n.Detail == tt.leaf })
			if leaf == nil || leaf.Result != tt.allowed {
				t.Errorf("no relationship leaf %q with Result %v under the arrow", tt.leaf, tt.allowed)
			}
		})
	}
}

// TestExplainAgreesWithCheckAndMemadapter explains checks on a small graph
// with SpiceDB and memadapter: the roots are the decision of Check.
func TestExplainAgreesWithCheckAndMemadapter(t *testing.T) {
	t.Parallel()
	rels := []authz.Relationship{
		rel(agent("a1"), "owner", user("alice")),
		rel(agent("a2"), "owner", user("bob")),
		rel(task("t1"), "parent", authz.Subject{Type: "agent", ID: "a1"}),
		rel(task("t2"), "parent", authz.Subject{Type: "agent", ID: "a2"}),
		rel(task("t2"), "viewer", user("alice")),
		rel(task("t3"), "viewer", authz.Wildcard("user")),
	}
	a := newAdapter(t, explainSchema)
	mustWrite(t, a, rels...)
	mem, err := memadapter.New(explainSchema)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Write(t.Context(), authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		for _, sub := range []authz.Subject{user("alice"), user("bob"), user("carol")} {
			for _, perm := range []string{"read", "viewer", "parent"} {
				req := authz.CheckRequest{Subject: sub, Resource: task(id), Permission: perm, Consistency: authz.FullyConsistent()}
				d, err := a.Check(t.Context(), req)
				if err != nil {
					t.Fatalf("Check(%s#%s@%s): %v", req.Resource, perm, sub, err)
				}
				e, err := a.Explain(t.Context(), req)
				if err != nil {
					t.Fatalf("Explain(%s#%s@%s): %v", req.Resource, perm, sub, err)
				}
				m, err := mem.Explain(t.Context(), req)
				if err != nil {
					t.Fatalf("memadapter Explain(%s#%s@%s): %v", req.Resource, perm, sub, err)
				}
				if e.Result != d.Allowed() || m.Result != d.Allowed() {
					t.Errorf("%s#%s@%s: Check %v, Explain %v, memadapter Explain %v:\n%s\n%s", req.Resource, perm, sub, d, e.Result, m.Result, e, m)
				}
			}
		}
	}
}

// TestExplainWithACaveatedSchema explains with a schema that has a caveat:
// arrows are grouped and named by their target, and a conditional answer
// denies.
func TestExplainWithACaveatedSchema(t *testing.T) {
	t.Parallel()
	c := spicedbtest.Client(t)
	if _, err := spicedbadapter.WriteSchema(t.Context(), c, schema); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	if _, err := c.WriteRelationships(t.Context(), caveatedViewer()); err != nil {
		t.Fatalf("WriteRelationships: %v", err)
	}
	a := spicedbadapter.New(c, nil)
	mustWrite(t, a,
		rel(agent("a1"), "owner", user("bob")),
		rel(task("t1"), "parent", authz.Subject{Type: "agent", ID: "a1"}),
	)

	e, err := a.Explain(t.Context(), authz.CheckRequest{Subject: user("bob"), Resource: task("t1"), Permission: "read", Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	t.Logf("Explain(task:t1#read@user:bob):\n%s", e)
	arrow := findNode(e, func(n authz.Explanation) bool { return n.Kind == "arrow" })
	if !e.Result || arrow == nil || !arrow.Result || !strings.HasSuffix(arrow.Detail, "->read") {
		t.Errorf("want an allow through an arrow node named ->read")
	}

	e, err = a.Explain(t.Context(), authz.CheckRequest{Subject: user("alice"), Resource: task("t1"), Permission: "read", Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	t.Logf("Explain(task:t1#read@user:alice):\n%s", e)
	conditional := findNode(e, func(n authz.Explanation) bool { return strings.Contains(n.Detail, "conditional") })
	if e.Result || conditional == nil || conditional.Result {
		t.Errorf("want a denial with a conditional node that does not hold")
	}
}

func TestExplainRequestShape(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	req := authz.CheckRequest{Subject: user("alice"), Resource: task("t1"), Permission: "read"}
	want := &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}},
		Resource:    &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
		Permission:  "read",
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
		WithTracing: true,
	}
	m.EXPECT().CheckPermission(gomock.Any(), protoEq(want)).Return(&v1.CheckPermissionResponse{
		Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION,
		DebugTrace:     &v1.DebugInformation{Check: aliceTrace(), SchemaUsed: explainSchema},
	}, nil)
	e, err := a.Explain(t.Context(), req)
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	wantText := `✓ task:t1#read (permission) owner + viewer + parent->read
  ✗ task:t1#owner (relation)
    ✗ (relationship) no task:t1#owner@user:alice
  ✓ task:t1#viewer (relation) (cached by spicedb)
  ✓ task:t1#parent (arrow) parent->read
    ✓ agent:a1#read (permission) owner
      ✓ agent:a1#owner (relation)
        ✓ (relationship) agent:a1#owner@user:alice
    ✗ agent:a2#read (permission) owner
      ✗ agent:a2#owner (relation)
        ✗ (relationship) no agent:a2#owner@user:alice
`
	if diff := cmp.Diff(wantText, e.String()); diff != "" {
		t.Errorf("explanation mismatch (-want +got):\n%s", diff)
	}
}

// aliceTrace is a trace of task:t1#read for user:alice through two parent
// agents, out of order, with a cached result.
func aliceTrace() *v1.CheckDebugTrace {
	const (
		relation   = v1.CheckDebugTrace_PERMISSION_TYPE_RELATION
		permission = v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION
		yes        = v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION
		no         = v1.CheckDebugTrace_PERMISSIONSHIP_NO_PERMISSION
	)
	node := func(typ, id, perm string, kind v1.CheckDebugTrace_PermissionType, result v1.CheckDebugTrace_Permissionship, subs ...*v1.CheckDebugTrace) *v1.CheckDebugTrace {
		t := &v1.CheckDebugTrace{
			Resource:       &v1.ObjectReference{ObjectType: typ, ObjectId: id},
			Permission:     perm,
			PermissionType: kind,
			Subject:        &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
			Result:         result,
			Resolution:     &v1.CheckDebugTrace_WasCachedResult{WasCachedResult: false},
		}
		if len(subs) > 0 {
			t.Resolution = &v1.CheckDebugTrace_SubProblems_{SubProblems: &v1.CheckDebugTrace_SubProblems{Traces: subs}}
		}
		return t
	}
	cached := node("task", "t1", "viewer", relation, yes)
	cached.Resolution = &v1.CheckDebugTrace_WasCachedResult{WasCachedResult: true}
	// In the order SpiceDB's concurrent dispatch might report them.
	return node("task", "t1", "read", permission, yes,
		node("agent", "a1", "read", permission, yes, node("agent", "a1", "owner", relation, yes)),
		node("task", "t1", "owner", relation, no),
		cached,
		node("agent", "a2", "read", permission, no, node("agent", "a2", "owner", relation, no)),
	)
}

func TestExplainRootIsThePermissionship(t *testing.T) {
	tests := []struct {
		name string
		resp *v1.CheckPermissionResponse
		want authz.Explanation
	}{
		{
			name: "no trace",
			resp: &v1.CheckPermissionResponse{Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION},
			want: authz.Explanation{Resource: task("t1"), Permission: "read", Kind: "check", Result: true, Detail: "spicedb sent no trace"},
		},
		{
			name: "a trace that allows, a conditional answer",
			resp: &v1.CheckPermissionResponse{
				Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION,
				DebugTrace: &v1.DebugInformation{Check: &v1.CheckDebugTrace{
					Resource:       &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
					Permission:     "read",
					PermissionType: v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION,
					Result:         v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION,
				}},
			},
			want: authz.Explanation{Resource: task("t1"), Permission: "read", Kind: "permission"},
		},
		{
			name: "a trace of what an alias names",
			resp: &v1.CheckPermissionResponse{
				Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION,
				DebugTrace: &v1.DebugInformation{SchemaUsed: "definition user {}\ndefinition task {\n\trelation owner: user\n\tpermission read = owner\n}", Check: &v1.CheckDebugTrace{
					Resource:       &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
					Permission:     "owner",
					PermissionType: v1.CheckDebugTrace_PERMISSION_TYPE_RELATION,
					Result:         v1.CheckDebugTrace_PERMISSIONSHIP_NO_PERMISSION,
				}},
			},
			want: authz.Explanation{Resource: task("t1"), Permission: "read", Kind: "permission", Detail: "owner", Children: []authz.Explanation{{
				Resource: task("t1"), Permission: "owner", Kind: "relation",
				Children: []authz.Explanation{{Kind: "relationship", Detail: "no task:t1#owner@user:alice"}},
			}}},
		},
		{
			name: "a trace of another check",
			resp: &v1.CheckPermissionResponse{
				Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION,
				DebugTrace: &v1.DebugInformation{Check: &v1.CheckDebugTrace{
					Resource:       &v1.ObjectReference{ObjectType: "agent", ObjectId: "a1"},
					Permission:     "read",
					PermissionType: v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION,
					Result:         v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION,
				}},
			},
			want: authz.Explanation{Resource: task("t1"), Permission: "read", Kind: "check", Result: true, Detail: "spicedb traced another check", Children: []authz.Explanation{{
				Resource: agent("a1"), Permission: "read", Kind: "permission", Result: true,
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(tt.resp, nil)
			e, err := a.Explain(t.Context(), aliceReadsT1)
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if diff := cmp.Diff(tt.want, e); diff != "" {
				t.Errorf("explanation mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainErrorsAreCheckErrors(t *testing.T) {
	t.Run("translated", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t)
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.FailedPrecondition, "unknown permission")).Times(1)
		e, err := a.Explain(t.Context(), aliceReadsT1)
		if !errors.Is(err, authz.ErrInvalidRequest) || status.Code(err) != codes.FailedPrecondition {
			t.Errorf("Explain error = %v, want %v with code %v", err, authz.ErrInvalidRequest, codes.FailedPrecondition)
		}
		if diff := cmp.Diff(authz.Explanation{}, e); diff != "" {
			t.Errorf("Explain with an error returned a non-zero Explanation (-want +got):\n%s", diff)
		}
	})
	t.Run("retried then unavailable", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t)
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")).Times(spicedbadapter.DefaultMaxAttempts)
		if _, err := a.Explain(t.Context(), aliceReadsT1); !errors.Is(err, authz.ErrUnavailable) {
			t.Errorf("Explain error = %v, want %v", err, authz.ErrUnavailable)
		}
	})
	t.Run("malformed request makes no call", func(t *testing.T) {
		t.Parallel()
		a, _ := newMock(t) // no expected calls
		req := aliceReadsT1
		req.Subject = authz.Wildcard("user")
		if _, err := a.Explain(t.Context(), req); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("Explain error = %v, want %v", err, authz.ErrInvalidRequest)
		}
	})
}
