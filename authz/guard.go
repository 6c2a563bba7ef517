package authz

import (
	"context"
	"fmt"
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
	req := CheckRequest{Subject: q.Subject, Resource: q.Resource, Permission: perm, Consistency: q.Consistency}
	if err := req.Subject.Validate(); err != nil {
		return CheckRequest{}, err
	}
	return req, nil
}

// Check returns the decision for q. A bypass in ctx that covers the
// resource answers without asking the engine (after validating q's
// resource and operation, so a bypass never admits a malformed resource;
// the subject is not consulted then). Errors match [ErrInvalidRequest]
// for malformed input or an unmapped operation, or whatever the engine
// returned.
func (g *Guard) Check(ctx context.Context, q Question) (Decision, error) {
	if bypassCovers(ctx, q.Resource) {
		if _, err := g.ops.Permission(q.Resource.Type, q.Operation); err != nil {
			return Deny(), err
		}
		if err := q.Resource.Validate(); err != nil {
			return Deny(), err
		}
		return bypassed(), nil
	}
	req, err := g.request(q)
	if err != nil {
		return Deny(), err
	}
	d, err := g.engine.Check(ctx, req)
	if err != nil {
		return Deny(), err
	}
	return d, nil
}

// Authorize returns nil if q is allowed and an error otherwise: a
// [*DeniedError] (matching [ErrDenied]) for a denial, or the error of
// [Guard.Check]. It is the form to prefer: a caller cannot proceed past a
// denial without handling an error.
func (g *Guard) Authorize(ctx context.Context, q Question) error {
	d, err := g.Check(ctx, q)
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
	return &DeniedError{Resource: q.Resource, Operation: q.Operation, Permission: perm}
}

// CheckMany answers several questions with one engine call, in order. Items
// that are malformed or covered by a bypass are answered without the
// engine; the rest go out together.
func (g *Guard) CheckMany(ctx context.Context, qs []Question, c Consistency) ([]CheckResult, error) {
	reqs := make([]CheckRequest, 0, len(qs))
	var results []CheckResult // only when some item is answered here
	var idx []int
	for i, q := range qs {
		var res CheckResult
		local := bypassCovers(ctx, q.Resource)
		if local {
			res.Decision, res.Err = g.Check(ctx, q)
		} else {
			req, err := g.request(q)
			if err == nil {
				if results != nil {
					idx = append(idx, i)
				}
				reqs = append(reqs, req)
				continue
			}
			res.Err = err
		}
		if results == nil {
			// First item answered here: from now on, remember where the
			// engine's answers go.
			results = make([]CheckResult, len(qs))
			idx = make([]int, len(reqs), len(qs))
			for j := range idx {
				idx[j] = j
			}
		}
		results[i] = res
	}
	if len(reqs) == 0 {
		return results, nil
	}
	got, err := g.engine.CheckMany(ctx, CheckManyRequest{Items: reqs, Consistency: c})
	if err != nil {
		return nil, err
	}
	if len(got) != len(reqs) {
		return nil, fmt.Errorf("%w: engine answered %d items for %d questions", ErrUnavailable, len(got), len(reqs))
	}
	for j := range got {
		if got[j].Err != nil {
			got[j].Decision = Deny()
		}
	}
	if results == nil {
		return got, nil
	}
	for j, r := range got {
		results[idx[j]] = r
	}
	return results, nil
}

// AuthorizeErr turns a [CheckResult] of [Guard.CheckMany] for q into the
// error [Guard.Authorize] would have returned.
func (g *Guard) AuthorizeErr(q Question, r CheckResult) error {
	if r.Err != nil {
		return r.Err
	}
	return g.deniedErr(q, r.Decision)
}

// Lookup returns the ids of the resources of resourceType on which subject
// may perform op. Under an unscoped bypass it returns [Unscoped] without
// asking the engine.
func (g *Guard) Lookup(ctx context.Context, subject Subject, resourceType string, op Operation, c Consistency) (LookupResult, error) {
	return g.LookupPage(ctx, subject, resourceType, op, c, 0, "")
}

// LookupPage is [Guard.Lookup] one page at a time: at most limit ids (all
// if limit is zero) after cursor, with the cursor of the next page in the
// result ("" after the last page).
func (g *Guard) LookupPage(ctx context.Context, subject Subject, resourceType string, op Operation, c Consistency, limit int, cursor string) (LookupResult, error) {
	perm, err := g.ops.Permission(resourceType, op)
	if err != nil {
		return LookupResult{}, err
	}
	if bypassUnscoped(ctx) {
		return Unscoped(), nil
	}
	if err := subject.Validate(); err != nil {
		return LookupResult{}, err
	}
	if limit < 0 {
		return LookupResult{}, invalidf("negative lookup limit")
	}
	return g.engine.Lookup(ctx, LookupRequest{Subject: subject, ResourceType: resourceType, Permission: perm, Consistency: c, Limit: limit, Cursor: cursor})
}
