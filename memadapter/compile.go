package memadapter

import (
	"slices"

	"github.com/fgac-go/fgac/schema"
)

// nodeKey names a relation or permission of a definition.
type nodeKey struct{ typ, name string }

// definition is a compiled schema definition.
type definition struct {
	name string
	// idx numbers the definition in schema order, from 0: the graph's
	// objects of this type are in its objects[idx].
	idx   int
	nodes map[string]*node
	// relations are the definition's relations in source order.
	relations []*node
}

// node is a compiled relation or permission: everything evaluation needs,
// resolved once so that a check does no name lookups beyond the
// relationships themselves.
type node struct {
	def  *definition
	name string
	// id numbers the node in the graph's index (see numberNodes).
	id nodeID

	// rel is the relation's schema, or nil for a permission.
	rel *schema.Relation
	// wildcards holds the subject types the relation admits as type:*.
	wildcards map[string]bool
	// subjectSets are the subject-set types (group#member) of the
	// relation, resolved to their nodes.
	subjectSets []*node

	// expr is the permission's expression, or nil for a relation.
	expr *expr
	// alias is, for a permission that is just another relation or
	// permission (`permission view = viewer`), the relation or non-alias
	// permission it finally names. SpiceDB checks the alias in place of
	// the permission, at the same depth, when the subject's type differs
	// from the resource's.
	alias *node

	// expensive reports whether evaluating the node may recurse: a
	// permission, or a relation with subject-set types. Only such results
	// are worth remembering.
	expensive bool

	// deps are the nodes whose lookup candidates this node's candidates are
	// computed from, and plan the strongly connected components of
	// everything reachable through deps, dependencies first.
	deps []*node
	plan []*component
	// exact reports whether the lookup candidates of the node are exactly
	// the ids a check allows, so that a lookup need not check them: every
	// node it reaches is a relation or a permission of unions, references
	// and any-arrows, none is recursive, and no check can exceed MaxDepth.
	exact bool
	// caveats are the caveats of every relation a check of the node may
	// reach (through references, subject sets and arrows), deduplicated:
	// a request context is checked against their parameters before any
	// relationship is read.
	caveats []*schema.Caveat
	// params are the parameters of caveats, by name, each with the
	// caveats that declare it.
	params []paramGroup
}

// paramGroup is a caveat parameter name and the caveats of a node that
// declare it.
type paramGroup struct {
	name    string
	caveats []*schema.Caveat
}

// component is a strongly connected component of the lookup dependency
// graph. A cyclic component (recursive groups) is computed as a fixpoint.
type component struct {
	nodes  []*node
	cyclic bool
}

type exprKind uint8

const (
	exprRef exprKind = iota
	exprArrow
	exprArrowAll
	exprNil
	exprSelf
	exprUnion
	exprIntersection
	exprExclusion
)

// expr is a compiled permission expression.
type expr struct {
	kind     exprKind
	children []*expr // union, intersection; exclusion has exactly two
	ref      *node   // exprRef
	// self is the definition of `self`.
	self *definition
	// via is the relation an arrow walks; targets maps each subject type of
	// via that defines the arrow's target to the target's node there.
	via     *node
	targets map[string]*node
	// src is the expression as parsed, for explanations.
	src schema.Expr
}

