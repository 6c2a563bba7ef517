package schema

import (
	"github.com/fgac-go/fgac/authz"

	"strconv"
	"strings"
)

// validator checks a parsed schema the way SpiceDB checks a written one
// (pkg/schema's type system), plus the two checks described in the package
// documentation. It records every problem and reports the first in source
// order.
type validator struct {
	s    *Schema
	errs []*Error
}

func (v *validator) errorf(pos Pos, format string, args ...any) {
	v.errs = append(v.errs, errorf(pos, format, args...))
}

func (v *validator) first() error {
	var first *Error
	for _, e := range v.errs {
		if first == nil || e.Line < first.Line || e.Line == first.Line && e.Column < first.Column {
			first = e
		}
	}
	if first == nil {
		return nil
	}
	return first
}

func validate(s *Schema) error {
	v := &validator{s: s}
	v.index()
	v.caveats()
	for _, d := range s.Definitions {
		for _, r := range d.Relations {
			v.checkRelation(d, r)
		}
		for _, p := range d.Permissions {
			v.checkPermission(d, p)
		}
		v.checkCycles(d)
	}
	return v.first()
}

// index checks names and builds the lookup maps, keeping the first of any
// duplicates.
func (v *validator) index() {
	v.s.byName = make(map[string]*Definition, len(v.s.Definitions))
	for _, d := range v.s.Definitions {
		if !validTypeName(d.Name) {
			v.errorf(d.Pos, "invalid definition name %s: want %s, optionally after prefixes of that form ending in /", strconv.Quote(d.Name), nameRule)
		}
		if prev, ok := v.s.byName[d.Name]; ok {
			v.errorf(d.Pos, "duplicate definition %s (first defined at line %d)", strconv.Quote(d.Name), prev.Pos.Line)
		} else {
			v.s.byName[d.Name] = d
		}
		d.relations = make(map[string]*Relation, len(d.Relations))
		d.permissions = make(map[string]*Permission, len(d.Permissions))
		seen := make(map[string]Pos, len(d.Relations)+len(d.Permissions))
		declare := func(name string, pos Pos, kind string) bool {
			if !validName(name) {
				v.errorf(pos, "invalid %s name %s: want %s", kind, strconv.Quote(name), nameRule)
			}
			if prev, ok := seen[name]; ok {
				v.errorf(pos, "duplicate relation or permission %s in %s (first declared at line %d)", strconv.Quote(name), strconv.Quote(d.Name), prev.Line)
				return false
			}
			seen[name] = pos
			return true
		}
		for _, r := range d.Relations {
			if declare(r.Name, r.Pos, "relation") {
				d.relations[r.Name] = r
			}
		}
		for _, p := range d.Permissions {
			if declare(p.Name, p.Pos, "permission") {
				d.permissions[p.Name] = p
			}
		}
	}
}

// has reports whether definition d has a relation or permission name.
func has(d *Definition, name string) bool {
	return d.relations[name] != nil || d.permissions[name] != nil
}

func (v *validator) checkRelation(d *Definition, r *Relation) {
	seen := make(map[string]bool, len(r.Types))
	for _, t := range r.Types {
		if seen[t.String()] {
			v.errorf(t.Pos, "duplicate subject type %s in relation %s of %s", strconv.Quote(t.String()), strconv.Quote(r.Name), strconv.Quote(d.Name))
		}
		seen[t.String()] = true
		if t.Caveat != "" && v.s.caveats[t.Caveat] == nil {
			v.errorf(t.CaveatPos, "unknown caveat %s in relation %s of %s", strconv.Quote(t.Caveat), strconv.Quote(r.Name), strconv.Quote(d.Name))
		}
		if t.Expiration && !v.s.UseExpiration {
			v.errorf(t.ExpirationPos, "relation %s of %s allows expiring relationships without `use expiration` at the top of the schema", strconv.Quote(r.Name), strconv.Quote(d.Name))
		}
		sd := v.s.byName[t.Type]
		if sd == nil {
			v.errorf(t.Pos, "unknown type %s in relation %s of %s", strconv.Quote(t.Type), strconv.Quote(r.Name), strconv.Quote(d.Name))
			continue
		}
		if t.Relation == "" {
			continue
		}
		if !has(sd, t.Relation) {
			v.errorf(t.Pos, "unknown relation %s of %s in relation %s of %s", strconv.Quote(t.Relation), strconv.Quote(t.Type), strconv.Quote(r.Name), strconv.Quote(d.Name))
			continue
		}
		if t.Type == d.Name {
			// SpiceDB checks subject sets of the definition's own
			// relations for existence only.
			continue
		}
		if w, via := v.wildcard(sd, t.Relation, map[string]bool{}); w != nil {
			v.errorf(t.Pos, "subject type %s in relation %s of %s includes the wildcard %s through %s; SpiceDB does not allow a wildcard to be included through a subject set", strconv.Quote(t.String()), strconv.Quote(r.Name), strconv.Quote(d.Name), strconv.Quote(w.String()), via)
		}
	}
}

