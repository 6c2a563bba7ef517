package memadapter

import (
	"hash/maphash"
	"maps"
	"unsafe"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// The relationships are held in a compact graph: every object (a type and
// an id) that appears in a relationship is numbered once (an objID), every
// relation and permission of the schema is numbered once (a nodeID), and a
// relationship is two 8-byte entries, one under its resource and relation
// (forward, for checks) and one under its subject and relation (reverse,
// for lookups). An id string is stored once however many relationships
// name it, and most sets (a task's owner, its parent) hold their one member
// inline in the map slot, with no allocation of their own.
//
// Readers never wait behind a writer, because the graph is copy-on-write:
// a reader loads the current version (one atomic load) and reads it
// without a lock, while the writer (one at a time) builds the next version
// beside it and publishes it with one atomic store, so a reader sees all
// of a write or none of it. The copying is kept proportional to what a
// write changes, not to the graph:
//
//   - maps are split into 65,536 shards under a two-level directory of 256
//     by 256; a write copies the directory nodes on its path (2 and 4 KB)
//     and the shards it changes, each 1/65,536 of its map (46 entries at
//     3M relationships), so that a write of n relationships copies about
//     n shards while n is well below 65,536;
//   - a set of more than one member is split into buckets of about 32 by
//     the members' hash; a write copies the set's bucket list and the
//     buckets it changes, never the whole set (an agent's 100,000 tasks);
//   - objects are numbered in chunks of 1,024; a new object is written in
//     place, in a slot no published version reads, and only reusing a freed
//     number copies its chunk.
//
// Every copy is made once per write (a generation): the batch of a durable
// commit, or a write of 10,000 relationships, copies each shard, bucket
// and chunk it touches once. Versions no reader holds any more are
// garbage. The alternative, a read-write lock, makes readers wait for the
// in-memory apply of each write, which for a write of 1,000 relationships
// is a millisecond; left-right (two copies of the graph) doubles memory.

// objID numbers an object; 0 is no object.
type objID uint32

// nodeID numbers a relation or permission; 0 is none (a subject without a
// subject relation).
type nodeID uint16

// edgeKey is an object and a relation: obj<<16 | node.
type edgeKey uint64

func keyOf(obj objID, n nodeID) edgeKey { return edgeKey(obj)<<16 | edgeKey(n) }

func (k edgeKey) hash() uint32 { return uint32(uint64(k) * 0x9E3779B97F4A7C15 >> 32) }

// target is the subject end of a relationship: an object and, for a
// subject set (group:eng#member), the node of its relation.
type target struct {
	obj objID
	rel nodeID
}

func (t target) hash() uint32 { return keyOf(t.obj, t.rel).hash() }

// source is the resource end of a relationship seen from its subject: the
// resource object and the subject's relation.
type source struct {
	obj     objID
	subjRel nodeID
}

func (s source) hash() uint32 { return keyOf(s.obj, s.subjRel).hash() }

// objKey names an object.
type objKey struct {
	id  string
	def *definition
}

// graph is one version of the relationships. A published version is
// never modified; see the comment above.
type graph struct {
	seed    maphash.Seed
	objects cowMap[objKey, objID]
	slots   objSlots
	// out maps a resource and relation to its subjects; sets holds the
	// subject sets among them again, so that checks walk only those.
	out  cowMap[edgeKey, set1[target]]
	sets cowMap[edgeKey, set1[target]]
	// in maps a subject object and a resource relation to the resources
	// related to it, with the subject relation of each relationship.
	in cowMap[edgeKey, set1[source]]
}

// writer is what only the writer of the graph uses; the Authorizer's mu
// guards it.
type writer struct {
	// g is the version being built, nil outside a write; gen is its
	// generation.
	g   *graph
	gen uint64
	// refs counts the relationship ends that name each object (freed at
	// zero); free are the freed numbers.
	refs []uint32
	free []objID
	// last is the object the write numbered or found last: the
	// relationships of a write mostly come grouped by resource.
	last    objKey
	lastObj objID
}

func newGraph() *graph { return &graph{seed: maphash.MakeSeed(), slots: objSlots{n: 1}} }

func (g *graph) objHash(k objKey) uint32 {
	return uint32(maphash.String(g.seed, k.id)) ^ uint32(uintptr(unsafe.Pointer(k.def))>>4)
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

// lookup returns the objID of object id of d, or 0.
func (g *graph) lookup(d *definition, id string) objID {
	k := objKey{id: id, def: d}
	o, _ := g.objects.get(g.objHash(k), k)
	return o
}

// subjects returns the subjects of relation n of o.
func (g *graph) subjects(o objID, n nodeID) set1[target] {
	k := keyOf(o, n)
	s, _ := g.out.get(k.hash(), k)
	return s
}

// subjectSets returns the subject sets among the subjects of relation n
// of o.
func (g *graph) subjectSets(o objID, n nodeID) set1[target] {
	k := keyOf(o, n)
	s, _ := g.sets.get(k.hash(), k)
	return s
}

// sources returns the resources related by relation n to subject o.
func (g *graph) sources(o objID, n nodeID) set1[source] {
	k := keyOf(o, n)
	s, _ := g.in.get(k.hash(), k)
	return s
}

// name and def return the id and type of object o.
func (g *graph) name(o objID) string     { return g.slots.at(o).id }
func (g *graph) def(o objID) *definition { return g.slots.at(o).def }

// graph returns the current version of the graph, for a reader.
func (a *Authorizer) graph() *graph { return a.cur.Load() }

// subjectOf returns the subject that t names in g.
func (a *Authorizer) subjectOf(g *graph, t target) subject {
	slot := g.slots.at(t.obj)
	s := subject{typ: slot.def.name, id: slot.id}
	if t.rel != 0 {
		s.rel = a.byID[t.rel].name
	}
	return s
}

// targetOf returns the target of sub in g, or a zero target if no
// relationship names its object.
func (a *Authorizer) targetOf(g *graph, sub subject) target {
	d := a.defs[sub.typ]
	o := g.lookup(d, sub.id)
	if o == 0 {
		return target{}
	}
	t := target{obj: o}
	if sub.rel != "" {
		t.rel = d.nodes[sub.rel].id
	}
	return t
}

// begin starts a write: the next version, a copy of the current one that
// shares everything until it is changed. The caller holds mu and calls
// publish.
func (a *Authorizer) begin() {
	next := *a.cur.Load()
	a.w.gen++
	a.w.g = &next
}

// publish makes the version being written the current one.
func (a *Authorizer) publish() {
	a.cur.Store(a.w.g)
	a.w.g = nil
}

// object returns the objID of object id of d, numbering it if it is new;
// a new object has no references until the caller adds one.
func (w *writer) object(d *definition, id string) objID {
	k := objKey{id: id, def: d}
	if w.lastObj != 0 && k == w.last {
		return w.lastObj
	}
	o, ok := w.g.objects.get(w.g.objHash(k), k)
	if !ok {
		o = w.newObject(k)
	}
	w.last, w.lastObj = k, o
	return o
}

// objectBytes is object for an id in bytes, which it copies only for a new
// object.
func (w *writer) objectBytes(d *definition, id []byte) objID {
	k := objKey{id: unsafeString(id), def: d}
	if o, ok := w.g.objects.get(w.g.objHash(k), k); ok {
		return o
	}
	return w.newObject(objKey{id: string(id), def: d})
}

// unsafeString returns b as a string without copying it, for a map lookup
// or a check that does not keep the string.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// newObject numbers object k, which has no number.
func (w *writer) newObject(k objKey) objID {
	var o objID
	if n := len(w.free); n > 0 {
		o, w.free = w.free[n-1], w.free[:n-1]
		w.g.slots.set(w.gen, o, objSlot(k), true)
	} else {
		o = w.g.slots.add(w.gen, objSlot(k))
		w.refs = append(w.refs, 0)
	}
	w.g.objects.set(w.gen, w.g.objHash(k), k, o)
	return o
}

// release frees o if nothing names it. Its slot keeps its id for the
// versions that still hold o, until the number is reused.
func (w *writer) release(o objID) {
	if w.refs[o] > 0 {
		return
	}
	if w.lastObj == o {
		w.last, w.lastObj = objKey{}, 0
	}
	k := objKey(w.g.slots.at(o))
	w.g.objects.del(w.gen, w.g.objHash(k), k)
	w.free = append(w.free, o)
}

// touch adds r if it is missing; the caller is writing (see begin) and
// has validated r.
func (a *Authorizer) touch(r authz.Relationship) {
	d, sd := a.defs[r.Resource.Type], a.defs[r.Subject.Type]
	n := d.nodes[r.Relation]
	w := &a.w
	res, sub := w.object(d, r.Resource.ID), w.object(sd, r.Subject.ID)
	t := target{obj: sub}
	if r.Subject.Relation != "" {
		t.rel = sd.nodes[r.Subject.Relation].id
	}
	if !w.link(res, n, t) {
		w.release(res)
		if sub != res {
			w.release(sub)
		}
	}
}

// link adds the relationship of relation n of res to t, reporting whether
// it was missing.
func (w *writer) link(res objID, n *node, t target) bool {
	g := w.g
	k := keyOf(res, n.id)
	h := k.hash()
	ts, _ := g.out.get(h, k)
	if !ts.add(w.gen, t) {
		return false
	}
	g.out.set(w.gen, h, k, ts)
	if t.rel != 0 {
		sets, _ := g.sets.get(h, k)
		sets.insert(w.gen, t)
		g.sets.set(w.gen, h, k, sets)
	}
	// The relationship is new, so its reverse entry is too.
	ik := keyOf(t.obj, n.id)
	ih := ik.hash()
	srcs, _ := g.in.get(ih, ik)
	srcs.insert(w.gen, source{obj: res, subjRel: t.rel})
	g.in.set(w.gen, ih, ik, srcs)
	w.refs[res]++
	w.refs[t.obj]++
	return true
}

// remove deletes r if it is present; the caller is writing (see begin).
func (a *Authorizer) remove(r authz.Relationship) {
	d, sd := a.defs[r.Resource.Type], a.defs[r.Subject.Type]
	n := d.nodes[r.Relation]
	w := &a.w
	g := w.g
	res, sub := g.lookup(d, r.Resource.ID), g.lookup(sd, r.Subject.ID)
	if res == 0 || sub == 0 {
		return
	}
	t := target{obj: sub}
	if r.Subject.Relation != "" {
		t.rel = sd.nodes[r.Subject.Relation].id
	}
	k := keyOf(res, n.id)
	h := k.hash()
	ts, _ := g.out.get(h, k)
	if !ts.remove(w.gen, t) {
		return
	}
	putSet(&g.out, w.gen, h, k, ts)
	if t.rel != 0 {
		sets, _ := g.sets.get(h, k)
		sets.remove(w.gen, t)
		putSet(&g.sets, w.gen, h, k, sets)
	}
	ik := keyOf(sub, n.id)
	ih := ik.hash()
	srcs, _ := g.in.get(ih, ik)
	srcs.remove(w.gen, source{obj: res, subjRel: t.rel})
	putSet(&g.in, w.gen, ih, ik, srcs)
	w.refs[res]--
	w.refs[sub]--
	w.release(res)
	if sub != res {
		w.release(sub)
	}
}

// putSet puts s under k in m, or deletes k if s is empty.
func putSet[T member](m *cowMap[edgeKey, set1[T]], gen uint64, h uint32, k edgeKey, s set1[T]) {
	if s.size() == 0 {
		m.del(gen, h, k)
		return
	}
	m.set(gen, h, k, s)
}

// cowMap is a copy-on-write map of 65,536 shards under a directory of 256
// by 256, keyed by the caller's hash of the key. A cowMap value is a version:
// copying it shares everything; set and del copy, once per generation,
// what they change.
type cowMap[K comparable, V any] struct {
	root *cowRoot[K, V]
}

const cowFanout = 256

type cowRoot[K comparable, V any] struct {
	gen    uint64
	leaves [cowFanout]*cowLeaf[K, V]
}

type cowLeaf[K comparable, V any] struct {
	gen    uint64
	shards [cowFanout]map[K]V
	// gens are the generations that own each shard.
	gens [cowFanout]uint64
}

// get returns the value of k, whose hash is h.
func (m *cowMap[K, V]) get(h uint32, k K) (V, bool) {
	if m.root != nil {
		if l := m.root.leaves[h>>8%cowFanout]; l != nil {
			v, ok := l.shards[h%cowFanout][k]
			return v, ok
		}
	}
	var zero V
	return zero, false
}

// shard returns the shard of h, owned by generation gen, creating what is
// missing and copying what an older generation owns.
func (m *cowMap[K, V]) shard(gen uint64, h uint32) map[K]V {
	switch {
	case m.root == nil:
		m.root = &cowRoot[K, V]{gen: gen}
	case m.root.gen != gen:
		r := *m.root
		r.gen = gen
		m.root = &r
	}
	i, j := h>>8%cowFanout, h%cowFanout
	l := m.root.leaves[i]
	switch {
	case l == nil:
		l = &cowLeaf[K, V]{gen: gen}
		m.root.leaves[i] = l
	case l.gen != gen:
		c := *l
		c.gen = gen
		l = &c
		m.root.leaves[i] = l
	}
	if l.shards[j] == nil || l.gens[j] != gen {
		s := maps.Clone(l.shards[j])
		if s == nil {
			s = make(map[K]V, 1)
		}
		l.shards[j], l.gens[j] = s, gen
	}
	return l.shards[j]
}

// set sets k, whose hash is h, to v.
func (m *cowMap[K, V]) set(gen uint64, h uint32, k K, v V) { m.shard(gen, h)[k] = v }

// del deletes k, whose hash is h.
func (m *cowMap[K, V]) del(gen uint64, h uint32, k K) {
	if _, ok := m.get(h, k); ok {
		delete(m.shard(gen, h), k)
	}
}

// count returns the number of keys, for tests.
func (m *cowMap[K, V]) count() int {
	n := 0
	if m.root != nil {
		for _, l := range m.root.leaves {
			if l != nil {
				for _, s := range l.shards {
					n += len(s)
				}
			}
		}
	}
	return n
}

// objSlot is an object's id and type.
type objSlot objKey

// objChunkSize is the number of objects per chunk.
const objChunkSize = 1024

type objChunk struct {
	gen   uint64
	slots [objChunkSize]objSlot
}

// objSlots are the objects by number, in chunks. A new number's slot is
// written in place: no published version holds that number yet.
type objSlots struct {
	chunks []*objChunk
	n      objID // numbers in use or freed, including 0
	// gen is the generation that owns the chunks slice.
	gen uint64
}

func (s *objSlots) at(o objID) objSlot { return s.chunks[o/objChunkSize].slots[o%objChunkSize] }

// add numbers a new object.
func (s *objSlots) add(gen uint64, slot objSlot) objID {
	o := s.n
	if int(o/objChunkSize) == len(s.chunks) {
		s.own(gen)
		s.chunks = append(s.chunks, &objChunk{gen: gen})
	}
	s.set(gen, o, slot, false)
	s.n++
	return o
}

// set writes slot o, copying its chunk first if a published version may
// read it (shared).
func (s *objSlots) set(gen uint64, o objID, slot objSlot, shared bool) {
	c := s.chunks[o/objChunkSize]
	if shared && c.gen != gen {
		s.own(gen)
		copied := *c
		copied.gen = gen
		c = &copied
		s.chunks[o/objChunkSize] = c
	}
	c.slots[o%objChunkSize] = slot
}

// own copies the chunks slice if an older generation owns it.
func (s *objSlots) own(gen uint64) {
	if s.gen != gen {
		s.chunks = append(make([]*objChunk, 0, len(s.chunks)+1), s.chunks...)
		s.gen = gen
	}
}

// A member of a set is a value whose zero value is not one, with a hash.
type member interface {
	comparable
	hash() uint32
}

// set1 is a set whose one member is held inline and more in a bigSet.
// Most sets of a graph have one member, which then costs nothing beyond
// the map slot holding the set. A set1 value belongs to a version; its
// bigSet is shared with other versions until a write copies it.
type set1[T member] struct {
	one  [1]T
	many *bigSet[T]
}

// size returns the number of members.
func (s *set1[T]) size() int {
	if s.many != nil {
		return s.many.n
	}
	var zero T
	if s.one[0] != zero {
		return 1
	}
	return 0
}

// buckets returns the number of buckets of members; bucket returns one.
// Together they walk the members without allocating:
//
//	for i := range s.buckets() {
//		for _, m := range s.bucket(i) { ... }
//	}
func (s *set1[T]) buckets() int {
	if s.many != nil {
		return len(s.many.buckets)
	}
	return 1
}

func (s *set1[T]) bucket(i int) []T {
	if s.many != nil {
		return s.many.buckets[i].items
	}
	if s.size() == 0 {
		return nil
	}
	return s.one[:]
}

// has reports whether v is a member; v must not be the zero value.
func (s *set1[T]) has(v T) bool {
	if s.many != nil {
		return s.many.has(v)
	}
	return s.one[0] == v
}

// add adds v in generation gen, reporting whether it was missing.
func (s *set1[T]) add(gen uint64, v T) bool {
	if s.has(v) {
		return false
	}
	s.insert(gen, v)
	return true
}

// insert adds v, which must be missing, in generation gen.
func (s *set1[T]) insert(gen uint64, v T) {
	var zero T
	switch {
	case s.many != nil:
		s.many = s.many.own(gen)
		s.many.insert(gen, v)
	case s.one[0] == zero:
		s.one[0] = v
	default:
		s.many = &bigSet[T]{gen: gen, buckets: []*setBucket[T]{{gen: gen}}}
		s.many.insert(gen, s.one[0])
		s.many.insert(gen, v)
		s.one[0] = zero
	}
}

// remove removes v in generation gen, reporting whether it was a member.
func (s *set1[T]) remove(gen uint64, v T) bool {
	var zero T
	if s.many == nil {
		if s.one[0] != v || v == zero {
			return false
		}
		s.one[0] = zero
		return true
	}
	if !s.many.has(v) {
		return false
	}
	s.many = s.many.own(gen)
	s.many.remove(gen, v)
	if s.many.n == 1 {
		for _, b := range s.many.buckets {
			if len(b.items) == 1 {
				s.one[0] = b.items[0]
			}
		}
		s.many = nil
	}
	return true
}

// bigSet is a set of members in buckets by hash, about bucketTarget per
// bucket; len(buckets) is a power of two.
type bigSet[T member] struct {
	gen     uint64
	n       int
	buckets []*setBucket[T]
}

type setBucket[T member] struct {
	gen   uint64
	items []T
}

// bucketTarget is the mean bucket size past which a bigSet doubles its
// buckets.
const bucketTarget = 32

func (s *bigSet[T]) has(v T) bool {
	for _, x := range s.buckets[v.hash()&uint32(len(s.buckets)-1)].items {
		if x == v {
			return true
		}
	}
	return false
}

// own returns s, or a copy of s sharing its buckets if an older
// generation owns s.
func (s *bigSet[T]) own(gen uint64) *bigSet[T] {
	if s.gen == gen {
		return s
	}
	return &bigSet[T]{gen: gen, n: s.n, buckets: append([]*setBucket[T](nil), s.buckets...)}
}

// bucketOf returns the bucket of v, owned by generation gen.
func (s *bigSet[T]) bucketOf(gen uint64, v T) *setBucket[T] {
	i := v.hash() & uint32(len(s.buckets)-1)
	b := s.buckets[i]
	if b.gen != gen {
		b = &setBucket[T]{gen: gen, items: append(make([]T, 0, len(b.items)+1), b.items...)}
		s.buckets[i] = b
	}
	return b
}

// insert adds v, which must be missing; s is owned by gen.
func (s *bigSet[T]) insert(gen uint64, v T) {
	if s.n+1 > bucketTarget*len(s.buckets) {
		s.grow(gen)
	}
	b := s.bucketOf(gen, v)
	b.items = append(b.items, v)
	s.n++
}

// grow doubles the buckets, redistributing the members.
func (s *bigSet[T]) grow(gen uint64) {
	old := s.buckets
	s.buckets = make([]*setBucket[T], 2*len(old))
	for i := range s.buckets {
		s.buckets[i] = &setBucket[T]{gen: gen}
	}
	for _, b := range old {
		for _, x := range b.items {
			nb := s.buckets[x.hash()&uint32(len(s.buckets)-1)]
			nb.items = append(nb.items, x)
		}
	}
}

// remove removes v, a member; s is owned by gen.
func (s *bigSet[T]) remove(gen uint64, v T) {
	b := s.bucketOf(gen, v)
	for i, x := range b.items {
		if x == v {
			last := len(b.items) - 1
			b.items[i] = b.items[last]
			var zero T
			b.items[last] = zero
			b.items = b.items[:last]
			s.n--
			return
		}
	}
}
