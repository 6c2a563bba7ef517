package enforce

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/otelauthz"
)

// endSpan ends the span of one decision (nil when the Enforcer does not
// trace), with the decision's attributes when the span records.
func (e *Enforcer) endSpan(ctx context.Context, span trace.Span, req *Request, mode Mode, checked authz.Resource, err error) {
	if span == nil {
		return
	}
	if !span.IsRecording() {
		span.End()
		return
	}
	o, _ := outcome(ctx, mode, checked, err)
	d := otelauthz.Decision{
		Requested: req.Resource, Checked: checked, CheckedType: checked.Type, Subject: req.Subject,
		Operation: req.Operation, Route: req.Route, Mode: mode.String(), Outcome: o.String(),
		Consistency: req.Consistency.Mode(),
	}
	if d.CheckedType == "" {
		d.CheckedType = req.Resource.Type
		if e.Parents != nil {
			if t, err := e.Parents.TargetType(req.Resource.Type); err == nil {
				d.CheckedType = t
			}
		}
	}
	if e.Guard != nil {
		d.Permission, _ = e.Guard.Operations().Permission(d.CheckedType, req.Operation)
	}
	if o == audit.Error {
		d.Err = err
	}
	e.Tracer.EndDecision(span, &d)
}
