package memadapter

import (
	"hash/maphash"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// The relationships are held in versions of a compact graph. A version is
// never changed once it is published: a write builds the next version
// from the current one and publishes it with one atomic store, and a read
// loads the current version once and reads only it. Readers therefore take
// no lock and never wait, not for a writer's validation, its disk, nor its
// index updates; a read sees all of a write or none of it, because it
// reads one version throughout.
//
// Every object (a type and an id) that appears in a relationship is
// numbered (an objID). Numbers are handed out in chunks of 16 that each
// belong to one type, and a chunk holds, for its objects, their ids and,
// by relation, a slot of the subjects of each (forward, for checks), of
// its subject-set subjects again (so that checks walk only those), and of
// the resources related to each as a subject (reverse, for lookups). A
// slot holds one member inline, with its caveat and expiration if it has
// them; more members go in a persistent B+tree (ptree). Chunks sit in
// pages of 32, those pages in pages of 32, and the version holds those.
//
// A write copies what it changes and only that: the pages, chunks, slot
// arrays and tree nodes on the paths to its changes, each once per write
// (everything carries the generation of the write that made it, and a
// write changes what it made itself in place). A grant allocates about
// 3.5 KB; a bulk load, whose new objects are numbered consecutively into
// new chunks, copies almost nothing. What a version no longer shares with
// the current one is left to the collector once no reader holds it, so
// old versions need no bookkeeping. The copies are what readers pay for a
// writer now: its garbage makes the collector run more, on the cores they
// share (measured in BenchmarkCheckUnderWriter: with the collector off, a
// writer of single relationships at 220,000 writes/s cost checks 1.18x;
// with it on, chunks of 16 objects cost them 1.36x where chunks of 64
// cost 1.6x, for the same heap per relationship).
//
// Ids are found by number through one table per type (idTable), which is
// not versioned: a writer only adds to it, in place, with atomic stores,
// and a reader verifies every number it finds there against the id its
// own version holds for that number. An entry for an object created after
// the reader's version, or for a number freed and numbered again since,
// fails that check, so the table answers each version as of that version.
// A freed object keeps its id and entry while its number is free, and an
// id written again gets that number back. Other entries of freed objects
// stay until the table is half full, stale ones included; it is then
// rebuilt, for the new version only, from that version's objects of the
// type, and the old table is left to the versions that hold it.
//
// Weighed and not taken: a readers-writer lock (what this replaced:
// readers waited for every write's publication, 2.1-2.8x check latency
// under one continuous writer on 2 cores), two copies that readers and the
// writer swap (left-right: the heap doubles and every write is applied
// twice) and copy-on-write hash maps (hashing scatters a write's entries,
// so a bulk load copied most of the maps many times over).

// objID numbers an object; 0 is no object.
type objID uint32

// nodeID numbers a relation or permission; 0 is none (a subject without a
// subject relation).
type nodeID uint16

// edgeKey is an object and a relation: obj<<16 | node.
type edgeKey uint64

func keyOf(obj objID, n nodeID) edgeKey { return edgeKey(obj)<<16 | edgeKey(n) }

// target is the subject end of a relationship: an object and, for a
// subject set (group:eng#member), the node of its relation.
type target struct {
	obj objID
	rel nodeID
}

// packed returns t as one integer: obj<<16 | rel, never 0 for an object.
func (t target) packed() uint64 { return uint64(t.obj)<<16 | uint64(t.rel) }

// unpackTarget is the inverse of target.packed.
func unpackTarget(v uint64) target { return target{obj: objID(v >> 16), rel: nodeID(v)} }

// source is the resource end of a relationship seen from its subject: the
// resource object and the subject's relation.
type source struct {
	obj     objID
	subjRel nodeID
}

// packed returns s as one integer: obj<<16 | subjRel.
func (s source) packed() uint64 { return uint64(s.obj)<<16 | uint64(s.subjRel) }

// unpackSource is the inverse of source.packed.
func unpackSource(v uint64) source { return source{obj: objID(v >> 16), subjRel: nodeID(v)} }

// Chunks of numbers and pages of chunks.
const (
	chunkShift = 4
	chunkSize  = 1 << chunkShift
	pageShift  = 5
	pageSize   = 1 << pageShift
)

// graph is one version of the relationships; see the top of this file.
// Once published (Authorizer.cur) it is only read.
type graph struct {
	// gen is the generation of the write that made this version: what
	// carries it was made by that write and is not shared with an
	// earlier version.
	gen uint64
	// rev is the revision of the version, which tokens carry.
	rev uint64
	// dirs holds the chunks by number, through two levels of pages;
	// dirsGen is the gen of the slice itself.
	dirs    []*dirPage
	dirsGen uint64
	// ids holds the idTable of each definition, by its idx; idsGen is
	// the gen of the slice.
	ids    []*idTable
	idsGen uint64
	// chunksOf holds, by definition, the first number of each of its
	// chunks, in the order they were made; chunksGen is the gen of the
	// outer slice. An inner slice only grows, so versions share it.
	chunksOf  [][]objID
	chunksGen uint64
	// seed seeds the hashes of ids.
	seed maphash.Seed
	// conditioned counts the relationships that have a caveat or an
	// expiration, expiring those with an expiration.
	conditioned int
	expiring    int
	// nodes is the number of nodes (the length of the by-node slices of
	// a chunk).
	nodes int
}

// dirPage holds 32 chunkPages.
type dirPage struct {
	gen uint64
	p   [pageSize]*chunkPage
}

// chunkPage holds 32 chunks.
type chunkPage struct {
	gen uint64
	c   [pageSize]*chunk
}

// chunk holds 16 objects of one definition: their ids (names), and by
// node (a relation) their slots. A slice is nil until a relationship of
// the chunk needs it, and so is each slot array in it.
type chunk struct {
	gen uint64
	def *definition
	// live has the bit 1<<i set while object i of the chunk is live;
	// names keeps the id of a freed object until its number is used
	// again, so that freeing and numbering an id again (see freeList)
	// copies no names.
	live  uint32
	names *names
	// fwd holds the subjects of each object's relations; sets the
	// subject-set subjects among them again; rev the resources related
	// to each object as a subject, by the resource's relation.
	fwd  []*slots[*edge]
	sets []*slots[struct{}]
	rev  []*slots[struct{}]
}

// names holds the ids of a chunk's objects.
type names struct {
	gen uint64
	n   [chunkSize]string
}

// slots holds a slot for each object of a chunk.
type slots[V comparable] struct {
	gen uint64
	s   [chunkSize]slot[V]
}

// slot is a set of packed members (targets or sources), each with a value
// (a forward member's caveat and expiration, nil for a plain one): one
// member inline (one, v), more in many. A set has one or the other.
type slot[V comparable] struct {
	one  uint64
	v    V
	many *mset[V]
}

// mset is the members of a slot that has more than one.
type mset[V any] struct {
	gen uint64
	t   ptree[V]
}

// size returns the number of members.
func (s *slot[V]) size() int {
	if s.many != nil {
		return s.many.t.len()
	}
	if s.one != 0 {
		return 1
	}
	return 0
}

// find returns the value of member m and whether m is a member.
func (s *slot[V]) find(m uint64) (V, bool) {
	if s.many != nil {
		return s.many.t.get(m)
	}
	if s.one == m && m != 0 {
		return s.v, true
	}
	var zero V
	return zero, false
}

// has reports whether m is a member.
func (s *slot[V]) has(m uint64) bool {
	_, ok := s.find(m)
	return ok
}

// iter returns an iterator over the members, in order.
func (s *slot[V]) iter() slotIter[V] {
	if s.many != nil {
		return slotIter[V]{many: true, it: s.many.t.iter(0)}
	}
	return slotIter[V]{one: s.one, v: s.v}
}

// slotIter iterates the members of a slot.
type slotIter[V comparable] struct {
	many bool
	it   piter[V]
	one  uint64
	v    V
	cur  uint64
	curV V
}

// next moves to the next member, reporting whether there is one.
func (it *slotIter[V]) next() bool {
	if it.many {
		return it.it.next()
	}
	if it.one == 0 {
		return false
	}
	it.cur, it.curV, it.one = it.one, it.v, 0
	return true
}

// member returns the current member.
func (it *slotIter[V]) member() uint64 {
	if it.many {
		return it.it.key()
	}
	return it.cur
}

// value returns the current member's value.
func (it *slotIter[V]) value() V {
	if it.many {
		return it.it.val()
	}
	return it.curV
}

// add adds member m with value v, or gives an existing m the value v,
// reporting whether m was missing; gen is the write's.
func (s *slot[V]) add(gen, m uint64, v V) bool {
	switch {
	case s.many != nil:
		s.many = s.many.own(gen)
		return s.many.t.set(gen, m, v)
	case s.one == 0:
		s.one, s.v = m, v
		return true
	case s.one == m:
		s.v = v
		return false
	}
	ms := &mset[V]{gen: gen}
	ms.t.set(gen, s.one, s.v)
	ms.t.set(gen, m, v)
	var zero V
	s.one, s.v, s.many = 0, zero, ms
	return true
}

// remove removes member m, returning its value and whether it was there.
func (s *slot[V]) remove(gen, m uint64) (V, bool) {
	var zero V
	if s.many == nil {
		if s.one != m || m == 0 {
			return zero, false
		}
		v := s.v
		s.one, s.v = 0, zero
		return v, true
	}
	v, ok := s.many.t.get(m)
	if !ok {
		return zero, false
	}
	ms := s.many.own(gen)
	ms.t.delete(gen, m)
	switch ms.t.len() {
	case 0:
		s.many = nil
	case 1:
		s.one, s.v, _ = ms.t.min()
		s.many = nil
	default:
		s.many = ms
	}
	return v, true
}

// own returns m if write gen made it, and otherwise a copy that it owns.
func (m *mset[V]) own(gen uint64) *mset[V] {
	if m.gen == gen {
		return m
	}
	c := *m
	c.gen = gen
	return &c
}

// chunkOf returns the chunk of o, or nil if o is past the version's.
func (g *graph) chunkOf(o objID) *chunk {
	c := uint(o) >> chunkShift
	if c>>(2*pageShift) >= uint(len(g.dirs)) {
		return nil
	}
	d := g.dirs[c>>(2*pageShift)]
	if d == nil {
		return nil
	}
	pg := d.p[(c>>pageShift)&(pageSize-1)]
	if pg == nil {
		return nil
	}
	return pg.c[c&(pageSize-1)]
}

// name returns the id of o, or "" if o is not an object of the version.
func (g *graph) name(o objID) string {
	if c := g.chunkOf(o); c != nil && c.live&(1<<(o&(chunkSize-1))) != 0 {
		return c.names.n[o&(chunkSize-1)]
	}
	return ""
}

// defOf returns the definition of o, an object of the version.
func (g *graph) defOf(o objID) *definition { return g.chunkOf(o).def }

// out returns the subjects of key k (an object and a relation).
func (g *graph) out(k edgeKey) slot[*edge] {
	o, n := objID(k>>16), nodeID(k)
	if c := g.chunkOf(o); c != nil && int(n) < len(c.fwd) && c.fwd[n] != nil {
		return c.fwd[n].s[o&(chunkSize-1)]
	}
	return slot[*edge]{}
}

// subjectSets returns the subject-set subjects of key k.
func (g *graph) subjectSets(k edgeKey) slot[struct{}] {
	o, n := objID(k>>16), nodeID(k)
	if c := g.chunkOf(o); c != nil && int(n) < len(c.sets) && c.sets[n] != nil {
		return c.sets[n].s[o&(chunkSize-1)]
	}
	return slot[struct{}]{}
}

// in returns the resources related by relation n(k) to object obj(k) as
// a subject.
func (g *graph) in(k edgeKey) slot[struct{}] {
	o, n := objID(k>>16), nodeID(k)
	if c := g.chunkOf(o); c != nil && int(n) < len(c.rev) && c.rev[n] != nil {
		return c.rev[n].s[o&(chunkSize-1)]
	}
	return slot[struct{}]{}
}

// hasEdges reports whether any relationship has a caveat or an
// expiration.
func (g *graph) hasEdges() bool { return g.conditioned > 0 }

// edgeOf returns the caveat and expiration of the relationship of key k to
// t, or the zero edge.
func (g *graph) edgeOf(k edgeKey, t target) edge {
	if g.conditioned == 0 {
		return edge{}
	}
	s := g.out(k)
	if e, _ := s.find(t.packed()); e != nil {
		return *e
	}
	return edge{}
}

// lookup returns the objID of object id of d, or 0.
func (g *graph) lookup(d *definition, id string) objID {
	t := g.ids[d.idx]
	if t == nil {
		return 0
	}
	return t.find(g, id, maphash.String(g.seed, id))
}

// eachObject calls f with every object of d in the version and its id.
func (g *graph) eachObject(d *definition, f func(o objID, id string)) {
	for _, base := range g.chunksOf[d.idx] {
		c := g.chunkOf(base)
		for j, id := range c.names.n {
			if c.live&(1<<j) != 0 {
				f(base|objID(j), id)
			}
		}
	}
}

// idTable finds the numbers of a definition's objects by id: an
// open-addressed table, probed linearly from a hash of the id, of the
// hash's top 32 bits and the number (0 is an empty slot). Writers add to
// it in place with atomic stores, and readers of any version may read it
// meanwhile; see the top of this file.
type idTable struct {
	slots []atomic.Uint64
	// used counts the slots filled, stale entries included; only
	// writers read it.
	used int
}

// find returns the number of id, whose hash is h, in version g, or 0.
func (t *idTable) find(g *graph, id string, h uint64) objID {
	mask := uint64(len(t.slots) - 1)
	tag := h >> 32
	for i := h & mask; ; i = (i + 1) & mask {
		v := t.slots[i].Load()
		if v == 0 {
			return 0
		}
		if v>>32 == tag {
			if o := objID(v); g.name(o) == id {
				return o
			}
		}
	}
}

// insert adds o with hash h; the table has room (see graph.place).
func (t *idTable) insert(h uint64, o objID) {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if t.slots[i].Load() == 0 {
			t.slots[i].Store(h>>32<<32 | uint64(o))
			t.used++
			return
		}
	}
}

