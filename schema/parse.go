package schema

import (
	"strconv"
	"strings"
)

// parser is a recursive-descent parser that follows SpiceDB's grammar
// (pkg/schemadsl/parser) token for token. It stops at the first error.
type parser struct {
	s     *Schema // the schema being parsed, for its use flags
	lx    *lexer
	tok   token // the current token
	depth int   // parentheses open around the current token
}

// maxNesting bounds parentheses, so that hostile input cannot exhaust the
// stack.
const maxNesting = 100

// bailout carries a parse error up the recursion to parseSchema; it never
// escapes the package.
type bailout struct{ err *Error }

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(bailout{errorf(pos, format, args...)})
}

func (p *parser) failUnexpected(want string) {
	p.fail(p.tok.pos, "unexpected %s, expected %s", p.tok.describe(), want)
}

func (p *parser) next() {
	t, err := p.lx.next()
	if err != nil {
		panic(bailout{err.(*Error)})
	}
	p.tok = t
}

func (p *parser) is(kind tokenKind) bool { return p.tok.kind == kind }

func (p *parser) isKeyword(word string) bool { return p.tok.kind == tokKeyword && p.tok.text == word }

func (p *parser) isIdent(word string) bool { return p.tok.kind == tokIdent && p.tok.text == word }

// expect consumes a token of kind, described as want in an error.
func (p *parser) expect(kind tokenKind, want string) token {
	t := p.tok
	if t.kind != kind {
		p.failUnexpected(want)
	}
	p.next()
	return t
}

func (p *parser) parseSchema() (s *Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, ok := r.(bailout)
			if !ok {
				panic(r)
			}
			s, err = nil, b.err
		}
	}()
	p.next()
	s = &Schema{}
	p.s = s
	for !p.is(tokEOF) {
		// One statement terminator may precede each top-level statement.
		if p.is(tokEnd) {
			p.next()
			if p.is(tokEOF) {
				break
			}
		}
		switch {
		case p.isKeyword("definition"):
			s.Definitions = append(s.Definitions, p.parseDefinition())
		case p.isKeyword("caveat"):
			s.Caveats = append(s.Caveats, p.parseCaveat())
		case p.isIdent("use"):
			p.parseUse(s)
		case p.isIdent("import"), p.isIdent("partial"):
			p.fail(p.tok.pos, "%s statements are not supported", p.tok.text)
		default:
			p.failUnexpected(`"definition"`)
		}
	}
	return s, nil
}

// parseDefinition parses `definition name { ... }`.
func (p *parser) parseDefinition() *Definition {
	d := &Definition{Doc: p.tok.doc}
	p.next()
	d.Name, d.Pos = p.parseTypePath()
	p.expect(tokLBrace, `"{"`)
	for {
		if p.is(tokRBrace) {
			p.next()
			return d
		}
		statement := true
		switch {
		case p.isKeyword("relation"):
			d.Relations = append(d.Relations, p.parseRelation())
		case p.isKeyword("permission"):
			d.Permissions = append(d.Permissions, p.parsePermission())
		case p.is(tokEllipsis):
			p.fail(p.tok.pos, "partial references are not supported")
		default:
			statement = false
		}
		switch {
		case p.is(tokEnd):
			p.next()
		case p.is(tokEOF):
			p.failUnexpected(`"}"`)
		case statement:
			p.failUnexpected(`end of statement (a new line or ";")`)
		default:
			p.failUnexpected(`"relation", "permission" or "}"`)
		}
	}
}

// parseTypePath parses a definition name with optional prefixes:
// `task`, `org/task`.
func (p *parser) parseTypePath() (string, Pos) {
	first := p.expect(tokIdent, "a type name")
	if !p.is(tokSlash) {
		return first.text, first.pos
	}
	parts := []string{first.text}
	for p.is(tokSlash) {
		p.next()
		parts = append(parts, p.expect(tokIdent, "a type name after /").text)
	}
	return strings.Join(parts, "/"), first.pos
}

// parseRelation parses `relation name: type | type:* | type#rel`.
func (p *parser) parseRelation() *Relation {
	r := &Relation{Doc: p.tok.doc}
	p.next()
	name := p.expect(tokIdent, "a relation name")
	r.Name, r.Pos = name.text, name.pos
	p.expect(tokColon, `":"`)
	for {
		r.Types = append(r.Types, p.parseSubjectType())
		if !p.is(tokPipe) {
			return r
		}
		p.next()
	}
}

