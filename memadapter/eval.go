package memadapter

import (
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// MaxDepth is how many relations and permissions deep a check may go, the
// default of SpiceDB's --dispatch-max-depth. A check that needs more fails
// with an error matching [authz.ErrInvalidRequest], rather than denying or
// allowing: SpiceDB (v1.56) fails it with FAILED_PRECONDITION ("max depth
// exceeded"), which spicedbadapter translates the same way, and repeating
// it cannot help until the relationships change.
const MaxDepth = 50

// errMaxDepth is the error of a check that exceeded MaxDepth. It is a
// value, not built per check, so that the deep path allocates nothing
// either.
var errMaxDepth = fmt.Errorf("memadapter: check exceeded the maximum depth of %d (a cycle in the relationships?): %w", MaxDepth, authz.ErrInvalidRequest)

// memoAfter is how many nodes a check visits before it starts remembering
// results, so that small checks allocate nothing while checks over wide,
// shared subgraphs stay polynomial.
const memoAfter = 64

// evaluator answers checks for one subject against the relationships,
// which the caller holds the read lock on. It follows SpiceDB's dispatch
// (internal/graph/check.go):
//
//   - Every evaluation of a named relation or permission is one level of
//     depth; the top level is depth 0 and depth MaxDepth is an error. A
//     permission that only names another (`permission view = viewer`) is
//     replaced by what it names at the same level, unless the subject is
//     of the resource's type.
//   - A subject set G:g#m is a member of G:g#m itself.
//   - A relation holds for a relationship with exactly the subject, for a
//     wildcard relationship of the type of a subject without a relation,
//     or through a subject set whose members include the subject. (SpiceDB
//     v1.56's check also lets a wildcard admit a subject set of its type,
//     group:eng#member through group:*; its lookups do not, and neither
//     does this evaluator, so that checks and lookups agree.)
//   - An arrow evaluates its target on the object of every subject of its
//     relation, ignoring the subject relation and skipping subject types
//     without the target.
//
// Where SpiceDB races the branches of a union or an intersection, so that
// an error in one branch may or may not win over an answer in another,
// the evaluator is deterministic: an allow in a union and a denial in an
// intersection win over errors in other branches. An exclusion and an
// all-arrow are deterministic in SpiceDB and here: any error in an
// all-arrow's subjects is an error.
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
		allowed, err = ev.expr(n.expr, n.def, id, depth)
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

func (ev *evaluator) expr(e *expr, d *definition, id string, depth int) (bool, error) {
	switch e.kind {
	case exprRef:
		return ev.node(e.ref, id, depth+1)
	case exprNil:
		return false, nil
	case exprUnion:
		var firstErr error
		for _, c := range e.children {
			allowed, err := ev.expr(c, d, id, depth)
			if allowed {
				return true, nil
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}
		return false, firstErr
	case exprIntersection:
		var firstErr error
		for _, c := range e.children {
			allowed, err := ev.expr(c, d, id, depth)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if !allowed {
				return false, nil
			}
		}
		return firstErr == nil, firstErr
	case exprExclusion:
		base, err := ev.expr(e.children[0], d, id, depth)
		if err != nil || !base {
			return false, err
		}
		excluded, err := ev.expr(e.children[1], d, id, depth)
		if err != nil {
			return false, err
		}
		return !excluded, nil
	case exprArrow:
		s := ev.a.edges[objRel{typ: d.name, id: id, rel: e.via.name}]
		if s == nil {
			return false, nil
		}
		var firstErr error
		for obj := range s.all {
			target := e.targets[obj.typ]
			if target == nil {
				continue
			}
			allowed, err := ev.node(target, obj.id, depth+1)
			if allowed {
				return true, nil
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
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
