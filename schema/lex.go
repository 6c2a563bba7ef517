package schema

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokenKind uint8

const (
	tokEOF tokenKind = iota
	// tokEnd ends a statement: ";" or a newline after a name, a keyword,
	// "}", ")" or "*" (SpiceDB's synthetic semicolon).
	tokEnd
	tokIdent
	tokKeyword
	tokLBrace   // {
	tokRBrace   // }
	tokLParen   // (
	tokRParen   // )
	tokPipe     // |
	tokPlus     // +
	tokMinus    // -
	tokAmp      // &
	tokSlash    // /
	tokEquals   // =
	tokColon    // :
	tokHash     // #
	tokStar     // *
	tokEllipsis // ...
	tokArrow    // ->
	tokPeriod   // .
	// tokOther is a character of SpiceDB's caveat language (CEL), lexed so
	// that the error names the construct rather than the character.
	tokOther
)

// keywords are SpiceDB's reserved words (without any `use` flag); they can
// never be names.
var keywords = map[string]bool{
	"definition": true,
	"caveat":     true,
	"relation":   true,
	"permission": true,
	"nil":        true,
	"with":       true,
}

type token struct {
	kind tokenKind
	text string
	pos  Pos
	// doc is the text of the comments between the previous token and this
	// one.
	doc string
}

// describe names the token in an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokEnd:
		if t.text == ";" {
			return `";"`
		}
		return "end of line"
	case tokIdent:
		return "name " + strconv.Quote(t.text)
	case tokKeyword:
		return "keyword " + strconv.Quote(t.text)
	default:
		return strconv.Quote(t.text)
	}
}

// lexer turns schema text into tokens on demand, so that an error is
// reported only when the parser reaches it.
type lexer struct {
	src  string
	off  int // byte offset of the next rune
	line int
	col  int
	// last is the kind of the last token or newline seen, which decides
	// whether a newline ends a statement.
	last tokenKind
	docs []string
}

func newLexer(src string) *lexer {
	return &lexer{src: src, line: 1, col: 1, last: tokEOF}
}

// peekRune returns the rune at byte offset off and its size.
func (l *lexer) peekRune(off int) (rune, int) {
	if off >= len(l.src) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(l.src[off:])
}

// advance moves past the rune r of size n.
func (l *lexer) advance(r rune, n int) {
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 1
		return
	}
	l.col++
}

// endsStatement reports whether a newline after a token of kind k ends a
// statement.
func endsStatement(k tokenKind) bool {
	switch k {
	case tokIdent, tokKeyword, tokRBrace, tokRParen, tokStar:
		return true
	}
	return false
}

// next returns the next token.
func (l *lexer) next() (token, error) {
	for {
		r, n := l.peekRune(l.off)
		pos := Pos{Line: l.line, Column: l.col}
		switch {
		case n == 0:
			return l.emit(tokEOF, "", pos), nil
		case r == '\n' || r == '\r':
			l.advance(r, n)
			if r == '\r' {
				// A lone carriage return is a line break too.
				if next, _ := l.peekRune(l.off); next != '\n' {
					l.line++
					l.col = 1
				}
			}
			if endsStatement(l.last) {
				return l.emit(tokEnd, "\n", pos), nil
			}
			// SpiceDB's lexer remembers the newline itself as the last
			// token, so a following newline ends nothing either.
			l.last = tokEnd
		case r == ' ' || r == '\t':
			l.advance(r, n)
		case r == '/' && strings.HasPrefix(l.src[l.off:], "//"):
			end := strings.IndexAny(l.src[l.off:], "\r\n")
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.comment(l.src[l.off : l.off+end])
		case r == '/' && strings.HasPrefix(l.src[l.off:], "/*"):
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return token{}, errorf(pos, "unterminated comment")
			}
			l.comment(l.src[l.off : l.off+2+end+2])
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			start := l.off
			for {
				r, n := l.peekRune(l.off)
				if n == 0 || !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
					break
				}
				l.advance(r, n)
			}
			word := l.src[start:l.off]
			if keywords[word] {
				return l.emit(tokKeyword, word, pos), nil
			}
			return l.emit(tokIdent, word, pos), nil
		default:
			kind, text := l.punct(r)
			if kind == tokEOF {
				if r == utf8.RuneError && n == 1 {
					return token{}, errorf(pos, "invalid UTF-8")
				}
				return token{}, errorf(pos, "unexpected character %q", r)
			}
			for _, c := range text {
				l.advance(c, utf8.RuneLen(c))
			}
			return l.emit(kind, text, pos), nil
		}
	}
}

// punct returns the punctuation token starting with r, or tokEOF if there
// is none.
func (l *lexer) punct(r rune) (tokenKind, string) {
	rest := l.src[l.off:]
	switch r {
	case '{':
		return tokLBrace, "{"
	case '}':
		return tokRBrace, "}"
	case '(':
		return tokLParen, "("
	case ')':
		return tokRParen, ")"
	case '|':
		return tokPipe, "|"
	case '+':
		return tokPlus, "+"
	case '&':
		return tokAmp, "&"
	case '/':
		return tokSlash, "/"
	case '=':
		return tokEquals, "="
	case ':':
		return tokColon, ":"
	case ';':
		return tokEnd, ";"
	case '#':
		return tokHash, "#"
	case '*':
		return tokStar, "*"
	case '-':
		if strings.HasPrefix(rest, "->") {
			return tokArrow, "->"
		}
		return tokMinus, "-"
	case '.':
		if strings.HasPrefix(rest, "...") {
			return tokEllipsis, "..."
		}
		return tokPeriod, "."
	case '?', '!', '[', ']', '%', '<', '>', ',', '"', '\'':
		return tokOther, string(r)
	}
	return tokEOF, ""
}

// comment consumes the comment text c, which starts at the current offset,
// and keeps it for the doc of the next token.
func (l *lexer) comment(c string) {
	for _, r := range c {
		l.advance(r, utf8.RuneLen(r))
	}
	if text := commentText(c); text != "" {
		l.docs = append(l.docs, text)
	}
}

func (l *lexer) emit(kind tokenKind, text string, pos Pos) token {
	t := token{kind: kind, text: text, pos: pos}
	if len(l.docs) > 0 {
		t.doc = strings.Join(l.docs, "\n")
		l.docs = l.docs[:0]
	}
	l.last = kind
	return t
}

// commentText strips the markers of a comment and the leading "*" of the
// lines of a block comment.
func commentText(c string) string {
	if rest, ok := strings.CutPrefix(c, "//"); ok {
		return strings.TrimSpace(rest)
	}
	c = strings.TrimSuffix(strings.TrimPrefix(c, "/*"), "*/")
	c = strings.TrimPrefix(c, "*")
	lines := strings.Split(c, "\n")
	out := lines[:0]
	for _, line := range lines {
		line = strings.TrimSpace(line)
		line = strings.TrimSpace(strings.TrimPrefix(line, "*"))
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
