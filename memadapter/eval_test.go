package memadapter_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

const chainSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition doc {
	relation viewer: group#member
	permission view = viewer
	permission view_or_nothing = viewer + nil
}
`

// groupChain returns doc:d#viewer@group:g0#member, g<i> containing
// g<i+1> for i < k, and user:u in g<k>.
func groupChain(k int) []string {
	rels := []string{"doc:d#viewer@group:g0#member"}
	for i := range k {
		rels = append(rels, fmt.Sprintf("group:g%d#member@group:g%d#member", i, i+1))
	}
	return append(rels, fmt.Sprintf("group:g%d#member@user:u", k))
}

// TestDeepChainsAnswer checks chains of nested groups around and far
// beyond SpiceDB's dispatch depth limit of 50, where SpiceDB v1.56.2 fails
// with max depth exceeded: the answer exists (what SpiceDB answers with
// every group given its transitive members), and this engine gives it.
// The lookup of the only doc agrees with its check.
func TestDeepChainsAnswer(t *testing.T) {
	tests := []struct {
		name  string
		k     int // user:u is a member of g<k>
		check string
		want  string
	}{
		{"relation at level 49", 49, "group:g0#member@user:u", "allow"},
		{"relation at level 50, where SpiceDB fails", 50, "group:g0#member@user:u", "allow"},
		{"through a relation, level 50", 49, "doc:d#viewer@user:u", "allow"},
		{"alias, level 50", 49, "doc:d#view@user:u", "allow"},
		{"permission, level 50", 48, "doc:d#view_or_nothing@user:u", "allow"},
		{"a thousand levels", 1000, "doc:d#view_or_nothing@user:u", "allow"},
		{"a thousand levels, a stranger", 1000, "doc:d#view_or_nothing@user:stranger", "deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAuthorizer(t, chainSchema, groupChain(tt.k)...)
			req := parseCheck(t, tt.check)
			if got := outcome(a.Check(context.Background(), req)); got != tt.want {
				t.Errorf("Check(%s) = %s, want %s", tt.check, got, tt.want)
			}
			if req.Resource.Type != "doc" {
				return
			}
			res, err := a.Lookup(context.Background(), authz.LookupRequest{Subject: req.Subject, ResourceType: req.Resource.Type, Permission: req.Permission})
			wantLookup := "ok []"
			if tt.want == "allow" {
				wantLookup = "ok [" + req.Resource.ID + "]"
			}
			if got := fmt.Sprint(errOutcome(err), " ", res.IDs()); got != wantLookup {
				t.Errorf("Lookup = %s, want %s (the ids Check allows)", got, wantLookup)
			}
		})
	}
}

const cycleSchema = `
definition user {}

