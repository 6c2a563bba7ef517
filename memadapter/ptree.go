package memadapter

// This file holds a persistent B+tree, a building block for a
// copy-on-write, versioned index whose readers never take a lock: a
// published version is never changed again, and a writer makes the next
// version by copying the nodes it changes. Nodes carry the generation of
// the write that made them; a write changes its own nodes in place, so
// that a bulk write of many keys copies each node about once instead of
// once per key.

const (
	// ptreeLeafMax is the most entries a leaf holds.
	ptreeLeafMax = 64
	// ptreeFanout is the most children an internal node holds.
	ptreeFanout = 64
	// ptreeNodeMax is the most entries of any node, which bounds the
	// room given to a node's slices.
	ptreeNodeMax = max(ptreeLeafMax, ptreeFanout)
	// ptreeMaxHeight is the most levels (leaves included) a tree can
	// have, which sizes an iterator's stack. A node splits only when it
	// overflows, and, but for the one sequential split at the right edge
	// of a level, each half keeps at least 32 entries, so each level up
	// has about a 32nd (at worst a 16th, counting the sequential splits)
	// of the splits of the level below: 2^32 keys need 7 levels, and 16
	// levels would take more than 2^60 inserts.
	ptreeMaxHeight = 16
)

// ptree is a persistent B+tree map from uint64 keys to V, ordered by key.
// The zero value is an empty tree. A ptree value is a small header (root
// pointer and length) that is copied by value: copying it shares all
// nodes.
//
// Reads (len, get, has, iter, min) never write, so any number of
// goroutines may read a tree while a writer builds the next version from
// a copy of its header. The writer passes a generation (gen) to set and
// delete: the nodes it makes carry it and are changed in place by later
// calls with the same gen; nodes of any other gen are copied first. So a
// writer must use a gen that no published version holds (a new one for
// each version it makes), and must not share a version while it still
// writes with that version's gen. A ptree is not safe for concurrent
// writes.
type ptree[V any] struct {
	root *pnode[V]
	n    int
}

// pnode is a node of a ptree. A leaf has no kids and holds its sorted
// keys with their vals; an internal node holds len(kids)-1 separator keys
// (child i holds the keys from keys[i-1] up to, not including, keys[i])
// and no vals. A node whose gen is not the writer's is shared and never
// changed; gen 0 is never a writer's.
type pnode[V any] struct {
	gen  uint64
	keys []uint64
	vals []V
	kids []*pnode[V]
}

// len returns the number of keys in t.
func (t *ptree[V]) len() int { return t.n }

// get returns the value of k and whether k is in t.
func (t *ptree[V]) get(k uint64) (V, bool) {
	n := t.root
	if n == nil {
		var zero V
		return zero, false
	}
	for n.kids != nil {
		n = n.kids[ptreeUpper(n.keys, k)]
	}
	i := ptreeLower(n.keys, k)
	if i < len(n.keys) && n.keys[i] == k {
		return n.vals[i], true
	}
	var zero V
	return zero, false
}

// has reports whether k is in t.
func (t *ptree[V]) has(k uint64) bool {
	n := t.root
	if n == nil {
		return false
	}
	for n.kids != nil {
		n = n.kids[ptreeUpper(n.keys, k)]
	}
	i := ptreeLower(n.keys, k)
	return i < len(n.keys) && n.keys[i] == k
}

// min returns the smallest key of t and its value; ok is false if t is
// empty. It serves sets that hold one member.
func (t *ptree[V]) min() (k uint64, v V, ok bool) {
	n := t.root
	if n == nil {
		return 0, v, false
	}
	for n.kids != nil {
		n = n.kids[0]
	}
	return n.keys[0], n.vals[0], true
}

// set inserts k with v, or replaces the value of k, and reports whether
// k was new. Nodes whose gen is not gen are copied before they change
// (path copying); nodes whose gen is gen are changed in place. gen must
// not be 0.
func (t *ptree[V]) set(gen uint64, k uint64, v V) bool {
	if t.root == nil {
		t.root = &pnode[V]{gen: gen, keys: []uint64{k}, vals: []V{v}}
		t.n = 1
		return true
	}
	root, sep, right, added := t.root.insert(gen, k, v, true)
	if right != nil {
		root = &pnode[V]{
			gen:  gen,
			keys: []uint64{sep},
			kids: []*pnode[V]{root, right},
		}
	}
	t.root = root
	if added {
		t.n++
	}
	return added
}

