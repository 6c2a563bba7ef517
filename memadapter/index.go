package memadapter

import (
	"hash/maphash"
	"slices"
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
// inline in the map slot, with no allocation of their own. Each object's
// id, type and counts are one record, kept in chunks of 4,096 that the
// graph adds as it grows and never copies.
//
// Readers and writers share the Authorizer's RWMutex, and a writer holds
// its write lock only to publish a write that is ready. A write is
// prepared outside the lock, under a writers' mutex (wmu) that only
// writers take: validation, the search for duplicates, schema names
// resolved to nodes, caveat contexts, the numbers of the objects it names
// (new objects get theirs from the free numbers, which only writers use),
// and, for a durable engine, the commit and its fsync. Preparing changes
// nothing readers read (it reads the graph, as they do); what they read
// changes only under wmu and the write lock both. Publishing places the new objects (one
// map insert each) and updates two to four entries per relationship, most
// without an allocation; objects the write leaves unnamed are freed after
// its last change, so that every number prepared stays valid. Readers
// therefore never wait behind validation, the disk, a group commit or
// name resolution, only behind the index updates themselves: a write of
// 1,000 viewers holds the lock 0.15 ms, 0.55x the 0.28 ms of applying it
// whole under the lock (BenchmarkWriteLockHeld), and with the heap's few
// pointers a writer's garbage costs readers little collection work.
//
// What remains is not a wait-free read. The schemes weighed for it:
//   - Copy-on-write versions of these maps, published by an atomic
//     pointer (done in 210c6ba, reverted next): with 65,536 hash shards a
//     write copies its shards, ~46 entries per map per relationship at
//     3M, and bulk loads were 5x slower. Hashing scatters a write's
//     entries, so nothing amortizes the copies.
//   - Two copies that readers and the writer swap (left-right): readers
//     never wait, but the heap doubles (84 -> ~170 bytes per
//     relationship at 3M, over the 120 bytes this index must fit) and
//     every write is applied twice.
//   - A persistent hash trie: its nodes cost several times the 8 bytes
//     of an entry here.
// The path to wait-free reads that keeps these numbers is dense indexes by
// object number (numbered per type) in chunks, copied on write once per
// write and published by an atomic pointer: a write's new objects are
// consecutive, so a bulk load copies each chunk about once. It is not
// done; the object records are chunked already (objs), but in place. What
// it still needs: chunks small enough to copy per write (a 4,096-record
// chunk is 128 KB, so a grant naming two objects would copy 256 KB; with
// 256 records a chunk, 16 KB), forward and reverse sets per chunk instead
// of the two large hash maps, and above all a lookup of ids to numbers
// that readers can use while a writer changes it: the per-type hash maps
// scatter a write's ids as the sharded maps did. An insert-only open-addressed table of
// numbers (a writer fills a slot, then publishes it with an atomic store)
// would serve, if a freed object stays findable until no reader of an
// older version remains (a grace period before its number and id are
// reused). Measured meanwhile (BenchmarkCheckUnderWriter's control rows): on
// this 2-core machine most of a writer's cost to readers is the CPU and
// the collector it shares with them, which a writer on another engine
// costs them too, not the lock.

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

// source is the resource end of a relationship seen from its subject: the
// resource object and the subject's relation.
type source struct {
	obj     objID
	subjRel nodeID
}

// graph is the compact index of the relationships; the Authorizer's mu
// guards it.
type graph struct {
	// objects numbers the objects of each definition by id, indexed by
	// the definition's idx: a string key hashes faster than a struct key.
	objects []map[string]objID
	// objs describes each objID (see obj), in chunks of objChunk: the
	// graph grows a chunk at a time and never copies what it holds
	// (a slice grown by append copied them about four times over in a
	// bulk load, and doubling left up to half unused).
	objs [][]objInfo
	// end is the number past the last number in objs.
	end objID
	// free are the numbers of freed objects, for reuse; only writers
	// use it (under wmu).
	free []objID

	// out maps a resource and relation to its subjects; sets holds the
	// subject sets among them again, so that checks walk only those.
	out  map[edgeKey]set1[target]
	sets map[edgeKey]set1[target]
	// in maps a subject object and a resource relation to the resources
	// related to it, with the subject relation of each relationship.
	in map[edgeKey]set1[source]

	// edges holds the caveat and expiration of the relationships that
	// have one, by forward key (the first such relationship of a key
	// inline, any others by subject in the slot's map); a relationship
	// without either has no entry, so that a graph without caveats or
	// expirations keeps it empty and checks never consult it. Keyed by the
	// 8-byte forward key, a check's lookup takes the map's fast path.
	// conditioned counts the relationships held, expiring those with an
	// expiration.
	edges       map[edgeKey]edgeSlot
	conditioned int
	expiring    int
	// edgeBits is a filter of the keys of edges: a key's bit (see
	// edgeBit) is set while it has an entry, and may stay set after (a
	// bit is shared by several keys, and bits are cleared only when the
	// filter is rebuilt). A check reads a bit of it, in a table small
	// enough to stay in the processor's cache, before it probes edges,
	// a large map whose probe is a cache miss: on a graph where half the
	// relationships expire, the other half then pays no probe. It has at
	// least 16 bits per key of edges, and is rebuilt at twice the size
	// when edges outgrows that.
	edgeBits []uint64
	// conditional tells, by nodeID, the relations whose schema allows a
	// caveat or an expiration: only their relationships can have an entry
	// in edges, so a check consults edges for no other.
	conditional []bool
}

// objInfo describes an object: its id, its type, how many relationship
// ends name it (the object is freed at zero), and how many relationships
// it is the resource of.
type objInfo struct {
	name   string
	def    *definition
	refs   uint32
	outDeg uint32
}

// objChunk is the number of objects in a chunk of graph.objs (128 KB).
const (
	objShift = 12
	objChunk = 1 << objShift
)

// obj returns the description of o, which is below g.end.
func (g *graph) obj(o objID) *objInfo { return &g.objs[o>>objShift][o&(objChunk-1)] }

// edgeSlot holds the caveats and expirations of the relationships of one
// forward key: one inline (t is zero when there is none), the others in
// more, by packed subject.
type edgeSlot struct {
	t    target
	e    edge
	more map[uint64]edge
}

// packed returns t as one integer: obj<<16 | rel.
func (t target) packed() uint64 { return uint64(t.obj)<<16 | uint64(t.rel) }

// hasEdges reports whether any relationship has a caveat or an
// expiration.
func (g *graph) hasEdges() bool { return g.conditioned > 0 }

// edgeOf returns the caveat and expiration of the relationship of key k to
// t, or the zero edge.
func (g *graph) edgeOf(k edgeKey, t target) edge {
	if g.conditioned == 0 || !g.conditional[nodeID(k)] {
		return edge{}
	}
	if w, bit := g.edgeBit(k); g.edgeBits[w]&bit == 0 {
		return edge{}
	}
	slot, ok := g.edges[k]
	switch {
	case !ok:
		return edge{}
	case slot.t == t:
		return slot.e
	case slot.more == nil:
		return edge{}
	}
	return slot.more[t.packed()]
}

// setEdge records e as the caveat and expiration of the relationship of
// key k to t, replacing what it had.
func (g *graph) setEdge(k edgeKey, t target, e edge) {
	slot := g.edges[k]
	var old edge
	had := false
	switch {
	case slot.t == t && t.obj != 0:
		old, had = slot.e, true
		slot.t, slot.e = target{}, edge{}
	case slot.more != nil:
		if old, had = slot.more[t.packed()]; had {
			delete(slot.more, t.packed())
		}
	}
	if had {
		g.conditioned--
		if old.expires != 0 {
			g.expiring--
		}
	}
	if e != (edge{}) {
		if slot.t.obj == 0 {
			slot.t, slot.e = t, e
		} else {
			if slot.more == nil {
				slot.more = make(map[uint64]edge)
			}
			slot.more[t.packed()] = e
		}
		g.conditioned++
		if e.expires != 0 {
			g.expiring++
		}
	}
	if slot.t.obj == 0 && len(slot.more) == 0 {
		delete(g.edges, k)
		return
	}
	if g.edges == nil {
		g.edges = make(map[edgeKey]edgeSlot)
	}
	g.edges[k] = slot
	if 16*len(g.edges) > 64*len(g.edgeBits) {
		g.rebuildEdgeBits()
	}
	w, bit := g.edgeBit(k)
	g.edgeBits[w] |= bit
}

// edgeBit returns the word and the bit of k in edgeBits.
func (g *graph) edgeBit(k edgeKey) (int, uint64) {
	h := uint64(k) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	return int(h>>6) & (len(g.edgeBits) - 1), 1 << (h & 63)
}

// rebuildEdgeBits makes edgeBits large enough for edges to double, with
// the bits of its keys only.
func (g *graph) rebuildEdgeBits() {
	words := 64
	for 64*words < 32*len(g.edges) {
		words *= 2
	}
	g.edgeBits = make([]uint64, words)
	for k := range g.edges {
		w, bit := g.edgeBit(k)
		g.edgeBits[w] |= bit
	}
}

func newGraph(defs int) graph {
	objects := make([]map[string]objID, defs)
	for i := range objects {
		objects[i] = make(map[string]objID)
	}
	return graph{
		objects: objects,
		objs:    [][]objInfo{{{}}}, end: 1,
		out:  make(map[edgeKey]set1[target]),
		sets: make(map[edgeKey]set1[target]),
		in:   make(map[edgeKey]set1[source]),
	}
}

// conditionalNodes returns, by nodeID, whether the relation's schema
// allows a caveat or an expiration.
func conditionalNodes(byID []*node) []bool {
	out := make([]bool, len(byID))
	for id, n := range byID {
		if n == nil || n.rel == nil {
			continue
		}
		for _, st := range n.rel.Types {
			if st.Caveat != "" || st.Expiration {
				out[id] = true
			}
		}
	}
	return out
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
	return g.objects[d.idx][id]
}

// newObject numbers object id of d, which has no number.
func (g *graph) newObject(d *definition, id string) objID {
	o := g.number()
	g.place(o, d, id)
	return o
}

// number returns a number for a new object: a freed one, or the next
// past the graph's numbers. The caller places the object with that
// number before it asks for another number past the graph's.
func (g *graph) number() objID {
	if n := len(g.free); n > 0 {
		o := g.free[n-1]
		g.free = g.free[:n-1]
		return o
	}
	return g.end
}

// place gives object id of d number o, from number.
func (g *graph) place(o objID, d *definition, id string) {
	if o == g.end {
		last := len(g.objs) - 1
		if len(g.objs[last]) == objChunk {
			g.objs = append(g.objs, make([]objInfo, 0, objChunk))
			last++
		}
		g.objs[last] = append(g.objs[last], objInfo{})
		g.end++
	}
	inf := g.obj(o)
	inf.name, inf.def = id, d
	g.objects[d.idx][id] = o
}

// objectBytes is object for an id in bytes, which it copies into ids only
// for a new object.
func (g *graph) objectBytes(d *definition, id []byte, ids *idArena) objID {
	if o, ok := g.objects[d.idx][unsafeString(id)]; ok {
		return o
	}
	return g.newObject(d, ids.copy(id))
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

// release frees o if nothing names it and it is not free already.
func (g *graph) release(o objID) {
	inf := g.obj(o)
	if inf.refs > 0 || inf.def == nil {
		return
	}
	delete(g.objects[inf.def.idx], inf.name)
	inf.name, inf.def = "", nil
	g.free = append(g.free, o)
}

// subjectOf returns the subject that t names.
func (a *Authorizer) subjectOf(t target) subject {
	inf := a.g.obj(t.obj)
	s := subject{typ: inf.def.name, id: inf.name}
	if t.rel != 0 {
		s.rel = a.byID[t.rel].name
	}
	return s
}

// targetOf returns the target of sub, or a zero target if no relationship
// names its object.
func (a *Authorizer) targetOf(sub subject) target {
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
// prepare before the write takes the lock: its nodes, its caveat and
// expiration, and the numbers of its objects (0 for an object of a
// removal that has none).
type change struct {
	del      bool
	n        *node
	srel     nodeID
	e        edge
	res, sub objID
}

// writeBatch is a write prepared outside the lock: its changes, in order,
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
	// past is the number past the last number fresh objects take.
	past objID
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
}

// prepare appends to b the changes that remove del and then add touch,
// all valid. The caller holds wmu, so that the graph does not change
// under it, but not mu: prepare reads the graph and numbers new objects
// (from the free numbers, which only writers use) without changing what
// readers read.
func (a *Authorizer) prepare(b *writeBatch, del, touch []authz.Relationship) {
	if b.past == 0 {
		b.past = a.g.end
	}
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
			c.res = b.object(&a.g, d, r.Resource.ID, !c.del)
			c.sub = b.object(&a.g, sd, r.Subject.ID, !c.del)
			if c.del && (c.res == 0 || c.sub == 0) {
				continue // not there
			}
			b.changes = append(b.changes, c)
		}
	}
}

