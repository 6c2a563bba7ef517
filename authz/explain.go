package authz

import (
	"context"
	"strings"
)

// Explanation accounts for a decision: a tree whose nodes are the
// relations and permissions the engine evaluated, each with its result,
// and whose leaves are the relationships that granted access (or the
// places where one was missing). It is meant for people: log it, or
// t.Log it on a failing assertion.
type Explanation struct {
	// Resource and Permission name what this node evaluated: a relation or
	// permission of Resource.
	Resource   Resource
	Permission string
	// Kind says how the node was evaluated: "permission", "relation",
	// "union", "intersection", "exclusion", "arrow", "nil",
	// "relationship", "wildcard", "subject_set" or an engine's own word.
	Kind string
	// Result reports whether the node holds for the subject.
	Result bool
	// Detail is extra text, such as the expression of a permission or the
	// relationship that matched.
	Detail string
	// Children are the sub-evaluations.
	Children []Explanation
}

// String renders the tree, one node a line, indented by depth, with a
// check mark for nodes that hold.
func (e Explanation) String() string {
	var b strings.Builder
	e.write(&b, 0)
	return b.String()
}

func (e Explanation) write(b *strings.Builder, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	if e.Result {
		b.WriteString("✓ ")
	} else {
		b.WriteString("✗ ")
	}
	if e.Resource.Type != "" {
		b.WriteString(e.Resource.String())
		if e.Permission != "" {
			b.WriteString("#" + e.Permission)
		}
		b.WriteString(" ")
	}
	b.WriteString("(" + e.Kind + ")")
	if e.Detail != "" {
		b.WriteString(" " + e.Detail)
	}
	b.WriteString("\n")
	for _, c := range e.Children {
		c.write(b, depth+1)
	}
}

// Explainer explains decisions. memadapter explains from its own
// evaluation; spicedbadapter from SpiceDB's debug trace.
type Explainer interface {
	// Explain evaluates req and returns why it is allowed or denied. The
	// root's Result is the decision. Errors are those of [Checker.Check].
	Explain(ctx context.Context, req CheckRequest) (Explanation, error)
}
