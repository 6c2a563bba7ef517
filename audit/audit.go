// Package audit describes authorization decisions as events and writes
// them with log/slog.
//
// One [Event] is produced per enforcement decision, by the component that
// makes it (enforce.Enforcer, and through it the httpauthz middleware).
// Events carry the subject's type and id, never credentials or whole
// principals, and no consistency tokens.
package audit

import (
	"context"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// Outcome is what a decision came to.
type Outcome uint8

// The outcomes of a decision.
const (
	// Allowed: the engine allowed the operation.
	Allowed Outcome = iota + 1
	// Denied: the subject can read the resource but not perform the
	// operation (answered 403).
	Denied
	// NotFound: the resource is missing or unreadable (answered 404).
	NotFound
	// Bypassed: a trusted bypass allowed the operation without the engine.
	Bypassed
	// ShadowDenied: in shadow mode, the decision would have been a denial
	// or a not-found; the request went on.
	ShadowDenied
	// Error: there was no decision (backend unavailable, bad input,
	// misconfiguration).
	Error
	// Unchecked: in off mode, nothing was checked and the request went on.
	Unchecked
)

var outcomeNames = [...]string{"", "allowed", "denied", "not_found", "bypassed", "shadow_denied", "error", "unchecked"}

// String returns the outcome's snake_case name.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "unknown"
}

// Event describes one decision.
type Event struct {
	// Subject is who asked (type and id only).
	Subject authz.Subject
	// Requested is what the request addressed; its id is empty when the
	// input was not a valid id.
	Requested authz.Resource
	// Checked is the resource whose permission was checked (the parent of
	// a child) when the decision allowed it; empty otherwise (nothing was
	// checked, or the answer was not found, denied or an error).
	Checked authz.Resource
	// Operation is the operation asked for.
	Operation authz.Operation
	// Route is the route pattern, if any.
	Route string
	// Outcome is what the decision came to.
	Outcome Outcome
	// Mode is the name of the enforcement mode the request ran in
	// ("enforce", "shadow" or "off"), as the service's mode function chose
	// it: a value outside the three modes is reported as it is, such as
	// "Mode(3)", and was enforced.
	Mode string
	// Latency is how long the decision took, backend calls and parent
	// resolution included.
	Latency time.Duration
	// Consistency is the consistency the checks asked for.
	Consistency authz.ConsistencyMode
	// Bypass is the trusted identity of a bypassed decision.
	Bypass authz.Subject
	// Missing names, for a denial that was a conditional decision (see
	// [authz.Conditional]), the caveat parameters the request's context
	// lacked; nil otherwise. Only names, never values. A conditional
	// decision answered as not found (the caller may not read the
	// resource without them) names them here too, while the answer
	// itself stays the bare [authz.ErrNotFound] of a missing resource.
	// Events are the operator's: never show them to the caller.
	Missing []string
	// Err is the error of an [Error] outcome. fgac's errors carry no
	// secrets.
	Err error
}

// Hook receives decision events. Implementations must be safe for
// concurrent use and should return quickly: they run on the request path.
type Hook interface {
	// Observe is called once per decision.
	Observe(ctx context.Context, e Event)
}

// HookFunc adapts a function to a [Hook].
type HookFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f HookFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// Multi returns a Hook that delivers every event to each hook in order.
// Nil hooks are left out, as a nil Hook elsewhere means none.
func Multi(hooks ...Hook) Hook {
	m := make(multi, 0, len(hooks))
	for _, h := range hooks {
		if h != nil {
			m = append(m, h)
		}
	}
	return m
}

type multi []Hook

func (m multi) Observe(ctx context.Context, e Event) {
	for _, h := range m {
		h.Observe(ctx, e)
	}
}