definition group {
	relation member: user | group#member
	relation parent: group
	relation viewer: user
	permission view = viewer + parent->view
	permission unbanned_view = viewer - parent->unbanned_view
	permission any_member = member + parent->any_member
}
`

// TestCyclesAnswerWithTheLeastFixpoint checks cyclic relationships: group
// membership loops and parent loops, where SpiceDB v1.56.2 fails with max
// depth exceeded (always, or in some runs): the answer is what SpiceDB
// answers on the same data with every cycle unrolled.
func TestCyclesAnswerWithTheLeastFixpoint(t *testing.T) {
	rels := []string{
		// g1 -> g2 -> g3 -> g1, alice in g3, g4 contains itself.
		"group:g1#member@group:g2#member", "group:g2#member@group:g3#member", "group:g3#member@group:g1#member",
		"group:g3#member@user:alice", "group:g4#member@group:g4#member",
		// parents: p1 -> p2 -> p1, viewer bob on p2.
		"group:p1#parent@group:p2", "group:p2#parent@group:p1", "group:p2#viewer@user:bob",
		"group:p1#member@group:g1#member",
	}
	a := newAuthorizer(t, cycleSchema, rels...)
	for _, tt := range []struct{ check, want string }{
		{"group:g1#member@user:alice", "allow"},
		{"group:g2#member@user:alice", "allow"},
		{"group:g3#member@user:alice", "allow"},
		{"group:g1#member@user:zed", "deny"},
		{"group:g4#member@user:alice", "deny"},
		{"group:g4#member@group:g4#member", "allow"},
		{"group:g1#member@group:g3#member", "allow"},
		{"group:p1#view@user:bob", "allow"},
		{"group:p2#view@user:bob", "allow"},
		{"group:p1#view@user:alice", "deny"},
		{"group:p1#any_member@user:alice", "allow"},
		{"group:p2#any_member@user:alice", "allow"},
		{"group:p2#any_member@user:zed", "deny"},
		// An exclusion over the parent cycle is decided where its left
		// side does not hold (p1) and where its right side never comes
		// back (p2 excludes p1's, which is decided).
		{"group:p1#unbanned_view@user:bob", "deny"},
		{"group:p2#unbanned_view@user:bob", "allow"},
	} {
		if got := outcome(a.Check(context.Background(), parseCheck(t, tt.check))); got != tt.want {
			t.Errorf("Check(%s) = %s, want %s", tt.check, got, tt.want)
		}
	}
	res, err := a.Lookup(context.Background(), authz.LookupRequest{Subject: authz.Subject{Type: "user", ID: "alice"}, ResourceType: "group", Permission: "any_member"})
	if got := fmt.Sprint(errOutcome(err), " ", res.IDs()); got != "ok [g1 g2 g3 p1 p2]" {
		t.Errorf("Lookup(group#any_member@user:alice) = %s, want ok [g1 g2 g3 p1 p2]", got)
	}
}

// TestNegativeCycleIsNeitherAllowNorDeny checks the one recursion without
// a well-defined answer: a value that depends on itself through the right
// side of an exclusion.
func TestNegativeCycleIsNeitherAllowNorDeny(t *testing.T) {
	a := newAuthorizer(t, cycleSchema, "group:p1#parent@group:p2", "group:p2#parent@group:p1", "group:p1#viewer@user:bob", "group:p2#viewer@user:bob")
	d, err := a.Check(context.Background(), parseCheck(t, "group:p1#unbanned_view@user:bob"))
	if err == nil || d.Allowed() {
		t.Fatalf("Check = %v, %v; want a denial with an error", d, err)
	}
	if !errors.Is(err, authz.ErrInvalidRequest) || !strings.Contains(err.Error(), "exclusion") {
		t.Errorf("error %v does not match authz.ErrInvalidRequest or does not name the exclusion", err)
	}
}

// TestCheckStaysPolynomialOnSharedSubgraphs checks a graph with 2^40
// paths: 40 layers of two groups, each containing both groups of the next
// layer. Without remembering results the check would not finish.
func TestCheckStaysPolynomialOnSharedSubgraphs(t *testing.T) {
	const layers = 40
	var rels []string
	for i := range layers {
		for _, from := range []string{"a", "b"} {
			for _, to := range []string{"a", "b"} {
				rels = append(rels, fmt.Sprintf("group:%s%d#member@group:%s%d#member", from, i, to, i+1))
			}
		}
	}
	rels = append(rels, fmt.Sprintf("group:b%d#member@user:deep", layers))
	a := newAuthorizer(t, chainSchema, rels...)
	for _, tt := range []struct{ check, want string }{
		{"group:a0#member@user:nobody", "deny"},
		{"group:a0#member@user:deep", "allow"},
		{fmt.Sprintf("group:a%d#member@user:deep", layers), "deny"},
	} {
		if got := outcome(a.Check(context.Background(), parseCheck(t, tt.check))); got != tt.want {
			t.Errorf("Check(%s) = %s, want %s", tt.check, got, tt.want)
		}
	}
}

func TestCheckRejectsInvalidRequests(t *testing.T) {
	a := newAuthorizer(t, chainSchema, "group:g0#member@user:u")
	tests := []struct {
		name string
		req  authz.CheckRequest
	}{
		{"unknown resource type", authz.CheckRequest{Resource: authz.Resource{Type: "folder", ID: "g0"}, Permission: "member", Subject: authz.Subject{Type: "user", ID: "u"}}},
		{"unknown permission", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "admin", Subject: authz.Subject{Type: "user", ID: "u"}}},
		{"unknown subject type", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "member", Subject: authz.Subject{Type: "robot", ID: "u"}}},
		{"unknown subject relation", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "member", Subject: authz.Subject{Type: "group", ID: "g0", Relation: "admin"}}},
		{"wildcard subject", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "member", Subject: authz.Wildcard("user")}},
		{"malformed resource id", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g 0"}, Permission: "member", Subject: authz.Subject{Type: "user", ID: "u"}}},
		{"malformed subject id", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "member", Subject: authz.Subject{Type: "user", ID: ""}}},
		{"malformed permission", authz.CheckRequest{Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "Member", Subject: authz.Subject{Type: "user", ID: "u"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := a.Check(context.Background(), tt.req)
			if got := outcome(d, err); got != "invalid" {
				t.Errorf("Check = %s, want invalid", got)
			}
		})
	}
}

func TestCheckManyAnswersEachItem(t *testing.T) {
	a := newAuthorizer(t, chainSchema, "group:g0#member@user:u")
	items := []authz.CheckRequest{
		parseCheck(t, "group:g0#member@user:u"),
		parseCheck(t, "group:g0#member@user:v"),
		parseCheck(t, "group:g0#admin@user:u"),
	}
	res, err := a.CheckMany(context.Background(), authz.CheckManyRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, outcome(r.Decision, r.Err))
	}
	if diff := cmp.Diff([]string{"allow", "deny", "invalid"}, got); diff != "" {
		t.Errorf("CheckMany mismatch (-want +got):\n%s", diff)
	}
}

func TestCancelledContextIsUnavailable(t *testing.T) {
	a := newAuthorizer(t, chainSchema, "group:g0#member@user:u")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]error{}
	_, calls["Check"] = a.Check(ctx, parseCheck(t, "group:g0#member@user:u"))
	_, calls["CheckMany"] = a.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{parseCheck(t, "group:g0#member@user:u")}})
	_, calls["Lookup"] = a.Lookup(ctx, parseLookup(t, "group#member@user:u"))
	_, calls["Grant"] = a.Grant(ctx, authz.GrantRequest{Relationship: parseRel(t, "group:g1#member@user:u")})
	_, calls["ReadRelationships"] = a.ReadRelationships(ctx, authz.ReadRequest{Resource: parseObject(t, "group:g0")})
	_, calls["Enumerate"] = a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "group"})
	for name, err := range calls {
		if !errors.Is(err, authz.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want authz.ErrUnavailable and context.Canceled", name, err)
		}
	}
	if d, err := a.Check(context.Background(), parseCheck(t, "group:g1#member@user:u")); err != nil || d.Allowed() {
		t.Errorf("Grant with a cancelled context wrote: %v, %v", d, err)
	}
}

func TestNewRejectsBadSchemas(t *testing.T) {
	_, err := memadapter.New("definition user {}\ndefinition doc {\n\trelation viewer: user with on_weekdays\n}\n")
	if err == nil {
		t.Fatal("New accepted an unknown caveat")
	}
	if got, want := err.Error(), `schema: line 3, column 29: unknown caveat "on_weekdays" in relation "viewer" of "doc"`; got != want {
		t.Errorf("New error = %q, want %q", got, want)
	}
}
