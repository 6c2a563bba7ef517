package memadapter

import (
	"context"
	"fmt"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

var _ authz.SubjectLookuper = (*Authorizer)(nil)

// LookupSubjects returns the subjects of req.SubjectType (through
// req.SubjectRelation, if set) that hold req.Permission on req.Resource,
// computed as SpiceDB's LookupSubjects computes them (v1.56,
// internal/graph/lookupsubjects.go and internal/datasets): a relation
// yields its subjects of the type, a wildcard relationship as a wildcard,
// and the subjects of its subject sets; a subject set asked for is itself
// a member (group:eng#member has member on group:eng); "+", "&" and "-"
// combine the sets of their operands, a wildcard keeping the subjects an
// exclusion removed from it as its excluded subjects; an arrow is the
// union of its target on the objects it walks to. rel.all(perm) is the
// intersection of perm on those objects, and empty if one of them has no
// perm, as [Authorizer.Check] decides (SpiceDB's subject lookup skips such
// objects; its check denies).
//
// Expired relationships are skipped. The lookup brings no caveat context:
// a caveated relationship whose stored context decides its caveat counts as
// decided, and one whose caveat needs parameters is left out (it counts as
// holding under the right side of an exclusion, so that what is excluded
// is never less), so that the subjects returned are never more than those
// a check would allow. `self` yields the resource itself.
//
// Recursive relationships (groups that contain each other) are computed as
// a least fixpoint, never failing with a depth error, in time and memory
// about linear in the relationships the lookup reaches (see subjectsOf). A
// cycle through the right side of an exclusion that does not settle is an
// error matching [authz.ErrInvalidRequest]. A done ctx stops the lookup
// with an error matching [authz.ErrUnavailable].
//
// Subjects are returned in ascending order of id, a wildcard ("*") first;
// with a positive req.Limit, at most Limit of them after req.Cursor, with
// the last id returned as the cursor when more follow. Malformed requests,
// unknown types, permissions and subject relations, a negative limit and a
// cursor that is neither "*" nor an id are errors matching
// [authz.ErrInvalidRequest].
func (a *Authorizer) LookupSubjects(ctx context.Context, req authz.SubjectLookupRequest) (authz.SubjectLookupResult, error) {
	if err := contextErr(ctx); err != nil {
		return authz.SubjectLookupResult{}, err
	}
	if err := req.Validate(); err != nil {
		return authz.SubjectLookupResult{}, wrap(err)
	}
	if req.Cursor != "" && req.Cursor != authz.WildcardID && !authz.ValidID(req.Cursor) {
		return authz.SubjectLookupResult{}, invalidf("malformed subject lookup cursor")
	}
	n, err := a.resolve(req.Resource.Type, req.Permission)
	if err != nil {
		return authz.SubjectLookupResult{}, err
	}
	if _, err := a.resolveSubject(authz.Subject{Type: req.SubjectType, Relation: req.SubjectRelation}); err != nil {
		return authz.SubjectLookupResult{}, err
	}

	set, err := a.read().subjectsOf(ctx, n, req.Resource.ID, req.SubjectType, req.SubjectRelation)
	if err != nil {
		return authz.SubjectLookupResult{}, err
	}
	return set.page(req), nil
}

// subjectsOf computes the subjects of n on object id.
//
// The lookup works on the graph of the (relation or permission, object)
// pairs it reaches from n on id, a dependency being an edge; each edge is
// in a union position (a relation's subject set, or a reference or an
// any-arrow reached from the expression's root through unions only), an
// operand (of an intersection, an exclusion or an all-arrow), or negated
// (under the right side of an exclusion). The strongly connected components
// of that graph are found once (Tarjan's algorithm, without recursion, so
// that a chain of any length cannot exhaust the stack) and evaluated
// dependencies first:
//
//   - Sets are kept only for the pairs that need one: n on id, the
//     operands, and the pairs in and below a component with an operand
//     edge inside it. The set of such a pair is the union of the local
//     subjects (direct subjects, itself as a subject set, and its
//     non-union subexpressions, computed from kept sets) of every pair its
//     union edges reach, collected in one walk that stops at kept sets of
//     earlier components. A cycle of unions therefore costs one walk, and
//     a chain of 5,000 nested groups neither copies nor keeps 5,000 sets.
//   - A component with an operand edge inside it (a cycle through an
//     intersection, an exclusion or an all-arrow) is iterated to a
//     fixpoint from the empty sets, a pair being computed again only when
//     a set it depends on inside the component changed. Every operation
//     but an exclusion's right side is monotone, so this reaches the least
//     fixpoint. A component with a negated edge inside it gets its
//     well-founded value (see alternate); reading a set it leaves
//     undecided is an error.
//
// The sets of a component are computed even where a short-circuit (an
// exclusion's empty left side, an intersection's empty operand) means
// that no set read reaches them; an undecided set is an error only when
// read, so such a lookup fails no more than it did by short-circuits.
//
// When the graph has caveated or expiring relationships, a pair is also
// told apart by its polarity, whether it is under an odd number of
// exclusions' right sides, where a relationship whose caveat needs
// parameters counts (see counts); a graph without them keeps one pair per
// relation and object.
//
// ctx is checked every lookupCheckEvery steps (an edge, a pair, or a
// subject merged).
func (a reader) subjectsOf(ctx context.Context, n *node, id, typ, rel string) (*foundSet, error) {
	ev := a.newSubjectEval(ctx, id, typ, rel)
	defer a.releaseSubjectEval(ev)
	start := ev.vertex(n, a.g.lookup(n.def, id), false)
	ev.components(start)
	if ev.err != nil {
		return nil, ev.err
	}
	ev.classify(start)
	for c := range ev.compEnd {
		ev.evaluate(int32(c))
		if ev.err != nil {
			if ev.unsettled {
				return nil, invalidf("subject lookup of %s#%s does not settle (a cycle through an exclusion)", n.def.name, n.name)
			}
			return nil, ev.err
		}
	}
	if set := ev.read(start); ev.err == nil {
		return set, nil
	}
	return nil, invalidf("subject lookup of %s#%s does not settle (a cycle through an exclusion)", n.def.name, n.name)
}

// newSubjectEval returns an evaluator for a lookup of the subjects of typ
// (and rel), reusing the buffers of a past lookup.
func (a reader) newSubjectEval(ctx context.Context, startID, typ, rel string) *subjectEval {
	ev, _ := a.evals.Get().(*subjectEval)
	if ev == nil {
		ev = &subjectEval{keys: make(map[edgeKey]int32)}
	}
	ev.caveated, ev.now = a.g.hasEdges(), 0
	if a.g.expiring > 0 {
		ev.now = a.now()
	}
	ev.a, ev.ctx, ev.startID, ev.subjDef, ev.subjRel = a, ctx, startID, a.defs[typ], 0
	if rel != "" {
		ev.subjRel = ev.subjDef.nodes[rel].id
	}
	ev.frozen, ev.walks, ev.steps, ev.nextCheck, ev.err, ev.unsettled = -1, 0, 0, lookupCheckEvery, nil, false
	return ev
}

// maxPooledVertices is the size past which a lookup's buffers are left to
// the garbage collector rather than kept for the next lookup.
const maxPooledVertices = 1 << 12

// releaseSubjectEval keeps the buffers of ev for the next lookup, without
// the sets they point to.
func (a reader) releaseSubjectEval(ev *subjectEval) {
	if cap(ev.vs) > maxPooledVertices || cap(ev.edges) > 4*maxPooledVertices {
		return
	}
	clear(ev.keys)
	clear(ev.vs)
	ev.vs, ev.edges, ev.comps, ev.compEnd = ev.vs[:0], ev.edges[:0], ev.comps[:0], ev.compEnd[:0]
	ev.flags, ev.frames, ev.tarjan, ev.stack = ev.flags[:0], ev.frames[:0], ev.tarjan[:0], ev.stack[:0]
	if cap(ev.parts) > maxPooledVertices {
		ev.parts = nil
	}
	ev.a, ev.ctx, ev.subjDef = reader{}, nil, nil
	a.evals.Put(ev)
}

// lookupCheckEvery is how many steps of a subject lookup pass between
// checks of its context: a few hundred microseconds of work at most.
const lookupCheckEvery = 512

// Flags of a component of the lookup graph; see subjectsOf.
const (
	compGeneral uint8 = 1 << iota // an operand edge inside
	compNegated                   // a negated edge inside
)

// Positions of an edge of the lookup graph; see subjectsOf.
const (
	posUnion uint8 = iota
	posOperand
	posNegated
)

// lookupVertex is a pair of the lookup graph: a relation or permission
// and an object (0 for the looked-up object when no relationship names
// it).
type lookupVertex struct {
	n *node
	o objID
	// neg is its polarity (see subjectsOf): whether it is under an odd
	// number of exclusions' right sides, in a graph with caveats or
	// expirations only.
	neg bool
	// first and end delimit its edges in subjectEval.edges.
	first, end int32
	// index and low are Tarjan's (index -1 before the visit), comp its
	// component.
	index, low, comp int32
	onStack          bool
	// kept reports whether its set is computed and kept in value;
	// unsettled that it is in a component that did not settle, an error
	// for the lookup only if an evaluation reads it (as one that skips an
	// exclusion's right side for an empty left side does not).
	kept, unsettled bool
	value           *foundSet
	// held is its set as read through an exclusion's right side from its
	// own component, while alternate computes that.
	held *foundSet
	// walk is the last walk that met it; at its position in its
	// component while that is iterated.
	walk, at int32
}

// vertexKey returns the key of the vertex of relation n on object o with
// polarity neg: keyOf's, with its top bit (above the object's 32 bits and
// the relation's 16) set for a negative polarity in a graph with caveats
// or expirations, so that the key stays a uint64.
func (ev *subjectEval) vertexKey(o objID, n nodeID, neg bool) edgeKey {
	if neg && ev.caveated {
		return keyOf(o, n) | 1<<63
	}
	return keyOf(o, n)
}

// frame is a vertex being visited by Tarjan's algorithm and its next edge.
type frame struct{ v, next int32 }

// lookupEdge is an edge of the lookup graph.
type lookupEdge struct {
	to  int32
	pos uint8
}

// subjectEval computes the subjects of one type and subject relation, on
// the version its reader loaded.
type subjectEval struct {
	a       reader
	ctx     context.Context
	startID string
	// subjDef and subjRel are the subject type and relation asked for
	// (subjRel 0 for none).
	subjDef *definition
	subjRel nodeID

	// caveated reports whether the graph has caveated or expiring
	// relationships; now is the instant expirations are compared with.
	caveated bool
	now      int64

	keys  map[edgeKey]int32
	vs    []lookupVertex
	edges []lookupEdge
	// comps holds the vertices by component in the order Tarjan's
	// algorithm emits them (a component after those it depends on);
	// component c is comps[compEnd[c-1]:compEnd[c]]. flags[c] has
	// compGeneral if component c has an operand edge inside, and
	// compNegated if a negated one.
	comps   []int32
	compEnd []int32
	flags   []uint8
	// parts collects the sets of a walk.
	parts []*foundSet
	// frames and tarjan are the stacks of Tarjan's algorithm.
	frames []frame
	tarjan []int32

	// frozen is the component alternate computes, or -1.
	frozen           int32
	walks            int32
	stack            []int32
	steps, nextCheck int
	err              error
	unsettled        bool
}

// tick counts n steps and checks the context every lookupCheckEvery; it
// reports whether the lookup goes on.
func (ev *subjectEval) tick(n int) bool {
	ev.steps += n
	if ev.steps >= ev.nextCheck && ev.err == nil {
		ev.nextCheck = ev.steps + lookupCheckEvery
		ev.err = contextErr(ev.ctx)
	}
	return ev.err == nil
}

// vertex returns the vertex of n on o with polarity neg, adding it if it
// is new.
func (ev *subjectEval) vertex(n *node, o objID, neg bool) int32 {
	k := ev.vertexKey(o, n.id, neg)
	if v, ok := ev.keys[k]; ok {
		return v
	}
	v := int32(len(ev.vs))
	ev.vs = append(ev.vs, lookupVertex{n: n, o: o, neg: neg && ev.caveated, index: -1})
	ev.keys[k] = v
	return v
}

// idOf returns the id of object o.
func (ev *subjectEval) idOf(o objID) string {
	if o == 0 {
		return ev.startID
	}
	return ev.a.g.name(o)
}

// addEdges adds the edges of v.
func (ev *subjectEval) addEdges(v int32) {
	n, o, neg := ev.vs[v].n, ev.vs[v].o, ev.vs[v].neg
	first := len(ev.edges)
	if n.expr == nil {
		if o != 0 {
			k := keyOf(o, n.id)
			s := ev.a.g.subjectSets(k)
			for it := s.iter(); it.next(); {
				if t := unpackTarget(it.member()); ev.counts(k, t, neg) {
					ev.edges = append(ev.edges, lookupEdge{to: ev.vertex(ev.a.byID[t.rel], t.obj, neg), pos: posUnion})
				}
			}
		}
	} else {
		ev.exprEdges(n.expr, o, posUnion, neg)
	}
	ev.vs[v].first, ev.vs[v].end = int32(first), int32(len(ev.edges))
	ev.tick(1 + len(ev.edges) - first)
}

// exprEdges adds the edges of expression e on o, at position pos, for a
// vertex of polarity neg.
func (ev *subjectEval) exprEdges(e *expr, o objID, pos uint8, neg bool) {
	switch e.kind {
	case exprRef:
		ev.edges = append(ev.edges, lookupEdge{to: ev.vertex(e.ref, o, neg), pos: pos})
	case exprNil, exprSelf:
	case exprUnion:
		for _, c := range e.children {
			ev.exprEdges(c, o, pos, neg)
		}
	case exprIntersection:
		for _, c := range e.children {
			ev.exprEdges(c, o, max(pos, posOperand), neg)
		}
	case exprExclusion:
		ev.exprEdges(e.children[0], o, max(pos, posOperand), neg)
		ev.exprEdges(e.children[1], o, posNegated, !neg)
	default:
		if e.kind == exprArrowAll {
			pos = max(pos, posOperand)
		}
		k, s, ok := ev.arrowSet(e, o, neg)
		if !ok {
			return
		}
		for it := s.iter(); it.next(); {
			t := unpackTarget(it.member())
			if !ev.counts(k, t, neg) {
				continue
			}
			if target := e.targets[ev.a.g.defOf(t.obj).name]; target != nil {
				ev.edges = append(ev.edges, lookupEdge{to: ev.vertex(target, t.obj, neg), pos: pos})
			}
		}
	}
}

// arrowSet returns the key and the relationships arrow e walks from o
// (those that count are the ones counts reports at polarity neg), and
// false if there are none or if e is an all-arrow that is empty, as Check
// decides: one of the objects it walks to has no target, or one of its
// relationships that has not expired does not count (its caveat fails,
// or needs parameters at a positive polarity). Such a relationship is not
// skipped: the all-arrow asks every relationship to hold, and one whose
// caveat is not known to hold makes the whole arrow at most conditional,
// which a lookup leaves out.
func (ev *subjectEval) arrowSet(e *expr, o objID, neg bool) (edgeKey, slot[*edge], bool) {
	if o == 0 {
		return 0, slot[*edge]{}, false
	}
	k := keyOf(o, e.via.id)
	s := ev.a.g.out(k)
	if s.size() == 0 {
		return k, s, false
	}
	if e.kind == exprArrowAll {
		for it := s.iter(); it.next(); {
			t := unpackTarget(it.member())
			switch {
			case ev.expired(k, t):
			case !ev.counts(k, t, neg), e.targets[ev.a.g.defOf(t.obj).name] == nil:
				return k, s, false
			}
		}
	}
	return k, s, true
}

// expired reports whether the relationship of key k to t has expired at
// the lookup's instant.
func (ev *subjectEval) expired(k edgeKey, t target) bool {
	if !ev.caveated {
		return false
	}
	e := ev.a.g.edgeOf(k, t)
	return e.expires != 0 && ev.now >= e.expires
}

// counts reports whether the relationship of key k to t counts at
// polarity neg: it has not expired, and its caveat holds. A caveat that
// its stored context decides counts as decided; one that needs parameters
// or fails (a lookup brings no context) counts as not holding, so that the
// subjects found are never more than those that hold, except under an odd
// number of exclusions' right sides (neg), where it counts as holding, so
// that what is excluded is never less.
func (ev *subjectEval) counts(k edgeKey, t target, neg bool) bool {
	if !ev.caveated {
		return true
	}
	e := ev.a.g.edgeOf(k, t)
	if e.expires != 0 && ev.now >= e.expires {
		return false
	}
	if e.caveat == nil {
		return true
	}
	r, err := e.caveat.def.Eval(e.caveat.ctx, authz.Context{})
	if err != nil || r.Conditional() {
		return neg
	}
	return r.Value
}

// components finds the vertices reachable from start and their strongly
// connected components (Tarjan's algorithm, with an explicit stack).
func (ev *subjectEval) components(start int32) {
	frames, stack := ev.frames, ev.tarjan
	var counter int32
	defer func() { ev.frames, ev.tarjan = frames[:0], stack[:0] }()
	visit := func(v int32) {
		ev.vs[v].index, ev.vs[v].low = counter, counter
		counter++
		stack = append(stack, v)
		ev.vs[v].onStack = true
		ev.addEdges(v)
		frames = append(frames, frame{v: v, next: ev.vs[v].first})
	}
	visit(start)
	for len(frames) > 0 && ev.err == nil {
		f := &frames[len(frames)-1]
		v := f.v
		if f.next < ev.vs[v].end {
			w := ev.edges[f.next].to
			f.next++
			switch {
			case ev.vs[w].index < 0:
				visit(w)
			case ev.vs[w].onStack:
				ev.vs[v].low = min(ev.vs[v].low, ev.vs[w].index)
			}
			continue
		}
		frames = frames[:len(frames)-1]
		if ev.vs[v].low == ev.vs[v].index {
			c := int32(len(ev.compEnd))
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				ev.vs[w].onStack = false
				ev.vs[w].comp = c
				ev.comps = append(ev.comps, w)
				if w == v {
					break
				}
			}
			ev.compEnd = append(ev.compEnd, int32(len(ev.comps)))
		}
		if len(frames) > 0 {
			p := frames[len(frames)-1].v
			ev.vs[p].low = min(ev.vs[p].low, ev.vs[v].low)
		}
	}
}

