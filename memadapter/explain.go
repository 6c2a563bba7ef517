package memadapter

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

var _ authz.Explainer = (*Authorizer)(nil)

// explainLimit is how many relations and permissions that may recurse an
// explanation expands; past it, and for any it has already expanded, it
// reports the result without the evaluation below, so that explanations of
// widely shared subgraphs stay small.
const explainLimit = 1000

// The kinds of the nodes of an explanation.
const (
	kindPermission   = "permission"
	kindRelation     = "relation"
	kindUnion        = "union"
	kindIntersection = "intersection"
	kindExclusion    = "exclusion"
	kindArrow        = "arrow"
	kindNil          = "nil"
	kindRelationship = "relationship"
	kindWildcard     = "wildcard"
	kindSubjectSet   = "subject_set"
	kindUndefined    = "undefined"
)

// depthDetail is the detail of a node that exceeded MaxDepth.
func depthDetail() string { return "exceeds the maximum depth of " + strconv.Itoa(MaxDepth) }

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
	a.mu.RLock()
	defer a.mu.RUnlock()
	x := explainer{
		ev:       evaluator{a: a, sub: sub},
		subject:  req.Subject,
		expanded: make(map[objRel]bool),
		budget:   explainLimit,
	}
	e, err := x.node(n, req.Resource.ID, 0)
	if err != nil {
		return authz.Explanation{}, err
	}
	return e, nil
}

// explainer mirrors the evaluator, branch for branch and in the same order
// of decision, recording what it visits. Where it does not expand a node it
// asks the evaluator, so its results are the evaluator's by construction.
// The caller holds the read lock.
type explainer struct {
	ev       evaluator
	subject  authz.Subject
	expanded map[objRel]bool // recursive nodes already in the tree
	budget   int             // recursive nodes that may still be expanded
}

// node explains evaluator.node.
func (x *explainer) node(n *node, id string, depth int) (authz.Explanation, error) {
	e := authz.Explanation{Resource: authz.Resource{Type: n.def.name, ID: id}, Permission: n.name, Kind: kindRelation}
	if n.expr != nil {
		e.Kind, e.Detail = kindPermission, n.expr.src.String()
	}
	if depth >= MaxDepth {
		e.Detail = depthDetail()
		return e, errMaxDepth
	}
	sub := x.ev.sub
	if sub.rel != "" && sub.rel == n.name && sub.typ == n.def.name && sub.id == id {
		e.Result, e.Detail = true, "is the subject"
		return e, nil
	}
	if n.alias != nil && sub.typ != n.def.name {
		// The evaluator checks what the alias names in its place, at the
		// same depth.
		c, err := x.node(n.alias, id, depth)
		e.Result, e.Children = c.Result, []authz.Explanation{c}
		return e, err
	}
	if n.expensive {
		key := objRel{typ: n.def.name, id: id, rel: n.name}
		if x.expanded[key] || x.budget <= 0 {
			allowed, err := x.ev.node(n, id, depth)
			switch {
			case err != nil:
				e.Detail = depthDetail()
			case x.expanded[key]:
				e.Result, e.Detail = allowed, joinDetail(e.Detail, "(see above)")
			default:
				e.Result, e.Detail = allowed, joinDetail(e.Detail, "(not expanded)")
			}
			return e, err
		}
		x.expanded[key] = true
		x.budget--
	}
	if n.expr == nil {
		err := x.relation(&e, n, id, depth)
		return e, err
	}
	c, err := x.expr(n.expr, n.def, id, depth, false)
	e.Result, e.Children = c.Result, []authz.Explanation{c}
	return e, err
}

// relation explains evaluator.relation into e.
func (x *explainer) relation(e *authz.Explanation, n *node, id string, depth int) error {
	sub := x.ev.sub
	s := x.ev.a.edges[objRel{typ: n.def.name, id: id, rel: n.name}]
	if n.rel.Allows(sub.typ, sub.rel, false) {
		_, ok := s.allOf()[sub]
		e.Children = append(e.Children, relationshipLeaf(kindRelationship, ok, authz.Relationship{Resource: e.Resource, Relation: n.name, Subject: x.subject}))
		if ok {
			e.Result = true
			return nil
		}
	}
	if sub.rel == "" && n.wildcards[sub.typ] {
		_, ok := s.allOf()[subject{typ: sub.typ, id: authz.WildcardID}]
		e.Children = append(e.Children, relationshipLeaf(kindWildcard, ok, authz.Relationship{Resource: e.Resource, Relation: n.name, Subject: authz.Wildcard(sub.typ)}))
		if ok {
			e.Result = true
			return nil
		}
	}
	if s == nil {
		return nil
	}
	sets := make([]subject, 0, len(s.sets))
	for set := range s.sets {
		sets = append(sets, set)
	}
	slices.SortFunc(sets, compareSubjects)
	var firstErr error
	for _, set := range sets {
		c, err := x.node(s.sets[set], set.id, depth+1)
		rel := authz.Relationship{Resource: e.Resource, Relation: n.name, Subject: authz.Subject{Type: set.typ, ID: set.id, Relation: set.rel}}
		e.Children = append(e.Children, authz.Explanation{Kind: kindSubjectSet, Result: c.Result, Detail: rel.String(), Children: []authz.Explanation{c}})
		if c.Result {
			e.Result = true
			return nil
		}
		firstErr = cmp.Or(firstErr, err)
	}
	return firstErr
}

