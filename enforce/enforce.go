// Package enforce is the enforcement loop that the net/http middleware
// (httpauthz) and other transports share: it resolves child resources to
// their parent, confirms the row exists, applies the collapse rule in the
// request's enforcement mode (enforce, shadow or off, chosen per resource
// type, route and tenant for safe rollouts) and reports every decision as
// one audit.Event.
package enforce

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/internal/missing"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
)

// Mode is how a request is enforced. The zero value is [Enforce], so a
// missing or failing mode choice never weakens enforcement, and so is every
// value outside the three modes: only [Shadow] and [Off] relax anything
// ([Mode.Enforced] is the one place that says so).
type Mode uint8

// The enforcement modes.
const (
	// Enforce checks and answers denials.
	Enforce Mode = iota
	// Shadow checks and records what would have been denied, but lets
	// every request through unchanged, also when the backend fails.
	Shadow
	// Off does not check at all.
	Off
)

// Enforced reports whether requests in mode m are enforced: true for
// [Enforce] and for every value that is not a mode at all, such as
// Mode(3) from a faulty [ModeFunc]. Code that branches on a mode asks this
// (or compares with [Shadow] and [Off]), never m != Enforce.
func (m Mode) Enforced() bool { return m != Shadow && m != Off }

// Known reports whether m is one of the three modes.
func (m Mode) Known() bool { return m <= Off }

// String returns "enforce", "shadow" or "off", and for any other value
// "Mode(N)", so that events report an out-of-range mode as what it is
// (it is enforced).
func (m Mode) String() string {
	switch m {
	case Enforce:
		return "enforce"
	case Shadow:
		return "shadow"
	case Off:
		return "off"
	default:
		return "Mode(" + strconv.Itoa(int(m)) + ")"
	}
}

// ModeRequest is what a [ModeFunc] decides on. The tenant, if the service
// has one, is in the context, where the service's own authentication put it.
type ModeRequest struct {
	// ResourceType is the type addressed (possibly a child type).
	ResourceType string
	// Route is the route pattern, such as "GET /tasks/{task_id}", or "".
	Route string
}

// ModeFunc chooses the mode of a request, typically from the service's
// own flag system, per resource type, route and tenant.
type ModeFunc func(ctx context.Context, r ModeRequest) Mode

// Rows tells whether the row of a resource exists in the service's own
// store, which is the source of truth for existence: a relationship left
// in the graph after its row was deleted (a failed deregistration, a grant
// that raced the delete) must not grant anything.
type Rows interface {
	// Exists reports whether r's row exists. It is asked for every
	// resource an [Enforcer] checks (the parent of a child), and for
	// the decoy ([collapse.DecoyID], or what [Enforcer.Decoy] returns) in place of
	// a resource that does not exist, so that both cost the same store
	// call; it must answer false for the decoy. An error
	// is answered as a server error, for existing and missing resources
	// alike.
	Exists(ctx context.Context, r authz.Resource) (bool, error)
}

// RowsFunc adapts a function to [Rows].
type RowsFunc func(ctx context.Context, r authz.Resource) (bool, error)

// Exists calls f.
func (f RowsFunc) Exists(ctx context.Context, r authz.Resource) (bool, error) { return f(ctx, r) }