// classify marks the components with an operand or negated edge inside
// and the vertices whose sets are kept: start, the operands, and the
// vertices of such components and their dependencies.
func (ev *subjectEval) classify(start int32) {
	ev.flags = slices.Grow(ev.flags[:0], len(ev.compEnd))[:len(ev.compEnd)]
	clear(ev.flags)
	for v := range ev.vs {
		c := ev.vs[v].comp
		for _, e := range ev.edges[ev.vs[v].first:ev.vs[v].end] {
			if e.pos == posUnion {
				continue
			}
			ev.vs[e.to].kept = true
			if ev.vs[e.to].comp == c {
				ev.flags[c] |= compGeneral
				if e.pos == posNegated {
					ev.flags[c] |= compNegated
				}
			}
		}
	}
	for v := range ev.vs {
		if ev.flags[ev.vs[v].comp]&compGeneral == 0 {
			continue
		}
		ev.vs[v].kept = true
		for _, e := range ev.edges[ev.vs[v].first:ev.vs[v].end] {
			ev.vs[e.to].kept = true
		}
	}
	ev.vs[start].kept = true
}

// evaluate computes the kept sets of component c, whose dependencies
// outside it are computed.
func (ev *subjectEval) evaluate(c int32) {
	var begin int32
	if c > 0 {
		begin = ev.compEnd[c-1]
	}
	members := ev.comps[begin:ev.compEnd[c]]
	if ev.flags[c]&compGeneral != 0 {
		ev.iterate(c, members)
		return
	}
	for _, v := range members {
		if !ev.vs[v].kept {
			continue
		}
		// Every member reaches every other through unions: one set.
		set := ev.walk(v)
		for _, w := range members {
			if ev.vs[w].kept {
				ev.vs[w].value = set
			}
		}
		return
	}
}

