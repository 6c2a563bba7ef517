package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/internal/bulk"
)

// Reader is the read side of the port that a [Guard] needs.
type Reader interface {
	Checker
	BulkChecker
	Lookuper
}

// Question is an operation-level check: may Subject perform Operation on
// Resource?
type Question struct {
	// Subject is who is asking.
	Subject Subject
	// Resource is what the operation acts on.
	Resource Resource
	// Operation is mapped to a permission by the Guard's [OperationMap].
	Operation Operation
	// Consistency is the freshness requirement.
	Consistency Consistency
	// Context supplies caveat parameters (see [CheckRequest]). A decision
	// that lacks some is [Conditional], which the Guard treats as a denial.
	Context Context
}

// Guard answers operation-level questions over an engine: it validates
// input, maps operations to permissions, honours a [Bypass] in the context,
// and turns denials into errors. A Guard is safe for concurrent use if its
// engine is.
type Guard struct {
	engine Reader
	ops    *OperationMap
}

// NewGuard returns a Guard over engine with the operation mapping ops.
func NewGuard(engine Reader, ops *OperationMap) *Guard {
	return &Guard{engine: engine, ops: ops}
}

// Engine returns the engine the Guard asks.
func (g *Guard) Engine() Reader { return g.engine }

// Operations returns the Guard's operation mapping.
func (g *Guard) Operations() *OperationMap { return g.ops }

// request validates q and builds the engine request. Invalid input and
// unmapped operations fail here, before any backend call.
func (g *Guard) request(q Question) (CheckRequest, error) {
	if err := q.Resource.Validate(); err != nil {
		return CheckRequest{}, err
	}
	perm, err := g.ops.Permission(q.Resource.Type, q.Operation)
	if err != nil {
		return CheckRequest{}, err
	}
	req := CheckRequest{Subject: q.Subject, Resource: q.Resource, Permission: perm, Consistency: q.Consistency, Context: q.Context}
	if err := req.Subject.Validate(); err != nil {
		return CheckRequest{}, err
	}
	if err := req.Context.Validate(); err != nil {
		return CheckRequest{}, err
	}
	return req, nil
}

// Decide returns the decision for q. A bypass in ctx that covers the
// resource allows without asking the engine (after validating q's resource
// and operation, so a bypass never admits a malformed resource; the
// subject is not consulted then); [BypassFor] tells the caller that it
// did. Errors match [ErrInvalidRequest] for malformed input or an unmapped
// operation, or are whatever the engine returned, except that a
// [*CaveatError] (a caveat that failed on the data reached) or an
// [*UndecidableError] (a check the data makes undecidable) is a denial,
// so that it reads exactly as the denial of a missing resource.
func (g *Guard) Decide(ctx context.Context, q Question) (Decision, error) {
	if bypassCovers(ctx, q.Resource) {
		if _, err := g.ops.Permission(q.Resource.Type, q.Operation); err != nil {
			return Deny(), err
		}
		if err := q.Resource.Validate(); err != nil {
			return Deny(), err
		}
		return Allow(), nil
	}
	req, err := g.request(q)
	if err != nil {
		return Deny(), err
	}
	d, err := g.engine.Check(ctx, req)
	if err != nil {
		return Deny(), caveatDenies(err)
	}
	return d, nil
}

// caveatDenies returns nil for a [*CaveatError] or an
// [*UndecidableError], which the Guard answers as a denial (see
// [CaveatError]), and err otherwise.
func caveatDenies(err error) error {
	var ce *CaveatError
	var ue *UndecidableError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return nil
	}
	return err
}

// Authorize returns nil if q is allowed and an error otherwise: a
// [*DeniedError] (matching [ErrDenied]) for a denial, or the error of
// [Guard.Decide]. It is the form to prefer: a caller cannot proceed past a
// denial without handling an error.
func (g *Guard) Authorize(ctx context.Context, q Question) error {
	d, err := g.Decide(ctx, q)
	if err != nil {
		return err
	}
	return g.deniedErr(q, d)
}

func (g *Guard) deniedErr(q Question, d Decision) error {
	if d.Allowed() {
		return nil
	}
	perm, _ := g.ops.Permission(q.Resource.Type, q.Operation)
	return &DeniedError{Resource: q.Resource, Operation: q.Operation, Permission: perm, Missing: d.Missing()}
}

