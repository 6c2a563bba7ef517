package spicedbadapter

// The conversion of SpiceDB's debug trace into an authz.Explanation, used
// by Adapter.Explain: SpiceDB records the trace inside its own single check
// path, and this file only reshapes it. Plain values cross between fgac
// and SpiceDB in convert.go.

import (
	"cmp"
	"slices"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// explainRequest is checkRequest asking SpiceDB for its debug trace.
func explainRequest(r authz.CheckRequest, c *v1.Consistency) *v1.CheckPermissionRequest {
	req := checkRequest(r, c)
	req.WithTracing = true
	return req
}

// explanation converts the answer to an explainRequest for req, as the
// package documentation describes. The root's Result is the answer's
// permissionship, as Check decides it, whatever the trace says.
func explanation(req authz.CheckRequest, resp *v1.CheckPermissionResponse) authz.Explanation {
	info := resp.GetDebugTrace()
	tr := tracer{subject: req.Subject}
	if s, err := schema.Parse(info.GetSchemaUsed()); err == nil {
		tr.schema = s
	}
	var e authz.Explanation
	if t := info.GetCheck(); t != nil {
		e = tr.node(t)
	}
	switch {
	case e.Resource == req.Resource && e.Permission == req.Permission:
	case e.Resource == req.Resource && slices.Contains(tr.aliases(req.Resource.Type, req.Permission), e.Permission):
		// A trace of what the permission names, checked in its place.
		e = tr.aliased(req.Permission, e)
	default:
		root := authz.Explanation{Resource: req.Resource, Permission: req.Permission, Kind: "check", Detail: "spicedb sent no trace"}
		if e.Kind != "" {
			root.Detail, root.Children = "spicedb traced another check", []authz.Explanation{e}
		}
		e = root
	}
	e.Result = decision(resp.GetPermissionship(), nil).Allowed()
	return e
}

// tracer converts the nodes of a CheckDebugTrace for one subject.
type tracer struct {
	subject authz.Subject
	schema  *schema.Schema // nil if it could not be parsed
}

func (tr tracer) node(t *v1.CheckDebugTrace) authz.Explanation {
	e := authz.Explanation{
		Resource:   authz.Resource{Type: t.GetResource().GetObjectType(), ID: t.GetResource().GetObjectId()},
		Permission: t.GetPermission(),
		Result:     t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION,
	}
	var notes []string
	switch t.GetPermissionType() {
	case v1.CheckDebugTrace_PERMISSION_TYPE_RELATION:
		e.Kind = "relation"
	case v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION:
		e.Kind = "permission"
		if p := tr.permission(e.Resource.Type, e.Permission); p != nil {
			notes = append(notes, p.Expr.String())
		}
	default:
		e.Kind = "check"
	}
	if t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION {
		notes = append(notes, "(conditional: a caveat lacks context)")
	}
	if t.GetWasCachedResult() {
		notes = append(notes, "(cached by spicedb)")
		e.Detail = strings.Join(notes, " ")
		return e
	}
	e.Detail = strings.Join(notes, " ")
	subs := t.GetSubProblems().GetTraces()
	switch {
	case e.Kind != "relation":
		e.Children = tr.permissionChildren(e, subs)
	case e.Result && tr.subject.Relation == e.Permission && tr.subject.Object() == e.Resource:
		// A subject set is a member of itself.
		e.Detail = "is the subject"
	default:
		conditional := t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION
		e.Children = tr.relationChildren(e, conditional, subs)
	}
	return e
}

// relationChildren explains relation e: the relationships SpiceDB looked
// up itself, then its subject sets, which SpiceDB dispatched. conditional
// reports whether SpiceDB found a relationship whose caveat lacks context.
func (tr tracer) relationChildren(e authz.Explanation, conditional bool, subs []*v1.CheckDebugTrace) []authz.Explanation {
	var sets []authz.Explanation
	granted := false // by a subject set, or conditionally
	for _, t := range subs {
		c := tr.node(t)
		rel := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: authz.Subject{Type: c.Resource.Type, ID: c.Resource.ID, Relation: c.Permission}}
		sets = append(sets, authz.Explanation{Kind: "subject_set", Result: c.Result, Detail: rel.String(), Children: []authz.Explanation{c}})
		granted = granted || c.Result || t.GetResult() == v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION
	}
	direct := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: tr.subject}.String()
	wildcard := authz.Relationship{Resource: e.Resource, Relation: e.Permission, Subject: authz.Wildcard(tr.subject.Type)}.String()
	plain, wild, known := tr.admits(e.Resource.Type, e.Permission)
	if !known {
		plain, wild = true, tr.subject.Relation == ""
	}
	var leaves []authz.Explanation
	switch {
	case (e.Result || conditional) && !granted:
		// SpiceDB found the subject, or a wildcard, among the relation's
		// subjects; the trace does not say which.
		leaf := authz.Explanation{Kind: "relationship", Result: e.Result, Detail: direct}
		switch {
		case plain && wild:
			leaf.Detail = direct + " or " + wildcard
		case wild:
			leaf.Kind, leaf.Detail = "wildcard", wildcard
		}
		if conditional {
			leaf.Detail += " (with a caveat)"
		}
		leaves = append(leaves, leaf)
	case !e.Result:
		if plain {
			leaves = append(leaves, authz.Explanation{Kind: "relationship", Detail: "no " + direct})
		}
		if wild && known {
			leaves = append(leaves, authz.Explanation{Kind: "wildcard", Detail: "no " + wildcard})
		}
	}
	return append(leaves, sets...)
}