// walk returns the union of the local subjects of the vertices that the
// union edges of m reach, stopping at the kept sets of earlier components.
func (ev *subjectEval) walk(m int32) *foundSet {
	ev.walks++
	c := ev.vs[m].comp
	parts := ev.parts[:0]
	defer func() { clear(parts); ev.parts = parts[:0] }()
	ev.stack = append(ev.stack[:0], m)
	ev.vs[m].walk = ev.walks
	for len(ev.stack) > 0 {
		u := ev.stack[len(ev.stack)-1]
		ev.stack = ev.stack[:len(ev.stack)-1]
		if ev.vs[u].kept && ev.vs[u].comp != c {
			parts = append(parts, ev.read(u))
			continue
		}
		local := ev.local(u)
		if !ev.tick(1 + local.size()) {
			return nil
		}
		if !local.empty() {
			parts = append(parts, local)
		}
		for _, e := range ev.edges[ev.vs[u].first:ev.vs[u].end] {
			if e.pos == posUnion && ev.vs[e.to].walk != ev.walks {
				ev.vs[e.to].walk = ev.walks
				ev.stack = append(ev.stack, e.to)
			}
		}
	}
	return ev.merge(parts)
}

// merge returns the union of sets, counting the subjects it merges.
func (ev *subjectEval) merge(sets []*foundSet) *foundSet {
	if len(sets) > 1 {
		n := 0
		for _, s := range sets {
			n += s.size()
		}
		if !ev.tick(n) {
			return nil
		}
	}
	return unionMany(sets)
}