// Enforcer applies the collapse rule to resources and child resources,
// honours the enforcement mode of each request and reports every decision
// as one [audit.Event]. The zero value is not usable; set Guard (and
// Parents if children are used). An Enforcer is safe for concurrent use.
type Enforcer struct {
	// Guard answers the checks.
	Guard *authz.Guard
	// Parents resolves child types; nil means no child types.
	Parents *parent.Registry
	// Hook receives one event per decision; nil means none.
	Hook audit.Hook
	// Modes chooses the mode of each request; nil means [Enforce]
	// everywhere.
	Modes ModeFunc
	// Rows, if set, confirms that the checked resource's row exists, as
	// part of every decision (bypassed ones included): a resource whose
	// row is gone answers exactly like one that never existed, after the
	// same store and engine calls, whatever relationships it still has.
	// Nil means the graph alone decides, and a relationship that outlives
	// its row keeps granting until the reconciler removes it.
	Rows Rows
	// Decoy, if set, returns the id checked (and asked of Rows) in place of
	// a resource of resourceType that does not exist. Give it the shape of
	// the type's real ids (their length above all): an engine may spend
	// measurably less on an id that differs from every stored id at its
	// first byte or its length (SpiceDB's memory datastore compares the
	// ids of every relationship of the type), which would tell a missing
	// resource from an unreadable one by timing. It must return a valid id
	// that is never a real one. Nil means [collapse.DecoyID]. It is called
	// for every request of the type, existing resource or not, so that a
	// Decoy that panics or returns a malformed id fails every request
	// alike (an error matching [authz.ErrInternal]), and one that calls
	// runtime.Goexit ends every request alike, instead of telling missing
	// resources from unreadable ones.
	Decoy func(resourceType string) string
	// Tracer, if set, makes a span for every decision (see [otelauthz]),
	// the parent of the spans of the decision's engine calls. Nil means no
	// tracing, at no cost.
	Tracer *otelauthz.Tracer
}

// Request is one enforcement question. Resource may be a child type; its ID
// may be anything, including malformed input, which is answered as missing.
type Request struct {
	// Subject is who is asking.
	Subject authz.Subject
	// Resource is the resource or child resource addressed.
	Resource authz.Resource
	// Operation is what the subject wants to do.
	Operation authz.Operation
	// Consistency is the freshness requirement.
	Consistency authz.Consistency
	// Route is the route pattern, for the mode choice and the event.
	Route string
	// Context supplies caveat parameters to the checks; a decision that
	// lacks some is conditional and denied like any denial.
	Context authz.Context
}

// Mode returns the mode of a request for a resource of type typ on route.
// If the ModeFunc panics, Mode returns [Enforce] and an error matching
// [authz.ErrInternal], which the caller answers as a server error (pass
// both to [Enforcer.Failed]): a faulty flag system never relaxes anything.
func (e *Enforcer) Mode(ctx context.Context, typ, route string) (m Mode, err error) {
	if e.Modes == nil {
		return Enforce, nil
	}
	defer func() {
		if recover() != nil {
			m, err = Enforce, errModePanicked
		}
	}()
	return e.Modes(ctx, ModeRequest{ResourceType: typ, Route: route}), nil
}

// The errors of callbacks that panicked. They name the callback, not the
// panic's value, which may hold anything the service had at hand.
var (
	errModePanicked     = fmt.Errorf("enforce: %w: Enforcer.Modes panicked", authz.ErrInternal)
	errRowsPanicked     = fmt.Errorf("enforce: %w: Enforcer.Rows panicked", authz.ErrInternal)
	errDecoyPanicked    = fmt.Errorf("enforce: %w: Enforcer.Decoy panicked", authz.ErrInternal)
	errResolverPanicked = fmt.Errorf("enforce: %w: a parent resolver panicked", authz.ErrInternal)
	errHookPanicked     = fmt.Errorf("enforce: %w: Enforcer.Hook panicked", authz.ErrInternal)
)

// Authorize resolves req.Resource to the resource that carries its
// permissions and applies [collapse.CheckOrNotFound] to it, in the request's mode.
// It returns the resource that was checked. A malformed id, a missing child
// and a child whose parent is missing or unreadable all return
// [authz.ErrNotFound] after the same backend calls as an unreadable
// resource. Resolver errors other than not-found, and a resolver returning
// a bad parent, are returned unchanged (a server error, never an allow).
//
// In [Shadow] mode the decision is made and reported but Authorize
// returns a nil error whatever it was (the checked resource is then zero
// if nothing could be checked); in [Off] mode nothing is checked and
// the zero resource is returned.
//
// A panic in a callback (Modes, Rows, Decoy or a parent resolver) is
// answered as an error matching [authz.ErrInternal], in shadow mode as
// any other failure: it never allows what enforce mode would refuse.
func (e *Enforcer) Authorize(ctx context.Context, req Request) (authz.Resource, error) {
	mode, err := e.Mode(ctx, req.Resource.Type, req.Route)
	if err != nil {
		return authz.Resource{}, e.Failed(ctx, req, mode, err)
	}
	return e.AuthorizeIn(ctx, req, mode)
}

