package authztest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fgac-go/fgac/authz"
)

// env is the state of one running case: its authorizer, the token of its
// last write, and the resource ids it wrote. It is used by one goroutine.
type env struct {
	t   *testing.T
	ctx context.Context
	a   authz.Authorizer
	// tok is the token of the last successful write; every read asks for
	// a snapshot at least as fresh.
	tok authz.Token
	// ids holds, by resource type, every id the case wrote as a resource:
	// the universe over which lookups are compared with checks.
	ids map[string]map[string]bool
	// subjects holds, by subject type and relation ("user",
	// "group#member"), every subject id the case wrote: the universe over
	// which subject lookups are compared with checks.
	subjects map[string]map[string]bool
}

// fresh is the consistency of every read of the case.
func (e *env) fresh() authz.Consistency { return authz.AtLeastAsFresh(e.tok) }

// res parses "type:id" without validating it, so that cases can build
// invalid requests.
func (e *env) res(s string) authz.Resource {
	e.t.Helper()
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		e.t.Fatalf("authztest: bad resource literal %q", s)
	}
	return authz.Resource{Type: typ, ID: id}
}

// sub parses "type:id", "type:id#relation" or "type:*" without validating
// it.
func (e *env) sub(s string) authz.Subject {
	e.t.Helper()
	obj, rel, _ := strings.Cut(s, "#")
	r := e.res(obj)
	if r.ID == authz.WildcardID && rel == "" {
		return authz.Wildcard(r.Type) // a test literal is trusted
	}
	return authz.Subject{Type: r.Type, ID: r.ID, Relation: rel}
}

// rel parses "type:id#relation@subject" without validating it.
func (e *env) rel(s string) authz.Relationship {
	e.t.Helper()
	left, subject, ok := strings.Cut(s, "@")
	obj, relation, ok2 := strings.Cut(left, "#")
	if !ok || !ok2 {
		e.t.Fatalf("authztest: bad relationship literal %q", s)
	}
	return authz.Relationship{Resource: e.res(obj), Relation: relation, Subject: e.sub(subject)}
}

func (e *env) rels(ss []string) []authz.Relationship {
	e.t.Helper()
	out := make([]authz.Relationship, len(ss))
	for i, s := range ss {
		out[i] = e.rel(s)
	}
	return out
}

// wrote records a successful write's token and resources, and stops the
// case on an error.
func (e *env) wrote(what string, tok authz.Token, err error, rels ...authz.Relationship) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
	e.tok = tok
	for _, r := range rels {
		e.known(r.Resource)
		e.knownSubject(r.Subject)
	}
}

// known adds r to the universe of its type.
func (e *env) known(r authz.Resource) {
	if e.ids[r.Type] == nil {
		e.ids[r.Type] = map[string]bool{}
	}
	e.ids[r.Type][r.ID] = true
}

// write touches relationships in one write.
func (e *env) write(ss ...string) {
	e.t.Helper()
	rels := e.rels(ss)
	tok, err := e.a.Write(e.ctx, authz.WriteRequest{Touch: rels})
	e.wrote(fmt.Sprintf("Write(touch %v)", ss), tok, err, rels...)
}

// remove deletes relationships in one write.
func (e *env) remove(ss ...string) {
	e.t.Helper()
	tok, err := e.a.Write(e.ctx, authz.WriteRequest{Delete: e.rels(ss)})
	e.wrote(fmt.Sprintf("Write(delete %v)", ss), tok, err)
}

// registerReq builds a RegisterRequest; parent "" means none.
func (e *env) registerReq(resource, owner, parent string) authz.RegisterRequest {
	e.t.Helper()
	req := authz.RegisterRequest{Resource: e.res(resource), Owner: e.sub(owner)}
	if parent != "" {
		p := e.res(parent)
		req.Parent = &p
	}
	return req
}

// register registers resource with owner and, unless parent is "", parent.
func (e *env) register(resource, owner, parent string) {
	e.t.Helper()
	req := e.registerReq(resource, owner, parent)
	tok, err := e.a.Register(e.ctx, req)
	e.wrote(fmt.Sprintf("Register(%s owner %s parent %q)", resource, owner, parent), tok, err, req.Relationships()...)
}

// deregister deregisters resource.
func (e *env) deregister(resource string) {
	e.t.Helper()
	tok, err := e.a.Deregister(e.ctx, authz.DeregisterRequest{Resource: e.res(resource)})
	e.wrote("Deregister("+resource+")", tok, err)
}

