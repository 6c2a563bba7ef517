package memadapter

import (
	"cmp"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// ptreeEntry is a key and its value, as a ptree iteration yields them.
type ptreeEntry struct {
	K uint64
	V int
}

// ptreeEntries returns the entries of t from the first key >= from, in
// the order an iterator yields them.
func ptreeEntries(t *ptree[int], from uint64) []ptreeEntry {
	var got []ptreeEntry
	for it := t.iter(from); it.next(); {
		got = append(got, ptreeEntry{it.key(), it.val()})
	}
	return got
}

// modelEntries returns the entries of m in key order.
func modelEntries(m map[uint64]int) []ptreeEntry {
	want := make([]ptreeEntry, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		want = append(want, ptreeEntry{k, m[k]})
	}
	return want
}

// checkIter compares the iteration of t from from with want, the model's
// entries from from.
func checkIter(t *testing.T, tr *ptree[int], from uint64, want []ptreeEntry) {
	t.Helper()
	if got := ptreeEntries(tr, from); !slices.Equal(want, got) {
		t.Fatalf("iter(%d) mismatch (-want +got):\n%s", from, gocmp.Diff(want, got))
	}
}

// checkPtree compares every read of t with the model m: len, min, get and
// has of every key and of absent ones, the full iteration and iterations
// from a few random keys.
func checkPtree(t *testing.T, tr *ptree[int], m map[uint64]int, r *rand.Rand) {
	t.Helper()
	if tr.len() != len(m) {
		t.Fatalf("len() = %d, want %d", tr.len(), len(m))
	}
	want := modelEntries(m)
	checkIter(t, tr, 0, want)
	k, v, ok := tr.min()
	if len(want) == 0 {
		if ok {
			t.Fatalf("min() of an empty tree = %d, %d, true", k, v)
		}
	} else if !ok || k != want[0].K || v != want[0].V {
		t.Fatalf("min() = %d, %d, %v, want %d, %d, true", k, v, ok, want[0].K, want[0].V)
	}
	for _, e := range want {
		if v, ok := tr.get(e.K); !ok || v != e.V || !tr.has(e.K) {
			t.Fatalf("get(%d) = %d, %v, want %d, true", e.K, v, ok, e.V)
		}
	}
	for range 20 {
		k := ptreeRandKey(r)
		v, ok := tr.get(k)
		wv, wok := m[k]
		if v != wv || ok != wok || tr.has(k) != wok {
			t.Fatalf("get(%d) = %d, %v, want %d, %v", k, v, ok, wv, wok)
		}
	}
	for range 5 {
		from := ptreeRandKey(r)
		i, _ := slices.BinarySearchFunc(want, from, func(e ptreeEntry, k uint64) int { return cmp.Compare(e.K, k) })
		checkIter(t, tr, from, want[i:])
	}
}

// ptreeRandKey returns a key from a small range, so that sets and deletes
// often hit present keys, or now and then from the edges of the key space.
func ptreeRandKey(r *rand.Rand) uint64 {
	switch r.IntN(50) {
	case 0:
		return 0
	case 1:
		return math.MaxUint64 - uint64(r.IntN(3))
	default:
		return uint64(r.IntN(12000))
	}
}

// ptreeRandomWrites applies n random sets and deletes to tr and to the
// model m, with runs of one gen (in-place changes) and new gens (copies).
// Before each new gen it calls publish, if not nil, with the version
// just finished. It checks each operation's answer, and the whole tree
// every 1,000 operations. insertPct is the percentage of sets.
func ptreeRandomWrites(t *testing.T, r *rand.Rand, tr *ptree[int], m map[uint64]int, gen *uint64, n, insertPct int, publish func()) {
	t.Helper()
	for op := range n {
		if r.IntN(4) == 0 {
			if publish != nil {
				publish()
			}
			*gen++
		}
		k := ptreeRandKey(r)
		if r.IntN(100) < insertPct {
			v := r.Int()
			_, had := m[k]
			if added := tr.set(*gen, k, v); added == had {
				t.Fatalf("set(%d) = %v, want %v", k, added, !had)
			}
			m[k] = v
		} else {
			_, had := m[k]
			if found := tr.delete(*gen, k); found != had {
				t.Fatalf("delete(%d) = %v, want %v", k, found, had)
			}
			delete(m, k)
		}
		wv, wok := m[k]
		if v, ok := tr.get(k); v != wv || ok != wok {
			t.Fatalf("get(%d) after op = %d, %v, want %d, %v", k, v, ok, wv, wok)
		}
		if tr.len() != len(m) {
			t.Fatalf("len() = %d after op %d, want %d", tr.len(), op, len(m))
		}
		if op%1000 == 0 {
			checkPtree(t, tr, m, r)
		}
	}
	checkPtree(t, tr, m, r)
}

// TestPtreeAgreesWithAMap applies random sets and deletes, in phases that
// grow the tree to a few levels and shrink it to nothing, and compares
// every read with a Go map.
func TestPtreeAgreesWithAMap(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var tr ptree[int]
	m := map[uint64]int{}
	gen := uint64(1)
	for _, pct := range []int{90, 50, 10, 80, 0} {
		ptreeRandomWrites(t, r, &tr, m, &gen, 15000, pct, nil)
	}
	// The last phase deletes only; empty the rest explicitly.
	for k := range m {
		gen++
		if !tr.delete(gen, k) {
			t.Fatalf("delete(%d) = false, want true", k)
		}
		delete(m, k)
	}
	checkPtree(t, &tr, m, r)
	if tr.root != nil {
		t.Fatalf("root of an emptied tree = %p, want nil", tr.root)
	}
	if tr.delete(gen, 1) {
		t.Fatal("delete(1) on an empty tree = true, want false")
	}
}

// TestPtreeVersionsNeverChange keeps every published version with a copy
// of its model and, after many later writes with new gens, checks that
// each old version still answers exactly as its model: nothing published
// is ever changed.
func TestPtreeVersionsNeverChange(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	type version struct {
		t ptree[int]
		m map[uint64]int
	}
	var (
		versions []version
		tr       ptree[int]
		m        = map[uint64]int{}
		gen      = uint64(1)
	)
	publish := func() {
		if r.IntN(20) == 0 {
			versions = append(versions, version{tr, maps.Clone(m)})
		}
	}
	for _, pct := range []int{95, 60, 20, 70} {
		ptreeRandomWrites(t, r, &tr, m, &gen, 8000, pct, publish)
	}
	if len(versions) < 50 {
		t.Fatalf("only %d versions kept", len(versions))
	}
	for _, v := range versions {
		checkPtree(t, &v.t, v.m, r)
	}
}

// ptreeShape returns the number of leaves of t and its height.
func ptreeShape[V any](t *ptree[V]) (leaves, height int) {
	var walk func(n *pnode[V], d int)
	walk = func(n *pnode[V], d int) {
		height = max(height, d)
		if n.kids == nil {
			leaves++
			return
		}
		for _, c := range n.kids {
			walk(c, d+1)
		}
	}
	if t.root != nil {
		walk(t.root, 1)
	}
	return leaves, height
}

// TestPtreeSequentialFillsLeaves inserts keys in increasing order, in
// one write and in a write per key, and checks that the leaves are full
// (an append splits off a new leaf instead of halving the full one).
func TestPtreeSequentialFillsLeaves(t *testing.T) {
	t.Parallel()
	const n = 100000
	for _, tc := range []struct {
		name     string
		newGenAt int
	}{
		{name: "one gen", newGenAt: n + 1},
		{name: "gen per key", newGenAt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr ptree[struct{}]
			gen := uint64(1)
			for k := uint64(1); k <= n; k++ {
				if int(k)%tc.newGenAt == 0 {
					gen++
				}
				tr.set(gen, k, struct{}{})
			}
			leaves, height := ptreeShape(&tr)
			if limit := (n+ptreeLeafMax-1)/ptreeLeafMax + height; leaves > limit {
				t.Errorf("%d keys in %d leaves (height %d), want at most %d", n, leaves, height, limit)
			}
			if height > 3 {
				t.Errorf("height %d, want 3", height)
			}
			i := uint64(0)
			for it := tr.iter(0); it.next(); {
				i++
				if it.key() != i {
					t.Fatalf("key %d is %d", i, it.key())
				}
			}
			if i != n {
				t.Fatalf("iterated %d keys, want %d", i, n)
			}
		})
	}
}