// AuthorizeIn is [Enforcer.Authorize] in a mode the caller already chose.
func (e *Enforcer) AuthorizeIn(ctx context.Context, req Request, mode Mode) (authz.Resource, error) {
	return e.decide(ctx, req, mode, e.authorize)
}

// Missing answers a request for a resource that the caller's own lookup
// found absent (a name that resolves to nothing, a row that is gone) with
// the same calls and error as an unreadable one, in the request's mode.
func (e *Enforcer) Missing(ctx context.Context, req Request, mode Mode) error {
	_, err := e.decide(ctx, req, mode, func(ctx context.Context, req Request) (authz.Resource, error) {
		return authz.Resource{}, e.missing(ctx, req)
	})
	return err
}

// Failed reports a request that could not be decided because of err (bad
// input, no subject) and returns what the caller should answer: err in
// enforce mode, nil in shadow and off modes, where the request goes on as
// if fgac were not there.
func (e *Enforcer) Failed(ctx context.Context, req Request, mode Mode, err error) error {
	_, err = e.decide(ctx, req, mode, func(context.Context, Request) (authz.Resource, error) {
		return authz.Resource{}, err
	})
	return err
}

// epoch is a fixed instant (set once, never changed) that decision
// latencies are measured from: time.Since on it reads only the monotonic
// clock, which is cheaper on the request path than time.Now.
var epoch = time.Now()

// decide runs f in mode and reports the decision.
func (e *Enforcer) decide(ctx context.Context, req Request, mode Mode, f func(context.Context, Request) (authz.Resource, error)) (authz.Resource, error) {
	var span trace.Span
	if e.Tracer != nil {
		ctx, span = e.Tracer.StartDecision(ctx)
	}
	if mode == Off {
		e.report(ctx, &req, mode, authz.Resource{}, nil, 0, nil)
		e.endSpan(ctx, span, &req, mode, authz.Resource{}, nil)
		return authz.Resource{}, nil
	}
	if e.Hook == nil {
		checked, err := f(ctx, req)
		e.endSpan(ctx, span, &req, mode, checked, err)
		if mode == Shadow {
			return checked, nil
		}
		return checked, err
	}
	start := time.Since(epoch)
	// A conditional decision answered as not found is the bare
	// ErrNotFound; collapse records what it lacked for the event.
	fctx, rec := missing.With(ctx)
	checked, err := f(fctx, req)
	if hookErr := e.report(ctx, &req, mode, checked, err, time.Since(epoch)-start, rec.Names()); hookErr != nil && mode.Enforced() && err == nil {
		// The decision was made but could not be recorded: an enforced
		// request is not let through unrecorded (fail closed).
		checked, err = authz.Resource{}, hookErr
	}
	e.endSpan(ctx, span, &req, mode, checked, err)
	if mode == Shadow {
		return checked, nil
	}
	return checked, err
}

// report delivers the event of one decision. A panicking Hook is an error
// matching [authz.ErrInternal]: in shadow and off modes the request goes
// on unchanged; an enforced request that would have been allowed is not.
func (e *Enforcer) report(ctx context.Context, req *Request, mode Mode, checked authz.Resource, err error, latency time.Duration, notFoundMissing []string) (hookErr error) {
	if e.Hook == nil {
		return nil
	}
	defer func() {
		if recover() != nil {
			hookErr = errHookPanicked
		}
	}()
	ev := audit.Event{
		Subject: req.Subject, Requested: req.Resource, Checked: checked, Operation: req.Operation,
		Route: req.Route, Mode: mode.String(), Latency: latency, Consistency: req.Consistency.Mode(),
	}
	if !authz.ValidID(ev.Requested.ID) {
		ev.Requested.ID = ""
	}
	ev.Outcome, ev.Bypass = outcome(ctx, mode, checked, err)
	switch {
	case ev.Outcome == audit.Error:
		ev.Err = err
	case errors.Is(err, authz.ErrDenied):
		var denied *authz.DeniedError
		if errors.As(err, &denied) {
			ev.Missing = denied.Missing
		}
	case errors.Is(err, authz.ErrNotFound):
		ev.Missing = notFoundMissing
	}
	e.Hook.Observe(ctx, ev)
	return nil
}

