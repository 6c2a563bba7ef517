package schema

import (
	"strconv"
	"strings"
)

// Caveat is a caveat definition: a named CEL expression over typed
// parameters, such as
//
//	caveat on_network(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
//
// A relationship of a relation that allows `with on_network` counts only
// when the expression holds. Its program is compiled once, when the schema
// is parsed; [Caveat.Eval] evaluates it.
type Caveat struct {
	// Name is the caveat's name, including any prefix ("org/weekday").
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Doc is the text of the comments just before the caveat.
	Doc string
	// Params are the parameters in source order.
	Params []*Param
	// Expr is the CEL expression as written, between the braces.
	Expr string
	// ExprPos is where Expr starts (just after the opening brace).
	ExprPos Pos

	params map[string]*Param
	prog   *program
}

// Param is a parameter of a caveat.
type Param struct {
	// Name is the parameter's name.
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Type is the parameter's type.
	Type *ParamType
}

// ParamType is the type of a caveat parameter: one of SpiceDB's int, uint,
// bool, string, double, bytes, duration, timestamp, ipaddress and any, or a
// generic list<T> or map<T> (string keys).
type ParamType struct {
	// Name is the type's name, such as "int" or "list".
	Name string
	// Pos is where the name appears.
	Pos Pos
	// Args are the type arguments of list and map.
	Args []*ParamType
}

// String returns the type as written in a schema: "list<int>".
func (t *ParamType) String() string {
	if len(t.Args) == 0 {
		return t.Name
	}
	args := make([]string, len(t.Args))
	for i, a := range t.Args {
		args[i] = a.String()
	}
	return t.Name + "<" + strings.Join(args, ", ") + ">"
}

// Param returns the parameter named name, or nil.
func (c *Caveat) Param(name string) *Param { return c.params[name] }

// String returns the caveat in canonical form.
func (c *Caveat) String() string {
	params := make([]string, len(c.Params))
	for i, p := range c.Params {
		params[i] = p.Name + " " + p.Type.String()
	}
	return "caveat " + c.Name + "(" + strings.Join(params, ", ") + ") {\n\t" + strings.TrimSpace(c.Expr) + "\n}\n"
}

// Self is `self` in a permission of a schema that says `use self`: the
// object itself, so that user:alice has the permission on user:alice.
type Self struct {
	Pos Pos
}

// Position returns where self appears.
func (e *Self) Position() Pos { return e.Pos }

// String returns "self".
func (e *Self) String() string { return "self" }

func (*Self) isExpr() {}

// parseUse parses `use expiration` or `use self`.
func (p *parser) parseUse(s *Schema) {
	p.next()
	flag := p.expect(tokIdent, `"expiration" or "self" after use`)
	switch flag.text {
	case "expiration":
		s.UseExpiration = true
	case "self":
		s.UseSelf = true
	default:
		p.fail(flag.pos, "unknown use flag %s, expected expiration or self", strconv.Quote(flag.text))
	}
	// As in SpiceDB, a statement may follow on the same line ("use self
	// definition user {...}", which a folded YAML scalar produces).
}

// parseCaveat parses `caveat name(param type, ...) { expression }`.
func (p *parser) parseCaveat() *Caveat {
	c := &Caveat{Doc: p.tok.doc}
	p.next()
	c.Name, c.Pos = p.parseTypePath()
	p.expect(tokLParen, `"("`)
	for {
		name := p.expect(tokIdent, "a parameter name")
		c.Params = append(c.Params, &Param{Name: name.text, Pos: name.pos, Type: p.parseParamType()})
		if p.is(tokOther) && p.tok.text == "," {
			p.next()
			continue
		}
		break
	}
	p.expect(tokRParen, `")"`)
	if !p.is(tokLBrace) {
		p.failUnexpected(`"{"`)
	}
	// The body is CEL, not schema language: take it as text up to the
	// matching brace and let the CEL compiler read it.
	c.ExprPos = Pos{Line: p.lx.line, Column: p.lx.col}
	body, err := p.lx.celBody()
	if err != nil {
		panic(bailout{err})
	}
	c.Expr = body
	p.next()
	return c
}

