package memadapter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// propertySchema uses every construct: unions, intersections, exclusions,
// arrows, all-arrows, wildcards, subject sets, recursion, aliases, nil.
const propertySchema = `
definition user {}

definition group {
	relation member: user | group#member
	relation manager: user
	permission manage = manager + member
}

definition folder {
	relation parent: folder
	relation viewer: user | group#member | user:*
	relation editor: user | group#member
	permission view = viewer + editor + parent->view
	permission edit = editor + parent->edit
}

definition doc {
	relation parent: folder
	relation owner: user
	relation viewer: user | group#member | user:*
	relation banned: user | group#member
	relation reviewer: group | group#manager
	permission view = (owner + viewer + parent->view) - banned
	permission edit = owner & parent->edit
	permission approve = reviewer.all(manage)
	permission any_approve = reviewer->manage
	permission read = view
	permission owns = owner
	permission nothing = nil + owner - owner
}
`

// ids are the object ids of each type in the property test.
var ids = map[string][]string{
	"user":   {"u0", "u1", "u2", "u3", "u4"},
	"group":  {"g0", "g1", "g2", "g3"},
	"folder": {"f0", "f1", "f2", "f3"},
	"doc":    {"d0", "d1", "d2", "d3", "d4", "d5"},
}

// randomRelationships returns n relationships the schema allows, drawn
// with r.
func randomRelationships(a *memadapter.Authorizer, r *rand.Rand, n int) []authz.Relationship {
	s := a.Schema()
	var rels []authz.Relationship
	for len(rels) < n {
		d := s.Definitions[r.IntN(len(s.Definitions))]
		if len(d.Relations) == 0 {
			continue
		}
		rel := d.Relations[r.IntN(len(d.Relations))]
		t := rel.Types[r.IntN(len(rel.Types))]
		sub := authz.Subject{Type: t.Type, Relation: t.Relation}
		if t.Wildcard {
			sub = authz.Wildcard(t.Type)
		} else {
			sub.ID = ids[t.Type][r.IntN(len(ids[t.Type]))]
		}
		res := authz.Resource{Type: d.Name, ID: ids[d.Name][r.IntN(len(ids[d.Name]))]}
		rels = append(rels, authz.Relationship{Resource: res, Relation: rel.Name, Subject: sub})
	}
	return rels
}

// TestLookupEqualsAllowedChecks checks, on random graphs drawn with fixed
// seeds, that a lookup returns exactly the ids whose checks allow: when it
// succeeds, its ids are those whose checks allow (ids whose checks fail
// are not in it); when it fails, some check fails. Limited lookups page
// through the same ids.
func TestLookupEqualsAllowedChecks(t *testing.T) {
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
			rels := randomRelationships(a, r, 10+r.IntN(40))
			if _, err := a.Write(ctx, authz.WriteRequest{Touch: dedupe(rels)}); err != nil {
				t.Fatal(err)
			}
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
						checkLookup(t, a, d.Name, name, sub)
					}
				}
			}
		})
	}
}

func checkLookup(t *testing.T, a *memadapter.Authorizer, typ, perm string, sub authz.Subject) {
	t.Helper()
	ctx := context.Background()
	var allowed []string
	failed := false
	for _, id := range ids[typ] {
		d, err := a.Check(ctx, authz.CheckRequest{Subject: sub, Resource: authz.Resource{Type: typ, ID: id}, Permission: perm})
		switch {
		case err != nil:
			failed = true
		case d.Allowed():
			allowed = append(allowed, id)
		}
	}
	// A subject set is a member of itself even on an id outside ids.
	if sub.Type == typ && sub.Relation == perm && !slices.Contains(ids[typ], sub.ID) {
		allowed = append(allowed, sub.ID)
		slices.Sort(allowed)
	}
	q := authz.LookupRequest{Subject: sub, ResourceType: typ, Permission: perm}
	res, err := a.Lookup(ctx, q)
	if err != nil {
		if !failed {
			t.Errorf("Lookup(%s#%s@%s) failed (%v) but every check answered", typ, perm, sub, err)
		}
		return
	}
	if diff := cmp.Diff(allowed, res.IDs(), cmpEmpty); diff != "" {
		t.Errorf("Lookup(%s#%s@%s) mismatch with allowed checks (-want +got):\n%s", typ, perm, sub, diff)
	}
	if res.Cursor() != "" {
		t.Errorf("unlimited Lookup returned cursor %q", res.Cursor())
	}
	// Pages of two concatenate to the same ids.
	var paged []string
	for pages := 0; ; pages++ {
		q.Limit = 2
		res, err := a.Lookup(ctx, q)
		if err != nil {
			t.Fatalf("Lookup page: %v", err)
		}
		if len(res.IDs()) > 2 || pages > len(allowed) {
			t.Fatalf("Lookup page %d: %d ids for limit 2", pages, len(res.IDs()))
		}
		paged = append(paged, res.IDs()...)
		if res.Cursor() == "" {
			break
		}
		q.Cursor = res.Cursor()
	}
	if diff := cmp.Diff(allowed, paged, cmpEmpty); diff != "" {
		t.Errorf("paged Lookup(%s#%s@%s) mismatch (-want +got):\n%s", typ, perm, sub, diff)
	}
}

// cmpEmpty treats nil and empty id lists as equal.
var cmpEmpty = cmp.Comparer(func(x, y []string) bool { return slices.Equal(x, y) })

func dedupe(rels []authz.Relationship) []authz.Relationship {
	seen := map[authz.Relationship]bool{}
	var out []authz.Relationship
	for _, r := range rels {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func TestLookupPages(t *testing.T) {
	a := newAuthorizer(t, chainSchema,
		"group:g1#member@user:u", "group:g2#member@user:u", "group:g3#member@user:u",
		"group:g4#member@user:u", "group:g5#member@user:v")
	ctx := context.Background()
	tests := []struct {
		name   string
		limit  int
		cursor string
		want   []string
		next   string
	}{
		{"all", 0, "", []string{"g1", "g2", "g3", "g4"}, ""},
		{"first page", 2, "", []string{"g1", "g2"}, "g2"},
		{"second page", 2, "g2", []string{"g3", "g4"}, ""},
		{"page of exactly the rest has no cursor", 3, "g1", []string{"g2", "g3", "g4"}, ""},
		{"cursor need not be an allowed id", 1, "g10", []string{"g2"}, "g2"},
		{"cursor after the end", 5, "g9", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.Lookup(ctx, authz.LookupRequest{Subject: authz.Subject{Type: "user", ID: "u"}, ResourceType: "group", Permission: "member", Limit: tt.limit, Cursor: tt.cursor})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, res.IDs(), cmpEmpty); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
			if res.Cursor() != tt.next {
				t.Errorf("cursor = %q, want %q", res.Cursor(), tt.next)
			}
			if res.IDs() == nil {
				t.Errorf("IDs() = nil, want an empty list: a scoped result")
			}
		})
	}
	for _, req := range []authz.LookupRequest{
		{Subject: authz.Subject{Type: "user", ID: "u"}, ResourceType: "group", Permission: "member", Limit: -1},
		{Subject: authz.Subject{Type: "user", ID: "u"}, ResourceType: "group", Permission: "member", Cursor: "not an id"},
		{Subject: authz.Wildcard("user"), ResourceType: "group", Permission: "member"},
	} {
		if _, err := a.Lookup(ctx, req); errOutcome(err) != "invalid" {
			t.Errorf("Lookup(%+v) = %v, want an invalid request", req, err)
		}
	}
}