// outcome is what a decision in mode that checked checked and returned
// err came to, and the identity of the bypass that allowed it, if one did.
func outcome(ctx context.Context, mode Mode, checked authz.Resource, err error) (o audit.Outcome, bypass authz.Subject) {
	switch {
	case mode == Off:
		return audit.Unchecked, authz.Subject{}
	case err == nil:
		if b, ok := authz.BypassFor(ctx, checked); ok {
			return audit.Bypassed, b.Identity
		}
		return audit.Allowed, authz.Subject{}
	case errors.Is(err, authz.ErrNotFound):
		o = audit.NotFound
	case errors.Is(err, authz.ErrDenied):
		o = audit.Denied
	default:
		return audit.Error, authz.Subject{}
	}
	if mode == Shadow {
		o = audit.ShadowDenied
	}
	return o, authz.Subject{}
}

func (e *Enforcer) authorize(ctx context.Context, req Request) (authz.Resource, error) {
	target := req.Resource
	q := authz.Question{Subject: req.Subject, Resource: target, Operation: req.Operation, Consistency: req.Consistency, Context: req.Context}
	child := e.Parents != nil && e.Parents.IsChild(target.Type)
	if child {
		typ, err := e.Parents.TargetType(target.Type)
		if err != nil {
			return authz.Resource{}, err
		}
		q.Resource.Type = typ
	} else if !authz.ValidID(target.ID) {
		if err := authz.ValidateType(target.Type); err != nil {
			return authz.Resource{}, err
		}
	}
	// The decoy is taken for every request, whether the resource exists
	// or not: a Decoy that fails (panics, returns a malformed id, calls
	// runtime.Goexit) then fails every request alike, where failing only
	// the requests that need it would tell a missing resource from an
	// unreadable one.
	decoy, err := e.decoy(q.Resource.Type)
	if err != nil {
		return authz.Resource{}, err
	}
	if child {
		if !authz.ValidID(target.ID) {
			return authz.Resource{}, e.notFound(ctx, q, decoy)
		}
		resolved, err := e.resolve(ctx, target)
		if errors.Is(err, authz.ErrNotFound) {
			return authz.Resource{}, e.notFound(ctx, q, decoy)
		}
		if err != nil {
			return authz.Resource{}, err
		}
		q.Resource = resolved
	} else if !authz.ValidID(target.ID) {
		return authz.Resource{}, e.notFound(ctx, q, decoy)
	}
	if e.Rows != nil {
		if err := collapse.CheckMapped(e.Guard, q.Resource.Type, q.Operation); err != nil {
			return authz.Resource{}, err
		}
		exists, err := e.exists(ctx, q.Resource)
		switch {
		case err != nil:
			return authz.Resource{}, err
		case !exists:
			// The row is gone: answer as for a missing resource, with the
			// decoy check, whatever the graph still holds.
			return authz.Resource{}, collapse.NotFoundAs(ctx, e.Guard, q, decoy)
		}
	}
	if err := collapse.CheckOrNotFound(ctx, e.Guard, q); err != nil {
		return authz.Resource{}, err
	}
	return q.Resource, nil
}

// notFound answers q, whose resource does not exist or whose id is
// malformed, after the same calls as an existing unreadable resource: the
// existence query and the check, both on decoy.
func (e *Enforcer) notFound(ctx context.Context, q authz.Question, decoy string) error {
	if e.Rows != nil {
		// An unmapped operation spends no store call (CheckOrNotFound
		// refuses it before any engine call too), as on the path of an
		// existing resource.
		if err := collapse.CheckMapped(e.Guard, q.Resource.Type, q.Operation); err != nil {
			return err
		}
		if _, err := e.exists(ctx, authz.Resource{Type: q.Resource.Type, ID: decoy}); err != nil {
			return err
		}
	}
	return collapse.NotFoundAs(ctx, e.Guard, q, decoy)
}

