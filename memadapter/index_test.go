package memadapter

import (
	"context"
	"fmt"
	"maps"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
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
		if st := statsOf(a); st.reverse != len(model) {
			t.Fatalf("round %d: %d reverse entries for %d relationships", round, st.reverse, len(model))
		}
		rd := a.read()
		for r := range model {
			d := a.defs[r.Resource.Type]
			tg := rd.targetOf(subject{typ: r.Subject.Type, id: r.Subject.ID, rel: r.Subject.Relation})
			src := source{obj: rd.g.lookup(d, r.Resource.ID), subjRel: tg.rel}
			srcs := rd.g.in(keyOf(tg.obj, d.nodes[r.Relation].id))
			if !srcs.has(src.packed()) {
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
	if st := statsOf(a); st != (graphStats{}) {
		t.Errorf("after deleting everything: %+v remain", st)
	}
	// At most ~150 objects of three types at a time: as many numbers,
	// and a partly used chunk per type, unless freed numbers are not
	// reused.
	if int(a.num.chunks)*chunkSize > 150+3*chunkSize {
		t.Errorf("%d chunks of numbers for at most ~150 objects: freed numbers are not reused", a.num.chunks)
	}
}

// TestSlotsAgreeWithAMap adds and removes random members of a slot
// against a map, crossing every representation (empty, inline, a tree,
// and back), with a new write generation now and then: every version of
// the slot kept along the way must still hold what it held.
func TestSlotsAgreeWithAMap(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 3))
	type version struct {
		s     slot[*edge]
		model map[uint64]*edge
	}
	var s slot[*edge]
	var kept []version
	model := map[uint64]*edge{}
	gen := uint64(1)
	for i := range 5000 {
		if rng.IntN(8) == 0 {
			kept = append(kept, version{s, maps.Clone(model)})
			gen++
		}
		v := source{obj: objID(rng.IntN(40) + 1), subjRel: nodeID(rng.IntN(2))}.packed()
		if rng.IntN(2) == 0 {
			var e *edge
			if rng.IntN(3) == 0 {
				e = &edge{expires: int64(i + 1)}
			}
			_, had := model[v]
			if got := s.add(gen, v, e); got != !had {
				t.Fatalf("step %d: add(%x) = %v, want %v", i, v, got, !had)
			}
			model[v] = e
		} else {
			_, had := model[v]
			if _, got := s.remove(gen, v); got != had {
				t.Fatalf("step %d: remove(%x) = %v, want %v", i, v, got, had)
			}
			delete(model, v)
		}
		for _, ver := range append(kept, version{s, model}) {
			if ver.s.size() != len(ver.model) {
				t.Fatalf("step %d: size %d, want %d", i, ver.s.size(), len(ver.model))
			}
			n := 0
			for it := ver.s.iter(); it.next(); n++ {
				if e, ok := ver.model[it.member()]; !ok || e != it.value() {
					t.Fatalf("step %d: member %x (value %v) is not in the model", i, it.member(), it.value())
				}
			}
			if n != len(ver.model) {
				t.Fatalf("step %d: iterated %d members, want %d", i, n, len(ver.model))
			}
		}
		if len(kept) > 20 {
			kept = kept[1:]
		}
	}
}

// eachChunk calls f with every chunk of the version and its first number.
func (g *graph) eachChunk(f func(base objID, c *chunk)) {
	for i, d := range g.dirs {
		if d == nil {
			continue
		}
		for j, pg := range d.p {
			if pg == nil {
				continue
			}
			for k, c := range pg.c {
				if c != nil {
					f(objID((i<<(2*pageShift)|j<<pageShift|k)<<chunkShift), c)
				}
			}
		}
	}
}

// graphStats counts the live objects and the members of every slot of a
// version.
type graphStats struct{ objects, forward, sets, reverse int }

// members counts the members of the slots in list.
func members(list []*slots[struct{}]) int {
	n := 0
	for _, s := range list {
		if s != nil {
			for i := range s.s {
				n += s.s[i].size()
			}
		}
	}
	return n
}

// statsOf returns the graphStats of a's current version.
func statsOf(a *Authorizer) graphStats {
	var st graphStats
	a.cur.Load().eachChunk(func(_ objID, c *chunk) {
		st.objects += bits.OnesCount32(c.live)
		for _, s := range c.fwd {
			if s != nil {
				for i := range s.s {
					st.forward += s.s[i].size()
				}
			}
		}
		st.sets += members(c.sets)
		st.reverse += members(c.rev)
	})
	return st
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
		a.revision++
		a.publish(a.apply(b), a.revision)
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
		st := statsOf(a)
		if st.reverse != len(model) {
			t.Fatalf("round %d: %d reverse entries for %d relationships", round, st.reverse, len(model))
		}
		live := 0
		for _, n := range a.num.live {
			live += n
		}
		if live != st.objects {
			t.Fatalf("round %d: %d objects counted live, %d in the version", round, live, st.objects)
		}
	}
	// At most 83 objects (40 docs, 40 users, 3 groups): as many numbers
	// and a partly used chunk per type, unless freed numbers are not
	// reused.
	if int(a.num.chunks)*chunkSize > 83+3*chunkSize {
		t.Errorf("%d chunks of numbers for at most 83 objects: freed numbers are not reused", a.num.chunks)
	}
}