// numbering is the writers' record of numbers: which chunks are handed
// out, each definition's chunk with numbers left and its freed numbers,
// and how many relationship ends name each object. Only writers (under
// wmu) use it.
type numbering struct {
	// expiries holds the expiring relationships by expiration, for
	// collectExpired; see there.
	expiries expiryHeap
	chunks   uint32
	// open is, by definition, the next number of its chunk with numbers
	// left, or 0.
	open []objID
	free []freeList
	live []int
	refs []*[chunkSize]uint32
}

// freeList holds the freed numbers of a definition, with the id each
// had last: an object freed and numbered again (an id whose last
// relationship is deleted and then written again, over and over) gets
// its old number back, whose entry in the idTable still stands, so that
// such churn adds no entry to it.
type freeList struct {
	stack []objID
	// byID and idOf map the numbers in stack to their last ids and
	// back; a number taken by its id (byID) stays in stack, without an
	// idOf entry, and is skipped there.
	byID map[string]objID
	idOf map[objID]string
}

// push frees o, whose id was id.
func (f *freeList) push(o objID, id string) {
	if f.byID == nil {
		f.byID, f.idOf = make(map[string]objID), make(map[objID]string)
	}
	f.stack = append(f.stack, o)
	f.byID[id], f.idOf[o] = o, id
}