// delete removes k, reporting whether it was there, with the copying rule
// of set. Nodes left empty are removed from their parents and a root left
// with one child gives way to it; nodes are not rebalanced otherwise (a
// sparse node costs a little memory, never a wrong answer).
func (t *ptree[V]) delete(gen uint64, k uint64) bool {
	if t.root == nil {
		return false
	}
	root, found := t.root.remove(gen, k)
	if !found {
		return false
	}
	for root != nil && len(root.kids) == 1 {
		root = root.kids[0]
	}
	t.root = root
	t.n--
	return true
}

// insert puts k and v in the subtree of n. It returns the subtree's root
// (n itself if n was changed in place or not at all) and, if the node
// split, the separator and the new right node; added reports whether k
// was new. rightmost tells that n is at the right edge of the tree, where
// an overflow at the end is taken for an append (see split).
func (n *pnode[V]) insert(gen, k uint64, v V, rightmost bool) (nn *pnode[V], sep uint64, right *pnode[V], added bool) {
	if n.kids == nil {
		i := ptreeLower(n.keys, k)
		if i < len(n.keys) && n.keys[i] == k {
			nn = n.writable(gen, 0)
			nn.vals[i] = v
			return nn, 0, nil, false
		}
		if len(n.keys) < ptreeLeafMax {
			nn = n.writable(gen, 1)
			nn.keys = ptreeInsert(nn.keys, i, k)
			nn.vals = ptreeInsert(nn.vals, i, v)
			return nn, 0, nil, true
		}
		if rightmost && i == len(n.keys) {
			// An append at the end of the tree: the full leaf stays as
			// it is (so sequential inserts leave every leaf full), and
			// the new one gets room for the appends that will follow.
			right = &pnode[V]{
				gen:  gen,
				keys: append(make([]uint64, 0, ptreeLeafMax), k),
				vals: append(make([]V, 0, ptreeLeafMax), v),
			}
			return n, k, right, true
		}
		const m = (ptreeLeafMax + 1 + 1) / 2
		owned := n.gen == gen
		lk, _, rk := ptreeSplit(n.keys, i, k, m, m, owned)
		lv, _, rv := ptreeSplit(n.vals, i, v, m, m, owned)
		right = &pnode[V]{gen: gen, keys: rk, vals: rv}
		nn = n
		if !owned {
			nn = &pnode[V]{gen: gen}
		}
		nn.keys, nn.vals = lk, lv
		return nn, rk[0], right, true
	}

	ci := ptreeUpper(n.keys, k)
	last := ci == len(n.kids)-1
	c, csep, cright, added := n.kids[ci].insert(gen, k, v, rightmost && last)
	switch {
	case cright == nil && c == n.kids[ci]:
		return n, 0, nil, added
	case cright == nil:
		nn = n.writable(gen, 0)
		nn.kids[ci] = c
		return nn, 0, nil, added
	case len(n.kids) < ptreeFanout:
		nn = n.writable(gen, 1)
		nn.kids[ci] = c
		nn.keys = ptreeInsert(nn.keys, ci, csep)
		nn.kids = ptreeInsert(nn.kids, ci+1, cright)
		return nn, 0, nil, added
	case rightmost && last:
		// An append at the end of the tree, as for a leaf: this node
		// keeps its children, the new one starts with the new child.
		nn = n.writable(gen, 0)
		nn.kids[ci] = c
		right = &pnode[V]{
			gen:  gen,
			keys: make([]uint64, 0, ptreeFanout-1),
			kids: append(make([]*pnode[V], 0, ptreeFanout), cright),
		}
		return nn, csep, right, added
	}
	// The node overflows with ptreeFanout+1 children: the left keeps m of
	// them, the right the rest, and the separator between them moves up.
	const m = (ptreeFanout + 1 + 1) / 2
	owned := n.gen == gen
	lk, sep, rk := ptreeSplit(n.keys, ci, csep, m-1, m, owned)
	lc, _, rc := ptreeSplit(n.kids, ci+1, cright, m, m, owned)
	if ci < m {
		lc[ci] = c
	} else {
		rc[ci-m] = c
	}
	nn = n
	if !owned {
		nn = &pnode[V]{gen: gen}
	}
	right = &pnode[V]{gen: gen, keys: rk, kids: rc}
	nn.keys, nn.kids = lk, lc
	return nn, sep, right, added
}