// compile builds the nodes of every definition of s. s has been validated
// by schema.Parse, so every name resolves.
func compile(s *schema.Schema) (map[string]*definition, map[nodeKey]*node) {
	defs := make(map[string]*definition, len(s.Definitions))
	nodes := make(map[nodeKey]*node)
	for i, sd := range s.Definitions {
		d := &definition{name: sd.Name, idx: i, nodes: make(map[string]*node, len(sd.Relations)+len(sd.Permissions))}
		defs[sd.Name] = d
		for _, r := range sd.Relations {
			n := &node{def: d, name: r.Name, rel: r}
			d.nodes[r.Name] = n
			d.relations = append(d.relations, n)
			nodes[nodeKey{sd.Name, r.Name}] = n
		}
		for _, p := range sd.Permissions {
			n := &node{def: d, name: p.Name, expensive: true}
			d.nodes[p.Name] = n
			nodes[nodeKey{sd.Name, p.Name}] = n
		}
	}
	for _, sd := range s.Definitions {
		d := defs[sd.Name]
		for _, r := range sd.Relations {
			n := d.nodes[r.Name]
			for _, t := range r.Types {
				switch {
				case t.Wildcard:
					if n.wildcards == nil {
						n.wildcards = make(map[string]bool)
					}
					n.wildcards[t.Type] = true
				case t.Relation != "":
					target := nodes[nodeKey{t.Type, t.Relation}]
					n.subjectSets = append(n.subjectSets, target)
					n.deps = append(n.deps, target)
					n.expensive = true
				}
			}
		}
		for _, p := range sd.Permissions {
			n := d.nodes[p.Name]
			n.expr = compileExpr(p.Expr, d, nodes, n)
		}
	}
	for _, n := range nodes {
		n.alias = aliasOf(n)
	}
	plan(nodes)
	for _, n := range nodes {
		n.exact = exact(n)
		n.caveats = reachableCaveats(s, n)
		n.params = groupParams(n.caveats)
	}
	return defs, nodes
}

// aliasOf computes node.alias as SpiceDB's computePermissionAliases does.
// Schema validation has rejected cycles of references.
func aliasOf(n *node) *node {
	if n.expr == nil || n.expr.kind != exprRef {
		return nil
	}
	target := n.expr.ref
	if target.expr == nil {
		return target
	}
	if a := aliasOf(target); a != nil {
		return a
	}
	return target
}

// exact computes node.exact.
func exact(n *node) bool {
	for _, c := range n.plan {
		if c.cyclic {
			return false
		}
		for _, m := range c.nodes {
			if m.expr != nil && (!monotoneExact(m.expr) || walksConditional(m.expr)) {
				return false
			}
			if m.rel != nil && conditional(m.rel) {
				return false
			}
		}
	}
	return maxDepth(n, map[*node]int{}) < MaxDepth
}