// permissionChildren explains permission e: the relations and permissions
// of its own object it dispatched, and, grouped by arrow, those of the
// objects it walked to, in the order of the expression when it is known
// (SpiceDB dispatches concurrently).
func (tr tracer) permissionChildren(e authz.Explanation, subs []*v1.CheckDebugTrace) []authz.Explanation {
	p := tr.permission(e.Resource.Type, e.Permission)
	var out []authz.Explanation
	arrows := map[string]int{} // arrow node by detail, as an index in out
	all := map[string]bool{}   // the details of all-arrows
	for _, t := range subs {
		c := tr.node(t)
		if c.Resource == e.Resource {
			if p == nil {
				out = append(out, c)
				continue
			}
			if name, ok := tr.ref(p.Expr, c); ok {
				out = append(out, tr.aliased(name, c))
				continue
			}
		}
		arrow, detail := tr.arrow(e.Resource.Type, p, c)
		var relation string
		if arrow != nil {
			relation = arrow.Relation
			all[detail] = arrow.Func == schema.ArrowAll
			c = tr.aliased(arrow.Target, c)
		}
		if i, ok := arrows[detail]; ok {
			out[i].Children = append(out[i].Children, c)
			continue
		}
		arrows[detail] = len(out)
		out = append(out, authz.Explanation{Resource: e.Resource, Permission: relation, Kind: "arrow", Detail: detail, Children: []authz.Explanation{c}})
	}
	for i, c := range out {
		if c.Kind != "arrow" {
			continue
		}
		if all[c.Detail] {
			out[i].Result = !slices.ContainsFunc(c.Children, func(c authz.Explanation) bool { return !c.Result })
		} else {
			out[i].Result = slices.ContainsFunc(c.Children, func(c authz.Explanation) bool { return c.Result })
		}
	}
	if p != nil {
		leaves := exprLeaves(p.Expr)
		slices.SortStableFunc(out, func(x, y authz.Explanation) int {
			return cmp.Compare(leafIndex(leaves, x), leafIndex(leaves, y))
		})
	}
	return out
}

// arrow returns the arrow of permission p of definition typ that walked
// to c, or, if the schema is unknown or names several, nil; and the
// expressions of the arrows it may be.
func (tr tracer) arrow(typ string, p *schema.Permission, c authz.Explanation) (*schema.Arrow, string) {
	var found []*schema.Arrow
	if p != nil {
		d := tr.schema.Definition(typ)
		walkExpr(p.Expr, func(a *schema.Arrow) {
			r := d.Relation(a.Relation)
			if r == nil || !slices.ContainsFunc(r.Types, func(t *schema.SubjectType) bool { return t.Type == c.Resource.Type }) {
				return
			}
			if !slices.Contains(tr.aliases(c.Resource.Type, a.Target), c.Permission) {
				return
			}
			if !slices.ContainsFunc(found, func(f *schema.Arrow) bool { return f.String() == a.String() }) {
				found = append(found, a)
			}
		})
	}
	switch len(found) {
	case 0:
		return nil, "->" + c.Permission
	case 1:
		return found[0], found[0].String()
	}
	names := make([]string, len(found))
	for i, a := range found {
		names[i] = a.String()
	}
	return nil, strings.Join(names, " or ")
}