// grant grants one relationship.
func (e *env) grant(s string) {
	e.t.Helper()
	r := e.rel(s)
	tok, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: r})
	e.wrote("Grant("+s+")", tok, err, r)
}

// revoke revokes one relationship.
func (e *env) revoke(s string) {
	e.t.Helper()
	tok, err := e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: e.rel(s)})
	e.wrote("Revoke("+s+")", tok, err)
}

// checkReq builds the request for subject's permission on resource.
func (e *env) checkReq(resource, permission, subject string) authz.CheckRequest {
	e.t.Helper()
	return authz.CheckRequest{Subject: e.sub(subject), Resource: e.res(resource), Permission: permission, Consistency: e.fresh()}
}

// allowed reports the engine's decision, stopping the case on an error.
func (e *env) allowed(resource, permission, subject string) bool {
	e.t.Helper()
	d, err := e.a.Check(e.ctx, e.checkReq(resource, permission, subject))
	if err != nil {
		e.t.Fatalf("Check(%s#%s@%s): %v", resource, permission, subject, err)
	}
	return d.Allowed()
}

// wantAllowed asserts that each subject has permission on resource.
func (e *env) wantAllowed(resource, permission string, subjects ...string) {
	e.t.Helper()
	for _, s := range subjects {
		if !e.allowed(resource, permission, s) {
			e.t.Errorf("Check(%s#%s@%s) denied, want allowed", resource, permission, s)
		}
	}
}

// wantDenied asserts that no subject has permission on resource.
func (e *env) wantDenied(resource, permission string, subjects ...string) {
	e.t.Helper()
	for _, s := range subjects {
		if e.allowed(resource, permission, s) {
			e.t.Errorf("Check(%s#%s@%s) allowed, want denied", resource, permission, s)
		}
	}
}

// wantCheckInvalid asserts that a check fails with ErrInvalidRequest and
// does not allow.
func (e *env) wantCheckInvalid(req authz.CheckRequest) {
	e.t.Helper()
	d, err := e.a.Check(e.ctx, req)
	if !errors.Is(err, authz.ErrInvalidRequest) {
		e.t.Errorf("Check(%s#%s@%s) error = %v, want %v", req.Resource, req.Permission, req.Subject, err, authz.ErrInvalidRequest)
	}
	if d.Allowed() {
		e.t.Errorf("Check(%s#%s@%s) = %v with error %v, want a denial", req.Resource, req.Permission, req.Subject, d, err)
	}
}

// wantInvalid asserts that err matches ErrInvalidRequest.
func (e *env) wantInvalid(what string, err error) {
	e.t.Helper()
	if !errors.Is(err, authz.ErrInvalidRequest) {
		e.t.Errorf("%s error = %v, want %v", what, err, authz.ErrInvalidRequest)
	}
}

// wantConflict asserts that err matches ErrConflict.
func (e *env) wantConflict(what string, err error) {
	e.t.Helper()
	if !errors.Is(err, authz.ErrConflict) {
		e.t.Errorf("%s error = %v, want %v", what, err, authz.ErrConflict)
	}
}

// lookupPage runs one lookup. (An engine's answer is always a list: the
// port has no "everything" answer for it to give.)
func (e *env) lookupPage(req authz.LookupRequest) (authz.LookupResult, error) {
	e.t.Helper()
	return e.a.Lookup(e.ctx, req)
}

// lookup returns the sorted ids of typ on which subject has permission, in
// one unlimited lookup.
func (e *env) lookup(typ, permission, subject string) []string {
	e.t.Helper()
	res, err := e.lookupPage(authz.LookupRequest{Subject: e.sub(subject), ResourceType: typ, Permission: permission, Consistency: e.fresh()})
	if err != nil {
		e.t.Fatalf("Lookup(%s#%s@%s): %v", typ, permission, subject, err)
	}
	if res.Cursor() != "" {
		e.t.Errorf("Lookup(%s#%s@%s) without a limit returned cursor %q, want none", typ, permission, subject, res.Cursor())
	}
	return sorted(res.IDs())
}