// unionMany returns the union of sets as unionAll does; past a few sets
// without a wildcard (a walk through many groups), it sorts their ids
// once rather than copying each about log2(len(sets)) times.
func unionMany(sets []*foundSet) *foundSet {
	if len(sets) <= 16 {
		return unionAll(sets)
	}
	n := 0
	for _, s := range sets {
		if s != nil && s.wildcard {
			return unionAll(sets)
		}
		n += s.size()
	}
	if n == 0 {
		return nil
	}
	ids := make([]string, 0, n)
	for _, s := range sets {
		if s != nil {
			ids = append(ids, s.concrete...)
		}
	}
	slices.Sort(ids)
	return &foundSet{concrete: slices.Clip(slices.Compact(ids))}
}

// iterate computes the sets of general component c.
func (ev *subjectEval) iterate(c int32, members []int32) {
	for i, v := range members {
		ev.vs[v].at = int32(i)
	}
	// depOn[depStart[i]:depStart[i+1]] are the members whose sets read
	// member i's.
	depStart := make([]int32, len(members)+1)
	for _, v := range members {
		for _, e := range ev.edges[ev.vs[v].first:ev.vs[v].end] {
			if ev.vs[e.to].comp == c {
				depStart[ev.vs[e.to].at+1]++
			}
		}
	}
	for i := range members {
		depStart[i+1] += depStart[i]
	}
	depOn := make([]int32, depStart[len(members)])
	fill := slices.Clone(depStart[:len(members)])
	for i, v := range members {
		for _, e := range ev.edges[ev.vs[v].first:ev.vs[v].end] {
			if ev.vs[e.to].comp == c {
				at := ev.vs[e.to].at
				depOn[fill[at]] = int32(i)
				fill[at]++
			}
		}
	}
	if ev.flags[c]&compNegated == 0 {
		ev.fixpoint(members, depStart, depOn)
		return
	}
	ev.alternate(c, members, depStart, depOn)
}

