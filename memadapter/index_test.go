package memadapter

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

const indexSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition doc {
	relation owner: user | group#member
	relation viewer: user | user:* | group#member
	relation parent: doc
	permission read = owner + viewer + parent->read
}
`

// TestIndexAgreesWithAModel applies random touches and deletes (with
// sets large enough to be indexed, self-references and wildcards) to the
// compact index and to a plain set of relationships, and compares every
// read and every reverse entry after each batch. When everything is
// deleted, no object is left numbered.
func TestIndexAgreesWithAModel(t *testing.T) {
	t.Parallel()
	a, err := New(indexSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[authz.Relationship]bool{}
	randomRel := func() authz.Relationship {
		doc := authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", rng.IntN(40))}
		switch rng.IntN(6) {
		case 0:
			return authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Wildcard("user")}
		case 1:
			return authz.Relationship{Resource: doc, Relation: "parent", Subject: authz.Subject{Type: "doc", ID: fmt.Sprintf("d%d", rng.IntN(40))}}
		case 2:
			g := authz.Resource{Type: "group", ID: fmt.Sprintf("g%d", rng.IntN(3))}
			if rng.IntN(2) == 0 {
				return authz.Relationship{Resource: g, Relation: "member", Subject: authz.Subject{Type: "group", ID: fmt.Sprintf("g%d", rng.IntN(3)), Relation: "member"}}
			}
			return authz.Relationship{Resource: g, Relation: "member", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(60))}}
		case 3:
			return authz.Relationship{Resource: doc, Relation: "owner", Subject: authz.Subject{Type: "group", ID: fmt.Sprintf("g%d", rng.IntN(3)), Relation: "member"}}
		}
		// Few docs, many users: viewer sets grow past outIndexAfter.
		return authz.Relationship{Resource: doc, Relation: []string{"owner", "viewer"}[rng.IntN(2)], Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(60))}}
	}
	check := func(round int) {
		t.Helper()
		var want, got []string
		for r := range model {
			want = append(want, r.String())
		}
		for _, typ := range []string{"doc", "group"} {
			res, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: typ, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range res.IDs {
				rels, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: authz.Resource{Type: typ, ID: id}})
				if err != nil {
					t.Fatal(err)
				}
				if len(rels) == 0 {
					t.Errorf("round %d: Enumerate lists %s:%s, which has no relationships", round, typ, id)
				}
				for _, r := range rels {
					got = append(got, r.String())
				}
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Fatalf("round %d: index holds %v, want %v", round, got, want)
		}
		// Every forward entry has its reverse entry and no other exists.
		g := a.graph()
		reverse := 0
		g.in.each(func(_ edgeKey, s set1[source]) { reverse += s.size() })
		if reverse != len(model) {
			t.Fatalf("round %d: %d reverse entries for %d relationships", round, reverse, len(model))
		}
		for r := range model {
			d := a.defs[r.Resource.Type]
			tg := a.targetOf(g, subject{typ: r.Subject.Type, id: r.Subject.ID, rel: r.Subject.Relation})
			src := source{obj: g.lookup(d, r.Resource.ID), subjRel: tg.rel}
			srcs := g.sources(tg.obj, d.nodes[r.Relation].id)
			if !srcs.has(src) {
				t.Fatalf("round %d: no reverse entry for %s", round, r)
			}
		}
	}
	for round := range 300 {
		var req authz.WriteRequest
		seen := map[authz.Relationship]bool{}
		for range rng.IntN(20) + 1 {
			r := randomRel()
			if seen[r] {
				continue
			}
			seen[r] = true
			if rng.IntN(3) == 0 || (round > 200 && rng.IntN(3) != 0) {
				req.Delete = append(req.Delete, r)
			} else {
				req.Touch = append(req.Touch, r)
			}
		}
		if _, err := a.Write(ctx, req); err != nil {
			t.Fatal(err)
		}
		for _, r := range req.Delete {
			delete(model, r)
		}
		for _, r := range req.Touch {
			model[r] = true
		}
		check(round)
	}
	var all []authz.Relationship
	for r := range model {
		all = append(all, r)
	}
	if _, err := a.Write(ctx, authz.WriteRequest{Delete: all}); err != nil {
		t.Fatal(err)
	}
	clear(model)
	check(-1)
	g := a.graph()
	if g.objects.count() != 0 || g.out.count() != 0 || g.sets.count() != 0 || g.in.count() != 0 {
		t.Errorf("after deleting everything: %d objects, %d forward, %d subject-set and %d reverse entries remain", g.objects.count(), g.out.count(), g.sets.count(), g.in.count())
	}
	if g.slots.n > 200 {
		t.Errorf("%d object numbers used for at most ~150 objects: freed numbers are not reused", g.slots.n)
	}
}

// each calls f for every key and value of m.
func (m *cowMap[K, V]) each(f func(K, V)) {
	if m.root == nil {
		return
	}
	for _, l := range m.root.leaves {
		if l != nil {
			for _, s := range l.shards {
				for k, v := range s {
					f(k, v)
				}
			}
		}
	}
}

// members returns the members of s.
func members[T member](s *set1[T]) map[T]bool {
	out := map[T]bool{}
	for i := range s.buckets() {
		for _, m := range s.bucket(i) {
			out[m] = true
		}
	}
	return out
}

// TestSetsAgreeWithAMap adds and removes random members of a set1 against
// a map, through every representation (empty, inline, buckets, grown
// buckets, and back), starting a new generation now and then and keeping
// the version before it: a kept version never changes.
func TestSetsAgreeWithAMap(t *testing.T) {
	t.Parallel()
	for _, universe := range []int{3, 40, 2000} {
		rng := rand.New(rand.NewPCG(uint64(universe), 3))
		var s set1[source]
		model := map[source]bool{}
		type kept struct {
			s     set1[source]
			model map[source]bool
		}
		var versions []kept
		gen := uint64(1)
		for i := range 20000 {
			if rng.IntN(50) == 0 {
				versions = append(versions, kept{s: s, model: maps.Clone(model)})
				gen++
			}
			v := source{obj: objID(rng.IntN(universe) + 1), subjRel: nodeID(rng.IntN(2))}
			if rng.IntN(5) < 3 {
				if got, want := s.add(gen, v), !model[v]; got != want {
					t.Fatalf("universe %d, step %d: add(%v) = %v, want %v", universe, i, v, got, want)
				}
				model[v] = true
			} else {
				if got, want := s.remove(gen, v), model[v]; got != want {
					t.Fatalf("universe %d, step %d: remove(%v) = %v, want %v", universe, i, v, got, want)
				}
				delete(model, v)
			}
			if s.size() != len(model) {
				t.Fatalf("universe %d, step %d: size %d, want %d", universe, i, s.size(), len(model))
			}
			if probe := (source{obj: objID(rng.IntN(universe) + 1)}); s.has(probe) != model[probe] {
				t.Fatalf("universe %d, step %d: has(%v) = %v", universe, i, probe, !model[probe])
			}
		}
		if got := members(&s); !maps.Equal(got, model) {
			t.Fatalf("universe %d: members %v, want %v", universe, got, model)
		}
		for j, k := range versions {
			if got := members(&k.s); !maps.Equal(got, k.model) || k.s.size() != len(k.model) {
				t.Fatalf("universe %d: kept version %d changed: %d members, want %d", universe, j, len(got), len(k.model))
			}
		}
	}
}