// lookupPaged pages through a lookup with limit and returns every id, in
// the order received. It fails the case on a page larger than limit.
func (e *env) lookupPaged(typ, permission, subject string, limit int) []string {
	e.t.Helper()
	req := authz.LookupRequest{Subject: e.sub(subject), ResourceType: typ, Permission: permission, Consistency: e.fresh(), Limit: limit}
	var all []string
	for range maxPages {
		res, err := e.lookupPage(req)
		if err != nil {
			e.t.Fatalf("Lookup(%s#%s@%s, limit %d, cursor %q): %v", typ, permission, subject, limit, req.Cursor, err)
		}
		if len(res.IDs()) > limit {
			e.t.Errorf("Lookup(limit %d) returned a page of %d ids", limit, len(res.IDs()))
		}
		all = append(all, res.IDs()...)
		if res.Cursor() == "" {
			return all
		}
		req.Cursor = res.Cursor()
	}
	e.t.Fatalf("Lookup(%s#%s@%s, limit %d) did not finish in %d pages", typ, permission, subject, limit, maxPages)
	return nil
}

// maxPages bounds every paging loop of the suite.
const maxPages = 1000

// wantAccess asserts that the resources of typ on which subject has
// permission are exactly want, both by Lookup and by checking every id the
// case wrote (plus want and one id never written).
func (e *env) wantAccess(typ, permission, subject string, want ...string) {
	e.t.Helper()
	if diff := cmp.Diff(sorted(want), e.lookup(typ, permission, subject), cmpopts.EquateEmpty()); diff != "" {
		e.t.Errorf("Lookup(%s#%s@%s) mismatch (-want +got):\n%s", typ, permission, subject, diff)
	}
	universe := map[string]bool{"never-written": true}
	for id := range e.ids[typ] {
		universe[id] = true
	}
	for _, id := range want {
		universe[id] = true
	}
	var checked []string
	for id := range universe {
		if e.allowed(typ+":"+id, permission, subject) {
			checked = append(checked, id)
		}
	}
	if diff := cmp.Diff(sorted(want), sorted(checked), cmpopts.EquateEmpty()); diff != "" {
		e.t.Errorf("ids of %s allowed %s for %s by Check mismatch (-want +got):\n%s", typ, permission, subject, diff)
	}
}

// read returns the relationships of resource in notation, sorted.
func (e *env) read(resource string) []string {
	e.t.Helper()
	rels, err := e.a.ReadRelationships(e.ctx, authz.ReadRequest{Resource: e.res(resource), Consistency: e.fresh()})
	if err != nil {
		e.t.Fatalf("ReadRelationships(%s): %v", resource, err)
	}
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = r.String()
	}
	return sorted(out)
}

// wantRead asserts that resource has exactly the relationships want.
func (e *env) wantRead(resource string, want ...string) {
	e.t.Helper()
	if diff := cmp.Diff(sorted(want), e.read(resource), cmpopts.EquateEmpty()); diff != "" {
		e.t.Errorf("ReadRelationships(%s) mismatch (-want +got):\n%s", resource, diff)
	}
}

// enumerate pages through the ids of typ with limit and returns them in the
// order received, checking that each page is ascending.
func (e *env) enumerate(typ string, limit int) []string {
	e.t.Helper()
	req := authz.EnumerateRequest{ResourceType: typ, Limit: limit, Consistency: e.fresh()}
	var all []string
	for range maxPages {
		res, err := e.a.Enumerate(e.ctx, req)
		if err != nil {
			e.t.Fatalf("Enumerate(%s, limit %d, cursor %q): %v", typ, limit, req.Cursor, err)
		}
		if limit > 0 && len(res.IDs) > limit {
			e.t.Errorf("Enumerate(limit %d) returned a page of %d ids", limit, len(res.IDs))
		}
		if !slices.IsSorted(res.IDs) {
			e.t.Errorf("Enumerate(%s) page %v is not in ascending order", typ, res.IDs)
		}
		all = append(all, res.IDs...)
		if res.Cursor == "" {
			return all
		}
		req.Cursor = res.Cursor
	}
	e.t.Fatalf("Enumerate(%s, limit %d) did not finish in %d pages", typ, limit, maxPages)
	return nil
}

// wantOnce asserts that got holds each id of want exactly once and nothing
// else.
func (e *env) wantOnce(what string, want, got []string) {
	e.t.Helper()
	if diff := cmp.Diff(sorted(want), sorted(got), cmpopts.EquateEmpty()); diff != "" {
		e.t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// sorted returns a sorted copy of ids.
func sorted(ids []string) []string {
	return slices.Sorted(slices.Values(ids))
}

// seq returns n ids prefix00, prefix01, ...
func seq(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return ids
}
