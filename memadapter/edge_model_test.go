package memadapter

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
)

const edgeModelSchema = `use expiration
caveat over_one(x int) {
	x > 1
}
definition user {}
definition group {
	relation member: user | user with expiration
}
definition doc {
	relation viewer: user | user with expiration | user with over_one | group#member | group#member with expiration
	permission view = viewer
}
`

// edgeModelAuthorizer returns an Authorizer of edgeModelSchema whose
// clock stands still at now.
func edgeModelAuthorizer(t *testing.T) (*Authorizer, time.Time) {
	t.Helper()
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := NewWithConfig(edgeModelSchema, Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return a, now
}

// edgeKind is what a relationship of the model carries.
type edgeKind int

const (
	plainEdge   edgeKind = iota
	futureEdge           // expires after the clock
	pastEdge             // expired
	decidedEdge          // over_one with x = 2 stored: holds
	openEdge             // over_one with nothing stored: conditional
)

// TestEdgesFollowWritesAgainstAModel writes random relationships with and
// without caveats and expirations to the same few sets (touching again with
// another kind, deleting, several in one write) and after every write
// compares what every read answers, and the graph's counts of conditioned
// and expiring relationships, with a plain map of what was written: the
// caveats and expirations the graph holds must follow
// its members through every change, so that no relationship keeps an
// edge it lost or loses one it has (an expired relationship shown again
// would be an allow the graph denies).
func TestEdgesFollowWritesAgainstAModel(t *testing.T) {
	t.Parallel()
	a, now := edgeModelAuthorizer(t)
	ctx := t.Context()
	type key = edgeModelKey
	model := map[key]edgeKind{}
	docs := []string{"d0", "d1", "d2"}
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	groups := []string{"g0", "g1"}
	relOf := func(k key, kind edgeKind) authz.Relationship {
		typ := "doc"
		if k.rel == "member" {
			typ = "group"
		}
		subTyp := "user"
		if k.subRel != "" {
			subTyp = "group"
		}
		r := authz.Relationship{Resource: authz.Resource{Type: typ, ID: k.res}, Relation: k.rel, Subject: authz.Subject{Type: subTyp, ID: k.sub, Relation: k.subRel}}
		switch kind {
		case futureEdge:
			r.Expiration = now.Add(time.Hour)
		case pastEdge:
			r.Expiration = now.Add(-time.Hour)
		case decidedEdge:
			r.Caveat = authz.Caveat{Name: "over_one", Context: authz.NewContext(map[string]any{"x": 2})}
		case openEdge:
			r.Caveat = authz.Caveat{Name: "over_one"}
		}
		return r
	}
	randomKey := func(rng *rand.Rand) (key, []edgeKind) {
		switch rng.IntN(3) {
		case 0:
			return key{res: groups[rng.IntN(len(groups))], rel: "member", sub: users[rng.IntN(len(users))]}, []edgeKind{plainEdge, futureEdge, pastEdge}
		case 1:
			return key{res: docs[rng.IntN(len(docs))], rel: "viewer", sub: groups[rng.IntN(len(groups))], subRel: "member"}, []edgeKind{plainEdge, futureEdge, pastEdge}
		}
		return key{res: docs[rng.IntN(len(docs))], rel: "viewer", sub: users[rng.IntN(len(users))]}, []edgeKind{plainEdge, futureEdge, pastEdge, decidedEdge, openEdge}
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for step := range 3000 {
		var req authz.WriteRequest
		seen := map[key]bool{}
		for range 1 + rng.IntN(3) {
			k, kinds := randomKey(rng)
			if seen[k] {
				continue
			}
			seen[k] = true
			if rng.IntN(3) == 0 {
				req.Delete = append(req.Delete, relOf(k, plainEdge))
				delete(model, k)
				continue
			}
			kind := kinds[rng.IntN(len(kinds))]
			req.Touch = append(req.Touch, relOf(k, kind))
			model[k] = kind
		}
		if _, err := a.Write(ctx, req); err != nil {
			t.Fatalf("step %d: Write: %v", step, err)
		}
		compareEdgeModel(t, a, step, model, func(k key) string { return fmt.Sprint(relOf(k, model[k])) }, docs, users, groups)
	}
}

// edgeModelKey is a relationship of the model, without its edge.
type edgeModelKey struct{ res, rel, sub, subRel string }

// compareEdgeModel compares a with model after step.
func compareEdgeModel(t *testing.T, a *Authorizer, step int, model map[edgeModelKey]edgeKind, show func(edgeModelKey) string, docs, users, groups []string) {
	t.Helper()
	ctx := t.Context()
	conditioned, expiring := 0, 0
	for _, kind := range model {
		if kind != plainEdge {
			conditioned++
		}
		if kind == futureEdge || kind == pastEdge {
			expiring++
		}
	}
	g := a.cur.Load()
	gotCond, gotExp := g.conditioned, g.expiring
	if gotCond != conditioned || gotExp != expiring {
		t.Fatalf("step %d: graph counts %d conditioned, %d expiring; the model %d, %d", step, gotCond, gotExp, conditioned, expiring)
	}
	want := map[string]bool{}
	for k, kind := range model {
		if kind != pastEdge {
			want[show(k)] = true
		}
	}
	got := map[string]bool{}
	for _, res := range append(append([]authz.Resource{}, resources("doc", docs)...), resources("group", groups)...) {
		rels, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: res})
		if err != nil {
			t.Fatalf("step %d: ReadRelationships(%v): %v", step, res, err)
		}
		for _, r := range rels {
			got[fmt.Sprint(r)] = true
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("step %d: the graph reads\n%v\nthe model\n%v", step, got, want)
	}
	// Every user's view of every doc: allowed through a visible plain or
	// decided relationship, or through a visible membership of a group
	// that is a visible viewer; conditional through an open caveat only.
	for _, doc := range docs {
		for _, u := range users {
			allowed, conditional := false, false
			if kind, ok := model[edgeModelKey{doc, "viewer", u, ""}]; ok && kind != pastEdge {
				allowed = kind != openEdge
				conditional = kind == openEdge
			}
			for _, g := range groups {
				viewer, ok := model[edgeModelKey{doc, "viewer", g, "member"}]
				member, ok2 := model[edgeModelKey{g, "member", u, ""}]
				if ok && ok2 && viewer != pastEdge && member != pastEdge {
					allowed = true
				}
			}
			d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: u}, Resource: authz.Resource{Type: "doc", ID: doc}, Permission: "view"})
			if err != nil {
				t.Fatalf("step %d: Check: %v", step, err)
			}
			if d.Allowed() != allowed || (!allowed && d.Conditional() != conditional) {
				t.Fatalf("step %d: %s view %s = %v (conditional %v); the model allowed %v, conditional %v", step, u, doc, d.Allowed(), d.Conditional(), allowed, conditional)
			}
		}
	}
}