// TestPtreeSmallSetsStaySmall checks that a tree of one or two keys is a
// single leaf with small slices, and how much making one allocates: the
// common set of one or two members must cost little.
func TestPtreeSmallSetsStaySmall(t *testing.T) {
	var tr ptree[struct{}]
	tr.set(1, 10, struct{}{})
	tr.set(2, 20, struct{}{})
	if tr.root.kids != nil || cap(tr.root.keys) > 4 {
		t.Fatalf("two keys: leaf %v, cap(keys) %d, want a leaf with cap <= 4", tr.root.kids == nil, cap(tr.root.keys))
	}
	var same ptree[struct{}]
	same.set(1, 10, struct{}{})
	same.set(1, 20, struct{}{})
	if cap(same.root.keys) > 4 {
		t.Fatalf("two keys in one write: cap(keys) %d, want <= 4", cap(same.root.keys))
	}
	for _, tc := range []struct {
		name string
		keys int
		max  float64
	}{
		// A node and its keys; vals of struct{} are free.
		{name: "one key", keys: 1, max: 2},
		// Each set in its own write: the first key's node and keys,
		// then their copies.
		{name: "two keys", keys: 2, max: 4},
	} {
		allocs := testing.AllocsPerRun(100, func() {
			var tr ptree[struct{}]
			for i := range tc.keys {
				tr.set(uint64(i+1), uint64(i), struct{}{})
			}
		})
		if allocs > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, allocs, tc.max)
		}
	}
}