// ref returns the name that expression e of c's definition refers to and
// SpiceDB evaluated as c: c's own name or a permission that names it.
func (tr tracer) ref(e schema.Expr, c authz.Explanation) (string, bool) {
	switch e := e.(type) {
	case *schema.Ref:
		return e.Name, slices.Contains(tr.aliases(c.Resource.Type, e.Name), c.Permission)
	case *schema.Union:
		return tr.refAny(e.Children, c)
	case *schema.Intersection:
		return tr.refAny(e.Children, c)
	case *schema.Exclusion:
		return tr.refAny([]schema.Expr{e.Left, e.Right}, c)
	}
	return "", false
}

func (tr tracer) refAny(es []schema.Expr, c authz.Explanation) (string, bool) {
	for _, e := range es {
		if name, ok := tr.ref(e, c); ok {
			return name, true
		}
	}
	return "", false
}

// aliases returns name and, if it is a permission that only names
// another, what it names, and so on: the relations and permissions that
// SpiceDB may check in its place.
func (tr tracer) aliases(typ, name string) []string {
	names := []string{name}
	for p := tr.permission(typ, name); p != nil; p = tr.permission(typ, name) {
		r, ok := p.Expr.(*schema.Ref)
		if !ok || slices.Contains(names, r.Name) {
			break
		}
		name = r.Name
		names = append(names, name)
	}
	return names
}

// aliased returns c, which SpiceDB checked in place of name, as the node
// of name: the chain of permissions that only name another, down to c.
func (tr tracer) aliased(name string, c authz.Explanation) authz.Explanation {
	chain := tr.aliases(c.Resource.Type, name)
	i := slices.Index(chain, c.Permission)
	for j := i - 1; j >= 0; j-- {
		c = authz.Explanation{Resource: c.Resource, Permission: chain[j], Kind: "permission", Result: c.Result, Detail: chain[j+1], Children: []authz.Explanation{c}}
	}
	return c
}

// permission returns permission name of definition typ, or nil.
func (tr tracer) permission(typ, name string) *schema.Permission {
	if d := tr.schema.Definition(typ); d != nil {
		return d.Permission(name)
	}
	return nil
}

// admits reports whether relation name of definition typ admits the
// subject itself and its type's wildcard, and whether that is known.
func (tr tracer) admits(typ, name string) (plain, wildcard, known bool) {
	d := tr.schema.Definition(typ)
	if d == nil || d.Relation(name) == nil {
		return false, false, false
	}
	r := d.Relation(name)
	s := tr.subject
	return r.Allows(s.Type, s.Relation, false), s.Relation == "" && r.Allows(s.Type, "", true), true
}

// exprLeaves returns the references and arrows of e, in source order, as
// the Permission of a reference's node and the Detail of an arrow's.
func exprLeaves(e schema.Expr) []string {
	switch e := e.(type) {
	case *schema.Ref:
		return []string{e.Name}
	case *schema.Arrow:
		return []string{e.String()}
	case *schema.Union:
		return slices.Concat(mapExprs(e.Children, exprLeaves)...)
	case *schema.Intersection:
		return slices.Concat(mapExprs(e.Children, exprLeaves)...)
	case *schema.Exclusion:
		return slices.Concat(exprLeaves(e.Left), exprLeaves(e.Right))
	}
	return nil
}

func mapExprs(es []schema.Expr, f func(schema.Expr) []string) [][]string {
	out := make([][]string, len(es))
	for i, e := range es {
		out[i] = f(e)
	}
	return out
}

// leafIndex returns the position of node c among leaves, or len(leaves).
func leafIndex(leaves []string, c authz.Explanation) int {
	key := c.Permission
	if c.Kind == "arrow" {
		key = c.Detail
	}
	if i := slices.Index(leaves, key); i >= 0 {
		return i
	}
	return len(leaves)
}

// walkExpr calls f for every arrow of e.
func walkExpr(e schema.Expr, f func(*schema.Arrow)) {
	switch e := e.(type) {
	case *schema.Arrow:
		f(e)
	case *schema.Union:
		for _, c := range e.Children {
			walkExpr(c, f)
		}
	case *schema.Intersection:
		for _, c := range e.Children {
			walkExpr(c, f)
		}
	case *schema.Exclusion:
		walkExpr(e.Left, f)
		walkExpr(e.Right, f)
	}
}