// take returns a free number, id's own if it had one (back), or 0.
func (f *freeList) take(id string) (o objID, back bool) {
	if o, ok := f.byID[id]; ok {
		delete(f.byID, id)
		delete(f.idOf, o)
		f.tidy()
		return o, true
	}
	for len(f.stack) > 0 {
		o := f.stack[len(f.stack)-1]
		f.stack = f.stack[:len(f.stack)-1]
		if last, ok := f.idOf[o]; ok {
			delete(f.idOf, o)
			delete(f.byID, last)
			return o, false
		}
	}
	return 0, false
}

// tidy drops from stack the numbers their ids took back (see take), so
// that an id freed and numbered again, over and over, does not grow it:
// those on top at once, the others when they are half of it.
func (f *freeList) tidy() {
	for n := len(f.stack); n > 0; n = len(f.stack) {
		if _, free := f.idOf[f.stack[n-1]]; free {
			break
		}
		f.stack = f.stack[:n-1]
	}
	if len(f.stack) > 2*len(f.idOf)+16 {
		f.stack = slices.DeleteFunc(f.stack, func(o objID) bool {
			_, free := f.idOf[o]
			return !free
		})
	}
}

// alloc returns a number for a new object id of d, and whether it is the
// number id had before it was freed (see freeList).
func (nb *numbering) alloc(d *definition, id string) (objID, bool) {
	if o, back := nb.free[d.idx].take(id); o != 0 {
		return o, back
	}
	o := nb.open[d.idx]
	if o == 0 {
		o = objID(nb.chunks) << chunkShift
		nb.chunks++
		nb.refs = append(nb.refs, new([chunkSize]uint32))
		if o == 0 {
			o = 1 // 0 is no object
		}
	}
	nb.open[d.idx] = o + 1
	if (o+1)&(chunkSize-1) == 0 {
		nb.open[d.idx] = 0
	}
	return o, false
}