// expr explains evaluator.expr.
func (x *explainer) expr(e *expr, d *definition, id string, depth int, requireAll bool) (authz.Explanation, error) {
	switch e.kind {
	case exprRef:
		return x.node(e.ref, id, depth+1)
	case exprNil:
		return authz.Explanation{Kind: kindNil}, nil
	case exprUnion:
		out := authz.Explanation{Kind: kindUnion}
		found := false
		var firstErr error
		for _, c := range e.children {
			ce, err := x.expr(c, d, id, depth, requireAll)
			out.Children = append(out.Children, ce)
			switch {
			case err != nil && !requireAll:
				return out, err
			case err != nil:
				firstErr = cmp.Or(firstErr, err)
			case ce.Result && !requireAll:
				out.Result = true
				return out, nil
			}
			found = found || ce.Result
		}
		out.Result = found && firstErr == nil
		return out, firstErr
	case exprIntersection:
		out := authz.Explanation{Kind: kindIntersection}
		for _, c := range e.children {
			ce, err := x.expr(c, d, id, depth, true)
			out.Children = append(out.Children, ce)
			if err != nil || !ce.Result {
				return out, err
			}
		}
		out.Result = true
		return out, nil
	case exprExclusion:
		out := authz.Explanation{Kind: kindExclusion}
		base, err := x.expr(e.children[0], d, id, depth, true)
		out.Children = append(out.Children, base)
		if err != nil || !base.Result {
			return out, err
		}
		excluded, err := x.expr(e.children[1], d, id, depth, true)
		out.Children = append(out.Children, excluded)
		if err != nil {
			return out, err
		}
		out.Result = !excluded.Result
		return out, nil
	default: // exprArrow, exprArrowAll
		return x.arrow(e, d, id, depth, requireAll)
	}
}

// arrow explains evaluator.expr for an arrow or an all-arrow: one child
// per object walked to.
func (x *explainer) arrow(e *expr, d *definition, id string, depth int, requireAll bool) (authz.Explanation, error) {
	out := authz.Explanation{Resource: authz.Resource{Type: d.name, ID: id}, Permission: e.via.name, Kind: kindArrow, Detail: e.src.String()}
	// The evaluator walks the subjects in map order; their results do not
	// depend on it (an allow wins, every error is a depth error), so the
	// explanation walks them sorted, each object once.
	var objs []subject
	for obj := range x.ev.a.edges[objRel{typ: d.name, id: id, rel: e.via.name}].allOf() {
		objs = append(objs, subject{typ: obj.typ, id: obj.id})
	}
	slices.SortFunc(objs, compareSubjects)
	objs = slices.Compact(objs)
	if len(objs) == 0 {
		out.Detail += ": " + out.Resource.String() + " has no " + e.via.name
		return out, nil
	}
	all := true
	found := false
	var firstErr error
	for _, obj := range objs {
		target := e.targets[obj.typ]
		if target == nil {
			out.Children = append(out.Children, authz.Explanation{Resource: authz.Resource{Type: obj.typ, ID: obj.id}, Kind: kindUndefined, Detail: obj.typ + " has no " + e.src.(*schema.Arrow).Target})
			all = false
			continue
		}
		c, err := x.node(target, obj.id, depth+1)
		out.Children = append(out.Children, c)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		all = all && c.Result
		found = found || c.Result
		if e.kind == exprArrow && c.Result && !requireAll {
			out.Result = true
			return out, nil
		}
	}
	switch {
	case e.kind == exprArrowAll:
		if firstErr != nil {
			return out, firstErr
		}
		out.Result = all
		return out, nil
	case requireAll && firstErr != nil:
		return out, firstErr
	case found:
		out.Result = true
		return out, nil
	}
	return out, firstErr
}

// allOf returns the subjects of s, or nil for a nil s.
func (s *subjects) allOf() map[subject]struct{} {
	if s == nil {
		return nil
	}
	return s.all
}

func compareSubjects(a, b subject) int {
	return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.id, b.id), cmp.Compare(a.rel, b.rel))
}

// relationshipLeaf is the node of a relationship looked for: found, or
// missing.
func relationshipLeaf(kind string, found bool, rel authz.Relationship) authz.Explanation {
	if found {
		return authz.Explanation{Kind: kind, Result: true, Detail: rel.String()}
	}
	return authz.Explanation{Kind: kind, Detail: "no " + rel.String()}
}

func joinDetail(detail, note string) string {
	if detail == "" {
		return note
	}
	return detail + " " + note
}
