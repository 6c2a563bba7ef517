package memadapter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// explainOutcome is outcome for an explanation: the root's result, or the
// sentinel of the error.
func explainOutcome(e authz.Explanation, err error) string {
	if err != nil {
		return outcome(authz.Deny(), err)
	}
	if e.Result {
		return "allow"
	}
	return "deny"
}

// parentSchema is the schema of the explanation examples: tasks under
// agents.
const parentSchema = `
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

func TestExplainThroughParentArrow(t *testing.T) {
	a := newAuthorizer(t, parentSchema,
		"agent:a1#owner@user:alice",
		"task:t1#parent@agent:a1",
		"task:t1#owner@user:bob",
	)
	tests := []struct {
		name    string
		check   string
		allowed bool
		arrow   bool   // the parent arrow holds
		leaf    string // a relationship leaf, found (allowed) or missing
		want    string
	}{
		{
			name:    "allowed through the parent's owner",
			check:   "task:t1#read@user:alice",
			allowed: true,
			arrow:   true,
			leaf:    "agent:a1#owner@user:alice",
			want: `✓ task:t1#read (permission) owner + viewer + parent->read
  ✓ (union)
    ✗ task:t1#owner (relation)
      ✗ (relationship) no task:t1#owner@user:alice
    ✗ task:t1#viewer (relation)
      ✗ (relationship) no task:t1#viewer@user:alice
      ✗ (wildcard) no task:t1#viewer@user:*
    ✓ task:t1#parent (arrow) parent->read
      ✓ agent:a1#read (permission) owner
        ✓ agent:a1#owner (relation)
          ✓ (relationship) agent:a1#owner@user:alice