// ref returns the count of relationship ends that name o.
func (nb *numbering) ref(o objID) *uint32 { return &nb.refs[o>>chunkShift][o&(chunkSize-1)] }

// next returns a new version made from g for the next write, sharing all
// of g until the write changes it.
func (g *graph) next() *graph {
	n := *g
	n.gen = g.gen + 1
	return &n
}

// chunkFor returns o's chunk in g, owned by g's write, making it (for d)
// if o has none.
func (g *graph) chunkFor(o objID, d *definition) *chunk {
	if g.dirsGen != g.gen {
		g.dirs = slices.Clone(g.dirs)
		g.dirsGen = g.gen
	}
	ci := int(o >> chunkShift)
	p := ci >> (2 * pageShift)
	for len(g.dirs) <= p {
		g.dirs = append(g.dirs, nil)
	}
	pg := own(&own(&g.dirs[p], g.gen).p[(ci>>pageShift)&(pageSize-1)], g.gen)
	i := ci & (pageSize - 1)
	c := pg.c[i]
	switch {
	case c == nil:
		c = &chunk{gen: g.gen, def: d}
		pg.c[i] = c
		if g.chunksGen != g.gen {
			g.chunksOf = slices.Clone(g.chunksOf)
			g.chunksGen = g.gen
		}
		g.chunksOf[d.idx] = append(g.chunksOf[d.idx], o&^(chunkSize-1))
	case c.gen != g.gen:
		cc := *c
		cc.gen = g.gen
		cc.fwd, cc.sets, cc.rev = slices.Clone(c.fwd), slices.Clone(c.sets), slices.Clone(c.rev)
		c = &cc
		pg.c[i] = c
	}
	return c
}

// ownSlots returns the slot array at n of *list, owned by write gen,
// making the list (of length size) and the array if needed.
func ownSlots[V comparable](list *[]*slots[V], n nodeID, size int, gen uint64) *slots[V] {
	if *list == nil {
		*list = make([]*slots[V], size)
	}
	return own(&(*list)[n], gen)
}

// versioned is what a write copies before it changes it, unless the write
// made it: a page or a slot array, which knows the write that made it.
type versioned[T any] interface {
	*T
	madeBy() uint64
	setMadeBy(gen uint64)
}