// TestPtreeReadsDoNotAllocate checks that get, has, min and an iteration
// allocate nothing.
func TestPtreeReadsDoNotAllocate(t *testing.T) {
	var tr ptree[int]
	for k := range uint64(10000) {
		tr.set(1, k*7%10007, int(k))
	}
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		v, _ := tr.get(700)
		sink += v
		if tr.has(701) {
			sink++
		}
		_, v, _ = tr.min()
		sink += v
		for it := tr.iter(5000); it.next(); {
			sink += it.val() + int(it.key())
		}
	})
	if allocs != 0 {
		t.Errorf("reads allocate %v times, want 0", allocs)
	}
}

// ptreeVersion is a published version of a ptree with the facts a reader
// checks it against.
type ptreeVersion struct {
	t ptree[int]
	// sum is the sum of the values, each of which is its key times 3.
	sum int
}

// TestPtreeReadersDuringWrites runs readers that iterate and look up the
// versions a writer publishes through an atomic pointer while the writer
// makes new versions from them; with -race it proves that readers and
// the writer share no write.
func TestPtreeReadersDuringWrites(t *testing.T) {
	t.Parallel()
	var cur atomic.Pointer[ptreeVersion]
	cur.Store(&ptreeVersion{})
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(5, 6))
			for !done.Load() {
				v := cur.Load()
				n, sum, prev := 0, 0, uint64(0)
				for it := v.t.iter(0); it.next(); {
					if n > 0 && it.key() <= prev {
						errs <- "keys out of order"
						return
					}
					prev = it.key()
					if it.val() != int(it.key())*3 {
						errs <- "wrong value"
						return
					}
					n++
					sum += it.val()
				}
				if n != v.t.len() || sum != v.sum {
					errs <- "iteration disagrees with the version's len or sum"
					return
				}
				for range 100 {
					k := uint64(r.IntN(3000))
					if got, ok := v.t.get(k); ok && got != int(k)*3 {
						errs <- "get returned a wrong value"
						return
					}
				}
			}
		})
	}
	r := rand.New(rand.NewPCG(7, 8))
	for gen := uint64(1); gen <= 2000; gen++ {
		v := *cur.Load()
		for range 1 + r.IntN(40) {
			k := uint64(r.IntN(3000))
			if r.IntN(3) > 0 {
				if v.t.set(gen, k, int(k)*3) {
					v.sum += int(k) * 3
				}
			} else if v.t.delete(gen, k) {
				v.sum -= int(k) * 3
			}
		}
		cur.Store(&v)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// ptreeBenchKeys returns n distinct random keys.
func ptreeBenchKeys(n int) []uint64 {
	r := rand.New(rand.NewPCG(9, 10))
	seen := make(map[uint64]struct{}, n)
	keys := make([]uint64, 0, n)
	for len(keys) < n {
		k := r.Uint64()
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
	}
	return keys
}

// BenchmarkPtreeGet looks up random present keys in a ptree of 1M random
// keys, and the same keys in a Go map of the same keys for comparison.
func BenchmarkPtreeGet(b *testing.B) {
	keys := ptreeBenchKeys(1 << 20)
	var tr ptree[struct{}]
	m := make(map[uint64]struct{}, len(keys))
	for _, k := range keys {
		tr.set(1, k, struct{}{})
		m[k] = struct{}{}
	}
	look := slices.Clone(keys)
	rand.New(rand.NewPCG(11, 12)).Shuffle(len(look), func(i, j int) { look[i], look[j] = look[j], look[i] })
	b.Run("ptree", func(b *testing.B) {
		found := 0
		i := 0
		for b.Loop() {
			if tr.has(look[i&(len(look)-1)]) {
				found++
			}
			i++
		}
		if found != i {
			b.Fatalf("found %d of %d", found, i)
		}
	})
	b.Run("map", func(b *testing.B) {
		found := 0
		i := 0
		for b.Loop() {
			if _, ok := m[look[i&(len(look)-1)]]; ok {
				found++
			}
			i++
		}
		if found != i {
			b.Fatalf("found %d of %d", found, i)
		}
	})
}

// BenchmarkPtreeSetSequential appends increasing keys in one write, the
// bulk-load case.
func BenchmarkPtreeSetSequential(b *testing.B) {
	var tr ptree[struct{}]
	k := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		k++
		tr.set(1, k, struct{}{})
	}
}

// BenchmarkPtreeSetRandomNewGen sets random keys in a tree of 100,000
// keys, each in a write of its own (a new gen), so that each set pays for
// copying its path.
func BenchmarkPtreeSetRandomNewGen(b *testing.B) {
	keys := ptreeBenchKeys(200000)
	var tr ptree[struct{}]
	for _, k := range keys[:100000] {
		tr.set(1, k, struct{}{})
	}
	gen := uint64(1)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		gen++
		tr.set(gen, keys[i%len(keys)], struct{}{})
		i++
	}
}
