// Package collapse turns authorization denials into not-found answers so
// that nobody can probe, across tenants, whether a resource exists.
//
// The rule (the reference system's "visibility-aware check"): a denied read
// answers not-found; a denied stronger operation answers denied (403) only
// when the subject can read the resource, and not-found otherwise. fgac
// tightens it:
//
//   - A missing resource, a missing child, a child of a missing parent, an
//     invalid id and an unreadable resource all answer with the same error
//     value, [authz.ErrNotFound] itself, after the same sequence of backend
//     calls: a request for something that does not exist still spends a
//     check of the same shape on a decoy id ([NotFound]), so neither timing
//     nor an outage reveals existence.
//   - When the backend fails, the error is returned for existing and missing
//     ids alike (never a 404 for one and a 503 for the other).
//   - The read probe that separates 403 from 404 goes out in the same bulk
//     call as the operation's check, so a denial costs one round trip.
package collapse

import (
	"context"
	"errors"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/missing"
)

// DecoyID is the id checked in place of a resource that does not exist or
// whose id is malformed. It passes the id grammar; services must not use it
// as a real id (no registration of it can make a decoy check allow, because
// [NotFound] answers not-found whatever the decoy check says).
const DecoyID = "fgac-decoy--not-a-resource"

// CheckOrNotFound authorizes q under the collapse rule. It returns nil if
// q is allowed; [authz.ErrNotFound] (the sentinel itself) if the subject
// cannot read q.Resource; a [*authz.DeniedError] if the subject can read it
// but not perform q.Operation; or the guard's error (invalid request,
// unavailable) unchanged.
//
// For operations other than read, the operation and the read probe are
// checked in one [authz.BulkChecker] call. An operation (or the read probe)
// that is not mapped for q.Resource.Type is an error matching
// [authz.ErrInvalidRequest] before any backend call.
func CheckOrNotFound(ctx context.Context, g *authz.Guard, q authz.Question) error {
	if err := CheckMapped(g, q.Resource.Type, q.Operation); err != nil {
		return err
	}
	if q.Operation == authz.OpRead {
		d, err := g.Decide(ctx, q)
		switch {
		case err != nil:
			return err
		case !d.Allowed():
			missing.Record(ctx, d.Missing())
			return authz.ErrNotFound
		}
		return nil
	}
	probe := q
	probe.Operation = authz.OpRead
	qs := [2]authz.Question{q, probe}
	res, err := g.DecideMany(ctx, qs[:])
	switch {
	case err != nil:
		return err
	case res[0].Err != nil:
		return res[0].Err
	case res[0].Decision.Allowed():
		return nil
	case res[1].Err != nil:
		return res[1].Err
	case !res[1].Decision.Allowed():
		missing.Record(ctx, res[1].Decision.Missing())
		return authz.ErrNotFound
	}
	return g.AuthorizeErr(q, res[0]) // readable: the *authz.DeniedError
}

// CheckMapped reports, before any backend call, whether [CheckOrNotFound]
// can answer op on resources of type typ: nil, or the error matching
// [authz.ErrInvalidRequest] that it would return (op, or the read probe
// that separates 403 from 404, is not mapped for typ).
func CheckMapped(g *authz.Guard, typ string, op authz.Operation) error {
	ops := g.Operations()
	if _, err := ops.Permission(typ, op); err != nil {
		return err
	}
	if op != authz.OpRead {
		if _, err := ops.Permission(typ, authz.OpRead); err != nil {
			return err
		}
	}
	return nil
}

// NotFound answers a question about a resource that does not exist (or
// whose id is malformed) exactly as [CheckOrNotFound] answers one about an
// unreadable resource: it spends the same backend calls on [DecoyID] and
// returns [authz.ErrNotFound], or the backend's error if the decoy check
// failed. q.Resource.Type must be the type that would have been checked.
func NotFound(ctx context.Context, g *authz.Guard, q authz.Question) error {
	return NotFoundAs(ctx, g, q, DecoyID)
}

// NotFoundAs is [NotFound] with decoy in place of [DecoyID]: give it the
// shape of the type's real ids (see enforce.Enforcer.Decoy). decoy must
// be a valid id that is never a real one.
func NotFoundAs(ctx context.Context, g *authz.Guard, q authz.Question, decoy string) error {
	q.Resource.ID = decoy
	err := CheckOrNotFound(ctx, g, q)
	if err == nil || errors.Is(err, authz.ErrDenied) || errors.Is(err, authz.ErrNotFound) {
		return authz.ErrNotFound
	}
	return err
}
