package memadapter

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// validateRelationship checks r as SpiceDB checks a written relationship:
// well-formed, its relation a relation (not a permission) of a known type,
// and its subject of a type the relation allows (plain, type#relation or
// type:*). A deletion (del) is checked as SpiceDB checks one: its caveat
// as a write's, its expiration not at all, since it does not name the
// relationship (SpiceDB deletes a relationship whose relation requires an
// expiration without one, and ignores one on a relation that allows
// none). Errors match [authz.ErrInvalidRequest].
func (a *Authorizer) validateRelationship(r authz.Relationship, del bool) error {
	if err := r.Validate(); err != nil {
		return wrap(err)
	}
	n, err := a.resolve(r.Resource.Type, r.Relation)
	if err != nil {
		return err
	}
	if n.rel == nil {
		return invalidf("%q is a permission of %q; only relations can be written", r.Relation, r.Resource.Type)
	}
	sd := a.defs[r.Subject.Type]
	if sd == nil {
		return invalidf("unknown subject type %q", r.Subject.Type)
	}
	if r.Subject.Relation != "" && sd.nodes[r.Subject.Relation] == nil {
		return invalidf("subject type %q has no relation or permission %q", r.Subject.Type, r.Subject.Relation)
	}
	allowed := func(exp bool) bool {
		return n.rel.AllowsWith(r.Subject.Type, r.Subject.Relation, r.Subject.IsWildcard(), r.Caveat.Name, exp)
	}
	if !allowed(!r.Expiration.IsZero()) && (!del || !allowed(r.Expiration.IsZero())) {
		return invalidf("relation %q of %q does not allow subjects of type %s", r.Relation, r.Resource.Type, subjectType(r))
	}
	if r.Caveat.Name != "" {
		if size := storedCaveatSize(r.Caveat); size > authz.MaxStoredCaveatBytes {
			return invalidf("the caveat of a relationship of %q#%s is %d bytes, more than %d", r.Resource.Type, r.Relation, size, authz.MaxStoredCaveatBytes)
		}
		if err := a.schema.Caveat(r.Caveat.Name).CheckContext(r.Caveat.Context); err != nil {
			return fmt.Errorf("memadapter: %w", err)
		}
	}
	return nil
}

// storedCaveatSize is the size of c as SpiceDB measures a relationship's
// caveat: its ContextualizedCaveat encoding (the name, then the context
// as a google.protobuf.Struct).
func storedCaveatSize(c authz.Caveat) int {
	size := 1 + varintLen(len(c.Name)) + len(c.Name)
	if !c.Context.IsZero() {
		n := c.Context.EncodedSize()
		size += 1 + varintLen(n) + n
	}
	return size
}

// varintLen is the length of n's protobuf varint encoding.
func varintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// subjectType returns the schema notation of the type of r's subject, with
// its caveat and expiration: user, user:*, group#member, user with c,
// user with c and expiration.
func subjectType(r authz.Relationship) string {
	s := r.Subject
	t := s.Type
	switch {
	case s.IsWildcard():
		t += ":*"
	case s.Relation != "":
		t += "#" + s.Relation
	}
	switch exp := !r.Expiration.IsZero(); {
	case r.Caveat.Name != "" && exp:
		t += " with " + r.Caveat.Name + " and expiration"
	case r.Caveat.Name != "":
		t += " with " + r.Caveat.Name
	case exp:
		t += " with expiration"
	}
	return t
}

// Write applies req atomically: every relationship is validated first (see
// [Authorizer.Grant]), and then all deletions and touches are applied
// at once, invisible to reads until all are. A relationship that appears more than once in req is an error
// matching [authz.ErrInvalidRequest], as in SpiceDB. Nothing is written
// when Write returns an error.
func (a *Authorizer) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	if err := contextErr(ctx); err != nil {
		return authz.Token{}, err
	}
	for i, list := range [][]authz.Relationship{req.Touch, req.Delete} {
		for _, r := range list {
			if err := a.validateRelationship(r, i == 1); err != nil {
				return authz.Token{}, err
			}
		}
	}
	if r, ok := a.duplicate(req.Touch, req.Delete); ok {
		return authz.Token{}, invalidf("a relationship of relation %q of %q appears more than once in one write", r.Relation, r.Resource.Type)
	}
	if a.store != nil {
		return a.store.submit(a, &pending{kind: opWrite, touch: req.Touch, del: req.Delete})
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	b := a.batch()
	defer b.reset()
	a.prepare(b, req.Delete, req.Touch)
	a.revision++
	a.publish(a.apply(b), a.revision)
	return a.token(), nil
}