// BenchmarkWriteLockHeld measures, for writes of 1,000 viewers to
// existing tasks of a 100,000-task graph (and their deletions), how long
// a write is prepared and how long it is applied (the new version built
// and published). Readers wait for neither: before versions, they waited
// for the application, under the write lock (0.15-0.18 ms a write).
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
			a.publish(a.apply(&wb), 0)
			end := time.Now()
			a.wmu.Unlock()
			prepared += mid.Sub(start)
			published += end.Sub(mid)
		}
	}
	b.ReportMetric(float64(prepared.Nanoseconds())/float64(2*b.N), "prepare-ns/write")
	b.ReportMetric(float64(published.Nanoseconds())/float64(2*b.N), "apply-ns/write")
}

// TestReadsDoNotWaitForAWriteBeingApplied prepares and applies a write of
// 2,000 relationships without publishing it, as a writer is partway
// through one, and reads meanwhile from other goroutines: they finish
// (a read takes no lock a writer holds) and see none of the write; once
// it is published they see all of it. Readers run during the apply too,
// which the race detector checks.
func TestReadsDoNotWaitForAWriteBeingApplied(t *testing.T) {
	t.Parallel()
	a, err := New(indexSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var touch []authz.Relationship
	for i := range 1000 {
		doc := authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}
		touch = append(touch,
			authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}},
			authz.Relationship{Resource: doc, Relation: "owner", Subject: authz.Subject{Type: "group", ID: "g", Relation: "member"}},
		)
	}
	check := func(i int) bool {
		d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}, Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}, Permission: "read"})
		if err != nil {
			t.Error(err)
		}
		return d.Allowed()
	}
	a.wmu.Lock() // a writer is partway through its write
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for r := range 2 {
		wg.Go(func() {
			for i := r; ; i = (i + 7) % 1000 {
				select {
				case <-stop:
					return
				default:
				}
				if check(i) {
					t.Errorf("u%d is allowed before the write is published", i)
					return
				}
				reads.Add(1)
			}
		})
	}
	b := a.batch()
	a.prepare(b, nil, touch)
	next := a.apply(b)
	for reads.Load() < 100 {
		runtime.Gosched() // readers finish reads while the writer holds wmu
	}
	close(stop)
	wg.Wait()
	a.revision++
	a.publish(next, a.revision)
	b.reset()
	a.wmu.Unlock()
	for i := range 1000 {
		if !check(i) {
			t.Fatalf("u%d is denied after the write is published", i)
		}
	}
}

// TestFreeingAndNumberingAnIdAgainKeepsNothing deletes and writes back
// the one relationship of each of five groups and users, 20,000 times in
// turn: each object is freed and gets its number back, and the free
// numbers kept stay as few as the objects freed (an id's number taken back
// once stayed in the list of free numbers: 4 bytes a cycle, without end).
func TestFreeingAndNumberingAnIdAgainKeepsNothing(t *testing.T) {
	t.Parallel()
	a, err := New(indexSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rel := func(i int) authz.Relationship {
		// Five pairs, each its group's and its user's only
		// relationship: both are freed by the deletion.
		return authz.Relationship{Resource: authz.Resource{Type: "group", ID: fmt.Sprintf("g%d", i%5)}, Relation: "member", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i%5)}}
	}
	for i := range 20_000 {
		r := rel(i)
		for _, req := range []authz.WriteRequest{{Delete: []authz.Relationship{r}}, {Touch: []authz.Relationship{r}}} {
			if _, err := a.Write(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	kept := 0
	for _, f := range a.num.free {
		kept += len(f.stack)
	}
	if kept > 64 {
		t.Errorf("%d free numbers kept after 20,000 cycles of 10 objects", kept)
	}
	d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "u4"}, Resource: authz.Resource{Type: "group", ID: "g4"}, Permission: "member"})
	if err != nil || !d.Allowed() {
		t.Errorf("u4 member of g4 = %v, %v; want allowed", d, err)
	}
}

// expirySchema has docs with plain owners and expiring guests.
const expirySchema = `use expiration
definition user {}
definition doc {
	relation owner: user
	relation guest: user with expiration
	permission view = owner + guest
}`