// wildcard returns a wildcard subject type that relation rel of d admits,
// directly or through subject sets of relations (not permissions), and the
// relation that admits it, like SpiceDB's referencesWildcardType.
func (v *validator) wildcard(d *Definition, rel string, seen map[string]bool) (*SubjectType, string) {
	key := d.Name + "#" + rel
	if seen[key] {
		return nil, ""
	}
	seen[key] = true
	r := d.relations[rel]
	if r == nil {
		return nil, ""
	}
	for _, t := range r.Types {
		if t.Wildcard {
			return t, key
		}
	}
	for _, t := range r.Types {
		if t.Relation == "" {
			continue
		}
		if sd := v.s.byName[t.Type]; sd != nil {
			if w, via := v.wildcard(sd, t.Relation, seen); w != nil {
				return w, via
			}
		}
	}
	return nil, ""
}

func (v *validator) checkPermission(d *Definition, p *Permission) {
	Walk(p.Expr, func(e Expr) {
		switch e := e.(type) {
		case *Ref:
			if !has(d, e.Name) {
				v.errorf(e.Pos, "unknown relation %s in permission %s of %s", strconv.Quote(e.Name), strconv.Quote(p.Name), strconv.Quote(d.Name))
			}
		case *Arrow:
			v.checkArrow(d, p, e)
		}
	})
}

func (v *validator) checkArrow(d *Definition, p *Permission, a *Arrow) {
	where := "arrow " + a.String() + " in permission " + strconv.Quote(p.Name) + " of " + strconv.Quote(d.Name)
	r := d.relations[a.Relation]
	if r == nil {
		if d.permissions[a.Relation] != nil {
			v.errorf(a.Pos, "%s walks permission %s: the left side of an arrow must be a relation", where, strconv.Quote(a.Relation))
			return
		}
		v.errorf(a.Pos, "unknown relation %s in permission %s of %s", strconv.Quote(a.Relation), strconv.Quote(p.Name), strconv.Quote(d.Name))
		return
	}
	if w, via := v.wildcard(d, a.Relation, map[string]bool{}); w != nil {
		v.errorf(a.Pos, "%s walks relation %s, which includes the wildcard %s through %s; SpiceDB does not allow wildcards on the left side of an arrow", where, strconv.Quote(a.Relation), strconv.Quote(w.String()), via)
		return
	}
	var types []string
	for _, t := range r.Types {
		sd := v.s.byName[t.Type]
		if sd == nil {
			return // reported with the relation
		}
		if has(sd, a.Target) {
			return
		}
		if !containsString(types, t.Type) {
			types = append(types, t.Type)
		}
	}
	v.errorf(a.TargetPos, "%s: no subject type of relation %s (%s) has a relation or permission %s", where, strconv.Quote(a.Relation), strings.Join(types, ", "), strconv.Quote(a.Target))
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkCycles rejects permissions of d that refer to themselves through
// other permissions of d (not through arrows, which move to another
// object): evaluating one would recurse without end.
func (v *validator) checkCycles(d *Definition) {
	const (
		unvisited = iota
		inProgress
		done
	)
	state := make(map[string]int, len(d.Permissions))
	var path []string
	var visit func(p *Permission)
	visit = func(p *Permission) {
		state[p.Name] = inProgress
		path = append(path, p.Name)
		Walk(p.Expr, func(e Expr) {
			ref, ok := e.(*Ref)
			if !ok {
				return
			}
			next := d.permissions[ref.Name]
			if next == nil {
				return
			}
			switch state[next.Name] {
			case inProgress:
				if next == p {
					v.errorf(ref.Pos, "permission %s of %s references itself", strconv.Quote(p.Name), strconv.Quote(d.Name))
					return
				}
				start := 0
				for i, name := range path {
					if name == next.Name {
						start = i
					}
				}
				cycle := append(append([]string(nil), path[start:]...), next.Name)
				v.errorf(ref.Pos, "permissions of %s reference each other in a cycle: %s", strconv.Quote(d.Name), strings.Join(cycle, " -> "))
			case unvisited:
				visit(next)
			}
		})
		path = path[:len(path)-1]
		state[p.Name] = done
	}
	for _, p := range d.Permissions {
		if d.permissions[p.Name] == p && state[p.Name] == unvisited {
			visit(p)
		}
	}
}

// nameRule describes valid names in errors.
const nameRule = "3 to 64 lower-case letters, digits and underscores, starting with a letter and not ending with an underscore"

// validName reports whether s matches SpiceDB's relation name pattern
// ^[a-z][a-z0-9_]{1,62}[a-z0-9]$, the grammar fgac uses everywhere.
func validName(s string) bool { return authz.ValidName(s) }

// validTypeName reports whether s matches SpiceDB's definition name
// pattern ^([a-z][a-z0-9_]{1,62}[a-z0-9]/)*[a-z][a-z0-9_]{1,62}[a-z0-9]$
// and is at most 128 bytes long.
func validTypeName(s string) bool { return authz.ValidType(s) }
