// Package otelauthz traces fgac through the OpenTelemetry API: a span per
// engine call (check, bulk check, lookup, writes) and a span per
// enforcement decision, with the resource type, permission, outcome, mode
// and consistency as attributes.
//
// It depends on the OpenTelemetry API only (go.opentelemetry.io/otel and
// /trace), never on an SDK or an exporter: the service installs those and
// hands a [trace.TracerProvider] to [New]. Spans never carry secrets,
// error messages or principals beyond "type:id" (and [Config].DropIDs
// leaves out the ids too, keeping the types).
//
// Propagation to SpiceDB: the engine spans are the parents of whatever the
// engine does under the context it is given, so a SpiceDB client built
// with otelgrpc's stats handler (grpc.WithStatsHandler(
// otelgrpc.NewClientHandler()) among spicedbadapter's dial options) sends
// the trace to SpiceDB, whose own spans then join the same trace. fgac
// does not import otelgrpc; the service adds it.
package otelauthz

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fgac-go/fgac/authz"
)

// ScopeName is the instrumentation scope of fgac's tracer.
const ScopeName = "github.com/fgac-go/fgac"

// Span names.
const (
	// DecisionSpan is the name of the span of one enforcement decision.
	DecisionSpan = "fgac.decision"
	// EngineSpanPrefix starts the name of every engine call's span, which
	// ends with the method: "fgac.engine.Check".
	EngineSpanPrefix = "fgac.engine."
)

// Attribute keys.
const (
	// KeyResourceType is the type of the resource checked or listed.
	KeyResourceType = attribute.Key("fgac.resource_type")
	// KeyRequestedType is the type a decision's request addressed (a child
	// type, say), when it differs from the checked one.
	KeyRequestedType = attribute.Key("fgac.requested_type")
	// KeyPermission is the schema permission asked about.
	KeyPermission = attribute.Key("fgac.permission")
	// KeyPermissions are the distinct permissions of a bulk check.
	KeyPermissions = attribute.Key("fgac.permissions")
	// KeyOperation is the operation of a decision.
	KeyOperation = attribute.Key("fgac.operation")
	// KeyOutcome is what the call or decision came to: allowed, denied,
	// not_found, shadow_denied, unchecked, bypassed, ok or error.
	KeyOutcome = attribute.Key("fgac.outcome")
	// KeyMode is the enforcement mode of a decision.
	KeyMode = attribute.Key("fgac.mode")
	// KeyConsistency is the consistency requirement.
	KeyConsistency = attribute.Key("fgac.consistency")
	// KeyRoute is the route or RPC method of a decision.
	KeyRoute = attribute.Key("fgac.route")
	// KeyResource is the resource as "type:id"; left out with DropIDs.
	KeyResource = attribute.Key("fgac.resource")
	// KeySubject is the subject as "type:id"; left out with DropIDs.
	KeySubject = attribute.Key("fgac.subject")
	// KeyItems is the number of items of a bulk check.
	KeyItems = attribute.Key("fgac.items")
	// KeyAllowed is the number of allowed items of a bulk check.
	KeyAllowed = attribute.Key("fgac.allowed")
	// KeyIDs is the number of ids a lookup returned.
	KeyIDs = attribute.Key("fgac.ids")
)

// Config configures a [Tracer]. The zero Config traces nothing.
type Config struct {
	// Provider provides the tracer. Nil, or a [noop.TracerProvider],
	// means no tracing: [New] then returns nil, which costs nothing.
	Provider trace.TracerProvider
	// DropIDs leaves the ids of resources and subjects out of every span
	// (fgac.resource and fgac.subject); types, permissions and outcomes
	// stay.
	DropIDs bool
}

// Tracer starts fgac's spans. A nil *Tracer traces nothing and its methods
// cost nothing, so code holds one unconditionally. A Tracer is safe for
// concurrent use.
type Tracer struct {
	tracer  trace.Tracer
	dropIDs bool
}

// New returns a Tracer, or nil when cfg.Provider is nil or a
// [noop.TracerProvider] (whose spans would all be discarded).
func New(cfg Config) *Tracer {
	switch cfg.Provider.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	return &Tracer{tracer: cfg.Provider.Tracer(ScopeName), dropIDs: cfg.DropIDs}
}

// Decision describes one enforcement decision, for [Tracer.EndDecision].
type Decision struct {
	// Requested is the resource the request addressed (possibly a child).
	Requested authz.Resource
	// Checked is the resource whose permission was checked, or zero.
	Checked authz.Resource
	// CheckedType is the type whose permission decides (the parent type of
	// a child), also when nothing was checked.
	CheckedType string
	// Subject is who asked.
	Subject authz.Subject
	// Operation is the operation asked for.
	Operation authz.Operation
	// Permission is the permission the operation maps to, or "".
	Permission string
	// Route is the route or RPC method.
	Route string
	// Mode is the enforcement mode's name.
	Mode string
	// Outcome is the decision's outcome (an audit.Outcome's name).
	Outcome string
	// Consistency is the consistency requirement.
	Consistency authz.ConsistencyMode
	// Err is the decision's error, if it came to an error. Only its class
	// (unavailable, invalid request, internal...) reaches the span.
	Err error
}

// StartDecision starts the span of one enforcement decision as a child of
// the span in ctx, and returns a context carrying it, under which the
// decision's engine calls make their spans. On a nil Tracer it returns ctx
// and a span that does nothing.
func (t *Tracer) StartDecision(ctx context.Context) (context.Context, trace.Span) {
	if t == nil {
		return ctx, noopSpan
	}
	return t.tracer.Start(ctx, DecisionSpan)
}

var noopSpan trace.Span = noop.Span{}

// EndDecision sets d's attributes on span, if it records, and ends it.
func (t *Tracer) EndDecision(span trace.Span, d *Decision) {
	if t != nil && span.IsRecording() {
		typ := d.CheckedType
		if typ == "" {
			typ = d.Requested.Type
		}
		attrs := make([]attribute.KeyValue, 0, 11)
		attrs = append(attrs,
			KeyResourceType.String(typ),
			KeyOperation.String(string(d.Operation)),
			KeyOutcome.String(d.Outcome),
			KeyMode.String(d.Mode),
			KeyConsistency.String(d.Consistency.String()),
		)
		if d.Requested.Type != typ && d.Requested.Type != "" {
			attrs = append(attrs, KeyRequestedType.String(d.Requested.Type))
		}
		if d.Permission != "" {
			attrs = append(attrs, KeyPermission.String(d.Permission))
		}
		if d.Route != "" {
			attrs = append(attrs, KeyRoute.String(d.Route))
		}
		if !t.dropIDs {
			if authz.ValidID(d.Requested.ID) {
				attrs = append(attrs, KeyResource.String(d.Requested.String()))
			}
			if d.Subject.Validate() == nil {
				attrs = append(attrs, KeySubject.String(d.Subject.String()))
			}
		}
		span.SetAttributes(attrs...)
		if d.Err != nil {
			span.SetStatus(codes.Error, class(d.Err))
		}
	}
	span.End()
}

// class names the kind of err in the words of the error vocabulary, for a
// span's status: "unavailable", "invalid request", "not found", "denied",
// "conflict" or "internal". It never returns the error's own text, which
// may carry ids or a provider's details.
func class(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, authz.ErrUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "unavailable"
	case errors.Is(err, authz.ErrInvalidRequest):
		return "invalid request"
	case errors.Is(err, authz.ErrNotFound):
		return "not found"
	case errors.Is(err, authz.ErrDenied):
		return "denied"
	case errors.Is(err, authz.ErrConflict):
		return "conflict"
	default:
		return "internal"
	}
}