// TestExpiredRelationshipsAreCollected writes 1,000 relationships that
// expired an hour ago, 10 that expire tomorrow and a plain one, and then
// a few more writes: each write removes up to collectMax expired
// relationships from memory (and their objects, which nothing else
// names), answers stay the same throughout, and the unexpired ones stay.
// With a Config.Now clock (tests that may move time back) nothing is
// removed.
func TestExpiredRelationshipsAreCollected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	past, future := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	guest := func(i int, at time.Time) authz.Relationship {
		return authz.Relationship{Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}, Relation: "guest", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}, Expiration: at}
	}
	view := func(a *Authorizer, i int) bool {
		d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}, Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}, Permission: "view"})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed()
	}
	for _, fixed := range []bool{false, true} {
		var cfg Config
		if fixed {
			cfg.Now = time.Now
		}
		a, err := NewWithConfig(expirySchema, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var touch []authz.Relationship
		for i := range 1000 {
			touch = append(touch, guest(i, past))
		}
		for i := 1000; i < 1010; i++ {
			touch = append(touch, guest(i, future))
		}
		touch = append(touch, authz.Relationship{Resource: authz.Resource{Type: "doc", ID: "keep"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: "k"}})
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: touch}); err != nil {
			t.Fatal(err)
		}
		for w := range 5 {
			if view(a, 7) || !view(a, 1003) {
				t.Fatalf("fixed clock %v, after write %d: the expired guest allowed or the unexpired one denied", fixed, w)
			}
			if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "doc", ID: "keep"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("w%d", w)}}}); err != nil {
				t.Fatal(err)
			}
		}
		st := statsOf(a)
		want := 10 + 1 + 5
		if fixed {
			want += 1000
		}
		if st.forward != want || st.reverse != want {
			t.Errorf("fixed clock %v: %d forward and %d reverse entries after the writes, want %d", fixed, st.forward, st.reverse, want)
		}
		if g := a.cur.Load(); g.expiring != want-6 {
			t.Errorf("fixed clock %v: %d expiring relationships counted, want %d", fixed, g.expiring, want-6)
		}
		if !fixed && st.objects != 2*10+1+1+5 {
			t.Errorf("%d objects left, want %d (the expired guests' docs and users freed)", st.objects, 2*10+1+1+5)
		}
		if view(a, 7) || !view(a, 1003) {
			t.Errorf("fixed clock %v: the expired guest allowed or the unexpired one denied", fixed)
		}
	}
}

// TestExpiredRelationshipsAreCollectedFromADurableEngine opens a file with
// 300 relationships that expired an hour ago and 5 that expire tomorrow:
// writes after the reopen remove the expired ones from memory, answers
// stay the same, and the file, which keeps them, opens again with them.
func TestExpiredRelationshipsAreCollectedFromADurableEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	past, future := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	var touch []authz.Relationship
	for i := range 305 {
		at := past
		if i >= 300 {
			at = future
		}
		touch = append(touch, authz.Relationship{Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}, Relation: "guest", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}, Expiration: at})
	}
	a, err := Open(path, expirySchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: touch}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	for round := range 2 {
		a, err := Open(path, expirySchema, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st := statsOf(a); st.forward != 305+2*round {
			t.Fatalf("reopen %d: %d relationships loaded, want %d (the file keeps the expired ones)", round, st.forward, 305+2*round)
		}
		// Two writes: each removes up to collectMax (256) of the 300.
		for w := range 2 {
			if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "doc", ID: "keep"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("k%d-%d", round, w)}}}); err != nil {
				t.Fatal(err)
			}
		}
		if st := statsOf(a); st.forward != 5+2*round+2 {
			t.Errorf("reopen %d: %d relationships in memory after two writes, want %d", round, st.forward, 5+2*round+2)
		}
		for _, i := range []int{7, 302} {
			d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)}, Resource: authz.Resource{Type: "doc", ID: fmt.Sprintf("d%d", i)}, Permission: "view"})
			if err != nil || d.Allowed() != (i >= 300) {
				t.Errorf("reopen %d: u%d view d%d = %v, %v", round, i, i, d, err)
			}
		}
		a.Close()
	}
}

// TestExpiryEntriesOfDeletedRelationshipsDoNotPileUp grants and revokes a
// share that expires in a year 20,000 times: the writers' entries of
// expiring relationships stay near the number that exist.
func TestExpiryEntriesOfDeletedRelationshipsDoNotPileUp(t *testing.T) {
	t.Parallel()
	a, err := New(`use expiration
definition user {}
definition doc {
	relation guest: user with expiration
}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := authz.Relationship{Resource: authz.Resource{Type: "doc", ID: "d"}, Relation: "guest", Subject: authz.Subject{Type: "user", ID: "u"}}
	for i := range 20_000 {
		r.Expiration = time.Now().Add(365 * 24 * time.Hour).Add(time.Duration(i))
		if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: r}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Revoke(ctx, authz.GrantRequest{Relationship: r}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.num.expiries); n > 2*1024+2 {
		t.Errorf("%d expiry entries kept for no expiring relationship", n)
	}
}