// duplicate returns a relationship that appears more than once in touch
// and del together (caveats and expirations aside), if one does. It
// indexes the relationships by a 64-bit hash of their six parts, which
// hashes faster than the relationships themselves, and compares the
// relationships whose hashes meet.
func (a *Authorizer) duplicate(touch, del []authz.Relationship) (authz.Relationship, bool) {
	n := len(touch) + len(del)
	if n < 2 {
		return authz.Relationship{}, false
	}
	at := func(i int) authz.Relationship {
		if i < len(touch) {
			return touch[i]
		}
		return del[i-len(touch)]
	}
	first := make(map[uint64]int32, n)
	var h maphash.Hash
	h.SetSeed(a.seed)
	for i := range n {
		r := at(i)
		h.Reset()
		for _, part := range [...]string{r.Resource.Type, r.Resource.ID, r.Relation, r.Subject.Type, r.Subject.ID, r.Subject.Relation} {
			h.WriteString(part)
			h.WriteByte(0) // no part holds a NUL byte
		}
		sum := h.Sum64()
		j, ok := first[sum]
		if !ok {
			first[sum] = int32(i)
			continue
		}
		if at(int(j)).Key() == r.Key() {
			return r, true
		}
		// Two relationships share a hash: compare them all exactly.
		seen := make(map[authz.Relationship]bool, n)
		for i := range n {
			k := at(i).Key()
			if seen[k] {
				return k, true
			}
			seen[k] = true
		}
		return authz.Relationship{}, false
	}
	return authz.Relationship{}, false
}

// Grant writes req.Relationship if it is not there yet. The relationship
// must be allowed by the schema: its relation a relation (not a
// permission) of a known type, and its subject of a type the relation
// lists, including a wildcard (user:*) only where the relation lists one;
// otherwise the error matches [authz.ErrInvalidRequest].
func (a *Authorizer) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{req.Relationship}})
}

// Revoke deletes req.Relationship if it is there; revoking a missing
// relationship succeeds. The relationship is validated as by
// [Authorizer.Grant], as SpiceDB validates deletions, except for its
// expiration, which does not name it and which SpiceDB ignores on a
// deletion (see [Authorizer.Write]).
func (a *Authorizer) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return a.Write(ctx, authz.WriteRequest{Delete: []authz.Relationship{req.Relationship}})
}

// Register writes the owner and optional parent relationships of a new
// resource atomically, with create semantics: if the resource is already
// the resource of any relationship, Register succeeds without writing when
// those relationships are exactly the requested ones (a retry), and
// otherwise writes nothing and returns an error matching
// [authz.ErrConflict]. Invalid requests and relationships the schema does
// not allow are errors matching [authz.ErrInvalidRequest].
func (a *Authorizer) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	if err := contextErr(ctx); err != nil {
		return authz.Token{}, err
	}
	if err := req.Validate(); err != nil {
		return authz.Token{}, wrap(err)
	}
	rels := req.Relationships()
	for _, r := range rels {
		if err := a.validateRelationship(r, false); err != nil {
			return authz.Token{}, err
		}
	}
	if a.store != nil {
		return a.store.submit(a, &pending{kind: opRegister, resource: req.Resource, touch: rels})
	}
	d := a.defs[req.Resource.Type]
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if existing := a.read().relationshipsOf(d, req.Resource.ID); len(existing) > 0 {
		if !sameRelationships(existing, rels) {
			return authz.Token{}, fmt.Errorf("memadapter: resource of type %q is already registered with other relationships: %w", req.Resource.Type, authz.ErrConflict)
		}
		return a.token(), nil
	}
	b := a.batch()
	defer b.reset()
	a.prepare(b, nil, rels)
	a.revision++
	a.publish(a.apply(b), a.revision)
	return a.token(), nil
}

// sameRelationships reports whether x and y hold the same relationships.
func sameRelationships(x, y []authz.Relationship) bool {
	set := make(map[authz.Relationship]bool, len(x))
	for _, r := range x {
		set[r] = true
	}
	ys := make(map[authz.Relationship]bool, len(y))
	for _, r := range y {
		if !set[r] {
			return false
		}
		ys[r] = true
	}
	return len(ys) == len(set)
}

// expiresAt returns the edge expiration of t in Unix nanoseconds,
// saturated outside the range UnixNano can represent, and never 0 (which
// means "never expires").
func expiresAt(t time.Time) int64 {
	switch {
	case t.Before(minExpiration):
		return math.MinInt64
	case t.After(maxExpiration):
		return math.MaxInt64
	case t.UnixNano() == 0:
		return -1
	}
	return t.UnixNano()
}

var (
	minExpiration = time.Unix(0, math.MinInt64)
	maxExpiration = time.Unix(0, math.MaxInt64)
)

// Deregister deletes, atomically, every relationship in which req.Resource
// is the resource, and none in which it is the subject. An unknown
// resource succeeds; an unknown resource type is an error matching
// [authz.ErrInvalidRequest].
func (a *Authorizer) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	if err := contextErr(ctx); err != nil {
		return authz.Token{}, err
	}
	if err := req.Resource.Validate(); err != nil {
		return authz.Token{}, wrap(err)
	}
	d := a.defs[req.Resource.Type]
	if d == nil {
		return authz.Token{}, invalidf("unknown resource type %q", req.Resource.Type)
	}
	if a.store != nil {
		return a.store.submit(a, &pending{kind: opDeregister, resource: req.Resource})
	}
	a.wmu.Lock()
	defer a.wmu.Unlock()
	b := a.batch()
	defer b.reset()
	a.prepare(b, a.read().storedRelationships(d, req.Resource.ID, true), nil)
	a.revision++
	a.publish(a.apply(b), a.revision)
	return a.token(), nil
}