// own returns *at, or a new one, owned by write gen: a copy of *at if
// another write made it, which then replaces it in *at.
func own[T any, P versioned[T]](at *P, gen uint64) P {
	p := *at
	switch {
	case p == nil:
		p = P(new(T))
	case p.madeBy() != gen:
		c := P(new(T))
		*(*T)(c) = *(*T)(p)
		p = c
	default:
		return p
	}
	p.setMadeBy(gen)
	*at = p
	return p
}

func (p *dirPage) madeBy() uint64         { return p.gen }
func (p *dirPage) setMadeBy(gen uint64)   { p.gen = gen }
func (p *chunkPage) madeBy() uint64       { return p.gen }
func (p *chunkPage) setMadeBy(gen uint64) { p.gen = gen }
func (s *slots[V]) madeBy() uint64        { return s.gen }
func (s *slots[V]) setMadeBy(gen uint64)  { s.gen = gen }

// fwdSlot returns the forward slot of o and n for the write to change.
func (g *graph) fwdSlot(o objID, n nodeID) *slot[*edge] {
	c := g.chunkFor(o, nil)
	return &ownSlots(&c.fwd, n, g.nodes, g.gen).s[o&(chunkSize-1)]
}

// setsSlot returns the subject-set slot of o and n for the write to
// change.
func (g *graph) setsSlot(o objID, n nodeID) *slot[struct{}] {
	c := g.chunkFor(o, nil)
	return &ownSlots(&c.sets, n, g.nodes, g.gen).s[o&(chunkSize-1)]
}

// revSlot returns the reverse slot of o and n for the write to change.
func (g *graph) revSlot(o objID, n nodeID) *slot[struct{}] {
	c := g.chunkFor(o, nil)
	return &ownSlots(&c.rev, n, g.nodes, g.gen).s[o&(chunkSize-1)]
}

// place gives object id of d number o (from numbering.alloc) in g; back
// reports that o is the number id had before it was freed.
func (g *graph) place(nb *numbering, o objID, d *definition, id string, back bool) {
	c := g.chunkFor(o, d)
	switch {
	case c.names == nil:
		c.names = &names{gen: g.gen}
	case c.names.n[o&(chunkSize-1)] == id:
		// Its old number (see freeList): the names are as they were,
		// and may be a published version's, which must not be written.
	case c.names.gen != g.gen:
		n := *c.names
		n.gen = g.gen
		c.names = &n
	}
	if c.names.n[o&(chunkSize-1)] != id {
		c.names.n[o&(chunkSize-1)] = id
	}
	c.live |= 1 << (o & (chunkSize - 1))
	nb.live[d.idx]++
	t := g.ids[d.idx]
	h := maphash.String(g.seed, id)
	if back && t != nil && t.find(g, id, h) == o {
		return // id's old number, whose entry the table still holds
	}
	if t == nil || 2*(t.used+1) > len(t.slots) {
		// Rebuild from the version's objects of d (o among them now),
		// for this version only: older ones keep the old table.
		size := 64
		for size < 4*nb.live[d.idx] {
			size *= 2
		}
		t = &idTable{slots: make([]atomic.Uint64, size)}
		g.eachObject(d, func(o objID, id string) { t.insert(maphash.String(g.seed, id), o) })
		if g.idsGen != g.gen {
			g.ids = slices.Clone(g.ids)
			g.idsGen = g.gen
		}
		g.ids[d.idx] = t
		return
	}
	t.insert(h, o)
}

// release frees o if nothing names it any more: its id goes, and its
// number is free for another object of its type.
func (g *graph) release(nb *numbering, o objID) {
	if *nb.ref(o) > 0 || g.name(o) == "" {
		return
	}
	c := g.chunkFor(o, nil)
	c.live &^= 1 << (o & (chunkSize - 1))
	id := c.names.n[o&(chunkSize-1)]
	nb.live[c.def.idx]--
	nb.free[c.def.idx].push(o, id)
}

func newGraph(defs, nodes int, seed maphash.Seed) (*graph, numbering) {
	return &graph{gen: 1, ids: make([]*idTable, defs), chunksOf: make([][]objID, defs), seed: seed, nodes: nodes},
		numbering{open: make([]objID, defs), free: make([]freeList, defs), live: make([]int, defs)}
}

// numberNodes gives every relation and permission of s a nodeID, in
// schema order, and returns the nodes by id (index 0 is nil).
func numberNodes(s *schema.Schema, defs map[string]*definition) []*node {
	byID := []*node{nil}
	for _, sd := range s.Definitions {
		d := defs[sd.Name]
		for _, r := range sd.Relations {
			n := d.nodes[r.Name]
			n.id = nodeID(len(byID))
			byID = append(byID, n)
		}
		for _, p := range sd.Permissions {
			n := d.nodes[p.Name]
			n.id = nodeID(len(byID))
			byID = append(byID, n)
		}
	}
	return byID
}

// objectBytes returns the number of object id (in bytes) of d in g, which
// the caller's write owns, numbering and placing it if it has none; its id
// is copied into ids only for a new object.
func (g *graph) objectBytes(nb *numbering, d *definition, id []byte, ids *idArena) objID {
	if o := g.lookup(d, unsafeString(id)); o != 0 {
		return o
	}
	s := ids.copy(id)
	o, back := nb.alloc(d, s)
	g.place(nb, o, d, s, back)
	return o
}