// fixpoint computes the least fixpoint of the sets of members from the
// empty sets, a member being computed again only when a set it reads
// changed.
func (ev *subjectEval) fixpoint(members, depStart, depOn []int32) {
	queue := make([]int32, len(members))
	queued := make([]bool, len(members))
	for i, v := range members {
		queue[i], queued[i] = int32(i), true
		ev.vs[v].value = nil
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		queued[i] = false
		v := members[i]
		set := ev.full(v)
		if ev.err != nil || !ev.tick(1+set.size()) {
			return
		}
		if set.equal(ev.vs[v].value) {
			continue
		}
		ev.vs[v].value = set
		for _, j := range depOn[depStart[i]:depStart[i+1]] {
			if !queued[j] {
				queued[j] = true
				queue = append(queue, j)
			}
		}
	}
}

// alternate computes the sets of component c, which excludes something
// derived from itself, as their well-founded values (Van Gelder's
// alternating fixpoint): the least fixpoint with the sets read through
// exclusions' right sides inside c held at the previous least fixpoint,
// starting from empty ones, alternately over- and underestimates the sets;
// both sequences settle. A member whose estimates still differ then has
// subjects that are neither in nor out (view = viewer - view): it is
// unsettled, and a lookup that reads it fails. The result does not depend
// on the order of evaluation.
func (ev *subjectEval) alternate(c int32, members, depStart, depOn []int32) {
	ev.frozen = c
	defer func() { ev.frozen = -1 }()
	var last [2][]*foundSet // the last estimates of each parity
	for k := range maxSubjectRounds {
		ev.fixpoint(members, depStart, depOn)
		if ev.err != nil {
			return
		}
		est := make([]*foundSet, len(members))
		for i, v := range members {
			est[i] = ev.vs[v].value
		}
		if prev := last[k%2]; prev != nil && slices.EqualFunc(prev, est, (*foundSet).equal) {
			// The next estimate would repeat last[1-k%2]: both settled.
			other := last[1-k%2]
			for i, v := range members {
				ev.vs[v].unsettled = !est[i].equal(other[i])
			}
			return
		}
		last[k%2] = est
		for i, v := range members {
			ev.vs[v].held = est[i]
		}
	}
	for _, v := range members {
		ev.vs[v].unsettled = true
	}
}