// object returns the number of object id of d, numbering it if it has
// none and create is set (and returning 0 otherwise).
func (b *writeBatch) object(g *graph, d *definition, id string, create bool) objID {
	if b.lastObj != 0 && d == b.lastDef && id == b.lastID {
		return b.lastObj
	}
	o := g.objects[d.idx][id]
	if o == 0 {
		o = b.freshObject(d, id)
	}
	if o == 0 {
		if !create {
			return 0
		}
		o = g.number()
		if o == g.end {
			o = b.past
			b.past++
		}
		b.fresh = append(b.fresh, freshObject{o: o, d: d, id: id})
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

// apply makes the changes of b in order: an addition adds its
// relationship if it is missing and otherwise replaces its caveat and
// expiration; a removal removes it if it is there. It places the objects
// b numbers first, and frees the objects the changes leave unnamed last,
// so that the numbers prepare found stay valid throughout. The caller
// holds wmu and the write lock.
func (a *Authorizer) apply(b *writeBatch) {
	g := &a.g
	for _, f := range b.fresh {
		g.place(f.o, f.d, f.id)
	}
	var unnamed []objID
	for i := range b.changes {
		c := &b.changes[i]
		t := target{obj: c.sub, rel: c.srel}
		if c.del {
			if g.unlink(c.res, c.n, t) {
				unnamed = append(unnamed, c.res, c.sub)
			}
			continue
		}
		if !g.link(c.res, c.n, t) {
			unnamed = append(unnamed, c.res, c.sub)
		}
		if c.e != (edge{}) || g.hasEdges() {
			g.setEdge(keyOf(c.res, c.n.id), t, c.e)
		}
	}
	for _, o := range unnamed {
		g.release(o)
	}
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

// link adds the relationship of relation n of res to t, reporting whether
// it was missing.
func (g *graph) link(res objID, n *node, t target) bool {
	// A set of more than one member changes in place: it needs no
	// store back into its map.
	k := keyOf(res, n.id)
	ts := g.out[k]
	if !ts.add(t, outIndexAfter) {
		return false
	}
	if ts.size() <= 2 {
		g.out[k] = ts
	}
	if t.rel != 0 {
		sets := g.sets[k]
		sets.insert(t, outIndexAfter)
		if sets.size() <= 2 {
			g.sets[k] = sets
		}
	}
	// The relationship is new, so its reverse entry is too.
	ik := keyOf(t.obj, n.id)
	srcs := g.in[ik]
	srcs.insert(source{obj: res, subjRel: t.rel}, inIndexAfter)
	if srcs.size() <= 2 {
		g.in[ik] = srcs
	}
	ri := g.obj(res)
	ri.refs++
	ri.outDeg++
	g.obj(t.obj).refs++
	return true
}

// unlink removes the relationship of relation n of res to t, reporting
// whether it was there.
func (g *graph) unlink(res objID, n *node, t target) bool {
	k := keyOf(res, n.id)
	ts := g.out[k]
	if !ts.remove(t) {
		return false
	}
	putSet(g.out, k, ts)
	if g.hasEdges() {
		g.setEdge(k, t, edge{})
	}
	if t.rel != 0 {
		sets := g.sets[k]
		sets.remove(t)
		putSet(g.sets, k, sets)
	}
	ik := keyOf(t.obj, n.id)
	srcs := g.in[ik]
	srcs.remove(source{obj: res, subjRel: t.rel})
	putSet(g.in, ik, srcs)
	ri := g.obj(res)
	ri.refs--
	ri.outDeg--
	g.obj(t.obj).refs--
	return true
}

// putSet puts s under k in m, or deletes k if s is empty.
func putSet[T comparable](m map[edgeKey]set1[T], k edgeKey, s set1[T]) {
	if s.size() == 0 {
		delete(m, k)
		return
	}
	m[k] = s
}

// Sizes past which sets keep an index: forward sets are searched by every
// check; reverse sets only by removals, which may scan a few thousand
// 8-byte entries.
const (
	outIndexAfter = 16
	inIndexAfter  = 4096
)

// set1 is a set of comparable values whose zero value is not a member: one
// member is held inline, more in a smallSet. Most sets of a graph have one
// member, which then costs nothing beyond the map slot holding the set.
type set1[T comparable] struct {
	one  T
	many *smallSet[T]
}

// size returns the number of members.
func (s *set1[T]) size() int {
	if s.many != nil {
		return len(s.many.items)
	}
	var zero T
	if s.one != zero {
		return 1
	}
	return 0
}

// at returns member i, 0 <= i < size.
func (s *set1[T]) at(i int) T {
	if s.many != nil {
		return s.many.items[i]
	}
	return s.one
}

// has reports whether v is a member; v must not be the zero value.
func (s *set1[T]) has(v T) bool {
	if s.many != nil {
		return s.many.has(v)
	}
	return s.one == v
}

// add adds v, reporting whether it was missing.
func (s *set1[T]) add(v T, indexAfter int) bool {
	var zero T
	switch {
	case s.many != nil:
		return s.many.add(v, indexAfter)
	case s.one == zero:
		s.one = v
		return true
	case s.one == v:
		return false
	}
	s.many = &smallSet[T]{items: []T{s.one, v}}
	s.one = zero
	return true
}

// insert adds v, which must be missing, without looking for it first.
func (s *set1[T]) insert(v T, indexAfter int) {
	var zero T
	switch {
	case s.many != nil:
		s.many.insert(v, indexAfter)
	case s.one == zero:
		s.one = v
	default:
		s.many = &smallSet[T]{items: []T{s.one, v}}
		s.one = zero
	}
}

// remove removes v, reporting whether it was a member.
func (s *set1[T]) remove(v T) bool {
	var zero T
	if s.many == nil {
		if s.one != v {
			return false
		}
		s.one = zero
		return true
	}
	if !s.many.remove(v) {
		return false
	}
	if len(s.many.items) == 1 {
		s.one, s.many = s.many.items[0], nil
	}
	return true
}

// smallSet is a set kept in a slice, with a map from member to position
// once it grows past a size, so that membership and removal stay O(1) for
// the few large sets (a group's members, an agent's tasks). Members are in
// no particular order.
type smallSet[T comparable] struct {
	items []T
	index map[T]int32
}

// has reports whether v is a member.
func (s *smallSet[T]) has(v T) bool {
	if s.index != nil {
		_, ok := s.index[v]
		return ok
	}
	for i := range s.items {
		if s.items[i] == v {
			return true
		}
	}
	return false
}

// add adds v, reporting whether it was missing; past indexAfter members
// the set keeps an index.
func (s *smallSet[T]) add(v T, indexAfter int) bool {
	if s.has(v) {
		return false
	}
	s.insert(v, indexAfter)
	return true
}

// insert adds v, which must be missing, without looking for it first.
func (s *smallSet[T]) insert(v T, indexAfter int) {
	s.items = append(s.items, v)
	switch {
	case s.index != nil:
		s.index[v] = int32(len(s.items) - 1)
	case len(s.items) > indexAfter:
		s.index = make(map[T]int32, len(s.items))
		for i, x := range s.items {
			s.index[x] = int32(i)
		}
	}
}

// remove removes v, reporting whether it was a member. The last member
// takes v's place.
func (s *smallSet[T]) remove(v T) bool {
	i := -1
	if s.index != nil {
		if j, ok := s.index[v]; ok {
			i = int(j)
		}
	} else {
		for j := range s.items {
			if s.items[j] == v {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return false
	}
	last := len(s.items) - 1
	if i != last {
		s.items[i] = s.items[last]
		if s.index != nil {
			s.index[s.items[i]] = int32(i)
		}
	}
	s.items = s.items[:last]
	if s.index != nil {
		delete(s.index, v)
		if len(s.items) <= 8 {
			s.index = nil
		}
	}
	if cap(s.items) > 8 && len(s.items) <= cap(s.items)/4 {
		s.items = append([]T(nil), s.items...)
	}
	return true
}