// idArena copies the ids of a load into shared chunks, so that a load of
// many objects makes one allocation per chunk, not one per id, and leaves
// the collector one object to mark per chunk. A chunk lives as long as any
// id in it: ids of objects freed later keep their bytes, so that the ids
// held never take more than the load copied.
type idArena struct{ chunk []byte }

// idChunk is the size of an idArena's chunks; an id longer than an eighth
// of it gets its own allocation.
const idChunk = 32 << 10

// copy returns a string holding the bytes of id.
func (ar *idArena) copy(id []byte) string {
	if len(id) == 0 || len(id) > idChunk/8 {
		return string(id)
	}
	if len(id) > cap(ar.chunk)-len(ar.chunk) {
		ar.chunk = make([]byte, 0, idChunk)
	}
	i := len(ar.chunk)
	ar.chunk = append(ar.chunk, id...)
	return unsafe.String(&ar.chunk[i], len(id))
}

// unsafeString returns b as a string without copying it, for a map lookup
// or a check that does not keep the string.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// reader is a read of one version: the Authorizer and the version it
// loaded, which every step of the read uses.
type reader struct {
	*Authorizer
	g *graph
}

// read returns a reader of the current version.
func (a *Authorizer) read() reader { return reader{a, a.cur.Load()} }

// subjectOf returns the subject that t names.
func (a reader) subjectOf(t target) subject {
	c := a.g.chunkOf(t.obj)
	s := subject{typ: c.def.name, id: c.names.n[t.obj&(chunkSize-1)]}
	if t.rel != 0 {
		s.rel = a.byID[t.rel].name
	}
	return s
}

// targetOf returns the target of sub, or a zero target if no relationship
// names its object.
func (a reader) targetOf(sub subject) target {
	d := a.defs[sub.typ]
	o := a.g.lookup(d, sub.id)
	if o == 0 {
		return target{}
	}
	t := target{obj: o}
	if sub.rel != "" {
		t.rel = d.nodes[sub.rel].id
	}
	return t
}

// change is a relationship that a write adds (or removes), resolved by
// prepare: its nodes, its caveat and
// expiration, and the numbers of its objects (0 for an object of a
// removal that has none).
type change struct {
	del      bool
	n        *node
	srel     nodeID
	e        edge
	res, sub objID
}

// writeBatch is a prepared write: its changes, in order,
// and the objects it numbers. Writers reuse one (Authorizer.batch), so
// that its buffers are not allocated and collected again for every write.
type writeBatch struct {
	changes []change
	fresh   []freshObject
	// slots indexes fresh by definition and id once fresh holds more
	// than freshScan objects (a small write scans fresh instead): an
	// open-addressed table of positions in fresh plus one (0 is an empty
	// slot), at most half full, probed linearly from a hash of the id.
	// It holds no pointers, so the collector never scans it.
	slots []int32
	seed  maphash.Seed
	// lastDef, lastID and lastObj are the object resolved last: the
	// relationships of a write mostly come grouped by resource.
	lastDef *definition
	lastID  string
	lastObj objID
}

// keepBatch is the largest number of changes whose buffers a writeBatch
// keeps for the next write (about 2 MB); a larger write's are left to the
// collector.
const keepBatch = 1 << 14

// batch returns the writeBatch that writers reuse, empty. The caller holds
// wmu and calls reset when the write is published.
func (a *Authorizer) batch() *writeBatch {
	return &a.spare
}

// reset empties b for the next write, keeping its buffers unless they are
// larger than keepBatch, and nothing they pointed to.
func (b *writeBatch) reset() {
	if cap(b.changes) > keepBatch || cap(b.fresh) > 2*keepBatch {
		*b = writeBatch{}
		return
	}
	clear(b.changes)
	clear(b.fresh)
	*b = writeBatch{changes: b.changes[:0], fresh: b.fresh[:0], slots: b.slots[:0]}
}

// freshObject is an object that a write numbers.
type freshObject struct {
	o  objID
	d  *definition
	id string
	// back reports that o is the number id had before it was freed.
	back bool
}

// prepare appends to b the changes that remove del and then add touch,
// all valid, read from the current version. The caller holds wmu, so that
// no other write publishes meanwhile; new objects get numbers here, which
// only writers use.
func (a *Authorizer) prepare(b *writeBatch, del, touch []authz.Relationship) {
	g := a.cur.Load()
	b.seed = a.seed
	b.changes = slices.Grow(b.changes, len(del)+len(touch))
	if len(touch) > freshScan {
		// A large write mostly names new objects (a bulk load): make
		// room for one per relationship at once.
		b.fresh = slices.Grow(b.fresh, len(touch))
	}
	for i, list := range [2][]authz.Relationship{del, touch} {
		for _, r := range list {
			d, sd := a.defs[r.Resource.Type], a.defs[r.Subject.Type]
			c := change{del: i == 0, n: d.nodes[r.Relation]}
			if r.Subject.Relation != "" {
				c.srel = sd.nodes[r.Subject.Relation].id
			}
			if !c.del {
				c.e = a.edgeFor(r)
			}
			c.res = b.object(g, &a.num, d, r.Resource.ID, !c.del)
			c.sub = b.object(g, &a.num, sd, r.Subject.ID, !c.del)
			if c.del && (c.res == 0 || c.sub == 0) {
				continue // not there
			}
			b.changes = append(b.changes, c)
		}
	}
}

