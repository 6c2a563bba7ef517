package schema

import (
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// Error is a syntax or validation error in schema text. Match it with
// errors.As to read the position; it matches [authz.ErrInvalidRequest].
type Error struct {
	// Line and Column locate the problem, counting from 1 (columns in
	// characters).
	Line   int
	Column int
	// Msg describes the problem, without the position.
	Msg string
}

// Error returns "schema: line L, column C: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("schema: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns [authz.ErrInvalidRequest]: a schema that does not parse
// is input that can never succeed as written.
func (e *Error) Unwrap() error { return authz.ErrInvalidRequest }

func errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...)}
}
