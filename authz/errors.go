package authz

import (
	"errors"
	"fmt"
)

// The error vocabulary. Every error that fgac makes matches exactly one of
// these with [errors.Is], so callers can decide what to answer without
// knowing which package or engine produced it. Errors of the service's own
// callbacks (a store query in a resolver, a Persist function) are returned
// as they are, wrapped at most, and match whatever they matched.
//
// Messages read "package: what happened: cause", lower-case, and never
// name a subject's credentials.
var (
	// ErrDenied reports that the subject lacks the permission asked for.
	ErrDenied = errors.New("authz: permission denied")
	// ErrNotFound reports that a resource does not exist or is not visible
	// to the caller; the two are deliberately indistinguishable.
	ErrNotFound = errors.New("authz: not found")
	// ErrUnavailable reports that the authorization backend could not
	// answer (down, overloaded, timed out). It is never an allow.
	ErrUnavailable = errors.New("authz: backend unavailable")
	// ErrInvalidRequest reports a request that can never succeed as written:
	// a malformed id, an unknown resource type or permission, an unmapped
	// operation, a relationship the schema does not allow.
	ErrInvalidRequest = errors.New("authz: invalid request")
	// ErrConflict reports a write that contradicts the graph, such as
	// registering a resource that another registration already owns.
	ErrConflict = errors.New("authz: conflict")
	// ErrInternal reports a fault in the service's own code or wiring that
	// fgac detected on the request path, such as a resolver that returned a
	// malformed parent or a child type without a resolver. It is never an
	// allow; httpauthz answers it 500 without detail.
	ErrInternal = errors.New("authz: internal error")
)

// DeniedError is the structured form of [ErrDenied]. It names the resource
// and the operation or permission, never the subject's credentials.
type DeniedError struct {
	// Resource is the resource the check was about.
	Resource Resource
	// Operation is the operation asked for, if the check came through a
	// [Guard]; it is empty for permission-level checks.
	Operation Operation
	// Permission is the schema permission that was checked.
	Permission string
	// Missing names, for a denial that came from a [Conditional] decision,
	// the caveat parameters that the request's context lacked; it is nil
	// for a plain denial. The names are schema vocabulary, never values.
	Missing []string
}

// Error implements error.
func (e *DeniedError) Error() string {
	what := e.Permission
	if e.Operation != "" {
		what = string(e.Operation)
	}
	return fmt.Sprintf("authz: permission denied: %s on %s", what, e.Resource)
}

// Is reports whether target is [ErrDenied].
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// invalidf returns an error that matches [ErrInvalidRequest].
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// Invalidf returns an error matching [ErrInvalidRequest] with a formatted
// detail. Adapters use it so that every invalid-request message reads alike.
func Invalidf(format string, args ...any) error { return invalidf(format, args...) }

// ContextError reports a request context that no answer can use: a value
// of a type no caveat reachable from the permission takes for its key, or
// a context larger than [MaxContextBytes]. It matches [ErrInvalidRequest]
// and is decided from the request and the schema alone, before any
// relationship is read, so it is the same for every resource. It names
// the caveat and the parameter, never a value.
type ContextError struct {
	// Caveat and Param name the caveat parameter the value was refused
	// for; both are empty for a context that is too large.
	Caveat, Param string
	// Reason says what is wrong, without quoting the value.
	Reason string
}

// Error implements error.
func (e *ContextError) Error() string {
	if e.Param == "" {
		return "authz: invalid request: request context: " + e.Reason
	}
	return fmt.Sprintf("authz: invalid request: request context: caveat %q: parameter %q: %s", e.Caveat, e.Param, e.Reason)
}

// Unwrap returns [ErrInvalidRequest].
func (e *ContextError) Unwrap() error { return ErrInvalidRequest }

// UndecidableError reports that an engine could not decide a check on the
// relationships it reached: its answer depends on itself through an
// exclusion (a cycle under "-", which has no well-defined value), or the
// relationships nest deeper than the engine follows. It matches
// [ErrInvalidRequest]; but like a [*CaveatError] it depends on the
// relationships, which only exist for an existing resource, so a [Guard]
// answers it as a denial (the same 404 or 403 as any denial), never as an
// error that would tell an existing resource from a missing one.
type UndecidableError struct {
	// Reason says what could not be decided: "pkg: what".
	Reason string
}

// Error implements error.
func (e *UndecidableError) Error() string {
	return e.Reason + ": " + ErrInvalidRequest.Error()
}

// Unwrap returns [ErrInvalidRequest].
func (e *UndecidableError) Unwrap() error { return ErrInvalidRequest }

// CaveatError reports that a caveat could not be evaluated on the data a
// check reached: a map key its stored context names is not in the
// request's map, a value converts for another caveat of the same
// parameter name but not this one, its evaluation exceeded the cost limit.
// SpiceDB answers these InvalidArgument, so it matches
// [ErrInvalidRequest]; but it depends on the relationships, not on the
// request alone, so a [Guard] answers it as a denial (the same 404 or 403
// as any denial), never as an error that would tell an existing resource
// from a missing one. It names the caveat, never a value: CEL's own
// message may quote one (a map key from another user's stored context).
type CaveatError struct {
	// Caveat is the caveat's name.
	Caveat string
	// Reason says what failed, without quoting a value.
	Reason string
}

// Error implements error.
func (e *CaveatError) Error() string {
	return fmt.Sprintf("authz: invalid request: caveat %q: %s", e.Caveat, e.Reason)
}

// Unwrap returns [ErrInvalidRequest].
func (e *CaveatError) Unwrap() error { return ErrInvalidRequest }