// object returns the number of object id of d, numbering it if it has
// none and create is set (and returning 0 otherwise).
func (b *writeBatch) object(g *graph, nb *numbering, d *definition, id string, create bool) objID {
	if b.lastObj != 0 && d == b.lastDef && id == b.lastID {
		return b.lastObj
	}
	o := g.lookup(d, id)
	if o == 0 {
		o = b.freshObject(d, id)
	}
	if o == 0 {
		if !create {
			return 0
		}
		var back bool
		o, back = nb.alloc(d, id)
		b.fresh = append(b.fresh, freshObject{o: o, d: d, id: id, back: back})
		switch {
		case len(b.slots) > 0 && 2*len(b.fresh) <= len(b.slots):
			b.index(len(b.fresh) - 1)
		case len(b.fresh) > freshScan:
			b.reindex()
		}
	}
	b.lastDef, b.lastID, b.lastObj = d, id, o
	return o
}

// freshScan is the number of fresh objects up to which a write finds them
// by a scan rather than by an index.
const freshScan = 16

// freshObject returns the number of object id of d if b numbers it, or 0.
func (b *writeBatch) freshObject(d *definition, id string) objID {
	if len(b.slots) == 0 {
		for _, f := range b.fresh {
			if f.d == d && f.id == id {
				return f.o
			}
		}
		return 0
	}
	mask := uint64(len(b.slots) - 1)
	for i := b.hash(d, id) & mask; ; i = (i + 1) & mask {
		p := b.slots[i]
		if p == 0 {
			return 0
		}
		if f := &b.fresh[p-1]; f.d == d && f.id == id {
			return f.o
		}
	}
}

// hash returns the hash of object id of d by which slots places it.
func (b *writeBatch) hash(d *definition, id string) uint64 {
	return maphash.String(b.seed, id) ^ uint64(d.idx)*0x9e3779b97f4a7c15
}

// index places fresh[i] in slots, which has room for it.
func (b *writeBatch) index(i int) {
	f := &b.fresh[i]
	mask := uint64(len(b.slots) - 1)
	j := b.hash(f.d, f.id) & mask
	for b.slots[j] != 0 {
		j = (j + 1) & mask
	}
	b.slots[j] = int32(i + 1)
}

// reindex makes slots large enough for fresh to double (or to fill its
// capacity) and places every fresh object in it.
func (b *writeBatch) reindex() {
	n := 64
	for n < 4*len(b.fresh) || n < 2*cap(b.fresh) {
		n *= 2
	}
	if cap(b.slots) >= n {
		b.slots = b.slots[:n]
		clear(b.slots)
	} else {
		b.slots = make([]int32, n)
	}
	for i := range b.fresh {
		b.index(i)
	}
}

// apply makes the changes of b in order, in a new version made from the
// current one, and returns it for the caller to publish: an addition adds
// its relationship if it is missing and otherwise replaces its caveat and
// expiration; a removal removes it if it is there. It places the objects
// b numbers first, and frees the objects the changes leave unnamed last,
// so that the numbers prepare found stay valid throughout. The caller
// holds wmu.
func (a *Authorizer) apply(b *writeBatch) *graph {
	g := a.cur.Load().next()
	nb := &a.num
	for _, f := range b.fresh {
		g.place(nb, f.o, f.d, f.id, f.back)
	}
	var unnamed []objID
	for i := range b.changes {
		c := &b.changes[i]
		t := target{obj: c.sub, rel: c.srel}
		if c.del {
			if g.unlink(nb, c.res, c.n, t) {
				unnamed = append(unnamed, c.res, c.sub)
			}
			continue
		}
		if !g.link(nb, c.res, c.n, t, c.e) {
			unnamed = append(unnamed, c.res, c.sub)
		}
	}
	unnamed = a.collectExpired(g, nb, unnamed)
	for _, o := range unnamed {
		g.release(nb, o)
	}
	return g
}

// expiryHeap is a min-heap of expiring relationships by expiration. An
// entry may be stale (its relationship deleted since, or given another
// expiration): collectExpired checks each against the graph.
type expiryHeap []expiry

// expiry is an expiring relationship: its expiration (Unix nanoseconds),
// its resource and relation, and its packed subject.
type expiry struct {
	at  int64
	res objID
	n   *node
	m   uint64
}

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if q[p].at <= q[i].at {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
}

