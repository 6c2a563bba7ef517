package memadapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

// MaxDepth is how many relations and permissions deep a check may recurse
// before it fails with an error matching [authz.ErrInvalidRequest]. It
// guards the stack against hostile data, such as a chain of a hundred
// thousand nested groups; it is not SpiceDB's dispatch depth limit (50),
// where SpiceDB fails and this engine answers (see the package
// documentation on cycles).
const MaxDepth = 100_000

// fastDepth is how deep a check goes before it is restarted in the
// cycle-aware mode: checks that stay shallower (nearly all) keep no stack
// and allocate nothing.
const fastDepth = 50

var (
	// errMaxDepth is the error of a check that exceeded MaxDepth.
	errMaxDepth error = &authz.UndecidableError{Reason: fmt.Sprintf("memadapter: check exceeded the maximum depth of %d", MaxDepth)}
	// errNegativeCycle is the error of a check whose answer depends on
	// itself through the right side of an exclusion (`view = viewer -
	// parent->view` over a cycle of parents): such a recursion has no
	// least fixpoint, and no well-defined answer.
	errNegativeCycle error = &authz.UndecidableError{Reason: `memadapter: the answer depends on itself through an exclusion (a cycle in the relationships under "-"), which has no well-defined value`}
	// errRestart asks the fast mode's caller to restart the check in
	// the cycle-aware mode. It never leaves the package.
	errRestart = errors.New("memadapter: restart in the cycle-aware mode")
)

// memoAfter is how many nodes a check visits before it starts remembering
// results, so that small checks allocate nothing while checks over wide,
// shared subgraphs stay polynomial.
const memoAfter = 64

// evaluator answers checks for one subject, following SpiceDB's dispatch
// as the package documentation describes, on the version its reader
// loaded.
// A check allocates nothing until it has visited memoAfter nodes or gone
// fastDepth levels deep.
//
// A check starts in the fast mode, which keeps no stack. One that goes
// fastDepth deep (a cycle, or a very long chain) is restarted in the
// cycle-aware mode, which computes the least fixpoint by Kleene iteration:
// it keeps the relations and permissions being evaluated on a stack, and
// one met again while on it answers with its value from the previous
// iteration (at first: does not hold) instead of recursing. Each iteration
// evaluates every relation or permission on an object at most once; the
// iterations repeat until none of those values changes. Union,
// intersection and arrows are monotone, so the values only grow and the
// iteration ends at the least fixpoint: what SpiceDB answers on the same
// graph with every cycle unrolled. A cycle through the right side of an
// exclusion is not monotone and has no such answer; it fails with
// errNegativeCycle.
//
// [Authorizer.Explain] is the same evaluation with its trace switched on,
// as SpiceDB records its debug trace inside its one check path: each step
// takes a *trace, records in it what it decided, and hands the steps below
// the node it recorded (see [trace]). A check passes nil.
type evaluator struct {
	a   reader
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
	// ctx is the request's caveat context, and now the instant against
	// which expirations are compared (Unix nanoseconds), read when
	// clocked is false and an expiring relationship is met.
	ctx     authz.Context
	reqCtx  context.Context // the request's, whose end stops a caveat's evaluation
	now     int64
	clocked bool // now has been read
	visits  int
	memo    map[objRel]res

	// stack is nil in the fast mode. In the cycle-aware mode it holds the
	// nodes being evaluated; table holds every node's value from the
	// previous iteration, done this iteration's, and changed reports
	// whether this iteration changed a value of table. neg counts the
	// exclusions' right sides the current evaluation is under.
	stack   map[objRel]int
	restart bool // the fast mode went too deep: abandon it
	table   map[objRel]res
	done    map[objRel]res
	changed bool
	neg     int

	// expanded and budget are an explanation's: the recursive nodes it
	// has expanded, and how many more it may expand.
	expanded map[objRel]bool
	budget   int
}

