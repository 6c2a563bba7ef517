package memadapter

import (
	"cmp"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// MaxDepth is how many relations and permissions deep a check may go, the
// default of SpiceDB's --dispatch-max-depth. A check that needs more fails
// with an error matching [authz.ErrInvalidRequest], never a denial or an
// allow.
const MaxDepth = 50

// errMaxDepth is the error of a check that exceeded MaxDepth. It is a
// value, not built per check, so that the deep path allocates nothing
// either.
var errMaxDepth = fmt.Errorf("memadapter: check exceeded the maximum depth of %d (a cycle in the relationships?): %w", MaxDepth, authz.ErrInvalidRequest)

// memoAfter is how many nodes a check visits before it starts remembering
// results, so that small checks allocate nothing while checks over wide,
// shared subgraphs stay polynomial.
const memoAfter = 64

// evaluator answers checks for one subject, following SpiceDB's dispatch
// as the package documentation describes; the caller holds the read lock.
// It allocates nothing until a check has visited memoAfter nodes.
type evaluator struct {
	a      *Authorizer
	sub    subject
	visits int
	memo   map[objRel]memoEntry
}

// memoEntry is what is known of one node on one object. An answer found
// at some depth holds at that depth and shallower (more depth left can only
// find what less found); a depth error at some depth recurs at that depth
// and deeper. Remembering both keeps checks over cyclic or widely shared
// subgraphs polynomial: each node is evaluated at most once per depth.
type memoEntry struct {
	known    bool // allowed is the answer at depth and shallower
	allowed  bool
	depth    int
	errDepth int // if positive, evaluations at errDepth and deeper fail
}

// node evaluates relation or permission n on object id of n's type.
func (ev *evaluator) node(n *node, id string, depth int) (bool, error) {
	if depth >= MaxDepth {
		return false, errMaxDepth
	}
	if ev.sub.rel != "" && ev.sub.rel == n.name && ev.sub.typ == n.def.name && ev.sub.id == id {
		return true, nil
	}
	if n.alias != nil && ev.sub.typ != n.def.name {
		n = n.alias
	}
	ev.visits++
	remember := n.expensive && depth > 0 && ev.visits > memoAfter
	key := objRel{typ: n.def.name, id: id, rel: n.name}
	if remember && ev.memo != nil {
		if m, ok := ev.memo[key]; ok {
			if m.known && depth <= m.depth {
				return m.allowed, nil
			}
			if m.errDepth > 0 && depth >= m.errDepth {
				return false, errMaxDepth
			}
		}
	}
	var allowed bool
	var err error
	if n.expr != nil {
		allowed, err = ev.expr(n.expr, n.def, id, depth, false)
	} else {
		allowed, err = ev.relation(n, id, depth)
	}
	if remember {
		if ev.memo == nil {
			ev.memo = make(map[objRel]memoEntry)
		}
		m := ev.memo[key]
		switch {
		case err != nil:
			if m.errDepth == 0 || depth < m.errDepth {
				m.errDepth = depth
			}
		case !m.known || depth > m.depth:
			m.known, m.allowed, m.depth = true, allowed, depth
		}
		ev.memo[key] = m
	}
	return allowed, err
}

func (ev *evaluator) relation(n *node, id string, depth int) (bool, error) {
	s := ev.a.edges[objRel{typ: n.def.name, id: id, rel: n.name}]
	if s == nil {
		return false, nil
	}
	if _, ok := s.all[ev.sub]; ok {
		return true, nil
	}
	if ev.sub.rel == "" && n.wildcards != nil && n.wildcards[ev.sub.typ] {
		if _, ok := s.all[subject{typ: ev.sub.typ, id: authz.WildcardID}]; ok {
			return true, nil
		}
	}
	var firstErr error
	for set, target := range s.sets {
		allowed, err := ev.node(target, set.id, depth+1)
		if allowed {
			return true, nil
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return false, firstErr
}

// expr evaluates e on object id of d. requireAll is SpiceDB's
// REQUIRE_ALL_RESULTS, set under an intersection or an exclusion: SpiceDB
// then waits for every branch of a union or an arrow, so that an error in
// any branch is the answer even if another allows.
func (ev *evaluator) expr(e *expr, d *definition, id string, depth int, requireAll bool) (bool, error) {
	switch e.kind {
	case exprRef:
		return ev.node(e.ref, id, depth+1)
	case exprNil:
		return false, nil
	case exprUnion:
		found := false
		var firstErr error
		for _, c := range e.children {
			allowed, err := ev.expr(c, d, id, depth, requireAll)
			switch {
			case err != nil && !requireAll:
				return false, err
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
			case allowed && !requireAll:
				return true, nil
			}
			found = found || allowed
		}
		return found && firstErr == nil, firstErr
	case exprIntersection:
		for _, c := range e.children {
			allowed, err := ev.expr(c, d, id, depth, true)
			if err != nil || !allowed {
				return false, err
			}
		}
		return true, nil
	case exprExclusion:
		base, err := ev.expr(e.children[0], d, id, depth, true)
		if err != nil || !base {
			return false, err
		}
		excluded, err := ev.expr(e.children[1], d, id, depth, true)
		if err != nil {
			return false, err
		}
		return !excluded, nil
	case exprArrow:
		s := ev.a.edges[objRel{typ: d.name, id: id, rel: e.via.name}]
		if s == nil {
			return false, nil
		}
		found := false
		var firstErr error
		for obj := range s.all {
			target := e.targets[obj.typ]
			if target == nil {
				continue
			}
			allowed, err := ev.node(target, obj.id, depth+1)
			switch {
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
			case allowed && !requireAll:
				return true, nil
			}
			found = found || allowed
		}
		if requireAll && firstErr != nil {
			return false, firstErr
		}
		if found {
			return true, nil
		}
		return false, firstErr
	default: // exprArrowAll
		s := ev.a.edges[objRel{typ: d.name, id: id, rel: e.via.name}]
		if s == nil {
			return false, nil
		}
		all := true
		var firstErr error
		for obj := range s.all {
			target := e.targets[obj.typ]
			if target == nil {
				all = false
				continue
			}
			allowed, err := ev.node(target, obj.id, depth+1)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			all = all && allowed
		}
		if firstErr != nil {
			return false, firstErr
		}
		return all, nil
	}
}