`,
		},
		{
			name:    "denied",
			check:   "task:t1#read@user:mallory",
			allowed: false,
			arrow:   false,
			leaf:    "no agent:a1#owner@user:mallory",
			want: `✗ task:t1#read (permission) owner + viewer + parent->read
  ✗ (union)
    ✗ task:t1#owner (relation)
      ✗ (relationship) no task:t1#owner@user:mallory
    ✗ task:t1#viewer (relation)
      ✗ (relationship) no task:t1#viewer@user:mallory
      ✗ (wildcard) no task:t1#viewer@user:*
    ✗ task:t1#parent (arrow) parent->read
      ✗ agent:a1#read (permission) owner
        ✗ agent:a1#owner (relation)
          ✗ (relationship) no agent:a1#owner@user:mallory
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := a.Explain(context.Background(), parseCheck(t, tt.check))
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			t.Logf("Explain(%s):\n%s", tt.check, e)
			if e.Result != tt.allowed {
				t.Errorf("root Result = %v, want %v", e.Result, tt.allowed)
			}
			arrow := find(e, func(n authz.Explanation) bool {
				return n.Kind == "arrow" && n.Resource == authz.Resource{Type: "task", ID: "t1"} && n.Permission == "parent"
			})
			if arrow == nil {
				t.Fatal("no arrow node for task:t1#parent")
			}
			if arrow.Result != tt.arrow {
				t.Errorf("arrow Result = %v, want %v", arrow.Result, tt.arrow)
			}
			leaf := find(*arrow, func(n authz.Explanation) bool { return n.Kind == "relationship" && n.Detail == tt.leaf })
			if leaf == nil || leaf.Result != tt.allowed {
				t.Errorf("no relationship leaf %q with Result %v under the arrow", tt.leaf, tt.allowed)
			}
			if diff := cmp.Diff(tt.want, e.String()); diff != "" {
				t.Errorf("rendered explanation mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainShowsWildcardsSubjectSetsAndExclusions(t *testing.T) {
	a := newAuthorizer(t, propertySchema,
		"folder:f1#viewer@user:*",
		"doc:d1#parent@folder:f1",
		"doc:d1#banned@group:g1#member",
		"group:g1#member@group:g2#member",
		"group:g2#member@user:u2",
	)
	tests := []struct {
		name  string
		check string
		want  string
	}{
		{
			name:  "a wildcard through an arrow",
			check: "doc:d1#view@user:u1",
			want: `✓ doc:d1#view (permission) (owner + viewer + parent->view) - banned
  ✓ (exclusion)
    ✓ (union)
      ✗ doc:d1#owner (relation)
        ✗ (relationship) no doc:d1#owner@user:u1
      ✗ doc:d1#viewer (relation)
        ✗ (relationship) no doc:d1#viewer@user:u1
        ✗ (wildcard) no doc:d1#viewer@user:*
      ✓ doc:d1#parent (arrow) parent->view
        ✓ folder:f1#view (permission) viewer + editor + parent->view
          ✓ (union)
            ✓ folder:f1#viewer (relation)
              ✗ (relationship) no folder:f1#viewer@user:u1
              ✓ (wildcard) folder:f1#viewer@user:*
    ✗ doc:d1#banned (relation)
      ✗ (relationship) no doc:d1#banned@user:u1
      ✗ (subject_set) doc:d1#banned@group:g1#member
        ✗ group:g1#member (relation)
          ✗ (relationship) no group:g1#member@user:u1
          ✗ (subject_set) group:g1#member@group:g2#member
            ✗ group:g2#member (relation)
              ✗ (relationship) no group:g2#member@user:u1
`,
		},
		{
			name:  "excluded through nested subject sets",
			check: "doc:d1#view@user:u2",
			want: `✗ doc:d1#view (permission) (owner + viewer + parent->view) - banned
  ✗ (exclusion)
    ✓ (union)
      ✗ doc:d1#owner (relation)
        ✗ (relationship) no doc:d1#owner@user:u2
      ✗ doc:d1#viewer (relation)
        ✗ (relationship) no doc:d1#viewer@user:u2
        ✗ (wildcard) no doc:d1#viewer@user:*
      ✓ doc:d1#parent (arrow) parent->view
        ✓ folder:f1#view (permission) viewer + editor + parent->view
          ✓ (union)
            ✓ folder:f1#viewer (relation)
              ✗ (relationship) no folder:f1#viewer@user:u2
              ✓ (wildcard) folder:f1#viewer@user:*
    ✓ doc:d1#banned (relation)
      ✗ (relationship) no doc:d1#banned@user:u2
      ✓ (subject_set) doc:d1#banned@group:g1#member
        ✓ group:g1#member (relation)
          ✗ (relationship) no group:g1#member@user:u2
          ✓ (subject_set) group:g1#member@group:g2#member
            ✓ group:g2#member (relation)
              ✓ (relationship) group:g2#member@user:u2
`,
		},
		{
			name:  "a subject set is its own member",
			check: "group:g1#member@group:g1#member",
			want: `✓ group:g1#member (relation) is the subject
`,
		},
		{
			name:  "an alias is evaluated in place",
			check: "doc:d1#read@user:u1",
			want: `✓ doc:d1#read (permission) view
  ✓ doc:d1#view (permission) (owner + viewer + parent->view) - banned
    ✓ (exclusion)
      ✓ (union)
        ✗ doc:d1#owner (relation)
          ✗ (relationship) no doc:d1#owner@user:u1
        ✗ doc:d1#viewer (relation)
          ✗ (relationship) no doc:d1#viewer@user:u1
          ✗ (wildcard) no doc:d1#viewer@user:*
        ✓ doc:d1#parent (arrow) parent->view
          ✓ folder:f1#view (permission) viewer + editor + parent->view
            ✓ (union)
              ✓ folder:f1#viewer (relation)
                ✗ (relationship) no folder:f1#viewer@user:u1
                ✓ (wildcard) folder:f1#viewer@user:*
      ✗ doc:d1#banned (relation)
        ✗ (relationship) no doc:d1#banned@user:u1
        ✗ (subject_set) doc:d1#banned@group:g1#member
          ✗ group:g1#member (relation)
            ✗ (relationship) no group:g1#member@user:u1
            ✗ (subject_set) group:g1#member@group:g2#member
              ✗ group:g2#member (relation)
                ✗ (relationship) no group:g2#member@user:u1
`,
		},
		{
			name:  "an arrow with nothing to walk",
			check: "doc:d2#edit@user:u1",
			want: `✗ doc:d2#edit (permission) owner & parent->edit
  ✗ (intersection)
    ✗ doc:d2#owner (relation)
      ✗ (relationship) no doc:d2#owner@user:u1
`,
		},
		{
			name:  "an all-arrow with nothing to walk",
			check: "doc:d2#approve@user:u1",
			want: `✗ doc:d2#approve (permission) reviewer.all(manage)
  ✗ doc:d2#reviewer (arrow) reviewer.all(manage): doc:d2 has no reviewer
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := a.Explain(context.Background(), parseCheck(t, tt.check))
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if diff := cmp.Diff(tt.want, e.String()); diff != "" {
				t.Errorf("Explain(%s) mismatch (-want +got):\n%s", tt.check, diff)
			}
		})
	}
}

// TestExplainAgreesWithCheck explains every check of the random graphs of
// TestLookupEqualsAllowedChecks: the root's result is Check's decision and
// the errors are Check's, every node that holds is justified by the nodes
// below it down to relationships, and every node that does not is refuted
// by them.
func TestExplainAgreesWithCheck(t *testing.T) {
	subjects := []authz.Subject{{Type: "user", ID: "stranger"}}
	for _, id := range ids["user"] {
		subjects = append(subjects, authz.Subject{Type: "user", ID: id})
	}
	for _, id := range ids["group"][:2] {
		subjects = append(subjects, authz.Subject{Type: "group", ID: id, Relation: "member"}, authz.Subject{Type: "group", ID: id, Relation: "manage"})
	}
	subjects = append(subjects, authz.Subject{Type: "folder", ID: "f0", Relation: "view"})

	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a := newAuthorizer(t, propertySchema)
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			if _, err := a.Write(ctx, authz.WriteRequest{Touch: dedupe(randomRelationships(a, r, 10+r.IntN(40)))}); err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, d := range a.Schema().Definitions {
				var names []string
				for _, rel := range d.Relations {
					names = append(names, rel.Name)
				}
				for _, p := range d.Permissions {
					names = append(names, p.Name)
				}
				for _, name := range names {
					for _, sub := range subjects {
						for _, id := range ids[d.Name] {
							req := authz.CheckRequest{Subject: sub, Resource: authz.Resource{Type: d.Name, ID: id}, Permission: name}
							want := outcome(a.Check(ctx, req))
							e, err := a.Explain(ctx, req)
							got := explainOutcome(e, err)
							counts[got]++
							if got != want {
								t.Fatalf("Explain(%s#%s@%s) = %s, Check = %s:\n%s", req.Resource, name, sub, got, want, e)
							}
							if err == nil && !coherent(e) {
								t.Fatalf("Explain(%s#%s@%s) is not coherent:\n%s", req.Resource, name, sub, e)
							}
						}
					}
				}
			}
			if counts["allow"] == 0 || counts["deny"] == 0 {
				t.Errorf("outcomes %v: want both allows and denials", counts)
			}
		})
	}
}

// coherent reports whether e's result follows from its children: a node
// that holds is justified, one that does not is refuted. Subtrees that
// contain a depth error (swallowed by an allow elsewhere) are not judged.
func coherent(e authz.Explanation) bool {
	if e.Result {
		return justified(e)
	}
	return hasDepthError(e) || refuted(e)
}

// justified reports whether a node that holds is granted by its children,
// down to relationships.
func justified(e authz.Explanation) bool {
	if !e.Result {
		return false
	}
	switch {
	case e.Kind == "relationship" || e.Kind == "wildcard":
		return len(e.Children) == 0 && strings.Contains(e.Detail, "@")
	case e.Detail == "is the subject", strings.HasSuffix(e.Detail, "(see above)"), strings.HasSuffix(e.Detail, "(not expanded)"):
		return len(e.Children) == 0
	case e.Kind == "intersection" || e.Kind == "arrow" && strings.Contains(e.Detail, ".all("):
		return len(e.Children) > 0 && all(e.Children, justified)
	case e.Kind == "exclusion":
		return len(e.Children) == 2 && justified(e.Children[0]) && !e.Children[1].Result && coherent(e.Children[1])
	}
	return anyOf(e.Children, justified)
}

// refuted reports whether a node that does not hold is denied by its
// children.
func refuted(e authz.Explanation) bool {
	if e.Result {
		return false
	}
	switch {
	case e.Kind == "relationship" || e.Kind == "wildcard":
		return len(e.Children) == 0 && strings.HasPrefix(e.Detail, "no ")
	case e.Kind == "nil", e.Kind == "undefined", strings.HasSuffix(e.Detail, "(see above)"), strings.HasSuffix(e.Detail, "(not expanded)"):
		return len(e.Children) == 0
	case e.Kind == "intersection" || e.Kind == "arrow" && strings.Contains(e.Detail, ".all("):
		return len(e.Children) == 0 && e.Kind == "arrow" || anyOf(e.Children, refuted) && all(e.Children, coherent)
	case e.Kind == "exclusion":
		switch len(e.Children) {
		case 1:
			return refuted(e.Children[0])
		case 2:
			return justified(e.Children[0]) && justified(e.Children[1])
		}
		return false
	}
	return all(e.Children, refuted)
}

func hasDepthError(e authz.Explanation) bool {
	return strings.HasPrefix(e.Detail, "exceeds the maximum depth") || anyOf(e.Children, hasDepthError)
}

func all(es []authz.Explanation, f func(authz.Explanation) bool) bool {
	for _, e := range es {
		if !f(e) {
			return false
		}
	}
	return true
}

func anyOf(es []authz.Explanation, f func(authz.Explanation) bool) bool {
	for _, e := range es {
		if f(e) {
			return true
		}
	}
	return false
}

// find returns the first node of e, depth first, for which f holds.
func find(e authz.Explanation, f func(authz.Explanation) bool) *authz.Explanation {
	if f(e) {
		return &e
	}
	for _, c := range e.Children {
		if n := find(c, f); n != nil {
			return n
		}
	}
	return nil
}

func count(e authz.Explanation) int {
	n := 1
	for _, c := range e.Children {
		n += count(c)
	}
	return n
}

func TestExplainFailsAsCheckDoes(t *testing.T) {
	tests := []struct {
		name  string
		k     int // user:u is a member of g<k>
		check string
		want  string
	}{
		{"depth 49", 49, "group:g0#member@user:u", "allow"},
		{"depth 50, the cycle-aware mode", 50, "group:g0#member@user:u", "allow"},
		{"alias at depth 50", 49, "doc:d#view@user:u", "allow"},
		{"permission at depth 120", 120, "doc:d#view_or_nothing@user:u", "allow"},
		{"deny at depth 120", 120, "doc:d#view_or_nothing@user:v", "deny"},
		{"unknown permission", 1, "doc:d#edit@user:u", "invalid"},
		{"unknown subject type", 1, "doc:d#view@robot:u", "invalid"},
		{"malformed id", 1, "doc:d d#view@user:u", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAuthorizer(t, chainSchema, groupChain(tt.k)...)
			req := parseCheck(t, tt.check)
			if got := outcome(a.Check(context.Background(), req)); got != tt.want {
				t.Fatalf("Check = %s, want %s", got, tt.want)
			}
			e, err := a.Explain(context.Background(), req)
			if got := explainOutcome(e, err); got != tt.want {
				t.Errorf("Explain = %s, want %s", got, tt.want)
			}
			if diff := cmp.Diff(authz.Explanation{}, e); err != nil && diff != "" {
				t.Errorf("Explain with an error returned a non-zero Explanation (-want +got):\n%s", diff)
			}
		})
	}

	a := newAuthorizer(t, chainSchema, "group:g0#member@user:u")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Explain(ctx, parseCheck(t, "group:g0#member@user:u")); errOutcome(err) != "unavailable" {
		t.Errorf("Explain with a cancelled context = %v, want unavailable", err)
	}
	if _, err := a.Explain(context.Background(), authz.CheckRequest{Subject: authz.Wildcard("user"), Resource: authz.Resource{Type: "group", ID: "g0"}, Permission: "member"}); errOutcome(err) != "invalid" {
		t.Errorf("Explain of a wildcard subject = %v, want invalid", err)
	}
}

// TestExplainStaysSmallOnSharedSubgraphs explains checks over 2^40 paths
// (the graph of TestCheckStaysPolynomialOnSharedSubgraphs): each group is
// expanded once.
func TestExplainStaysSmallOnSharedSubgraphs(t *testing.T) {
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
	} {
		e, err := a.Explain(context.Background(), parseCheck(t, tt.check))
		if got := explainOutcome(e, err); got != tt.want {
			t.Errorf("Explain(%s) = %s, want %s", tt.check, got, tt.want)
		}
		if n := count(e); n > 1000 {
			t.Errorf("Explain(%s) has %d nodes, want at most 1000", tt.check, n)
		}
		if !coherent(e) {
			t.Errorf("Explain(%s) is not coherent:\n%s", tt.check, e)
		}
	}
}

// TestExplainExpandsAtMostAThousandNodes explains a check over 1,200
// groups: past the thousandth, groups are reported with their result
// alone, and the result is still Check's.
func TestExplainExpandsAtMostAThousandNodes(t *testing.T) {
	const groups = 1200
	var rels []string
	for i := range groups {
		rels = append(rels, fmt.Sprintf("doc:d#viewer@group:g%04d#member", i), fmt.Sprintf("group:g%04d#member@user:u%04d", i, i))
	}
	a := newAuthorizer(t, chainSchema, rels...)
	for _, tt := range []struct{ check, want string }{
		{"doc:d#viewer@user:nobody", "deny"},
		{fmt.Sprintf("doc:d#viewer@user:u%04d", groups-1), "allow"},
	} {
		e, err := a.Explain(context.Background(), parseCheck(t, tt.check))
		if got := explainOutcome(e, err); got != tt.want {
			t.Fatalf("Explain(%s) = %s, want %s", tt.check, got, tt.want)
		}
		expanded, notExpanded := 0, 0
		for _, set := range e.Children {
			for _, g := range set.Children {
				switch {
				case strings.HasSuffix(g.Detail, "(not expanded)"):
					notExpanded++
				case len(g.Children) > 0:
					expanded++
				}
			}
		}
		// doc:d#viewer, which may recurse too, is the first of the thousand.
		if expanded != 999 || notExpanded != groups-999 {
			t.Errorf("Explain(%s) expanded %d groups and not %d, want 999 and %d", tt.check, expanded, notExpanded, groups-999)
		}
		if !coherent(e) {
			t.Errorf("Explain(%s) is not coherent", tt.check)
		}
	}
}