// remove deletes k from the subtree of n. It returns the subtree's root
// (n itself if n was changed in place or not at all; nil if the subtree
// is left empty) and whether k was there.
func (n *pnode[V]) remove(gen, k uint64) (nn *pnode[V], found bool) {
	if n.kids == nil {
		i := ptreeLower(n.keys, k)
		if i == len(n.keys) || n.keys[i] != k {
			return n, false
		}
		if len(n.keys) == 1 {
			return nil, true
		}
		return n.without(gen, i, i), true
	}
	ci := ptreeUpper(n.keys, k)
	c, found := n.kids[ci].remove(gen, k)
	switch {
	case !found || c == n.kids[ci]:
		return n, found
	case c != nil:
		nn = n.writable(gen, 0)
		nn.kids[ci] = c
		return nn, true
	case len(n.kids) == 1:
		return nil, true
	}
	// The child is empty: drop it and the separator on one side of it.
	return n.without(gen, max(ci-1, 0), ci), true
}

// without returns n without key ki and value or child vi, changed in
// place if gen made n, and otherwise a copy that gen owns.
func (n *pnode[V]) without(gen uint64, ki, vi int) *pnode[V] {
	owned := n.gen == gen
	nn := n
	if !owned {
		nn = &pnode[V]{gen: gen}
	}
	nn.keys = ptreeRemove(n.keys, ki, owned)
	if n.kids == nil {
		nn.vals = ptreeRemove(n.vals, vi, owned)
	} else {
		nn.kids = ptreeRemove(n.kids, vi, owned)
	}
	return nn
}

// writable returns n if it belongs to gen, or else a copy of n that does,
// with room for extra more entries.
func (n *pnode[V]) writable(gen uint64, extra int) *pnode[V] {
	if n.gen == gen {
		return n
	}
	c := &pnode[V]{gen: gen, keys: ptreeClone(n.keys, extra)}
	if n.kids == nil {
		c.vals = ptreeClone(n.vals, extra)
	} else {
		c.kids = ptreeClone(n.kids, extra)
	}
	return c
}

// ptreeRoom returns the capacity to give a copied node's slice of n
// entries: n for the smallest (most sets hold 1 to 4 members, and
// published versions are copied again anyway), a quarter more above, for
// the inserts of the same write, at most the node's maximum.
func ptreeRoom(n int) int {
	if n <= 4 {
		return n
	}
	return max(n, min(n+n/4, ptreeNodeMax))
}

// ptreeClone returns a copy of s with room for extra more entries (see
// ptreeRoom).
func ptreeClone[T any](s []T, extra int) []T {
	c := make([]T, len(s), ptreeRoom(len(s)+extra))
	copy(c, s)
	return c
}