func (h *expiryHeap) pop() expiry {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(q) && q[l].at < q[m].at {
			m = l
		}
		if r < len(q) && q[r].at < q[m].at {
			m = r
		}
		if m == i {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	*h = q
	return top
}

// current returns the entries of h whose relationships g still holds with
// that expiration, as a heap.
func (h expiryHeap) current(g *graph) expiryHeap {
	var out expiryHeap
	for _, e := range h {
		s := g.out(keyOf(e.res, e.n.id))
		if ep, ok := s.find(e.m); ok && ep != nil && ep.expires == e.at {
			out.push(e)
		}
	}
	return out
}

// collectMax is how many expired relationships a write removes at most,
// so that a backlog (a file opened with many) spreads over several
// writes.
const collectMax = 256

// collectExpired removes from g, the version a write builds, up to
// collectMax relationships that expired at or before the default clock's
// floor, and returns unnamed with the objects that may be left unnamed.
// Every read hides such a relationship already (see evaluator.visible),
// so removing it changes no answer; it gives back its memory, as SpiceDB's
// garbage collector gives back the storage of expired relationships. A
// durable engine removes them from memory only: its file keeps them until
// a write deletes them or Deregister removes their resource, and a reopen
// loads them to be removed again. With Config.Now (tests that may move
// time backwards) nothing is removed.
func (a *Authorizer) collectExpired(g *graph, nb *numbering, unnamed []objID) []objID {
	if len(nb.expiries) > 2*g.expiring+1024 {
		// Mostly stale entries (relationships deleted or touched
		// again long before they expire): keep the current ones.
		nb.expiries = nb.expiries.current(g)
	}
	if a.floor == nil || len(nb.expiries) == 0 {
		return unnamed
	}
	a.now() // raises the floor to a recent reading
	floor := a.floor.Load()
	for range collectMax {
		if len(nb.expiries) == 0 || nb.expiries[0].at > floor {
			break
		}
		e := nb.expiries.pop()
		s := g.out(keyOf(e.res, e.n.id))
		if ep, ok := s.find(e.m); !ok || ep == nil || ep.expires != e.at {
			continue // deleted or touched again since
		}
		if t := unpackTarget(e.m); g.unlink(nb, e.res, e.n, t) {
			unnamed = append(unnamed, e.res, t.obj)
		}
	}
	return unnamed
}

// publish makes g, from apply, the current version at revision rev.
func (a *Authorizer) publish(g *graph, rev uint64) {
	g.rev = rev
	a.cur.Store(g)
}

// edgeFor returns the caveat and expiration of r, validated.
func (a *Authorizer) edgeFor(r authz.Relationship) edge {
	var e edge
	if r.Caveat.Name != "" {
		e.caveat = &storedCaveat{def: a.schema.Caveat(r.Caveat.Name), ctx: r.Caveat.Context}
	}
	if !r.Expiration.IsZero() {
		e.expires = expiresAt(r.Expiration)
	}
	return e
}

// link adds the relationship of relation n of res to t with caveat and
// expiration e, or gives an existing one e, reporting whether it was
// missing.
func (g *graph) link(nb *numbering, res objID, n *node, t target, e edge) bool {
	var ep *edge
	if e != (edge{}) {
		ep = &e
	}
	m := t.packed()
	fs := g.fwdSlot(res, n.id)
	old, had := fs.find(m)
	if had && old == nil && ep == nil {
		return false
	}
	fs.add(g.gen, m, ep)
	if old != nil {
		g.conditioned--
		if old.expires != 0 {
			g.expiring--
		}
	}
	if ep != nil {
		g.conditioned++
		if ep.expires != 0 {
			g.expiring++
			nb.expiries.push(expiry{at: ep.expires, res: res, n: n, m: m})
		}
	}
	if had {
		return false
	}
	if t.rel != 0 {
		g.setsSlot(res, n.id).add(g.gen, m, struct{}{})
	}
	// The relationship is new, so its reverse entry is too.
	g.revSlot(t.obj, n.id).add(g.gen, source{obj: res, subjRel: t.rel}.packed(), struct{}{})
	*nb.ref(res)++
	*nb.ref(t.obj)++
	return true
}

// unlink removes the relationship of relation n of res to t, reporting
// whether it was there.
func (g *graph) unlink(nb *numbering, res objID, n *node, t target) bool {
	m := t.packed()
	k := keyOf(res, n.id)
	if s := g.out(k); !s.has(m) {
		return false
	}
	old, _ := g.fwdSlot(res, n.id).remove(g.gen, m)
	if old != nil {
		g.conditioned--
		if old.expires != 0 {
			g.expiring--
		}
	}
	if t.rel != 0 {
		g.setsSlot(res, n.id).remove(g.gen, m)
	}
	g.revSlot(t.obj, n.id).remove(g.gen, source{obj: res, subjRel: t.rel}.packed())
	*nb.ref(res)--
	*nb.ref(t.obj)--
	return true
}

// isResource reports whether o, an object of d, is the resource of a
// relationship.
func (g *graph) isResource(d *definition, o objID) bool {
	for _, n := range d.relations {
		if s := g.out(keyOf(o, n.id)); s.size() > 0 {
			return true
		}
	}
	return false
}
