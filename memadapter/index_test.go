package memadapter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

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
		reverse := 0
		for _, s := range a.g.in {
			reverse += s.size()
		}
		if reverse != len(model) {
			t.Fatalf("round %d: %d reverse entries for %d relationships", round, reverse, len(model))
		}
		for r := range model {
			d := a.defs[r.Resource.Type]
			tg := a.targetOf(subject{typ: r.Subject.Type, id: r.Subject.ID, rel: r.Subject.Relation})
			src := source{obj: a.g.lookup(d, r.Resource.ID), subjRel: tg.rel}
			srcs := a.g.in[keyOf(tg.obj, d.nodes[r.Relation].id)]
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
	objects := 0
	for _, m := range a.g.objects {
		objects += len(m)
	}
	if objects != 0 || len(a.g.out) != 0 || len(a.g.sets) != 0 || len(a.g.in) != 0 {
		t.Errorf("after deleting everything: %d objects, %d forward, %d subject-set and %d reverse entries remain", objects, len(a.g.out), len(a.g.sets), len(a.g.in))
	}
	if int(a.g.end) > 200 {
		t.Errorf("%d object numbers used for at most ~150 objects: freed numbers are not reused", int(a.g.end))
	}
}

// TestSetsAgreeWithAMap adds and removes random members of set1s with
// small index thresholds, so that every representation (empty, inline,
// slice, indexed slice, and back) is crossed, against a map.
func TestSetsAgreeWithAMap(t *testing.T) {
	t.Parallel()
	for _, indexAfter := range []int{1, 2, 4, 16} {
		rng := rand.New(rand.NewPCG(uint64(indexAfter), 3))
		var s set1[source]
		model := map[source]bool{}
		for i := range 5000 {
			v := source{obj: objID(rng.IntN(40) + 1), subjRel: nodeID(rng.IntN(2))}
			if rng.IntN(2) == 0 {
				if got, want := s.add(v, indexAfter), !model[v]; got != want {
					t.Fatalf("indexAfter %d, step %d: add(%v) = %v, want %v", indexAfter, i, v, got, want)
				}
				model[v] = true
			} else {
				if got, want := s.remove(v), model[v]; got != want {
					t.Fatalf("indexAfter %d, step %d: remove(%v) = %v, want %v", indexAfter, i, v, got, want)
				}
				delete(model, v)
			}
			if s.size() != len(model) {
				t.Fatalf("indexAfter %d, step %d: size %d, want %d", indexAfter, i, s.size(), len(model))
			}
			for j := range s.size() {
				if !model[s.at(j)] || !s.has(s.at(j)) {
					t.Fatalf("indexAfter %d, step %d: member %v is not in the model", indexAfter, i, s.at(j))
				}
			}
			if probe := (source{obj: objID(rng.IntN(40) + 1)}); s.has(probe) != model[probe] {
				t.Fatalf("indexAfter %d, step %d: has(%v) = %v", indexAfter, i, probe, !model[probe])
			}
		}
	}
}