// reachableCaveats computes node.caveats.
func reachableCaveats(s *schema.Schema, n *node) []*schema.Caveat {
	var out []*schema.Caveat
	addRel := func(r *schema.Relation) {
		for _, t := range r.Types {
			if c := s.Caveat(t.Caveat); t.Caveat != "" && c != nil && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	var walk func(e *expr)
	walk = func(e *expr) {
		if e.kind == exprArrow || e.kind == exprArrowAll {
			addRel(e.via.rel)
		}
		for _, c := range e.children {
			walk(c)
		}
	}
	for _, c := range n.plan {
		for _, m := range c.nodes {
			if m.rel != nil {
				addRel(m.rel)
			}
			if m.expr != nil {
				walk(m.expr)
			}
		}
	}
	return out
}

// groupParams computes node.params.
func groupParams(caveats []*schema.Caveat) []paramGroup {
	var out []paramGroup
	for _, c := range caveats {
		for _, p := range c.Params {
			i := slices.IndexFunc(out, func(g paramGroup) bool { return g.name == p.Name })
			if i < 0 {
				i = len(out)
				out = append(out, paramGroup{name: p.Name})
			}
			out[i].caveats = append(out[i].caveats, c)
		}
	}
	return out
}

// conditional reports whether relationships of r may have a caveat or an
// expiration, so that being related is not enough to be allowed.
func conditional(r *schema.Relation) bool {
	for _, t := range r.Types {
		if t.Caveat != "" || t.Expiration {
			return true
		}
	}
	return false
}

// walksConditional reports whether an arrow of e walks a relation whose
// relationships may have a caveat or an expiration.
func walksConditional(e *expr) bool {
	switch e.kind {
	case exprArrow, exprArrowAll:
		return conditional(e.via.rel)
	}
	for _, c := range e.children {
		if walksConditional(c) {
			return true
		}
	}
	return false
}

// monotoneExact reports whether e is built of unions, references,
// any-arrows and nil only, whose lookup candidates are exact.
func monotoneExact(e *expr) bool {
	switch e.kind {
	case exprRef, exprArrow, exprNil, exprSelf:
		return true
	case exprUnion:
		for _, c := range e.children {
			if !monotoneExact(c) {
				return false
			}
		}
		return true
	}
	return false
}

// maxDepth returns the deepest level a check of n evaluates at, n being at
// level 0. The dependency graph below n is acyclic.
func maxDepth(n *node, memo map[*node]int) int {
	if d, ok := memo[n]; ok {
		return d
	}
	d := 0
	for _, m := range n.deps {
		d = max(d, 1+maxDepth(m, memo))
	}
	memo[n] = d
	return d
}

func compileExpr(e schema.Expr, d *definition, nodes map[nodeKey]*node, owner *node) *expr {
	switch e := e.(type) {
	case *schema.Ref:
		n := d.nodes[e.Name]
		owner.deps = append(owner.deps, n)
		return &expr{kind: exprRef, ref: n, src: e}
	case *schema.Arrow:
		via := d.nodes[e.Relation]
		c := &expr{kind: exprArrow, via: via, targets: make(map[string]*node), src: e}
		if e.Func == schema.ArrowAll {
			c.kind = exprArrowAll
		}
		for _, t := range via.rel.Types {
			if target := nodes[nodeKey{t.Type, e.Target}]; target != nil {
				c.targets[t.Type] = target
				owner.deps = append(owner.deps, target)
			}
		}
		return c
	case *schema.Nil:
		return &expr{kind: exprNil, src: e}
	case *schema.Self:
		return &expr{kind: exprSelf, self: d, src: e}
	case *schema.Union:
		return compileChildren(exprUnion, e, e.Children, d, nodes, owner)
	case *schema.Intersection:
		return compileChildren(exprIntersection, e, e.Children, d, nodes, owner)
	case *schema.Exclusion:
		return compileChildren(exprExclusion, e, []schema.Expr{e.Left, e.Right}, d, nodes, owner)
	}
	panic("memadapter: unknown expression type") // unreachable: schema has no other Expr
}

func compileChildren(kind exprKind, src schema.Expr, children []schema.Expr, d *definition, nodes map[nodeKey]*node, owner *node) *expr {
	c := &expr{kind: kind, children: make([]*expr, len(children)), src: src}
	for i, child := range children {
		c.children[i] = compileExpr(child, d, nodes, owner)
	}
	return c
}

// plan computes the strongly connected components of the dependency graph
// (Tarjan's algorithm, which emits a component after every component it
// depends on) and gives every node the components it reaches, in that
// order.
func plan(nodes map[nodeKey]*node) {
	var (
		index   = make(map[*node]int)
		low     = make(map[*node]int)
		onStack = make(map[*node]bool)
		stack   []*node
		order   []*component
		compOf  = make(map[*node]int)
		counter int
	)
	var strongConnect func(n *node)
	strongConnect = func(n *node) {
		index[n], low[n] = counter, counter
		counter++
		stack = append(stack, n)
		onStack[n] = true
		for _, m := range n.deps {
			if _, seen := index[m]; !seen {
				strongConnect(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] != index[n] {
			return
		}
		c := &component{}
		for {
			m := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[m] = false
			compOf[m] = len(order)
			c.nodes = append(c.nodes, m)
			if m == n {
				break
			}
		}
		c.cyclic = len(c.nodes) > 1
		for _, m := range n.deps {
			if m == n {
				c.cyclic = true
			}
		}
		order = append(order, c)
	}
	for _, n := range nodes {
		if _, seen := index[n]; !seen {
			strongConnect(n)
		}
	}
	for _, n := range nodes {
		reach := make([]bool, len(order))
		var visit func(m *node)
		visit = func(m *node) {
			if reach[compOf[m]] {
				return
			}
			reach[compOf[m]] = true
			for _, c := range order[compOf[m]].nodes {
				for _, dep := range c.deps {
					visit(dep)
				}
			}
		}
		visit(n)
		for i, c := range order {
			if reach[i] {
				n.plan = append(n.plan, c)
			}
		}
	}
}