// resources returns the resources of type typ with ids.
func resources(typ string, ids []string) []authz.Resource {
	out := make([]authz.Resource, len(ids))
	for i, id := range ids {
		out[i] = authz.Resource{Type: typ, ID: id}
	}
	return out
}

// TestExpiredEdgesStayHiddenAsTheGraphGrows writes 12,000 viewers in
// writes of 500, two in three expired, plain ones between them and some
// expired ones deleted again (the slots holding them copied by each write
// that touches their chunk), and checks at the end that every expired
// viewer is denied and every plain one allowed.
func TestExpiredEdgesStayHiddenAsTheGraphGrows(t *testing.T) {
	t.Parallel()
	a, now := edgeModelAuthorizer(t)
	ctx := t.Context()
	viewer := func(i int, expired bool) authz.Relationship {
		r := authz.Relationship{Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%05d", i)}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%05d", i)}}
		if expired {
			r.Expiration = now.Add(-time.Minute)
		}
		return r
	}
	const n = 12_000
	for start := 0; start < n; start += 500 {
		var req authz.WriteRequest
		for i := start; i < start+500; i++ {
			req.Touch = append(req.Touch, viewer(i, i%3 != 0))
		}
		if start > 0 {
			for i := start - 500; i < start; i += 7 {
				if i%3 != 0 {
					req.Delete = append(req.Delete, viewer(i, true))
				}
			}
		}
		if _, err := a.Write(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%05d", i)}, Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%05d", i)}, Permission: "view"})
		if err != nil {
			t.Fatal(err)
		}
		if want := i%3 == 0; d.Allowed() != want {
			t.Fatalf("u%05d view d%05d = %v, want %v (expired: %v)", i, i, d.Allowed(), want, !want)
		}
	}
}