// ptreeInsert inserts x at i in s, which the caller owns, growing it by
// doubling (up to a node's maximum) when it is full.
func ptreeInsert[T any](s []T, i int, x T) []T {
	if len(s) == cap(s) {
		g := make([]T, len(s), max(len(s)+1, min(2*len(s), ptreeNodeMax)))
		copy(g, s)
		s = g
	}
	s = s[:len(s)+1]
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

// ptreeRemove returns s without its entry at i: s itself, shifted and
// with its freed last entry cleared, if owned; a new slice otherwise.
func ptreeRemove[T any](s []T, i int, owned bool) []T {
	if owned {
		copy(s[i:], s[i+1:])
		clear(s[len(s)-1:])
		return s[:len(s)-1]
	}
	c := make([]T, len(s)-1, ptreeRoom(len(s)-1))
	copy(c, s[:i])
	copy(c[i:], s[i+1:])
	return c
}

// ptreeSplit splits s with x inserted at i: left gets the first lo
// entries, right those from hi on, and mid is the entry at lo (for an
// internal node's keys, hi is lo+1: mid is the separator that moves up
// and is in neither half). If owned, left is s itself, shortened, with
// its freed entries cleared; otherwise both are new.
func ptreeSplit[T any](s []T, i int, x T, lo, hi int, owned bool) (left []T, mid T, right []T) {
	var tmp [ptreeNodeMax + 1]T
	b := append(append(append(tmp[:0], s[:i]...), x), s[i:]...)
	mid = b[lo]
	right = make([]T, len(b)-hi, ptreeRoom(len(b)-hi))
	copy(right, b[hi:])
	if owned {
		left = s[:lo]
		copy(left, b[:lo])
		clear(s[lo:])
		return left, mid, right
	}
	left = make([]T, lo, ptreeRoom(lo))
	copy(left, b[:lo])
	return left, mid, right
}

// ptreeLower returns the index of the first key in keys that is >= k
// (len(keys) if none): where k is or would go in a leaf. A plain binary
// search: in a node of 64 keys it took 22 ns, slices.BinarySearch 25 ns
// and a branch-free form 24 ns (random keys, on the 2-core machine).
func ptreeLower(keys []uint64, k uint64) int {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if keys[m] < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// ptreeUpper returns the number of keys in keys that are <= k: the child
// of an internal node whose subtree holds k.
func ptreeUpper(keys []uint64, k uint64) int {
	lo, hi := 0, len(keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if keys[m] <= k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// piter iterates a ptree in key order without allocating: its stack of
// positions in internal nodes is an array inside it, sized for the
// deepest tree (ptreeMaxHeight). It reads only nodes that no longer
// change, so it stays valid while a writer makes later versions; it is
// not safe for concurrent use itself.
type piter[V any] struct {
	// stack holds the internal nodes from the root down to the current
	// leaf's parent, each with the index of the child being walked.
	stack [ptreeMaxHeight - 1]pframe[V]
	depth int
	// leaf is the current leaf (nil once the iteration is over), and i
	// the index in it of the key next will move to.
	leaf *pnode[V]
	i    int
}

// pframe is an internal node on a piter's stack and the index of the
// child being walked.
type pframe[V any] struct {
	n *pnode[V]
	i int
}

// iter returns an iterator positioned before the first key >= from.
func (t *ptree[V]) iter(from uint64) piter[V] {
	var it piter[V]
	n := t.root
	if n == nil {
		return it
	}
	for n.kids != nil {
		i := ptreeUpper(n.keys, from)
		it.stack[it.depth] = pframe[V]{n, i}
		it.depth++
		n = n.kids[i]
	}
	it.leaf = n
	it.i = ptreeLower(n.keys, from)
	return it
}

// next advances to the next key and reports whether there is one.
func (it *piter[V]) next() bool {
	for it.leaf != nil {
		if it.i < len(it.leaf.keys) {
			it.i++
			return true
		}
		it.nextLeaf()
	}
	return false
}

// nextLeaf moves to the first key of the leaf after the current one, or
// ends the iteration (leaf nil) if there is none.
func (it *piter[V]) nextLeaf() {
	for it.depth > 0 {
		f := &it.stack[it.depth-1]
		f.i++
		if f.i == len(f.n.kids) {
			it.depth--
			continue
		}
		n := f.n.kids[f.i]
		for n.kids != nil {
			it.stack[it.depth] = pframe[V]{n, 0}
			it.depth++
			n = n.kids[0]
		}
		it.leaf, it.i = n, 0
		return
	}
	it.leaf = nil
}

// key returns the key next moved to; it is valid only after next
// returned true.
func (it *piter[V]) key() uint64 { return it.leaf.keys[it.i-1] }

// val returns the value of the key next moved to; it is valid only after
// next returned true.
func (it *piter[V]) val() V { return it.leaf.vals[it.i-1] }