// errBadDecoy is the error of a Decoy function that returned a malformed id.
var errBadDecoy = fmt.Errorf("enforce: %w: Enforcer.Decoy returned a malformed id", authz.ErrInternal)

// decoy returns the id checked in place of a missing resource of typ.
func (e *Enforcer) decoy(typ string) (id string, err error) {
	if e.Decoy == nil {
		return collapse.DecoyID, nil
	}
	defer func() {
		if recover() != nil {
			id, err = "", errDecoyPanicked
		}
	}()
	id = e.Decoy(typ)
	if !authz.ValidID(id) {
		return "", errBadDecoy
	}
	return id, nil
}

// exists asks Rows whether r's row exists; a panic is an error.
func (e *Enforcer) exists(ctx context.Context, r authz.Resource) (ok bool, err error) {
	defer func() {
		if recover() != nil {
			ok, err = false, errRowsPanicked
		}
	}()
	return e.Rows.Exists(ctx, r)
}

// resolve resolves child to the resource that carries its permissions; a
// panic in a resolver is an error.
func (e *Enforcer) resolve(ctx context.Context, child authz.Resource) (r authz.Resource, err error) {
	defer func() {
		if recover() != nil {
			r, err = authz.Resource{}, errResolverPanicked
		}
	}()
	return e.Parents.Resolve(ctx, child)
}

func (e *Enforcer) missing(ctx context.Context, req Request) error {
	typ := req.Resource.Type
	if e.Parents != nil {
		t, err := e.Parents.TargetType(typ)
		if err != nil {
			return err
		}
		typ = t
	}
	q := authz.Question{Subject: req.Subject, Resource: authz.Resource{Type: typ}, Operation: req.Operation, Consistency: req.Consistency, Context: req.Context}
	decoy, err := e.decoy(typ)
	if err != nil {
		return err
	}
	return e.notFound(ctx, q, decoy)
}

// CheckRoute reports, for a transport building a route at setup, whether
// requests for typ with op can be decided: typ is a valid type, mapped in
// the Guard's OperationMap or a registered child type whose parent type
// is; op, and for any other operation the read that separates denied from
// not found, are mapped for the type checked; and Decoy, if set, returns a
// valid id for it (a Decoy that fails at request time fails every request
// of the type alike, existing resource or not: better found at setup). It returns
// the type checked (the parent type of a child) or an error that names
// the fix; transports panic with it, as http.ServeMux does on a bad
// pattern.
func (e *Enforcer) CheckRoute(typ string, op authz.Operation) (string, error) {
	if err := authz.ValidateType(typ); err != nil {
		return "", err
	}
	target := typ
	if e.Parents != nil {
		t, err := e.Parents.TargetType(typ)
		if err != nil {
			return "", err
		}
		target = t
	}
	ops := e.Guard.Operations()
	if len(ops.Operations(target)) == 0 {
		if target != typ {
			return "", fmt.Errorf("%s's permissions come from %s (Parents), which the OperationMap does not map: add %q to the map given to authz.NewOperationMap", typ, target, target)
		}
		return "", fmt.Errorf("%q is neither in the OperationMap nor a child type: map its operations in authz.NewOperationMap, or, if it has no permissions of its own, register it with Parents.Register(%q, parentType, resolver)", typ, typ)
	}
	if _, err := ops.Permission(target, op); err != nil {
		return "", fmt.Errorf("%w: add it to the map given to authz.NewOperationMap", err)
	}
	if _, err := ops.Permission(target, authz.OpRead); op != authz.OpRead && err != nil {
		return "", fmt.Errorf("%w: a denied %s answers denied or not found depending on whether the subject may read, so read must be mapped too", err, op)
	}
	if e.Decoy != nil {
		if id := e.Decoy(target); !authz.ValidID(id) {
			return "", fmt.Errorf("Decoy(%q) returned a malformed id: it must return a valid id, shaped like %s's real ids, that is never a real one", target, target)
		}
	}
	return target, nil
}
