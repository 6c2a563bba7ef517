package memadapter

import (
	"context"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

var _ authz.SubjectLookuper = (*Authorizer)(nil)

// maxSubjectRounds bounds the rounds of a subject lookup's fixpoint. A
// cycle of relations and unions, intersections and arrows settles in a few
// rounds; only a cycle through the right side of an exclusion (a permission
// that excludes something derived from itself) can oscillate, and reaches
// the bound.
const maxSubjectRounds = 1000

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
// a fixpoint, never failing with a depth error. A cycle through the right
// side of an exclusion that does not settle is an error matching
// [authz.ErrInvalidRequest].
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

	a.mu.RLock()
	set, err := a.subjectsOf(ctx, n, req.Resource.ID, req.SubjectType, req.SubjectRelation)
	a.mu.RUnlock()
	if err != nil {
		return authz.SubjectLookupResult{}, err
	}
	return set.page(req), nil
}

// subjectsOf computes the subjects of n on object id; the caller holds the
// read lock.
//
// A cycle is computed by rounds: within a round, a node met again while it
// is being computed contributes its value of the previous round (nothing in
// the first), and the rounds repeat until those values are the ones the
// round computed. Every operation but an exclusion's right side is
// monotone, so from nothing this reaches the least fixpoint. Graphs without
// cycles take one round.
func (a *Authorizer) subjectsOf(ctx context.Context, n *node, id, typ, rel string) (*foundSet, error) {
	ev := subjectEval{a: a, ctx: ctx, typ: typ, rel: rel}
	if a.g.expiring > 0 {
		ev.now = a.now()
	}
	for range maxSubjectRounds {
		ev.done = make(map[objRel]*foundSet)
		ev.active = make(map[objRel]bool)
		ev.used = nil
		set := ev.node(n, id)
		if ev.err != nil {
			return nil, ev.err
		}
		settled := true
		for key := range ev.used {
			if !ev.done[key].equal(ev.prev[key]) {
				settled = false
			}
		}
		if settled {
			return set, nil
		}
		next := make(map[objRel]*foundSet, len(ev.used))
		for key := range ev.used {
			next[key] = ev.done[key]
		}
		ev.prev = next
	}
	return nil, invalidf("subject lookup of %s#%s does not settle (a cycle through an exclusion)", n.def.name, n.name)
}

// subjectEval computes the subjects of one type and subject relation;
// the caller holds the read lock.
type subjectEval struct {
	a        *Authorizer
	ctx      context.Context
	typ, rel string
	visits   int
	err      error
	// now is the instant expirations are compared with; neg counts the
	// exclusions' right sides the computation is under (see edge).
	now int64
	neg int

	// done holds the nodes computed in this round, active those being
	// computed, used those met while active, and prev the values of the
	// previous round for the nodes it met while active.
	done   map[objRel]*foundSet
	active map[objRel]bool
	used   map[objRel]bool
	prev   map[objRel]*foundSet
}

// node returns the subjects of n on object id.
func (ev *subjectEval) node(n *node, id string) *foundSet {
	key := objRel{typ: n.def.name, id: id, rel: n.name}
	if ev.neg%2 == 1 && len(ev.a.g.edges) > 0 {
		// Under an exclusion's right side caveated relationships count
		// (see edge), so the node has another value there.
		key.rel += "\x00-"
	}
	if set, ok := ev.done[key]; ok {
		return set
	}
	if ev.active[key] {
		if ev.used == nil {
			ev.used = make(map[objRel]bool)
		}
		ev.used[key] = true
		return ev.prev[key]
	}
	if ev.visits++; ev.visits%1024 == 0 && ev.err == nil {
		ev.err = contextErr(ev.ctx)
	}
	if ev.err != nil {
		return nil
	}
	ev.active[key] = true
	var set *foundSet
	if n.expr != nil {
		set = ev.expr(n.expr, n.def, id)
	} else {
		set = ev.relation(n, id)
	}
	if ev.rel != "" && ev.rel == n.name && ev.typ == n.def.name {
		// A subject set is a member of itself.
		set = set.union(concrete(id))
	}
	delete(ev.active, key)
	ev.done[key] = set
	return set
}

