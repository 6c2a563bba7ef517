package memadapter

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

var _ authz.Explainer = (*Authorizer)(nil)

// explainLimit is how many relations and permissions that may recurse an
// explanation expands; past it, and for any it has already expanded, it
// reports the result without the evaluation below, so that explanations of
// widely shared subgraphs stay small.
const explainLimit = 1000

// depthDetail is the Detail of a node that exceeded MaxDepth.
var depthDetail = "exceeds the maximum depth of " + strconv.Itoa(MaxDepth)

// The kinds of the nodes of an explanation.
const (
	kindPermission   = "permission"
	kindRelation     = "relation"
	kindUnion        = "union"
	kindIntersection = "intersection"
	kindExclusion    = "exclusion"
	kindArrow        = "arrow"
	kindNil          = "nil"
	kindSelf         = "self"
	kindRelationship = "relationship"
	kindWildcard     = "wildcard"
	kindSubjectSet   = "subject_set"
	kindUndefined    = "undefined"
)

// Explain evaluates req as [Authorizer.Check] does and returns how: the
// root is req.Permission on req.Resource, and below it every relation,
// permission, operation, arrow and relationship the evaluation visited,
// each with its result. An allowed check ends in the relationships that
// granted it; a denied one names the relationships that were missing.
// Relations and permissions the explanation has already expanded (or
// beyond a thousand of them) are reported with their result alone,
// marked "(see above)" or "(not expanded)".
//
// The root's Result is always Check's decision, and the errors are
// Check's; on an error the Explanation is the zero value. Explain is
// slower than Check and allocates; it is meant for people and tests.
func (a *Authorizer) Explain(ctx context.Context, req authz.CheckRequest) (authz.Explanation, error) {
	if err := contextErr(ctx); err != nil {
		return authz.Explanation{}, err
	}
	if err := req.Validate(); err != nil {
		return authz.Explanation{}, wrap(err)
	}
	n, err := a.resolve(req.Resource.Type, req.Permission)
	if err != nil {
		return authz.Explanation{}, err
	}
	sub, err := a.resolveSubject(req.Subject)
	if err != nil {
		return authz.Explanation{}, err
	}
	if err := checkRequestContext(n, req.Context); err != nil {
		return authz.Explanation{}, err
	}
	ev := a.read().newEvaluator(ctx, sub, req.Context)
	ev.expanded, ev.budget = make(map[objRel]bool), explainLimit
	var root trace
	_, err = eval[explaining](&ev, n, req.Resource.ID, 0, &root)
	if err == errRestart {
		// As Check does: in the cycle-aware mode, iterated to its
		// fixpoint; then one more iteration, explained.
		ev.cycleAware()
		_, err = ev.fixpoint(func() (res, error) { return eval[checking](&ev, n, req.Resource.ID, 0, nil) })
		if err != nil {
			return authz.Explanation{}, err
		}
		ev.done = make(map[objRel]res)
		ev.expanded, ev.budget = make(map[objRel]bool), explainLimit
		root = trace{}
		_, err = eval[explaining](&ev, n, req.Resource.ID, 0, &root)
	}
	if err != nil {
		return authz.Explanation{}, err
	}
	return root.Children[0], nil
}

// summarize shows the recursive node n on id, whose node in the
// explanation is t, by its result alone, marked "(see above)" if the
// explanation has expanded it already or "(not expanded)" if it has
// expanded explainLimit nodes, and reports whether it did. Otherwise it
// counts n as expanded, for the caller to expand.
func (ev *evaluator) summarize(n *node, id string, depth int, t *trace) (allowed res, ok bool, err error) {
	key := objRel{typ: n.def.name, id: id, rel: n.name}
	why := "(see above)"
	switch {
	case ev.expanded[key]:
	case ev.budget <= 0:
		why = "(not expanded)"
	default:
		ev.expanded[key] = true
		ev.budget--
		return res{}, false, nil
	}
	allowed, err = eval[checking](ev, n, id, depth, nil)
	switch {
	case err != nil:
		t.Detail = depthDetail
	case t.Detail == "":
		t.Result, t.Detail = allowed.has(), why
	default:
		t.Result, t.Detail = allowed.has(), t.Detail+" "+why
	}
	if err == nil && allowed.state == stateCond {
		t.conditional(allowed)
	}
	return allowed, true, err
}

// A trace is the node of an explanation that an evaluation step records
// into. Each step adds its own node to the children of the trace it is
// given, passes that node on to the steps below, and sets the node's Result
// when it knows it. The methods that add a node return its trace, a pointer
// into the parent's Children that stays valid because the parent gets no
// other child until the step returns.
//
// Every method of a nil *trace records nothing and returns nil. Each is
// inlined and tests for nil first, so that where the compiler knows t is
// nil, as in every check (see [mode]), nothing of it is left.
type trace authz.Explanation

func (t *trace) add(e authz.Explanation) *trace {
	t.Children = append(t.Children, e)
	return (*trace)(&t.Children[len(t.Children)-1])
}

// node adds relation or permission n on object id.
func (t *trace) node(n *node, id string) *trace {
	if t == nil {
		return nil
	}
	return t.addNode(n, id)
}

func (t *trace) addNode(n *node, id string) *trace {
	e := authz.Explanation{Resource: authz.Resource{Type: n.def.name, ID: id}, Permission: n.name, Kind: kindRelation}
	if n.expr != nil {
		e.Kind, e.Detail = kindPermission, n.expr.src.String()
	}
	return t.add(e)
}

// op adds an operation (union, intersection, exclusion) or nil.
func (t *trace) op(kind string) *trace {
	if t == nil {
		return nil
	}
	return t.add(authz.Explanation{Kind: kind})
}

