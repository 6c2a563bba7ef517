package otelauthz

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fgac-go/fgac/authz"
)

// Engine returns an engine that asks next and makes a span for each call:
// Check, CheckMany and Lookup, and, where next has them, the writes
// (Register, Deregister, Grant, Revoke, Write), the reads of
// [authz.Inspector] and Explain. The returned engine implements exactly
// the interfaces of the port that next implements among
// [authz.Authorizer] (as a whole), [authz.Explainer] and
// [authz.PermissionSet], so that code which asks for one of them (an
// [authz.OperationMap] validated against the engine, the reconciler's
// Inspector) finds it. On a nil Tracer, Engine returns next itself.
func (t *Tracer) Engine(next authz.Reader) authz.Reader {
	if t == nil {
		return next
	}
	r := &reader{t: t, next: next}
	full, isFull := next.(authz.Authorizer)
	ex, isEx := next.(authz.Explainer)
	ps, isPS := next.(authz.PermissionSet)
	if !isFull {
		switch {
		case isEx && isPS:
			return struct {
				*reader
				explainer
				authz.PermissionSet
			}{r, explainer{t, ex}, ps}
		case isEx:
			return struct {
				*reader
				explainer
			}{r, explainer{t, ex}}
		case isPS:
			return struct {
				*reader
				authz.PermissionSet
			}{r, ps}
		}
		return r
	}
	a := &authorizer{reader: r, full: full}
	switch {
	case isEx && isPS:
		return struct {
			*authorizer
			explainer
			authz.PermissionSet
		}{a, explainer{t, ex}, ps}
	case isEx:
		return struct {
			*authorizer
			explainer
		}{a, explainer{t, ex}}
	case isPS:
		return struct {
			*authorizer
			authz.PermissionSet
		}{a, ps}
	}
	return a
}

// reader traces the read side of the port.
type reader struct {
	t    *Tracer
	next authz.Reader
}

func (t *Tracer) start(ctx context.Context, name string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, EngineSpanPrefix+name)
}

// end records err's class (never its text) on span and ends it.
func end(span trace.Span, err error, attrs ...attribute.KeyValue) {
	if span.IsRecording() {
		span.SetAttributes(attrs...)
		if err != nil {
			span.SetAttributes(KeyOutcome.String("error"))
			span.SetStatus(codes.Error, class(err))
		}
	}
	span.End()
}

// ids appends the resource and subject to attrs unless ids are dropped.
func (t *Tracer) ids(attrs []attribute.KeyValue, res authz.Resource, sub authz.Subject) []attribute.KeyValue {
	if t.dropIDs {
		return attrs
	}
	if res.ID != "" {
		attrs = append(attrs, KeyResource.String(res.String()))
	}
	if sub.Type != "" {
		attrs = append(attrs, KeySubject.String(sub.String()))
	}
	return attrs
}

// Check asks next and records the decision.
func (r *reader) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	ctx, span := r.t.start(ctx, "Check")
	d, err := r.next.Check(ctx, req)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			KeyResourceType.String(req.Resource.Type),
			KeyPermission.String(req.Permission),
			KeyConsistency.String(req.Consistency.String()),
		}
		if err == nil {
			attrs = append(attrs, KeyOutcome.String(d.String()))
		}
		end(span, err, r.t.ids(attrs, req.Resource, req.Subject)...)
		return d, err
	}
	span.End()
	return d, err
}