// errUnsettled marks a component that did not settle; subjectsOf reports
// it.
var errUnsettled = invalidf("a cycle through an exclusion does not settle")

// maxSubjectRounds bounds the estimates of a component with a cycle
// through the right side of an exclusion (see alternate); they settle long
// before.
const maxSubjectRounds = 1000

// local returns the local subjects of v: its direct subjects for a
// relation, its non-union subexpressions for a permission, and its object
// if v is the subject set asked for (group:eng#member has member on
// group:eng).
func (ev *subjectEval) local(v int32) *foundSet {
	n, o, neg := ev.vs[v].n, ev.vs[v].o, ev.vs[v].neg
	var set *foundSet
	if n.expr == nil {
		set = ev.direct(n, o, neg)
	} else {
		set = ev.localExpr(n.expr, o, neg)
	}
	return ev.self(n, o, set)
}

// full returns the set of v from the kept sets of its dependencies.
func (ev *subjectEval) full(v int32) *foundSet {
	n, o, neg := ev.vs[v].n, ev.vs[v].o, ev.vs[v].neg
	var set *foundSet
	if n.expr == nil {
		sets := []*foundSet{ev.direct(n, o, neg)}
		for _, e := range ev.edges[ev.vs[v].first:ev.vs[v].end] {
			sets = append(sets, ev.read(e.to))
		}
		set = ev.merge(sets)
	} else {
		set = ev.expr(n.expr, o, neg, false)
	}
	return ev.self(n, o, set)
}

// self adds o to set if n is the subject relation asked for.
func (ev *subjectEval) self(n *node, o objID, set *foundSet) *foundSet {
	if ev.subjRel != 0 && n.id == ev.subjRel && n.def == ev.subjDef {
		return set.union(concrete(ev.idOf(o)))
	}
	return set
}

// direct returns the subjects of relation n on o whose type and relation
// are those asked for: concrete ids, and a wildcard, of the relationships
// that count at polarity neg.
func (ev *subjectEval) direct(n *node, o objID, neg bool) *foundSet {
	if o == 0 {
		return nil
	}
	k := keyOf(o, n.id)
	s := ev.a.g.out(k)
	if s.size() == 0 {
		return nil
	}
	g := ev.a.g
	set := &foundSet{concrete: make([]string, 0, s.size())}
	for it := s.iter(); it.next(); {
		t := unpackTarget(it.member())
		switch {
		case g.defOf(t.obj) != ev.subjDef || t.rel != ev.subjRel:
		case !ev.counts(k, t, neg):
		case t.rel == 0 && g.name(t.obj) == authz.WildcardID:
			set.wildcard = true
		default:
			set.concrete = append(set.concrete, g.name(t.obj))
		}
	}
	if set.empty() {
		return nil
	}
	slices.Sort(set.concrete)
	return set
}

// localExpr returns the subjects of the non-union subexpressions of e on
// o, for a vertex of polarity neg: those reached from e through unions
// are the walk's.
func (ev *subjectEval) localExpr(e *expr, o objID, neg bool) *foundSet {
	switch e.kind {
	case exprRef, exprArrow, exprNil:
		return nil
	case exprUnion:
		sets := make([]*foundSet, len(e.children))
		for i, c := range e.children {
			sets[i] = ev.localExpr(c, o, neg)
		}
		return ev.merge(sets)
	}
	return ev.expr(e, o, neg, false)
}

