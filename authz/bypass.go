package authz

import "context"

// Bypass marks a request as made by a trusted identity that skips the
// engine, such as an internal job authenticated by the service. It can only
// be put into a context by Go code through [WithBypass]: no header, query
// parameter or string context key produces one, because the context key is
// an unexported type.
//
// A bypass is the [Guard]'s policy, never an engine's answer: the Guard
// allows without asking the engine, and [BypassFor] tells whoever reports
// the decision that a bypass made it (collapse and httpauthz emit it as a
// "bypassed" event naming the identity).
type Bypass struct {
	// Identity names the trusted identity for audit, such as
	// {Type: "service", ID: "scheduler"}. It must be a valid subject
	// without a relation (see [Subject.Validate]): events name it as the
	// actor, so "service:*", "a b" or "x#y" are refused.
	Identity Subject
	// Scope, if non-nil, limits the bypass to the resources for which it
	// returns true; other resources are checked by the engine as usual, and
	// lookups are never unrestricted. A nil Scope bypasses everything. A
	// Scope that panics admits nothing: the resource is checked by the
	// engine as usual.
	Scope func(Resource) bool
}

type bypassKey struct{}

// WithBypass returns a context that carries b. Call it only after
// authenticating the identity. A bypass whose identity is missing or
// malformed is ignored: ctx is returned unchanged, so the request is
// checked by the engine like any other (it fails closed).
func WithBypass(ctx context.Context, b Bypass) context.Context {
	if b.Identity.Validate() != nil || b.Identity.Relation != "" {
		return ctx
	}
	return context.WithValue(ctx, bypassKey{}, &b)
}

// BypassFrom returns the bypass carried by ctx, if any.
func BypassFrom(ctx context.Context) (Bypass, bool) {
	b, ok := ctx.Value(bypassKey{}).(*Bypass)
	if !ok || b == nil {
		return Bypass{}, false
	}
	return *b, true
}

// BypassFor returns the bypass carried by ctx if it applies to r (its
// Scope is nil or admits r). Decisions about r made under ctx are bypassed
// exactly when it reports true.
func BypassFor(ctx context.Context, r Resource) (Bypass, bool) {
	b, ok := ctx.Value(bypassKey{}).(*Bypass)
	if !ok || b == nil || (b.Scope != nil && !scopeAdmits(b.Scope, r)) {
		return Bypass{}, false
	}
	return *b, true
}

// scopeAdmits reports whether scope admits r. A scope that panics admits
// nothing: a bypass is a privilege, and one whose limits cannot be
// decided does not apply.
func scopeAdmits(scope func(Resource) bool, r Resource) (admits bool) {
	defer func() {
		if recover() != nil {
			admits = false
		}
	}()
	return scope(r)
}

// bypassCovers reports whether the bypass in ctx applies to r.
func bypassCovers(ctx context.Context, r Resource) bool {
	_, ok := BypassFor(ctx, r)
	return ok
}

// bypassAll reports whether the bypass in ctx lifts every filter.
func bypassAll(ctx context.Context) bool {
	b, ok := ctx.Value(bypassKey{}).(*Bypass)
	return ok && b != nil && b.Scope == nil
}