// DecideMany answers several questions with one engine call, in order.
// The questions share one consistency requirement: a question whose
// Consistency differs from the first's is answered with an error matching
// [ErrInvalidRequest] (in its own result). Questions that are malformed or
// covered by a bypass are answered without the engine; the rest go out
// together.
func (g *Guard) DecideMany(ctx context.Context, qs []Question) ([]CheckResult, error) {
	var c Consistency
	if len(qs) > 0 {
		c = qs[0].Consistency
	}
	reqs := make([]CheckRequest, 0, len(qs))
	plan := bulk.NewPlan[CheckResult](len(qs))
	for i, q := range qs {
		var res CheckResult
		switch {
		case q.Consistency != c:
			res.Err = invalidf("question %d asks for consistency %s, the first for %s", i, q.Consistency.Mode(), c.Mode())
		case bypassCovers(ctx, q.Resource):
			res.Decision, res.Err = g.Decide(ctx, q)
		default:
			req, err := g.request(q)
			if err == nil {
				plan.Ask("")
				reqs = append(reqs, req)
				continue
			}
			res.Err = err
		}
		plan.Answer(res)
	}
	var got []CheckResult
	if len(reqs) > 0 {
		var err error
		if got, err = g.engine.CheckMany(ctx, CheckManyRequest{Items: reqs, Consistency: c}); err != nil {
			return nil, err
		}
		for j := range got {
			if got[j].Err != nil {
				got[j].Decision = Deny() // an error is a denial, whatever the engine's decision says
				got[j].Err = caveatDenies(got[j].Err)
			}
		}
	}
	res, ok := plan.Scatter(got)
	if !ok {
		return nil, fmt.Errorf("%w: engine answered %d items for %d questions", ErrUnavailable, len(got), len(reqs))
	}
	return res, nil
}

// AuthorizeErr turns a [CheckResult] of [Guard.DecideMany] for q into the
// error [Guard.Authorize] would have returned.
func (g *Guard) AuthorizeErr(q Question, r CheckResult) error {
	if r.Err != nil {
		return r.Err
	}
	return g.deniedErr(q, r.Decision)
}

// ListQuestion is an operation-level lookup: on which resources of
// ResourceType may Subject perform Operation?
type ListQuestion struct {
	// Subject is who is asking.
	Subject Subject
	// ResourceType is the type listed.
	ResourceType string
	// Operation is mapped to a permission by the Guard's [OperationMap].
	Operation Operation
	// Consistency is the freshness requirement.
	Consistency Consistency
	// Limit, if positive, asks for one page of at most Limit ids; zero
	// means all of them. Negative is an invalid request.
	Limit int
	// Cursor continues a previous page ([Filter.Cursor]); empty starts at
	// the beginning.
	Cursor string
	// Context supplies caveat parameters. The list holds only resources
	// that are definitely allowed: a conditional one is left out.
	Context Context
}

// Lookup returns the [Filter] of the resources of q.ResourceType on which
// q.Subject may perform q.Operation: one page of them if q.Limit is
// positive, with the cursor of the next page in the Filter. Under a bypass
// that covers every resource (no Scope) it returns the unrestricted Filter
// without asking the engine. Errors match [ErrInvalidRequest] for an
// unmapped operation, a malformed subject or a negative limit, before any
// engine call, or are the engine's; a list is never widened on error.
func (g *Guard) Lookup(ctx context.Context, q ListQuestion) (Filter, error) {
	perm, err := g.ops.Permission(q.ResourceType, q.Operation)
	if err != nil {
		return Filter{}, err
	}
	if bypassAll(ctx) {
		return Unfiltered(), nil
	}
	if err := q.Subject.Validate(); err != nil {
		return Filter{}, err
	}
	if q.Limit < 0 {
		return Filter{}, invalidf("negative lookup limit")
	}
	if err := q.Context.Validate(); err != nil {
		return Filter{}, err
	}
	r, err := g.engine.Lookup(ctx, LookupRequest{Subject: q.Subject, ResourceType: q.ResourceType, Permission: perm, Consistency: q.Consistency, Limit: q.Limit, Cursor: q.Cursor, Context: q.Context})
	if err != nil {
		return Filter{}, err
	}
	return FilterIDs(r.IDs(), r.Cursor()), nil
}
