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
// A check allocates nothing until it has visited memoAfter nodes.
//
// [Authorizer.Explain] is the same evaluation with its trace switched on,
// as SpiceDB records its debug trace inside its one check path: each step
// takes a *trace, records in it what it decided, and hands the steps below
// the node it recorded (see [trace]). A check passes nil.
type evaluator struct {
	a   *Authorizer
	sub subject
	// target is sub in the graph, zero if no relationship names it;
	// wildcard is the wildcard of its type, looked up when first needed
	// (wildcardKnown).
	target, wildcard target
	wildcardKnown    bool
	// lastDef, lastID and lastObj remember the object last looked up: a
	// permission's branches look up the same object one after another.
	lastDef *definition
	lastID  string
	lastObj objID
	visits  int
	memo    map[objRel]memoEntry

	// expanded and budget are an explanation's: the recursive nodes it
	// has expanded, and how many more it may expand.
	expanded map[objRel]bool
	budget   int
}

// newEvaluator returns the evaluator of checks for sub; the caller holds
// the read lock.
func (a *Authorizer) newEvaluator(sub subject) evaluator {
	return evaluator{a: a, sub: sub, target: a.targetOf(sub)}
}

// object returns the objID of object id of d, or 0.
func (ev *evaluator) object(d *definition, id string) objID {
	if d != ev.lastDef || id != ev.lastID {
		ev.lastDef, ev.lastID, ev.lastObj = d, id, ev.a.g.lookup(d, id)
	}
	return ev.lastObj
}