// value returns the kept set of n on o at polarity pol; its held set if it
// is read through an exclusion's right side (neg) from within the
// component alternate computes.
func (ev *subjectEval) value(n *node, o objID, pol, neg bool) *foundSet {
	v, ok := ev.keys[ev.vertexKey(o, n.id, pol)]
	if !ok || !ev.vs[v].kept {
		if ev.err == nil {
			ev.err = fmt.Errorf("memadapter: subject lookup: no set for %s#%s: %w", n.def.name, n.name, authz.ErrInternal)
		}
		return nil
	}
	if neg && ev.vs[v].comp == ev.frozen {
		return ev.vs[v].held
	}
	return ev.read(v)
}

// read returns the kept set of v, failing the lookup if v did not settle.
func (ev *subjectEval) read(v int32) *foundSet {
	if ev.vs[v].unsettled && ev.err == nil {
		ev.err, ev.unsettled = errUnsettled, true
	}
	return ev.vs[v].value
}

// expr returns the subjects of permission expression e on o from the kept
// sets of its references and arrows; pol is the polarity the references
// are read at (see subjectsOf), and neg reports whether e is under an
// exclusion's right side.
func (ev *subjectEval) expr(e *expr, o objID, pol, neg bool) *foundSet {
	switch e.kind {
	case exprRef:
		return ev.value(e.ref, o, pol, neg)
	case exprNil:
		return nil
	case exprSelf:
		if ev.subjRel == 0 && ev.subjDef == e.self {
			return concrete(ev.idOf(o))
		}
		return nil
	case exprUnion:
		sets := make([]*foundSet, len(e.children))
		for i, c := range e.children {
			sets[i] = ev.expr(c, o, pol, neg)
		}
		return ev.merge(sets)
	case exprIntersection:
		set := ev.expr(e.children[0], o, pol, neg)
		for _, c := range e.children[1:] {
			if set.empty() {
				return nil
			}
			set = set.intersect(ev.expr(c, o, pol, neg))
		}
		return set
	case exprExclusion:
		base := ev.expr(e.children[0], o, pol, neg)
		if base.empty() {
			return nil
		}
		return base.subtract(ev.expr(e.children[1], o, !pol, true))
	}
	return ev.arrow(e, o, pol, neg)
}

// arrow returns the subjects of an arrow or all-arrow e on o: the union,
// or intersection, of its target on the objects it walks to through the
// relationships that count at polarity pol.
func (ev *subjectEval) arrow(e *expr, o objID, pol, neg bool) *foundSet {
	k, s, ok := ev.arrowSet(e, o, pol)
	if !ok {
		return nil
	}
	var sets []*foundSet
	for it := s.iter(); it.next(); {
		t := unpackTarget(it.member())
		if !ev.counts(k, t, pol) {
			continue
		}
		if target := e.targets[ev.a.g.defOf(t.obj).name]; target != nil {
			sets = append(sets, ev.value(target, t.obj, pol, neg))
		}
	}
	if e.kind == exprArrow {
		return ev.merge(sets)
	}
	if len(sets) == 0 {
		return nil
	}
	set := sets[0]
	for _, s := range sets[1:] {
		set = set.intersect(s)
	}
	return set
}

// foundSet is a set of subjects of one type as SpiceDB's subject lookup
// represents it: the concrete ids found, and possibly a wildcard with the
// ids excluded from it. Both lists are sorted and without repeats, and no
// excluded id is also concrete. A nil *foundSet is empty. Sets are never
// modified once built: operations return new sets, or one of their
// operands, so that a node's set can be shared by every node above it.
type foundSet struct {
	concrete []string
	wildcard bool
	excluded []string // only with wildcard
}

// concrete returns the set of one concrete id.
func concrete(id string) *foundSet {
	return &foundSet{concrete: []string{id}}
}

// size returns the number of ids s lists, concrete or excluded.
func (s *foundSet) size() int {
	if s == nil {
		return 0
	}
	return len(s.concrete) + len(s.excluded)
}

func (s *foundSet) empty() bool { return s == nil || !s.wildcard && len(s.concrete) == 0 }

// equal reports whether s and o hold the same subjects in the same form.
func (s *foundSet) equal(o *foundSet) bool {
	if s.empty() || o.empty() {
		return s.empty() && o.empty()
	}
	return s.wildcard == o.wildcard && slices.Equal(s.concrete, o.concrete) && slices.Equal(s.excluded, o.excluded)
}

// union returns s ∪ o: every concrete of either, and a wildcard if either
// has one, excluding what both wildcards exclude and no concrete.
func (s *foundSet) union(o *foundSet) *foundSet {
	switch {
	case o.empty() && s.empty():
		return nil
	case o.empty():
		return s
	case s.empty():
		return o
	}
	out := &foundSet{concrete: merge(s.concrete, o.concrete)}
	switch {
	case s.wildcard && o.wildcard:
		out.wildcard, out.excluded = true, common(s.excluded, o.excluded)
	case s.wildcard:
		out.wildcard, out.excluded = true, s.excluded
	case o.wildcard:
		out.wildcard, out.excluded = true, o.excluded
	}
	if len(out.excluded) > 0 {
		out.excluded = without(out.excluded, out.concrete)
	}
	return out
}