// arrow adds arrow e walked from object id.
func (t *trace) arrow(e *expr, id string) *trace {
	if t == nil {
		return nil
	}
	return t.addArrow(e, id)
}

func (t *trace) addArrow(e *expr, id string) *trace {
	return t.add(authz.Explanation{Resource: authz.Resource{Type: e.via.def.name, ID: id}, Permission: e.via.name, Kind: kindArrow, Detail: e.src.String()})
}

// subjectSet adds the relationship of relation n on object id to subject
// set set, under which the evaluation of set goes.
func (t *trace) subjectSet(n *node, id string, set subject) *trace {
	if t == nil {
		return nil
	}
	return t.addSubjectSet(n, id, set)
}

func (t *trace) addSubjectSet(n *node, id string, set subject) *trace {
	rel := authz.Relationship{Resource: authz.Resource{Type: n.def.name, ID: id}, Relation: n.name, Subject: set.public()}
	return t.add(authz.Explanation{Kind: kindSubjectSet, Detail: rel.String()})
}

// relationship adds the relationship of relation n on object id to sub (a
// subject or a wildcard) that the evaluation looked for, found or missing,
// if n admits such subjects at all.
func (t *trace) relationship(n *node, id string, sub *subject, found res) {
	if t == nil {
		return
	}
	t.addRelationship(n, id, sub, found)
}

func (t *trace) addRelationship(n *node, id string, sub *subject, r res) {
	wildcard := sub.id == authz.WildcardID
	if !allowsAnyForm(n.rel, sub.typ, sub.rel, wildcard) {
		return
	}
	kind := kindRelationship
	if wildcard {
		kind = kindWildcard
	}
	rel := authz.Relationship{Resource: authz.Resource{Type: n.def.name, ID: id}, Relation: n.name, Subject: sub.public()}
	switch r.state {
	case stateHas:
		t.add(authz.Explanation{Kind: kind, Result: true, Detail: rel.String()})
	case stateCond:
		t.add(authz.Explanation{Kind: kind, Detail: rel.String()}).conditional(r)
	default:
		t.add(authz.Explanation{Kind: kind, Detail: "no " + rel.String()})
	}
}

// allowsAnyForm reports whether rel admits subjects of this type in any
// form: plain, caveated or expiring.
func allowsAnyForm(rel *schema.Relation, typ, subjRel string, wildcard bool) bool {
	for _, t := range rel.Types {
		if t.Type == typ && t.Relation == subjRel && t.Wildcard == wildcard {
			return true
		}
	}
	return false
}

// undefined adds object obj, to which arrow e walked and whose type does
// not define e's target.
func (t *trace) undefined(e *expr, obj subject) {
	if t == nil {
		return
	}
	t.addUndefined(e, obj)
}

func (t *trace) addUndefined(e *expr, obj subject) {
	t.add(authz.Explanation{Resource: authz.Resource{Type: obj.typ, ID: obj.id}, Kind: kindUndefined, Detail: obj.typ + " has no " + e.src.(*schema.Arrow).Target})
}

// nothingToWalk notes on arrow node t that the relation e.via of its
// object is empty.
func (t *trace) nothingToWalk(e *expr) {
	if t == nil {
		return
	}
	t.Detail += ": " + t.Resource.String() + " has no " + e.via.name
}

// result sets t's Result to whether r allows and returns its arguments. A
// conditional result is noted with the parameters it lacks.
func (t *trace) result(r res, err error) (res, error) {
	if t != nil {
		t.Result = r.has()
		if r.state == stateCond {
			t.conditional(r)
		}
	}
	return r, err
}

func (t *trace) conditional(r res) {
	note := "conditional: missing " + strings.Join(r.missing, ", ")
	if t.Detail == "" {
		t.Detail = note
		return
	}
	t.Detail += " (" + note + ")"
}

// note replaces t's Detail.
func (t *trace) note(detail string) {
	if t != nil {
		t.Detail = detail
	}
}

// sortedSets returns the subject sets of s, sorted, or nil for a nil t.
// A check walks the subject sets of a relation, and the objects of an
// arrow, in map order; an explanation, which must read the same every
// time, walks them sorted. There is one loop for both: it ranges over the
// map, and an explanation takes at each turn the next of its sorted ones
// in place of the map's.
func (t *trace) sortedSets(a reader, s *slot[struct{}]) []subject {
	if t == nil {
		return nil
	}
	return sortSets(a, s)
}

func sortSets(a reader, s *slot[struct{}]) []subject {
	sets := make([]subject, 0, s.size())
	for it := s.iter(); it.next(); {
		sets = append(sets, a.subjectOf(unpackTarget(it.member())))
	}
	slices.SortFunc(sets, compareSubjects)
	return sets
}

// sortedObjects returns the objects that the subjects of s name, sorted
// and each once, or nil for a nil t; see sortedSets.
func (t *trace) sortedObjects(a reader, s *slot[*edge]) []subject {
	if t == nil {
		return nil
	}
	return sortObjects(a, s)
}

func sortObjects(a reader, s *slot[*edge]) []subject {
	objs := make([]subject, 0, s.size())
	for it := s.iter(); it.next(); {
		obj := a.subjectOf(unpackTarget(it.member()))
		objs = append(objs, subject{typ: obj.typ, id: obj.id})
	}
	slices.SortFunc(objs, compareSubjects)
	return slices.Compact(objs)
}

func compareSubjects(a, b subject) int {
	return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.id, b.id), cmp.Compare(a.rel, b.rel))
}
