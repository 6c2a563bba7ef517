package schema

import "fmt"

// Error is a syntax or validation error in schema text. Match it with
// errors.As to read the position.
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

func errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Line: pos.Line, Column: pos.Column, Msg: fmt.Sprintf(format, args...)}
}