// relation returns the subjects of relation n on object id: those of its
// relationships whose subject has the type and relation asked for, and
// those of its subject sets.
func (ev *subjectEval) relation(n *node, id string) *foundSet {
	o := ev.a.g.lookup(n.def, id)
	if o == 0 {
		return nil
	}
	s, ok := ev.a.g.out[keyOf(o, n.id)]
	if !ok {
		return nil
	}
	direct := &foundSet{concrete: make([]string, 0, s.size())}
	sets := []*foundSet{direct}
	for i := range s.size() {
		t := s.at(i)
		if !ev.edge(keyOf(o, n.id), t) {
			continue
		}
		sub := ev.a.subjectOf(t)
		switch {
		case sub.typ != ev.typ || sub.rel != ev.rel:
		case sub.id == authz.WildcardID && sub.rel == "":
			direct.wildcard = true
		default:
			direct.concrete = append(direct.concrete, sub.id)
		}
		if t.rel != 0 { // a subject set: its members too
			sets = append(sets, ev.node(ev.a.byID[t.rel], sub.id))
		}
	}
	slices.Sort(direct.concrete)
	return unionAll(sets)
}

// expr returns the subjects of permission expression e on object id of d.
func (ev *subjectEval) expr(e *expr, d *definition, id string) *foundSet {
	switch e.kind {
	case exprRef:
		return ev.node(e.ref, id)
	case exprNil:
		return nil
	case exprSelf:
		if ev.rel == "" && ev.typ == d.name {
			return concrete(id)
		}
		return nil
	case exprUnion:
		sets := make([]*foundSet, len(e.children))
		for i, c := range e.children {
			sets[i] = ev.expr(c, d, id)
		}
		return unionAll(sets)
	case exprIntersection:
		set := ev.expr(e.children[0], d, id)
		for _, c := range e.children[1:] {
			if set.empty() {
				return nil
			}
			set = set.intersect(ev.expr(c, d, id))
		}
		return set
	case exprExclusion:
		base := ev.expr(e.children[0], d, id)
		if base.empty() {
			return nil
		}
		ev.neg++
		excluded := ev.expr(e.children[1], d, id)
		ev.neg--
		return base.subtract(excluded)
	}
	return ev.arrow(e, d, id)
}

// arrow returns the subjects of an arrow or all-arrow e on object id of d.
func (ev *subjectEval) arrow(e *expr, d *definition, id string) *foundSet {
	o := ev.a.g.lookup(d, id)
	if o == 0 {
		return nil
	}
	s, ok := ev.a.g.out[keyOf(o, e.via.id)]
	if !ok {
		return nil
	}
	var set *foundSet
	var sets []*foundSet // of an any-arrow
	first := true
	for i := range s.size() {
		if !ev.edge(keyOf(o, e.via.id), s.at(i)) {
			continue
		}
		obj := ev.a.subjectOf(s.at(i))
		target := e.targets[obj.typ]
		switch {
		case target == nil && e.kind == exprArrowAll:
			return nil // as Check decides: not every object has the target
		case target == nil:
		case e.kind == exprArrow:
			sets = append(sets, ev.node(target, obj.id))
		case first:
			set, first = ev.node(target, obj.id), false
		default:
			set = set.intersect(ev.node(target, obj.id))
		}
	}
	if e.kind == exprArrow {
		return unionAll(sets)
	}
	return set
}

// edge reports whether the relationship of key k to t counts: it has not
// expired, and its caveat holds. A caveat that its stored context decides
// counts as decided; one that needs parameters (a lookup brings no
// context) counts as not holding, so that the subjects found are never
// more than those that hold, except under the right side of an exclusion,
// where it counts as holding, so that what is excluded is never less.
func (ev *subjectEval) edge(k edgeKey, t target) bool {
	if len(ev.a.g.edges) == 0 {
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
		return ev.neg%2 == 1
	}
	return r.Value
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