// newEvaluator returns an evaluator of questions about sub under the
// request context ctx, at the instant of its first expiring relationship,
// on a's version.
func (a reader) newEvaluator(done context.Context, sub subject, ctx authz.Context) evaluator {
	// now is read when the first expiring relationship is met (visible).
	return evaluator{a: a, sub: sub, ctx: ctx, reqCtx: done, target: a.targetOf(sub)}
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

// cycleAware switches ev to the cycle-aware mode, forgetting what the fast
// mode remembered.
func (ev *evaluator) cycleAware() {
	ev.restart = false
	ev.stack = make(map[objRel]int)
	ev.table = make(map[objRel]res)
	ev.neg = 0
	ev.memo = nil
}

// fixpoint runs f, an evaluation in the cycle-aware mode, until an
// iteration changes no value.
func (ev *evaluator) fixpoint(f func() (res, error)) (res, error) {
	for {
		ev.done, ev.changed = make(map[objRel]res), false
		r, err := f()
		if err != nil || !ev.changed {
			return r, err
		}
	}
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

// node checks relation or permission n on object id of n's type, in the
// fast mode and, if that goes too deep, in the cycle-aware mode. Check,
// CheckMany and Lookup's checks of candidates call it.
func (ev *evaluator) node(n *node, id string, depth int) (res, error) {
	if ev.stack == nil {
		r, err := eval[checking](ev, n, id, depth, nil)
		if err != errRestart {
			return r, err
		}
		ev.cycleAware()
	}
	return ev.fixpoint(func() (res, error) { return eval[checking](ev, n, id, depth, nil) })
}

// eval evaluates relation or permission n on object id of n's type,
// recording the evaluation in t.
func eval[M mode](ev *evaluator, n *node, id string, depth int, t *trace) (res, error) {
	t = traced[M](t).node(n, id)
	switch {
	case ev.restart:
		return res{}, errRestart
	case ev.stack == nil && depth >= fastDepth:
		ev.restart = true
		return res{}, errRestart
	case depth >= MaxDepth:
		t.note(depthDetail)
		return res{}, errMaxDepth
	}
	if ev.sub.rel != "" && ev.sub.rel == n.name && ev.sub.typ == n.def.name && ev.sub.id == id {
		t.note("is the subject")
		return t.result(resHas, nil)
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
	key := objRel{typ: n.def.name, id: id, rel: n.name}
	tracked := ev.stack != nil && n.expensive
	// Only checks in the fast mode use the memo: an explanation expands
	// each node in full the first time it meets it, and the cycle-aware
	// mode has its own tables.
	remember := !tracked && n.expensive && depth > 0 && ev.visits > memoAfter && t == nil
	if remember {
		if r, ok := ev.memo[key]; ok {
			return r, nil
		}
	}
	if tracked {
		if r, ok := ev.done[key]; ok {
			return t.result(r, nil)
		}
		if neg, on := ev.stack[key]; on {
			if ev.neg > neg {
				t.note("depends on itself through an exclusion")
				return res{}, errNegativeCycle
			}
			t.note("(cycle: its value so far)")
			return t.result(ev.table[key], nil)
		}
		ev.stack[key] = ev.neg
	}
	var r res
	var err error
	if n.expr != nil {
		r, err = evalExpr[M](ev, n.expr, id, depth, false, t)
	} else {
		r, err = evalRelation[M](ev, n, id, depth, t)
	}
	if tracked {
		delete(ev.stack, key)
		if err == nil {
			ev.done[key] = r
			if old := ev.table[key]; !old.equal(r) {
				ev.table[key] = r
				ev.changed = true
			}
		}
	}
	if remember && err == nil {
		if ev.memo == nil {
			ev.memo = make(map[objRel]res)
		}
		ev.memo[key] = r
	}
	return t.result(r, err)
}

// evalRelation evaluates relation n on object id: the subject itself, the
// wildcard of its type, then each subject set. A relationship counts when
// it has not expired, as far as its caveat allows.
func evalRelation[M mode](ev *evaluator, n *node, id string, depth int, t *trace) (res, error) {
	t = traced[M](t)
	obj := ev.object(n.def, id)
	if obj == 0 && t == nil {
		return res{}, nil
	}
	k := keyOf(obj, n.id)
	s := ev.a.g.out(k)
	var found res
	if e, ok := ev.edge(k, &s, ev.target); ok {
		r, err := ev.caveat(e)
		t.relationship(n, id, &ev.sub, r)
		if err != nil || r.state == stateHas {
			return r, err
		}
		found = r
	} else {
		t.relationship(n, id, &ev.sub, res{})
	}
	if ev.sub.rel == "" && n.wildcards != nil && n.wildcards[ev.sub.typ] {
		wildcard := subject{typ: ev.sub.typ, id: authz.WildcardID}
		if e, ok := ev.edge(k, &s, ev.wildcardTarget()); ok {
			r, err := ev.caveat(e)
			t.relationship(n, id, &wildcard, r)
			if err != nil || r.state == stateHas {
				return r, err
			}
			found = found.or(r)
		} else {
			t.relationship(n, id, &wildcard, res{})
		}
	}
	if obj == 0 || n.subjectSets == nil {
		return found, nil
	}
	sets := ev.a.g.subjectSets(k)
	var firstErr error
	order := t.sortedSets(ev.a, &sets) // nil for a check; see trace.sortedSets
	for it := sets.iter(); it.next(); {
		st := unpackTarget(it.member())
		set := ev.a.subjectOf(st)
		target := ev.a.byID[st.rel]
		if order != nil {
			set, order = order[0], order[1:]
			target = ev.a.nodes[nodeKey{typ: set.typ, name: set.rel}]
			st = ev.a.targetOf(set)
		}
		var e edge // the subject sets are among k's subjects, s
		if ev.a.g.conditioned > 0 {
			if ep, _ := s.find(st.packed()); ep != nil {
				e = *ep
			}
		}
		if !ev.visible(e) {
			continue
		}
		c := t.subjectSet(n, id, set)
		edge, err := ev.caveat(e)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if edge.state == stateNo {
			c.result(edge, nil)
			continue
		}
		r, err := eval[M](ev, target, set.id, depth+1, c)
		r = r.and(edge)
		c.result(r, err)
		if err == nil && r.state == stateHas {
			return resHas, nil
		}
		if err == nil {
			found = found.or(r)
		}
		firstErr = cmp.Or(firstErr, err)
	}
	if firstErr != nil {
		return res{}, firstErr
	}
	return found, nil
}

// evalExpr evaluates e on object id. requireAll is SpiceDB's
// REQUIRE_ALL_RESULTS, set under an intersection or an exclusion: SpiceDB
// then waits for every branch of a union or an arrow, so that an error in
// any branch is the answer even if another allows.
func evalExpr[M mode](ev *evaluator, e *expr, id string, depth int, requireAll bool, t *trace) (res, error) {
	t = traced[M](t)
	switch e.kind {
	case exprRef:
		return eval[M](ev, e.ref, id, depth+1, t)
	case exprNil:
		t.op(kindNil)
		return res{}, nil
	case exprSelf:
		t = t.op(kindSelf)
		if ev.sub.rel == "" && ev.sub.typ == e.self.name && ev.sub.id == id {
			return t.result(resHas, nil)
		}
		return t.result(res{}, nil)
	case exprUnion:
		t = t.op(kindUnion)
		var found res
		var firstErr error
		for _, c := range e.children {
			r, err := evalExpr[M](ev, c, id, depth, requireAll, t)
			switch {
			case err != nil && !requireAll:
				return res{}, err
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
			case r.state == stateHas && !requireAll:
				return t.result(resHas, nil)
			}
			found = found.or(r)
		}
		if firstErr != nil {
			return t.result(res{}, firstErr)
		}
		return t.result(found, nil)
	case exprIntersection:
		t = t.op(kindIntersection)
		found := resHas
		for _, c := range e.children {
			r, err := evalExpr[M](ev, c, id, depth, true, t)
			if err != nil || r.state == stateNo {
				return t.result(res{}, err)
			}
			found = found.and(r)
		}
		return t.result(found, nil)
	case exprExclusion:
		t = t.op(kindExclusion)
		base, err := evalExpr[M](ev, e.children[0], id, depth, true, t)
		if err != nil || base.state == stateNo {
			return t.result(res{}, err)
		}
		ev.neg++
		excluded, err := evalExpr[M](ev, e.children[1], id, depth, true, t)
		ev.neg--
		if err != nil {
			return t.result(res{}, err)
		}
		return t.result(base.andNot(excluded), nil)
	}
	return evalArrow[M](ev, e, id, depth, requireAll, t)
}

// evalArrow evaluates an arrow or an all-arrow e on object id: e's target
// on every object that id's relation e.via names. An arrow allows as soon
// as one target does (unless requireAll); an all-arrow needs every object
// to have the target and every target to allow. The caveat of the
// relationship walked applies to what its object answers.
func evalArrow[M mode](ev *evaluator, e *expr, id string, depth int, requireAll bool, t *trace) (res, error) {
	t = traced[M](t).arrow(e, id)
	var s slot[*edge]
	var k edgeKey
	if o := ev.object(e.via.def, id); o != 0 {
		k = keyOf(o, e.via.id)
		s = ev.a.g.out(k)
	}
	if s.size() == 0 {
		t.nothingToWalk(e)
		return res{}, nil
	}
	all, found := resHas, res{}
	walked := false
	var firstErr error
	order := t.sortedObjects(ev.a, &s) // nil for a check; see trace.sortedSets
	for it := s.iter(); it.next(); {
		at := unpackTarget(it.member())
		var edge edge
		if e := it.value(); e != nil {
			edge = *e
		}
		obj := ev.a.subjectOf(at)
		if order != nil {
			if len(order) == 0 {
				break // an explanation walks to each object once
			}
			obj, order = order[0], order[1:]
			at = ev.a.targetOf(obj)
			edge = ev.a.g.edgeOf(k, at)
		}
		if !ev.visible(edge) {
			continue
		}
		walked = true
		target := e.targets[obj.typ]
		if target == nil {
			t.undefined(e, obj)
			all = res{}
			continue
		}
		cond, err := ev.caveat(edge)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		var r res
		if cond.state != stateNo {
			r, err = eval[M](ev, target, obj.id, depth+1, t)
			r = r.and(cond)
		}
		switch {
		case err != nil:
			firstErr = cmp.Or(firstErr, err)
		case r.state == stateHas && e.kind == exprArrow && !requireAll:
			return t.result(resHas, nil)
		}
		if err == nil {
			all = all.and(r)
			found = found.or(r)
		}
	}
	if e.kind == exprArrowAll {
		found = all
		if !walked {
			found = res{}
		}
	}
	if firstErr != nil {
		return t.result(res{}, firstErr)
	}
	return t.result(found, nil)
}

// edge returns the caveat and expiration of the relationship of key k to t
// if s, the subjects of k, holds t and the relationship has not expired.
func (ev *evaluator) edge(k edgeKey, s *slot[*edge], t target) (edge, bool) {
	if t.obj == 0 {
		return edge{}, false
	}
	ep, ok := s.find(t.packed())
	if !ok {
		return edge{}, false
	}
	if ep == nil {
		return edge{}, true
	}
	return *ep, ev.visible(*ep)
}

// visible reports whether a relationship exists at the evaluation's
// instant: it has no expiration, or expires after now. The clock is read
// once per evaluation, when the first expiring relationship that the
// floor does not decide is met, so that checks that meet none do not read
// it: one that expired at or before the floor (a past reading of the
// default clock) has expired now, whatever the clock would say. The
// floor only ever hides a relationship that has expired; a relationship
// is shown only after a reading of the clock.
func (ev *evaluator) visible(e edge) bool {
	if e.expires == 0 {
		return true
	}
	if !ev.clocked {
		if f := ev.a.floor; f != nil && e.expires <= f.Load() {
			return false
		}
		ev.now, ev.clocked = ev.a.now(), true
	}
	return ev.now < e.expires
}

// caveat evaluates the caveat of a relationship with caveat and expiration
// e, if it has one.
func (ev *evaluator) caveat(e edge) (res, error) {
	if e.caveat == nil {
		return resHas, nil
	}
	r, err := e.caveat.def.EvalContext(ev.reqCtx, e.caveat.ctx, ev.ctx)
	switch {
	case err != nil:
		return res{}, fmt.Errorf("memadapter: %w", err)
	case r.Conditional():
		return res{state: stateCond, missing: r.Missing}, nil
	case r.Value:
		return resHas, nil
	}
	return res{}, nil
}

// equal reports whether r and o are the same result.
func (r res) equal(o res) bool { return r.state == o.state && slices.Equal(r.missing, o.missing) }