// CheckMany asks next and records the number of items and of allowed ones.
func (r *reader) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	ctx, span := r.t.start(ctx, "CheckMany")
	res, err := r.next.CheckMany(ctx, req)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			KeyItems.Int(len(req.Items)),
			KeyConsistency.String(req.Consistency.String()),
		}
		var typ string
		var perms []string
		uniform := true
		for i, it := range req.Items {
			if i == 0 {
				typ = it.Resource.Type
			} else if it.Resource.Type != typ {
				uniform = false
			}
			if !contains(perms, it.Permission) {
				perms = append(perms, it.Permission)
			}
		}
		if uniform && typ != "" {
			attrs = append(attrs, KeyResourceType.String(typ))
		}
		attrs = append(attrs, KeyPermissions.StringSlice(perms))
		if err == nil {
			allowed := 0
			for _, x := range res {
				if x.Err == nil && x.Decision.Allowed() {
					allowed++
				}
			}
			attrs = append(attrs, KeyAllowed.Int(allowed), KeyOutcome.String("ok"))
		}
		end(span, err, attrs...)
		return res, err
	}
	span.End()
	return res, err
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Lookup asks next and records the number of ids.
func (r *reader) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	ctx, span := r.t.start(ctx, "Lookup")
	res, err := r.next.Lookup(ctx, req)
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			KeyResourceType.String(req.ResourceType),
			KeyPermission.String(req.Permission),
			KeyConsistency.String(req.Consistency.String()),
		}
		if err == nil {
			attrs = append(attrs, KeyIDs.Int(len(res.IDs())), KeyOutcome.String("ok"))
		}
		end(span, err, r.t.ids(attrs, authz.Resource{}, req.Subject)...)
		return res, err
	}
	span.End()
	return res, err
}

// authorizer traces the whole port.
type authorizer struct {
	*reader
	full authz.Authorizer
}

// write traces one write of resource res.
func (a *authorizer) write(ctx context.Context, name string, res authz.Resource, f func(context.Context) (authz.Token, error)) (authz.Token, error) {
	ctx, span := a.t.start(ctx, name)
	tok, err := f(ctx)
	if span.IsRecording() {
		var attrs []attribute.KeyValue
		if res.Type != "" {
			attrs = append(attrs, KeyResourceType.String(res.Type))
		}
		if err == nil {
			attrs = append(attrs, KeyOutcome.String("ok"))
		}
		end(span, err, a.t.ids(attrs, res, authz.Subject{})...)
		return tok, err
	}
	span.End()
	return tok, err
}

// Register asks next.
func (a *authorizer) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	return a.write(ctx, "Register", req.Resource, func(ctx context.Context) (authz.Token, error) { return a.full.Register(ctx, req) })
}

// Deregister asks next.
func (a *authorizer) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	return a.write(ctx, "Deregister", req.Resource, func(ctx context.Context) (authz.Token, error) { return a.full.Deregister(ctx, req) })
}

// Grant asks next.
func (a *authorizer) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return a.write(ctx, "Grant", req.Relationship.Resource, func(ctx context.Context) (authz.Token, error) { return a.full.Grant(ctx, req) })
}

// Revoke asks next.
func (a *authorizer) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return a.write(ctx, "Revoke", req.Relationship.Resource, func(ctx context.Context) (authz.Token, error) { return a.full.Revoke(ctx, req) })
}

// Write asks next.
func (a *authorizer) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	return a.write(ctx, "Write", authz.Resource{}, func(ctx context.Context) (authz.Token, error) { return a.full.Write(ctx, req) })
}

// ReadRelationships asks next.
func (a *authorizer) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	ctx, span := a.t.start(ctx, "ReadRelationships")
	rels, err := a.full.ReadRelationships(ctx, req)
	end(span, err, a.t.ids([]attribute.KeyValue{KeyResourceType.String(req.Resource.Type), KeyConsistency.String(req.Consistency.String())}, req.Resource, authz.Subject{})...)
	return rels, err
}

// Enumerate asks next.
func (a *authorizer) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	ctx, span := a.t.start(ctx, "Enumerate")
	res, err := a.full.Enumerate(ctx, req)
	end(span, err, KeyResourceType.String(req.ResourceType), KeyConsistency.String(req.Consistency.String()), KeyIDs.Int(len(res.IDs)))
	return res, err
}

// explainer traces Explain.
type explainer struct {
	t    *Tracer
	next authz.Explainer
}

// Explain asks next.
func (e explainer) Explain(ctx context.Context, req authz.CheckRequest) (authz.Explanation, error) {
	ctx, span := e.t.start(ctx, "Explain")
	x, err := e.next.Explain(ctx, req)
	end(span, err, e.t.ids([]attribute.KeyValue{KeyResourceType.String(req.Resource.Type), KeyPermission.String(req.Permission)}, req.Resource, req.Subject)...)
	return x, err
}

var (
	_ authz.Reader     = (*reader)(nil)
	_ authz.Authorizer = (*authorizer)(nil)
	_ authz.Explainer  = explainer{}
)
