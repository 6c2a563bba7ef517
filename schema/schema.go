package schema

import (
	"fmt"
	"strings"
)

// Pos is a position in schema text. Line and Column count from 1; Column
// counts characters (runes), so a tab is one column.
type Pos struct {
	Line   int
	Column int
}

// String returns "line L, column C".
func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Column) }

// Schema is a parsed and validated schema. It is immutable and safe for
// concurrent use.
type Schema struct {
	// Definitions are the object definitions in source order.
	Definitions []*Definition
	// Caveats are the caveat definitions in source order.
	Caveats []*Caveat
	// UseExpiration is set by `use expiration`: relations may then allow
	// `with expiration`.
	UseExpiration bool
	// UseSelf is set by `use self`: permissions may then use `self`.
	UseSelf bool

	byName  map[string]*Definition
	caveats map[string]*Caveat
}

// Caveat returns the caveat named name, or nil.
func (s *Schema) Caveat(name string) *Caveat {
	if s == nil {
		return nil
	}
	return s.caveats[name]
}

// Definition returns the definition named name, or nil.
func (s *Schema) Definition(name string) *Definition {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// HasPermission reports whether definition resourceType has a relation or
// permission named name. It implements authz.PermissionSet.
func (s *Schema) HasPermission(resourceType, name string) bool {
	d := s.Definition(resourceType)
	return d != nil && (d.Relation(name) != nil || d.Permission(name) != nil)
}

// String returns the schema in the canonical form of the language, without
// comments.
func (s *Schema) String() string {
	var b strings.Builder
	if s.UseExpiration {
		b.WriteString("use expiration\n")
	}
	if s.UseSelf {
		b.WriteString("use self\n")
	}
	sep := b.Len() > 0
	for _, c := range s.Caveats {
		if sep {
			b.WriteString("\n")
		}
		sep = true
		b.WriteString(c.String())
	}
	for _, d := range s.Definitions {
		if sep {
			b.WriteString("\n")
		}
		sep = true
		b.WriteString(d.String())
	}
	return b.String()
}

// Definition is an object type, such as "task" or "org/task".
type Definition struct {
	// Name is the type name, including any prefix ("org/task").
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Doc is the text of the comments just before the definition, without
	// comment markers.
	Doc string
	// Relations are the relations in source order.
	Relations []*Relation
	// Permissions are the permissions in source order.
	Permissions []*Permission

	relations   map[string]*Relation
	permissions map[string]*Permission
}

// Relation returns the relation named name, or nil (also when name is a
// permission).
func (d *Definition) Relation(name string) *Relation { return d.relations[name] }

// Permission returns the permission named name, or nil (also when name is a
// relation).
func (d *Definition) Permission(name string) *Permission { return d.permissions[name] }

// String returns the definition in canonical form.
func (d *Definition) String() string {
	var b strings.Builder
	b.WriteString("definition " + d.Name + " {")
	if len(d.Relations)+len(d.Permissions) == 0 {
		b.WriteString("}\n")
		return b.String()
	}
	b.WriteString("\n")
	for _, r := range d.Relations {
		b.WriteString("\t" + r.String() + "\n")
	}
	for _, p := range d.Permissions {
		b.WriteString("\t" + p.String() + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Relation is a relation of a definition: an edge stored as a
// relationship, such as `relation viewer: user | group#member`.
type Relation struct {
	// Name is the relation's name.
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Doc is the text of the comments just before the relation.
	Doc string
	// Types are the allowed subject types, in source order.
	Types []*SubjectType
}

// Allows reports whether a relationship of this relation may have a subject
// of type typ with subject relation rel ("" for none), or, if wildcard is
// true, the wildcard typ:*, without a caveat and without an expiration.
func (r *Relation) Allows(typ, rel string, wildcard bool) bool {
	return r.AllowsWith(typ, rel, wildcard, "", false)
}

// AllowsWith reports whether a relationship of this relation may have a
// subject of type typ with subject relation rel (or the wildcard typ:*),
// with the caveat named caveat ("" for none) and, if expiration, an
// expiration. As in SpiceDB the form must be allowed exactly: `user with c`
// admits only caveated relationships, and `user with expiration` only
// expiring ones.
func (r *Relation) AllowsWith(typ, rel string, wildcard bool, caveat string, expiration bool) bool {
	for _, t := range r.Types {
		if t.Type == typ && t.Wildcard == wildcard && t.Relation == rel && t.Caveat == caveat && t.Expiration == expiration {
			return true
		}
	}
	return false
}

// String returns the relation in canonical form.
func (r *Relation) String() string {
	types := make([]string, len(r.Types))
	for i, t := range r.Types {
		types[i] = t.String()
	}
	return "relation " + r.Name + ": " + strings.Join(types, " | ")
}

// SubjectType is one allowed subject type of a relation: `user`, `user:*`
// or `group#member`.
type SubjectType struct {
	// Pos is where the type name appears.
	Pos Pos
	// Type is the subject's definition.
	Type string
	// Relation is the subject relation of a subject set (`member` in
	// `group#member`), or "" for plain subjects and wildcards.
	Relation string
	// Wildcard is true for `type:*`, which admits every subject of Type.
	Wildcard bool
	// Caveat is the caveat of `with name`, or "".
	Caveat string
	// CaveatPos is where Caveat appears.
	CaveatPos Pos
	// Expiration is true for `with expiration` (or `with c and
	// expiration`): relationships of this form must expire.
	Expiration bool
	// ExpirationPos is where "expiration" appears.
	ExpirationPos Pos
}

// String returns the type as written in a schema.
func (t *SubjectType) String() string {
	var s string
	switch {
	case t.Wildcard:
		s = t.Type + ":*"
	case t.Relation != "":
		s = t.Type + "#" + t.Relation
	default:
		s = t.Type
	}
	switch {
	case t.Caveat != "" && t.Expiration:
		s += " with " + t.Caveat + " and expiration"
	case t.Caveat != "":
		s += " with " + t.Caveat
	case t.Expiration:
		s += " with expiration"
	}
	return s
}

// Permission is a computed permission, such as
// `permission read = owner + parent->read`.
type Permission struct {
	// Name is the permission's name.
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Doc is the text of the comments just before the permission.
	Doc string
	// Expr is the expression that computes it.
	Expr Expr
}

// String returns the permission in canonical form.
func (p *Permission) String() string { return "permission " + p.Name + " = " + p.Expr.String() }

// Expr is a permission expression: one of [*Ref], [*Arrow], [*Nil],
// [*Self], [*Union], [*Intersection] or [*Exclusion].
type Expr interface {
	// Position returns where the expression starts.
	Position() Pos
	// String returns the expression in canonical form, with parentheses
	// around every operation nested in another.
	String() string

	isExpr()
}

// Ref is a reference to a relation or permission of the same definition.
type Ref struct {
	Pos  Pos
	Name string
}

// ArrowFunc says how an arrow combines the objects it walks to.
type ArrowFunc uint8

// The arrow functions.
const (
	// ArrowAny (rel->perm or rel.any(perm)) holds if perm holds on any
	// subject of rel.
	ArrowAny ArrowFunc = iota
	// ArrowAll (rel.all(perm)) holds if rel has at least one subject and
	// perm holds on every one of them.
	ArrowAll
)

// Arrow walks from the object to the subjects of one of its relations and
// evaluates a relation or permission there: `parent->read`,
// `parent.any(read)`, `parent.all(read)`. The subject relation of a
// subject-set subject is ignored: the arrow walks to its object.
type Arrow struct {
	// Pos is where the arrow's relation appears.
	Pos Pos
	// Relation is the relation walked (the tupleset).
	Relation string
	// Target is the relation or permission evaluated on each subject.
	Target string
	// TargetPos is where Target appears.
	TargetPos Pos
	// Func is how the results on the subjects combine.
	Func ArrowFunc
}

// Nil is the empty set: `nil`.
type Nil struct {
	Pos Pos
}

// Union holds if any child holds: `a + b + c`.
type Union struct {
	Pos      Pos
	Children []Expr
}

// Intersection holds if every child holds: `a & b & c`.
type Intersection struct {
	Pos      Pos
	Children []Expr
}

// Exclusion holds if Left holds and Right does not: `a - b`.
type Exclusion struct {
	Pos   Pos
	Left  Expr
	Right Expr
}

// Position returns where the reference appears.
func (e *Ref) Position() Pos { return e.Pos }

// Position returns where the arrow starts.
func (e *Arrow) Position() Pos { return e.Pos }

// Position returns where nil appears.
func (e *Nil) Position() Pos { return e.Pos }

// Position returns where the union starts.
func (e *Union) Position() Pos { return e.Pos }

// Position returns where the intersection starts.
func (e *Intersection) Position() Pos { return e.Pos }

// Position returns where the exclusion starts.
func (e *Exclusion) Position() Pos { return e.Pos }

// String returns the name.
func (e *Ref) String() string { return e.Name }

// String returns `rel->target` or `rel.all(target)`.
func (e *Arrow) String() string {
	if e.Func == ArrowAll {
		return e.Relation + ".all(" + e.Target + ")"
	}
	return e.Relation + "->" + e.Target
}

// String returns "nil".
func (e *Nil) String() string { return "nil" }

// String returns the children joined by " + ".
func (e *Union) String() string { return joinExprs(e.Children, " + ") }

// String returns the children joined by " & ".
func (e *Intersection) String() string { return joinExprs(e.Children, " & ") }

// String returns "left - right".
func (e *Exclusion) String() string {
	return joinExprs([]Expr{e.Left, e.Right}, " - ")
}

func (*Ref) isExpr()          {}
func (*Arrow) isExpr()        {}
func (*Nil) isExpr()          {}
func (*Union) isExpr()        {}
func (*Intersection) isExpr() {}
func (*Exclusion) isExpr()    {}

func joinExprs(children []Expr, op string) string {
	parts := make([]string, len(children))
	for i, c := range children {
		switch c.(type) {
		case *Union, *Intersection, *Exclusion:
			parts[i] = "(" + c.String() + ")"
		default:
			parts[i] = c.String()
		}
	}
	return strings.Join(parts, op)
}

// Walk calls fn for e and, depth first in source order, for every
// expression nested in it.
func Walk(e Expr, fn func(Expr)) {
	fn(e)
	switch e := e.(type) {
	case *Union:
		for _, c := range e.Children {
			Walk(c, fn)
		}
	case *Intersection:
		for _, c := range e.Children {
			Walk(c, fn)
		}
	case *Exclusion:
		Walk(e.Left, fn)
		Walk(e.Right, fn)
	}
}

// Parse parses and validates schema text. Any error is an [*Error] naming
// the line and column of the first problem.
func Parse(text string) (*Schema, error) {
	p := &parser{lx: newLexer(text)}
	s, err := p.parseSchema()
	if err != nil {
		return nil, err
	}
	if err := validate(s); err != nil {
		return nil, err
	}
	return s, nil
}
