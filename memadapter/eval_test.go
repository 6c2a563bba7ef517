package memadapter_test

import (
	"context"
	"errors"
	"fmt"
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

// TestCheckDepthLimitMatchesSpiceDB checks the boundary of MaxDepth on a
// chain of nested groups. The expectations are SpiceDB v1.56.2's: every
// relation or permission reached is one level, except that an alias
// permission (view = viewer) costs nothing, and level 50 fails.
func TestCheckDepthLimitMatchesSpiceDB(t *testing.T) {
	tests := []struct {
		name  string
		k     int // user:u is a member of g<k>
		check string
		want  string
	}{
		{"relation at level 49", 49, "group:g0#member@user:u", "allow"},
		{"relation at level 50", 50, "group:g0#member@user:u", "invalid"},
		{"through a relation, level 49", 48, "doc:d#viewer@user:u", "allow"},
		{"through a relation, level 50", 49, "doc:d#viewer@user:u", "invalid"},
		{"alias costs no level, level 49", 48, "doc:d#view@user:u", "allow"},
		{"alias costs no level, level 50", 49, "doc:d#view@user:u", "invalid"},
		{"permission costs a level, level 49", 47, "doc:d#view_or_nothing@user:u", "allow"},
		{"permission costs a level, level 50", 48, "doc:d#view_or_nothing@user:u", "invalid"},
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
			// The only doc's lookup fails exactly when its check does.
			res, err := a.Lookup(context.Background(), authz.LookupRequest{Subject: req.Subject, ResourceType: req.Resource.Type, Permission: req.Permission})
			wantLookup := "ok [" + req.Resource.ID + "]"
			if tt.want == "invalid" {
				wantLookup = "invalid []"
			}
			if got := fmt.Sprint(errOutcome(err), " ", res.IDs()); got != wantLookup {
				t.Errorf("Lookup = %s, want %s (the ids Check allows)", got, wantLookup)
			}
		})
	}
}

func TestDepthErrorIsNeitherAllowNorDeny(t *testing.T) {
	a := newAuthorizer(t, chainSchema, "group:g1#member@group:g2#member", "group:g2#member@group:g1#member")
	d, err := a.Check(context.Background(), parseCheck(t, "group:g1#member@user:nobody"))
	if err == nil || d.Allowed() {
		t.Fatalf("Check = %v, %v; want a denial with an error", d, err)
	}
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("error %v does not match authz.ErrInvalidRequest", err)
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