// wildcardTarget returns the wildcard of the subject's type in the graph,
// zero if no relationship names it.
func (ev *evaluator) wildcardTarget() target {
	if !ev.wildcardKnown {
		ev.wildcard = target{obj: ev.a.g.lookup(ev.a.defs[ev.sub.typ], authz.WildcardID)}
		ev.wildcardKnown = true
	}
	return ev.wildcard
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

// A mode says whether an evaluation records a trace: checking does not,
// explaining does. It is a compile-time switch. The evaluation functions
// take it as a type parameter and begin with t = traced[M](t), which the
// compiler knows to be nil when checking (an array's length is part of its
// type), so that it builds checks without any of the tracing: every method
// of a nil *trace is an inlined no-op.
type mode interface{ checking | explaining }

type (
	checking   [0]struct{}
	explaining [1]struct{}
)

// traced returns t if M is explaining, and nil if it is checking.
func traced[M mode](t *trace) *trace {
	var m M
	if len(m) == 0 {
		return nil
	}
	return t
}

// node checks relation or permission n on object id of n's type. Check,
// CheckMany and Lookup's checks of candidates call it.
func (ev *evaluator) node(n *node, id string, depth int) (bool, error) {
	return eval[checking](ev, n, id, depth, nil)
}

// eval evaluates relation or permission n on object id of n's type,
// recording the evaluation in t.
func eval[M mode](ev *evaluator, n *node, id string, depth int, t *trace) (bool, error) {
	t = traced[M](t).node(n, id)
	if depth >= MaxDepth {
		t.note(depthDetail)
		return false, errMaxDepth
	}
	if ev.sub.rel != "" && ev.sub.rel == n.name && ev.sub.typ == n.def.name && ev.sub.id == id {
		t.note("is the subject")
		return t.result(true, nil)
	}
	if n.alias != nil && ev.sub.typ != n.def.name {
		// SpiceDB checks what the alias names in its place, at the same
		// depth.
		return t.result(eval[M](ev, n.alias, id, depth, t))
	}
	if t != nil && n.expensive {
		if allowed, ok, err := ev.summarize(n, id, depth, t); ok {
			return allowed, err
		}
	}
	ev.visits++
	// Only checks use the memo: an explanation expands each node in full
	// the first time it meets it.
	remember := n.expensive && depth > 0 && ev.visits > memoAfter && t == nil
	if remember {
		if allowed, ok, err := ev.recall(n, id, depth); ok {
			return allowed, err
		}
	}
	var allowed bool
	var err error
	if n.expr != nil {
		allowed, err = evalExpr[M](ev, n.expr, id, depth, false, t)
	} else {
		allowed, err = evalRelation[M](ev, n, id, depth, t)
	}
	if remember {
		ev.remember(n, id, depth, allowed, err)
	}
	return t.result(allowed, err)
}

// recall returns what the memo knows of n on id at depth, if anything.
func (ev *evaluator) recall(n *node, id string, depth int) (allowed, ok bool, err error) {
	m, known := ev.memo[objRel{typ: n.def.name, id: id, rel: n.name}]
	switch {
	case !known:
	case m.known && depth <= m.depth:
		return m.allowed, true, nil
	case m.errDepth > 0 && depth >= m.errDepth:
		return false, true, errMaxDepth
	}
	return false, false, nil
}

// remember records in the memo the result of n on id at depth.
func (ev *evaluator) remember(n *node, id string, depth int, allowed bool, err error) {
	if ev.memo == nil {
		ev.memo = make(map[objRel]memoEntry)
	}
	key := objRel{typ: n.def.name, id: id, rel: n.name}
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

// evalRelation evaluates relation n on object id: the subject itself, the
// wildcard of its type, then each subject set.
func evalRelation[M mode](ev *evaluator, n *node, id string, depth int, t *trace) (bool, error) {
	t = traced[M](t)
	obj := ev.object(n.def, id)
	if obj == 0 && t == nil {
		return false, nil
	}
	k := keyOf(obj, n.id)
	s := ev.a.g.out[k]
	ok := ev.target.obj != 0 && s.has(ev.target)
	t.relationship(n, id, &ev.sub, ok)
	if ok {
		return true, nil
	}
	if ev.sub.rel == "" && n.wildcards != nil && n.wildcards[ev.sub.typ] {
		wildcard := subject{typ: ev.sub.typ, id: authz.WildcardID}
		w := ev.wildcardTarget()
		ok := w.obj != 0 && s.has(w)
		t.relationship(n, id, &wildcard, ok)
		if ok {
			return true, nil
		}
	}
	if obj == 0 || n.subjectSets == nil {
		return false, nil
	}
	sets := ev.a.g.sets[k]
	var firstErr error
	order := t.sortedSets(ev.a, &sets) // nil for a check; see trace.sortedSets
	for i := range sets.size() {
		set := ev.a.subjectOf(sets.at(i))
		target := ev.a.byID[sets.at(i).rel]
		if order != nil {
			set, order = order[0], order[1:]
			target = ev.a.nodes[nodeKey{typ: set.typ, name: set.rel}]
		}
		c := t.subjectSet(n, id, set)
		allowed, err := c.result(eval[M](ev, target, set.id, depth+1, c))
		if allowed {
			return true, nil
		}
		firstErr = cmp.Or(firstErr, err)
	}
	return false, firstErr
}

// evalExpr evaluates e on object id. requireAll is SpiceDB's
// REQUIRE_ALL_RESULTS, set under an intersection or an exclusion: SpiceDB
// then waits for every branch of a union or an arrow, so that an error in
// any branch is the answer even if another allows.
func evalExpr[M mode](ev *evaluator, e *expr, id string, depth int, requireAll bool, t *trace) (bool, error) {
	t = traced[M](t)
	switch e.kind {
	case exprRef:
		return eval[M](ev, e.ref, id, depth+1, t)
	case exprNil:
		t.op(kindNil)
		return false, nil
	case exprUnion:
		t = t.op(kindUnion)
		found := false
		var firstErr error
		for _, c := range e.children {
			allowed, err := evalExpr[M](ev, c, id, depth, requireAll, t)
			switch {
			case err != nil && !requireAll:
				return false, err
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
			case allowed && !requireAll:
				return t.result(true, nil)
			}
			found = found || allowed
		}
		return t.result(found && firstErr == nil, firstErr)
	case exprIntersection:
		t = t.op(kindIntersection)
		for _, c := range e.children {
			allowed, err := evalExpr[M](ev, c, id, depth, true, t)
			if err != nil || !allowed {
				return false, err
			}
		}
		return t.result(true, nil)
	case exprExclusion:
		t = t.op(kindExclusion)
		base, err := evalExpr[M](ev, e.children[0], id, depth, true, t)
		if err != nil || !base {
			return false, err
		}
		excluded, err := evalExpr[M](ev, e.children[1], id, depth, true, t)
		if err != nil {
			return false, err
		}
		return t.result(!excluded, nil)
	}
	return evalArrow[M](ev, e, id, depth, requireAll, t)
}

// evalArrow evaluates an arrow or an all-arrow e on object id: e's target
// on every object that id's relation e.via names. An arrow allows as soon
// as one target does (unless requireAll); an all-arrow needs every object
// to have the target and every target to allow.
func evalArrow[M mode](ev *evaluator, e *expr, id string, depth int, requireAll bool, t *trace) (bool, error) {
	t = traced[M](t).arrow(e, id)
	var s set1[target]
	if o := ev.object(e.via.def, id); o != 0 {
		s = ev.a.g.out[keyOf(o, e.via.id)]
	}
	if s.size() == 0 {
		t.nothingToWalk(e)
		return false, nil
	}
	all, found := true, false
	var firstErr error
	order := t.sortedObjects(ev.a, &s) // nil for a check; see trace.sortedSets
	for i := range s.size() {
		obj := ev.a.subjectOf(s.at(i))
		if order != nil {
			if len(order) == 0 {
				break // an explanation walks to each object once
			}
			obj, order = order[0], order[1:]
		}
		target := e.targets[obj.typ]
		if target == nil {
			t.undefined(e, obj)
			all = false
			continue
		}
		allowed, err := eval[M](ev, target, obj.id, depth+1, t)
		switch {
		case err != nil:
			firstErr = cmp.Or(firstErr, err)
		case allowed && e.kind == exprArrow && !requireAll:
			return t.result(true, nil)
		}
		all = all && allowed
		found = found || allowed
	}
	if e.kind == exprArrowAll {
		found = all
	}
	return t.result(found && firstErr == nil, firstErr)
}