// TestBatchOfWritesAgreesWithAModel prepares many random writes into one
// batch, as a durable engine's group commit does (an object one write
// numbers, another deletes the last relationship of, a third names
// again), applies the batch at once, and compares the index with a model
// that applied the writes one by one.
func TestBatchOfWritesAgreesWithAModel(t *testing.T) {
	t.Parallel()
	a, err := New(indexSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	model := map[authz.Relationship]bool{}
	// Few objects, so that writes of a batch meet again; enough that a
	// batch numbers more than freshScan objects at times.
	const nDocs = 40
	randomRel := func() authz.Relationship {
		doc := authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", rng.IntN(nDocs))}
		switch rng.IntN(4) {
		case 0:
			return authz.Relationship{Resource: doc, Relation: "parent", Subject: authz.Subject{Type: "doc", ID: fmt.Sprintf("d%d", rng.IntN(nDocs))}}
		case 1:
			return authz.Relationship{Resource: doc, Relation: "owner", Subject: authz.Subject{Type: "group", ID: fmt.Sprintf("g%d", rng.IntN(3)), Relation: "member"}}
		}
		return authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", rng.IntN(nDocs))}}
	}
	dumpAll := func() []string {
		var got []string
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
				for _, r := range rels {
					got = append(got, r.String())
				}
			}
		}
		slices.Sort(got)
		return got
	}
	for round := range 200 {
		// The writers' reused batch, as every write uses it: what one
		// round leaves in it must not leak into the next.
		a.wmu.Lock()
		b := a.batch()
		for range rng.IntN(16) + 1 {
			var del, touch []authz.Relationship
			seen := map[authz.Relationship]bool{}
			for range rng.IntN(8) + 1 {
				r := randomRel()
				if seen[r] {
					continue
				}
				seen[r] = true
				if rng.IntN(2) == 0 {
					del = append(del, r)
				} else {
					touch = append(touch, r)
				}
			}
			a.prepare(b, del, touch)
			for _, r := range del {
				delete(model, r)
			}
			for _, r := range touch {
				model[r] = true
			}
		}
		a.mu.Lock()
		a.apply(b)
		a.mu.Unlock()
		b.reset()
		a.wmu.Unlock()
		var want []string
		for r := range model {
			want = append(want, r.String())
		}
		slices.Sort(want)
		if got := dumpAll(); !slices.Equal(want, got) {
			t.Fatalf("round %d: index holds %v, want %v", round, got, want)
		}
		reverse, numbered := 0, 0
		for _, s := range a.g.in {
			reverse += s.size()
		}
		for _, m := range a.g.objects {
			numbered += len(m)
		}
		if reverse != len(model) {
			t.Fatalf("round %d: %d reverse entries for %d relationships", round, reverse, len(model))
		}
		if free := int(a.g.end) - 1 - numbered; free != len(a.g.free) {
			t.Fatalf("round %d: %d numbers, %d numbered objects, but %d free numbers", round, int(a.g.end)-1, numbered, len(a.g.free))
		}
	}
	if int(a.g.end) > 100 {
		t.Errorf("%d object numbers used for at most 51 objects: freed numbers are not reused", int(a.g.end))
	}
}

// BenchmarkWriteLockHeld measures, for writes of 1,000 viewers to
// existing tasks of a 100,000-task graph (and their deletions), how long
// a write is prepared (outside the lock) and how long it is published
// (under the write lock, which readers wait for). Before writes were
// prepared, the lock covered both.
func BenchmarkWriteLockHeld(b *testing.B) {
	const schemaText = `
definition user {}
definition agent {
	relation owner: user
}
definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->owner
}`
	a, err := New(schemaText)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		var touch []authz.Relationship
		for j := range 1000 {
			task := authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", i, j)}
			touch = append(touch,
				authz.Relationship{Resource: task, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: fmt.Sprintf("a%03d", i)}},
				authz.Relationship{Resource: task, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-%03d-%04d", i, j)}},
			)
		}
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: touch}); err != nil {
			b.Fatal(err)
		}
	}
	rels := make([]authz.Relationship, 1000)
	var prepared, published time.Duration
	for i := 0; b.Loop(); i++ {
		for j := range rels {
			k := i*len(rels) + j
			rels[j] = authz.Relationship{
				Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", k%100, k%1000)},
				Relation: "viewer",
				Subject:  authz.Subject{Type: "user", ID: "writer"},
			}
		}
		for _, del := range []bool{false, true} {
			var wb writeBatch
			a.wmu.Lock()
			start := time.Now()
			if del {
				a.prepare(&wb, rels, nil)
			} else {
				a.prepare(&wb, nil, rels)
			}
			mid := time.Now()
			a.mu.Lock()
			a.apply(&wb)
			a.mu.Unlock()
			end := time.Now()
			a.wmu.Unlock()
			prepared += mid.Sub(start)
			published += end.Sub(mid)
		}
	}
	b.ReportMetric(float64(prepared.Nanoseconds())/float64(2*b.N), "prepare-ns/write")
	b.ReportMetric(float64(published.Nanoseconds())/float64(2*b.N), "locked-ns/write")
}