func (p *parser) parseSubjectType() *SubjectType {
	t := &SubjectType{}
	t.Type, t.Pos = p.parseTypePath()
	switch {
	case p.is(tokColon):
		p.next()
		p.expect(tokStar, `"*"`)
		t.Wildcard = true
	case p.is(tokHash):
		p.next()
		switch {
		case p.is(tokIdent):
			t.Relation = p.tok.text
			p.next()
		case p.is(tokEllipsis):
			// type#... is the plain type.
			p.next()
		default:
			p.failUnexpected("a relation name after #")
		}
	}
	if !p.isKeyword("with") {
		return t
	}
	p.next()
	if p.isIdent("expiration") {
		t.Expiration, t.ExpirationPos = true, p.tok.pos
		p.next()
		if p.isIdent("and") {
			p.fail(p.tok.pos, "the caveat comes before the expiration: write `with caveat_name and expiration`")
		}
		return t
	}
	t.Caveat, t.CaveatPos = p.parseTypePath()
	if p.isIdent("and") {
		p.next()
		if !p.isIdent("expiration") {
			p.failUnexpected(`"expiration" after "and"`)
		}
		t.Expiration, t.ExpirationPos = true, p.tok.pos
		p.next()
	}
	return t
}

// parsePermission parses `permission name = expression`.
func (p *parser) parsePermission() *Permission {
	perm := &Permission{Doc: p.tok.doc}
	p.next()
	name := p.expect(tokIdent, "a permission name")
	perm.Name, perm.Pos = name.text, name.pos
	if p.is(tokColon) {
		p.fail(p.tok.pos, "permission type annotations are not supported")
	}
	p.expect(tokEquals, `"="`)
	perm.Expr = p.parseExclusion()
	return perm
}

// The binary operators bind, loosest first: "-", "&", "+" (SpiceDB's
// ComputeExpressionOperators), each left-associative.

func (p *parser) parseExclusion() Expr {
	left := p.parseIntersection()
	for p.is(tokMinus) {
		p.next()
		left = &Exclusion{Pos: left.Position(), Left: left, Right: p.parseIntersection()}
	}
	return left
}

func (p *parser) parseIntersection() Expr {
	first := p.parseUnion()
	if !p.is(tokAmp) {
		return first
	}
	e := &Intersection{Pos: first.Position()}
	add := func(c Expr) {
		// (a & b) & c is a & b & c, as in SpiceDB's compiler.
		if in, ok := c.(*Intersection); ok {
			e.Children = append(e.Children, in.Children...)
			return
		}
		e.Children = append(e.Children, c)
	}
	add(first)
	for p.is(tokAmp) {
		p.next()
		add(p.parseUnion())
	}
	return e
}

func (p *parser) parseUnion() Expr {
	first := p.parseOperand()
	if !p.is(tokPlus) {
		return first
	}
	e := &Union{Pos: first.Position()}
	add := func(c Expr) {
		// (a + b) + c is a + b + c, as in SpiceDB's compiler.
		if u, ok := c.(*Union); ok {
			e.Children = append(e.Children, u.Children...)
			return
		}
		e.Children = append(e.Children, c)
	}
	add(first)
	for p.is(tokPlus) {
		p.next()
		add(p.parseOperand())
	}
	return e
}

// parseOperand parses an arrow, a name, nil or a parenthesised expression.
func (p *parser) parseOperand() Expr {
	switch {
	case p.is(tokIdent):
		name := p.tok
		p.next()
		if !p.is(tokArrow) && !p.is(tokPeriod) {
			if name.text == "self" && p.s.UseSelf {
				return &Self{Pos: name.pos}
			}
			return &Ref{Pos: name.pos, Name: name.text}
		}
		a := p.parseArrow(name)
		if p.is(tokArrow) || p.is(tokPeriod) {
			p.fail(a.Pos, "nested arrows are not supported")
		}
		return a
	case p.is(tokLParen):
		if p.depth == maxNesting {
			p.fail(p.tok.pos, "expression nested more than %d parentheses deep", maxNesting)
		}
		p.depth++
		p.next()
		e := p.parseExclusion()
		p.expect(tokRParen, `")"`)
		p.depth--
		return e
	case p.isKeyword("nil"):
		pos := p.tok.pos
		p.next()
		return &Nil{Pos: pos}
	}
	p.failUnexpected("a relation or permission name, nil or (")
	return nil
}

// parseArrow parses the rest of `rel->target`, `rel.any(target)` or
// `rel.all(target)` after rel.
func (p *parser) parseArrow(rel token) *Arrow {
	a := &Arrow{Pos: rel.pos, Relation: rel.text}
	if p.is(tokArrow) {
		p.next()
		target := p.expect(tokIdent, "a relation or permission name after ->")
		a.Target, a.TargetPos = target.text, target.pos
		return a
	}
	p.next() // "."
	fn := p.expect(tokIdent, `"any" or "all" after "."`)
	switch fn.text {
	case "any":
		a.Func = ArrowAny
	case "all":
		a.Func = ArrowAll
	default:
		p.fail(fn.pos, "unknown arrow function %s, expected any or all", strconv.Quote(fn.text))
	}
	p.expect(tokLParen, `"("`)
	target := p.expect(tokIdent, "a relation or permission name")
	a.Target, a.TargetPos = target.text, target.pos
	p.expect(tokRParen, `")"`)
	return a
}
