package memadapter

import (
	"context"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

// Lookup returns, in ascending order, the ids of req.ResourceType on which
// req.Subject has req.Permission: exactly the ids for which
// [Authorizer.Check] would allow, because every id is confirmed by the same
// evaluation. If req.Limit is positive, at most Limit ids are returned
// after req.Cursor, and the result's cursor (the last id returned) is set
// when more allowed ids follow. A check error on any candidate fails the
// whole lookup rather than returning a partial list. Validation errors are
// as for Check; a negative limit or a cursor that is not an id match
// [authz.ErrInvalidRequest] too.
//
// Candidates come from walking the schema backwards from the subject
// through an index of relationships by subject: a relation's candidates are
// the resources related to the subject directly, through a wildcard, or
// through subject sets whose candidates are computed first (recursive sets
// such as group#member as a fixpoint); a union's are its children's, an
// intersection's those common to its children, an exclusion's its left
// side's, and an arrow's the resources related to candidates of its target.
// This is a superset of the answer, which the checks then cut down. When
// the permission reaches only unions, references, any-arrows and
// relations, without recursion or a chain as deep as [MaxDepth], the
// candidates are exactly the answer and are not checked one by one.
func (a *Authorizer) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	if err := contextErr(ctx); err != nil {
		return authz.LookupResult{}, err
	}
	if req.Limit < 0 {
		return authz.LookupResult{}, invalidf("negative limit %d", req.Limit)
	}
	if err := req.Validate(); err != nil {
		return authz.LookupResult{}, wrap(err)
	}
	if req.Cursor != "" && !authz.ValidID(req.Cursor) {
		return authz.LookupResult{}, invalidf("malformed lookup cursor")
	}
	n, err := a.resolve(req.ResourceType, req.Permission)
	if err != nil {
		return authz.LookupResult{}, err
	}
	sub, err := a.resolveSubject(req.Subject)
	if err != nil {
		return authz.LookupResult{}, err
	}

	if err := checkRequestContext(n, req.Context); err != nil {
		return authz.LookupResult{}, err
	}

	rd := a.read()
	cands := rd.candidates(n, sub)
	ids := make([]string, 0, len(cands))
	for id := range cands {
		if id > req.Cursor {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)

	if n.exact {
		return pageOf(ids, req.Limit), nil
	}
	ev := rd.newEvaluator(ctx, sub, req.Context)
	var out, conditional []string
	for i, id := range ids {
		if i%256 == 0 {
			if err := contextErr(ctx); err != nil {
				return authz.LookupResult{}, err
			}
		}
		r, err := ev.node(n, id, 0)
		if err != nil {
			return authz.LookupResult{}, err
		}
		if r.state == stateNo || r.state == stateCond && !req.IncludeConditional {
			continue
		}
		if req.Limit > 0 && len(out)+len(conditional) == req.Limit {
			// Another allowed id follows the page.
			last := out[len(out)-1:]
			if len(conditional) > 0 && (len(out) == 0 || conditional[len(conditional)-1] > out[len(out)-1]) {
				last = conditional[len(conditional)-1:]
			}
			return authz.IDs(nonNil(out), last[0]).WithConditional(conditional), nil
		}
		if r.state == stateCond {
			conditional = append(conditional, id)
			continue
		}
		out = append(out, id)
	}
	return authz.IDs(nonNil(out), "").WithConditional(conditional), nil
}

// nonNil returns ids, or an empty list for nil: a lookup answers "none"
// with an empty list.
func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// page returns the first limit ids (all if limit is zero), with a cursor
// if more follow.
func pageOf(ids []string, limit int) authz.LookupResult {
	if limit == 0 || len(ids) <= limit {
		return authz.IDs(ids, "")
	}
	ids = ids[:limit:limit]
	return authz.IDs(ids, ids[limit-1])
}

// idSet is a set of object ids.
type idSet map[string]struct{}

// candidates returns a superset of the ids on which n holds for sub.
func (a reader) candidates(n *node, sub subject) idSet {
	vals := make(map[*node]idSet, len(n.plan))
	for _, c := range n.plan {
		if !c.cyclic {
			m := c.nodes[0]
			vals[m] = a.nodeCandidates(m, sub, vals)
			continue
		}
		// A cycle (group#member through group#member) grows monotonically
		// to its fixpoint.
		for changed := true; changed; {
			changed = false
			for _, m := range c.nodes {
				next := a.nodeCandidates(m, sub, vals)
				if len(next) != len(vals[m]) {
					vals[m] = next
					changed = true
				}
			}
		}
	}
	return vals[n]
}

// nodeCandidates computes the candidates of n from those of its
// dependencies in vals.
func (a reader) nodeCandidates(n *node, sub subject, vals map[*node]idSet) idSet {
	self := sub.rel != "" && sub.rel == n.name && sub.typ == n.def.name
	if n.expr != nil {
		set := a.exprCandidates(n.expr, n.def, sub, vals)
		if self {
			// The sets in vals are never modified; copy before adding.
			set = union(set, idSet{sub.id: {}})
		}
		return set
	}
	set := idSet{}
	if self {
		set[sub.id] = struct{}{}
	}
	if t := a.targetOf(sub); t.obj != 0 {
		a.addSources(set, t.obj, n, t.rel, true)
	}
	if sub.rel == "" && n.wildcards[sub.typ] {
		if w := a.g.lookup(a.defs[sub.typ], authz.WildcardID); w != 0 {
			a.addSources(set, w, n, 0, false)
		}
	}
	for _, target := range n.subjectSets {
		for g := range vals[target] {
			if o := a.g.lookup(target.def, g); o != 0 {
				a.addSources(set, o, n, target.id, true)
			}
		}
	}
	return set
}

// addSources adds to set the ids of the resources related by relation n
// to object o: those whose subject relation is subjRel if match is set,
// all of them otherwise.
func (a reader) addSources(set idSet, o objID, n *node, subjRel nodeID, match bool) {
	srcs := a.g.in(keyOf(o, n.id))
	for it := srcs.iter(); it.next(); {
		if s := unpackSource(it.member()); !match || s.subjRel == subjRel {
			set[a.g.name(s.obj)] = struct{}{}
		}
	}
}

func (a reader) exprCandidates(e *expr, d *definition, sub subject, vals map[*node]idSet) idSet {
	switch e.kind {
	case exprRef:
		return vals[e.ref]
	case exprNil:
		return nil
	case exprSelf:
		if sub.rel == "" && sub.typ == d.name {
			return idSet{sub.id: {}}
		}
		return nil
	case exprUnion:
		sets := make([]idSet, len(e.children))
		for i, c := range e.children {
			sets[i] = a.exprCandidates(c, d, sub, vals)
		}
		return union(sets...)
	case exprIntersection:
		sets := make([]idSet, len(e.children))
		smallest := 0
		for i, c := range e.children {
			sets[i] = a.exprCandidates(c, d, sub, vals)
			if len(sets[i]) < len(sets[smallest]) {
				smallest = i
			}
		}
		set := idSet{}
	outer:
		for id := range sets[smallest] {
			for _, s := range sets {
				if _, ok := s[id]; !ok {
					continue outer
				}
			}
			set[id] = struct{}{}
		}
		return set
	case exprExclusion:
		return a.exprCandidates(e.children[0], d, sub, vals)
	default: // exprArrow, exprArrowAll
		size := 0
		for typ, target := range e.targets {
			for obj := range vals[target] {
				if o := a.g.lookup(a.defs[typ], obj); o != 0 {
					srcs := a.g.in(keyOf(o, e.via.id))
					size += srcs.size()
				}
			}
		}
		set := make(idSet, size)
		for typ, target := range e.targets {
			for obj := range vals[target] {
				if o := a.g.lookup(a.defs[typ], obj); o != 0 {
					a.addSources(set, o, e.via, 0, false)
				}
			}
		}
		return set
	}
}

// union returns the union of sets, without copying when at most one is
// non-empty. Its result must not be modified.
func union(sets ...idSet) idSet {
	var nonEmpty []idSet
	size := 0
	for _, s := range sets {
		if len(s) > 0 {
			nonEmpty = append(nonEmpty, s)
			size += len(s)
		}
	}
	switch len(nonEmpty) {
	case 0:
		return nil
	case 1:
		return nonEmpty[0]
	}
	set := make(idSet, size)
	for _, s := range nonEmpty {
		for id := range s {
			set[id] = struct{}{}
		}
	}
	return set
}