// unionAll returns the union of sets, merging them in pairs so that each
// id is copied about log2(len(sets)) times. It may modify sets.
func unionAll(sets []*foundSet) *foundSet {
	for len(sets) > 1 {
		half := (len(sets) + 1) / 2
		for i := range len(sets) / 2 {
			sets[i] = sets[2*i].union(sets[2*i+1])
		}
		if len(sets)%2 == 1 {
			sets[half-1] = sets[len(sets)-1]
		}
		sets = sets[:half]
	}
	if len(sets) == 0 {
		return nil
	}
	return sets[0]
}

// intersect returns s ∩ o: the wildcard if both have one, excluding what
// either excludes; the concretes of both; and the concretes of one that the
// other's wildcard covers.
func (s *foundSet) intersect(o *foundSet) *foundSet {
	if s.empty() || o.empty() {
		return nil
	}
	out := &foundSet{}
	if s.wildcard && o.wildcard {
		out.wildcard = true
		out.excluded = merge(s.excluded, o.excluded)
	}
	out.concrete = merge(s.within(o), o.within(s))
	if out.empty() {
		return nil
	}
	return out
}

// within returns the concretes of s that o holds, as a concrete or under
// its wildcard.
func (s *foundSet) within(o *foundSet) []string {
	if o.wildcard {
		return without(s.concrete, without(o.excluded, o.concrete))
	}
	return common(s.concrete, o.concrete)
}

// covers reports whether s holds id, as a concrete or under its wildcard.
func (s *foundSet) covers(id string) bool {
	if _, ok := slices.BinarySearch(s.concrete, id); ok {
		return true
	}
	if !s.wildcard {
		return false
	}
	_, excluded := slices.BinarySearch(s.excluded, id)
	return !excluded
}

// subtract returns s - o as SpiceDB subtracts: o's concretes leave s's
// concretes and join its wildcard's exclusions; o's wildcard removes s's
// concretes it does not exclude, and s's wildcard, leaving as concretes
// the ids o's wildcard excludes and s's does not.
func (s *foundSet) subtract(o *foundSet) *foundSet {
	if s.empty() {
		return nil
	}
	if o.empty() {
		return s
	}
	out := &foundSet{wildcard: s.wildcard, concrete: without(s.concrete, o.concrete)}
	if o.wildcard {
		out.concrete = common(out.concrete, o.excluded)
	}
	if s.wildcard {
		out.excluded = merge(s.excluded, o.concrete)
		if o.wildcard {
			out.concrete = merge(out.concrete, without(o.excluded, out.excluded))
			out.wildcard, out.excluded = false, nil
		}
	}
	if out.empty() {
		return nil
	}
	return out
}

// merge returns the sorted union of sorted a and b, which it may return
// itself when the other is empty.
func merge(a, b []string) []string {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// common returns the sorted intersection of sorted a and b.
func common(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// without returns the ids of sorted a that are not in sorted b; a itself
// if there are none.
func without(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return a
	}
	var out []string
	i, j := 0, 0
	for i < len(a) {
		switch {
		case j == len(b) || a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			j++
		default:
			i++
			j++
		}
	}
	if len(out) == len(a) {
		return a
	}
	return out
}

// page returns the subjects of s after req.Cursor, at most req.Limit of
// them if it is positive, in ascending order of id, the wildcard first.
func (s *foundSet) page(req authz.SubjectLookupRequest) authz.SubjectLookupResult {
	if s.empty() {
		return authz.SubjectLookupResult{Subjects: []authz.FoundSubject{}}
	}
	ids := s.concrete
	if req.Cursor != "" {
		start, found := slices.BinarySearch(ids, req.Cursor)
		if found {
			start++
		}
		ids = ids[start:]
	}
	wildcard := s.wildcard && req.Cursor == ""
	n := len(ids)
	if wildcard {
		n++
	}
	more := req.Limit > 0 && n > req.Limit
	if more {
		n = req.Limit
	}
	out := make([]authz.FoundSubject, 0, n)
	if wildcard {
		w := authz.FoundSubject{Subject: authz.Wildcard(req.SubjectType)}
		if len(s.excluded) > 0 {
			w.Excluded = make([]authz.Subject, len(s.excluded))
			for i, id := range s.excluded {
				w.Excluded[i] = authz.Subject{Type: req.SubjectType, ID: id}
			}
		}
		out = append(out, w)
	}
	for _, id := range ids[:n-len(out)] {
		out = append(out, authz.FoundSubject{Subject: authz.Subject{Type: req.SubjectType, ID: id, Relation: req.SubjectRelation}})
	}
	res := authz.SubjectLookupResult{Subjects: out}
	if more {
		res.Cursor = out[len(out)-1].Subject.ID
	}
	return res
}
