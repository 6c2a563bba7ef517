package memadapter

import (
	"context"
	"maps"
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
	s := ev.a.edges[objRel{typ: n.def.name, id: id, rel: n.name}]
	if s == nil {
		return nil
	}
	var direct *foundSet
	for sub := range s.all {
		if sub.typ != ev.typ || sub.rel != ev.rel {
			continue
		}
		if direct == nil {
			direct = &foundSet{}
		}
		if sub.id == authz.WildcardID && sub.rel == "" {
			direct.wildcard = true
			continue
		}
		if direct.concrete == nil {
			direct.concrete = make(map[string]struct{})
		}
		direct.concrete[sub.id] = struct{}{}
	}
	set := direct
	for sub, target := range s.sets {
		set = set.union(ev.node(target, sub.id))
	}
	return set
}

// expr returns the subjects of permission expression e on object id of d.
func (ev *subjectEval) expr(e *expr, d *definition, id string) *foundSet {
	switch e.kind {
	case exprRef:
		return ev.node(e.ref, id)
	case exprNil:
		return nil
	case exprUnion:
		var set *foundSet
		for _, c := range e.children {
			set = set.union(ev.expr(c, d, id))
		}
		return set
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
		return base.subtract(ev.expr(e.children[1], d, id))
	}
	return ev.arrow(e, d, id)
}

// arrow returns the subjects of an arrow or all-arrow e on object id of d.
func (ev *subjectEval) arrow(e *expr, d *definition, id string) *foundSet {
	s := ev.a.edges[objRel{typ: d.name, id: id, rel: e.via.name}]
	if s == nil {
		return nil
	}
	var set *foundSet
	first := true
	for obj := range s.all {
		target := e.targets[obj.typ]
		switch {
		case target == nil && e.kind == exprArrowAll:
			return nil // as Check decides: not every object has the target
		case target == nil:
		case e.kind == exprArrow:
			set = set.union(ev.node(target, obj.id))
		case first:
			set, first = ev.node(target, obj.id), false
		default:
			set = set.intersect(ev.node(target, obj.id))
		}
	}
	return set
}

// foundSet is a set of subjects of one type as SpiceDB's subject lookup
// represents it: the concrete ids found, and possibly a wildcard with the
// ids excluded from it. No excluded id is also concrete. A nil *foundSet is
// empty. Sets are never modified once built: operations return new sets,
// or one of their operands.
type foundSet struct {
	concrete map[string]struct{}
	wildcard bool
	excluded map[string]struct{} // only with wildcard
}

// concrete returns the set of one concrete id.
func concrete(id string) *foundSet {
	return &foundSet{concrete: map[string]struct{}{id: {}}}
}

func (s *foundSet) empty() bool { return s == nil || !s.wildcard && len(s.concrete) == 0 }

// equal reports whether s and o hold the same subjects in the same form.
func (s *foundSet) equal(o *foundSet) bool {
	if s.empty() || o.empty() {
		return s.empty() && o.empty()
	}
	return s.wildcard == o.wildcard && maps.Equal(s.concrete, o.concrete) && maps.Equal(s.excluded, o.excluded)
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
	out := &foundSet{concrete: make(map[string]struct{}, s.size()+o.size())}
	for _, x := range []*foundSet{s, o} {
		if x == nil {
			continue
		}
		maps.Copy(out.concrete, x.concrete)
	}
	switch {
	case s != nil && s.wildcard && o != nil && o.wildcard:
		out.wildcard = true
		out.excluded = intersectIDs(s.excluded, o.excluded)
	case s != nil && s.wildcard:
		out.wildcard, out.excluded = true, maps.Clone(s.excluded)
	case o != nil && o.wildcard:
		out.wildcard, out.excluded = true, maps.Clone(o.excluded)
	}
	for id := range out.concrete {
		delete(out.excluded, id)
	}
	if len(out.excluded) == 0 {
		out.excluded = nil
	}
	return out
}

func (s *foundSet) size() int {
	if s == nil {
		return 0
	}
	return len(s.concrete)
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
		out.excluded = unionIDs(s.excluded, o.excluded)
	}
	add := func(id string) {
		if out.concrete == nil {
			out.concrete = make(map[string]struct{})
		}
		out.concrete[id] = struct{}{}
	}
	for id := range s.concrete {
		if o.covers(id) {
			add(id)
		}
	}
	for id := range o.concrete {
		if s.covers(id) {
			add(id)
		}
	}
	if out.empty() {
		return nil
	}
	return out
}

// covers reports whether s holds id, as a concrete or under its wildcard.
func (s *foundSet) covers(id string) bool {
	if _, ok := s.concrete[id]; ok {
		return true
	}
	if !s.wildcard {
		return false
	}
	_, excluded := s.excluded[id]
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
	out := &foundSet{wildcard: s.wildcard}
	for id := range s.concrete {
		if _, removed := o.concrete[id]; removed {
			continue
		}
		if o.wildcard {
			if _, kept := o.excluded[id]; !kept {
				continue
			}
		}
		if out.concrete == nil {
			out.concrete = make(map[string]struct{})
		}
		out.concrete[id] = struct{}{}
	}
	if s.wildcard {
		out.excluded = unionIDs(s.excluded, o.concrete)
	}
	if o.wildcard {
		if s.wildcard {
			for id := range o.excluded {
				if _, ok := out.excluded[id]; ok {
					continue
				}
				if out.concrete == nil {
					out.concrete = make(map[string]struct{})
				}
				out.concrete[id] = struct{}{}
			}
		}
		out.wildcard, out.excluded = false, nil
	}
	if out.empty() {
		return nil
	}
	return out
}

func intersectIDs(a, b map[string]struct{}) map[string]struct{} {
	out := make(map[string]struct{}, min(len(a), len(b)))
	for id := range a {
		if _, ok := b[id]; ok {
			out[id] = struct{}{}
		}
	}
	return out
}

func unionIDs(a, b map[string]struct{}) map[string]struct{} {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := make(map[string]struct{}, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// page returns the subjects of s after req.Cursor, at most req.Limit of
// them if it is positive, in ascending order of id, the wildcard first.
func (s *foundSet) page(req authz.SubjectLookupRequest) authz.SubjectLookupResult {
	if s.empty() {
		return authz.SubjectLookupResult{Subjects: []authz.FoundSubject{}}
	}
	ids := make([]string, 0, len(s.concrete))
	for id := range s.concrete {
		if id > req.Cursor {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
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
			w.Excluded = make([]authz.Subject, 0, len(s.excluded))
			for _, id := range slices.Sorted(maps.Keys(s.excluded)) {
				w.Excluded = append(w.Excluded, authz.Subject{Type: req.SubjectType, ID: id})
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