// parseParamType parses `int`, `list<int>` or `map<list<string>>`.
func (p *parser) parseParamType() *ParamType {
	name := p.expect(tokIdent, "a parameter type")
	t := &ParamType{Name: name.text, Pos: name.pos}
	if !(p.is(tokOther) && p.tok.text == "<") {
		return t
	}
	p.next()
	for {
		t.Args = append(t.Args, p.parseParamType())
		if p.is(tokOther) && p.tok.text == "," {
			p.next()
			continue
		}
		break
	}
	if !(p.is(tokOther) && p.tok.text == ">") {
		p.failUnexpected(`">"`)
	}
	p.next()
	return t
}

// celBody consumes CEL text after an opening brace up to and including
// the matching closing brace, and returns the text between them. It skips
// braces inside string literals and comments.
func (l *lexer) celBody() (string, *Error) {
	start := l.off
	startPos := Pos{Line: l.line, Column: l.col}
	depth := 0
	for {
		r, n := l.peekRune(l.off)
		switch {
		case n == 0:
			return "", errorf(startPos, "caveat expression has no closing brace")
		case r == '"' || r == '\'':
			if err := l.celString(r); err != nil {
				return "", err
			}
			continue
		case r == '/' && strings.HasPrefix(l.src[l.off:], "//"):
			for {
				r, n := l.peekRune(l.off)
				if n == 0 || r == '\n' {
					break
				}
				l.advance(r, n)
			}
			continue
		case r == '{':
			depth++
		case r == '}':
			if depth == 0 {
				body := l.src[start:l.off]
				l.advance(r, n)
				l.last = tokRBrace
				return body, nil
			}
			depth--
		}
		l.advance(r, n)
	}
}

// celString consumes a CEL string literal quoted with q ("..." or '...',
// tripled or not).
func (l *lexer) celString(q rune) *Error {
	pos := Pos{Line: l.line, Column: l.col}
	triple := strings.Repeat(string(q), 3)
	if strings.HasPrefix(l.src[l.off:], triple) {
		end := strings.Index(l.src[l.off+3:], triple)
		if end < 0 {
			return errorf(pos, "unterminated string in caveat expression")
		}
		for _, r := range l.src[l.off : l.off+3+end+3] {
			l.advance(r, len(string(r)))
		}
		return nil
	}
	l.advance(q, 1)
	for {
		r, n := l.peekRune(l.off)
		switch {
		case n == 0 || r == '\n':
			return errorf(pos, "unterminated string in caveat expression")
		case r == '\\':
			l.advance(r, n)
			if r, n := l.peekRune(l.off); n > 0 {
				l.advance(r, n)
			}
			continue
		}
		l.advance(r, n)
		if r == q {
			return nil
		}
	}
}

// caveats checks the caveat definitions: names, parameters, and the CEL
// expression, compiled here once.
func (v *validator) caveats() {
	v.s.caveats = make(map[string]*Caveat, len(v.s.Caveats))
	for _, c := range v.s.Caveats {
		if !validTypeName(c.Name) {
			v.errorf(c.Pos, "invalid caveat name %s: want %s, optionally after prefixes of that form ending in /", strconv.Quote(c.Name), nameRule)
		}
		if prev, ok := v.s.caveats[c.Name]; ok {
			v.errorf(c.Pos, "duplicate caveat %s (first defined at line %d)", strconv.Quote(c.Name), prev.Pos.Line)
			continue
		}
		if v.s.byName[c.Name] != nil {
			v.errorf(c.Pos, "caveat %s has the name of a definition", strconv.Quote(c.Name))
		}
		v.s.caveats[c.Name] = c
		c.params = make(map[string]*Param, len(c.Params))
		for _, p := range c.Params {
			if c.params[p.Name] != nil {
				v.errorf(p.Pos, "duplicate parameter %s in caveat %s", strconv.Quote(p.Name), strconv.Quote(c.Name))
			}
			c.params[p.Name] = p
		}
		if err := compileCaveat(c); err != nil {
			v.errs = append(v.errs, err)
		}
	}
}
