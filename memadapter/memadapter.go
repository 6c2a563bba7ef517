package memadapter

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// DefaultEnumerateLimit is the page size of [Authorizer.Enumerate] when the
// request's Limit is zero.
const DefaultEnumerateLimit = 1000

// Authorizer is an in-memory engine for one schema. It is safe for
// concurrent use: a read takes no lock and reads one version of the
// relationships, which a write replaces whole, so a write is atomic and a
// read sees all of a write or none of it (see index.go).
type Authorizer struct {
	schema *schema.Schema
	defs   map[string]*definition
	nodes  map[nodeKey]*node

	// byID are the nodes by nodeID.
	byID []*node

	// wmu serializes writers, from the preparation of a write to its
	// publication; see index.go.
	wmu sync.Mutex
	// spare is the writeBatch writers reuse (see batch); wmu guards it.
	spare writeBatch
	// cur is the current version of the relationships; see index.go.
	cur atomic.Pointer[graph]
	// num is the writers' record of object numbers; wmu guards it.
	num numbering
	// revision counts writes, for writers (readers read their version's
	// rev); tokens carry it.
	revision uint64
	// now is the clock expirations are compared with, in Unix
	// nanoseconds.
	now func() int64
	// floor, for the default clock (nil for Config.Now, which tests may
	// move backwards), is an instant the clock has already passed: a past
	// reading of now, raised by readings at most every floorStep. A
	// relationship that expired at or before it has expired now, so a
	// check that meets one needs no clock reading; one that expires later
	// still needs one (now may be anywhere after the floor), so the floor
	// can hide a relationship only once it has expired, never show one.
	floor *atomic.Int64

	// store keeps the relationships on disk for an Authorizer from Open;
	// it is nil for one from New.
	store *store

	// seed seeds the hashes by which a write finds duplicates.
	seed maphash.Seed

	// evals holds the *subjectEval of past subject lookups, for their
	// buffers; see newSubjectEval.
	evals sync.Pool
}

// Config configures an [Authorizer]. The zero Config is the default.
type Config struct {
	// Now returns the current time, against which relationship expirations
	// are compared: a relationship is invisible to every read from its
	// expiration instant on. Nil means the system clock (the wall clock,
	// read again every 10 ms of monotonic time and advanced by the
	// monotonic clock in between). Tests set it to move time.
	Now func() time.Time
}

var _ authz.Authorizer = (*Authorizer)(nil)

// floorStep is how far past the floor a clock reading must be to raise
// it: at most one store per millisecond, so that concurrent checks rarely
// write the floor's cache line.
const floorStep = int64(time.Millisecond)

// reanchorEvery is how much monotonic time the default clock lets pass
// before it reads the wall clock again.
const reanchorEvery = 10 * time.Millisecond

// clockAnchor is a reading of the wall clock (wall) with its monotonic
// reading (base).
type clockAnchor struct {
	base time.Time
	wall int64
}

// systemClock returns the default clock and its floor (see
// Authorizer.floor). The clock is the wall clock at its last reading,
// advanced by the monotonic clock, which is cheaper on the check path
// than time.Now; the wall clock is read again once reanchorEvery of
// monotonic time has passed, so that a wall clock that was wrong and is
// corrected, or a host that was suspended (the monotonic clock stops
// then), delays expirations by at most that much running time, not for
// the life of the process. Between readings it follows the wall clock to
// within the monotonic clock's drift over reanchorEvery (NTP slews at
// most 500 ppm: 5 µs). A reading raises the floor when it is
// floorStep past it, and never lowers it: a wall clock stepped back
// leaves the floor ahead, which can only hide a relationship early (as
// though it had expired), never show an expired one.
//
// wall reads the wall clock (time.Now().UnixNano(); tests pass a wrong
// one).
func systemClock(wall func() int64) (func() int64, *atomic.Int64) {
	var anchor atomic.Pointer[clockAnchor]
	first := &clockAnchor{base: time.Now(), wall: wall()}
	anchor.Store(first)
	floor := new(atomic.Int64)
	floor.Store(first.wall)
	now := func() int64 {
		a := anchor.Load()
		el := time.Since(a.base)
		t := a.wall + int64(el)
		if el >= reanchorEvery || el < 0 {
			n := &clockAnchor{base: time.Now(), wall: wall()}
			anchor.Store(n) // racing stores keep some recent reading
			t = n.wall
		}
		if t-floor.Load() > floorStep {
			floor.Store(t) // racing stores keep some past reading: still a floor
		}
		return t
	}
	return now, floor
}

// objRel is a resource and one of its relations (or permissions).
type objRel struct{ typ, id, rel string }

// subject is the subject of a relationship: an object (rel ""), a subject
// set (rel set) or a wildcard (id "*").
type subject struct{ typ, id, rel string }

// public returns s as the port's subject; a stored "*" is the wildcard.
func (s subject) public() authz.Subject {
	if s.id == authz.WildcardID && s.rel == "" {
		return authz.Wildcard(s.typ)
	}
	return authz.Subject{Type: s.typ, ID: s.id, Relation: s.rel}
}

// New parses schemaText with [schema.Parse] and returns an Authorizer with
// no relationships. A schema error is returned as is (an [*schema.Error]);
// an empty schema is an error matching [authz.ErrInvalidRequest].
func New(schemaText string) (*Authorizer, error) {
	return NewWithConfig(schemaText, Config{})
}

// NewWithConfig is [New] with a [Config].
func NewWithConfig(schemaText string, cfg Config) (*Authorizer, error) {
	if strings.TrimSpace(schemaText) == "" {
		return nil, fmt.Errorf("memadapter: %w: empty schema", authz.ErrInvalidRequest)
	}
	s, err := schema.Parse(schemaText)
	if err != nil {
		return nil, err
	}
	defs, nodes := compile(s)
	byID := numberNodes(s, defs)
	if len(byID) > 1<<16 {
		return nil, invalidf("schema has %d relations and permissions, more than %d", len(byID)-1, 1<<16-1)
	}
	now := func() int64 { return cfg.Now().UnixNano() }
	var floor *atomic.Int64
	if cfg.Now == nil {
		now, floor = systemClock(func() int64 { return time.Now().UnixNano() })
	}
	seed := maphash.MakeSeed()
	g, num := newGraph(len(s.Definitions), len(byID), seed)
	a := &Authorizer{
		now:    now,
		floor:  floor,
		schema: s,
		defs:   defs,
		nodes:  nodes,
		byID:   byID,
		num:    num,
		seed:   seed,
	}
	a.cur.Store(g)
	return a, nil
}

// Schema returns the parsed schema.
func (a *Authorizer) Schema() *schema.Schema { return a.schema }

// HasPermission reports whether definition resourceType has a relation or
// permission named name. It implements [authz.PermissionSet].
func (a *Authorizer) HasPermission(resourceType, name string) bool {
	return a.schema.HasPermission(resourceType, name)
}

// invalidf returns an error matching [authz.ErrInvalidRequest]. Its
// arguments must be schema vocabulary (types, relations), never ids.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("memadapter: %s: %w", fmt.Sprintf(format, args...), authz.ErrInvalidRequest)
}

// wrap prefixes an error of the authz validation helpers.
func wrap(err error) error { return fmt.Errorf("memadapter: %w", err) }

// contextErr returns an error matching [authz.ErrUnavailable] if ctx is
// done.
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memadapter: %w: %w", authz.ErrUnavailable, err)
	}
	return nil
}

func (a *Authorizer) token() authz.Token { return a.tokenAt(a.revision) }

// resolve returns the node of permission (or relation) name on type typ.
func (a *Authorizer) resolve(typ, name string) (*node, error) {
	d := a.defs[typ]
	if d == nil {
		return nil, invalidf("unknown resource type %q", typ)
	}
	n := d.nodes[name]
	if n == nil {
		return nil, invalidf("resource type %q has no relation or permission %q", typ, name)
	}
	return n, nil
}

// resolveSubject checks the subject of a question against the schema.
func (a *Authorizer) resolveSubject(s authz.Subject) (subject, error) {
	d := a.defs[s.Type]
	if d == nil {
		return subject{}, invalidf("unknown subject type %q", s.Type)
	}
	if s.Relation != "" && d.nodes[s.Relation] == nil {
		return subject{}, invalidf("subject type %q has no relation or permission %q", s.Type, s.Relation)
	}
	return subject{typ: s.Type, id: s.ID, rel: s.Relation}, nil
}

// Check reports whether req.Subject has req.Permission (a permission or a
// relation) on req.Resource, evaluating the schema as described in the
// package documentation. Malformed requests, unknown types and unknown
// relations or permissions are errors matching [authz.ErrInvalidRequest],
// and so are a check that exceeds [MaxDepth], a recursion through an
// exclusion without a well-defined answer, and a request context value of
// the wrong type for a caveat evaluated. A decision that depends on caveat
// parameters the contexts lack is [authz.Conditional]. The consistency
// requirement is satisfied by every read.
func (a *Authorizer) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if err := contextErr(ctx); err != nil {
		return authz.Deny(), err
	}
	return a.read().check(ctx, req)
}

// check answers req.
func (a reader) check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if err := req.Validate(); err != nil {
		return authz.Deny(), wrap(err)
	}
	n, err := a.resolve(req.Resource.Type, req.Permission)
	if err != nil {
		return authz.Deny(), err
	}
	sub, err := a.resolveSubject(req.Subject)
	if err != nil {
		return authz.Deny(), err
	}
	if err := checkRequestContext(n, req.Context); err != nil {
		return authz.Deny(), err
	}
	ev := a.newEvaluator(ctx, sub, req.Context)
	r, err := ev.node(n, req.Resource.ID, 0)
	if err != nil {
		return authz.Deny(), err
	}
	return r.decision(), nil
}

// checkRequestContext refuses, before any relationship is read, a request
// context that no answer of n can use, with an [*authz.ContextError]: one
// larger than [authz.MaxContextBytes] (as SpiceDB measures it, the size of
// its google.protobuf.Struct), or one with a value that converts to none
// of the types that the caveats reachable from n give its key. The answer
// depends on the request and the schema only, so it is the same for an
// existing resource and a missing one. A key that no reachable caveat
// declares is ignored, as SpiceDB ignores it.
func checkRequestContext(n *node, c authz.Context) error {
	if c.IsZero() {
		return nil
	}
	if size := c.EncodedSize(); size > authz.MaxContextBytes {
		return &authz.ContextError{Reason: fmt.Sprintf("%d bytes, more than %d", size, authz.MaxContextBytes)}
	}
	for _, pg := range n.params {
		v, ok := c.Value(pg.name)
		if !ok {
			continue
		}
		var first error
		for _, cv := range pg.caveats {
			err := cv.CheckParam(pg.name, v)
			if err == nil {
				first = nil
				break
			}
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// CheckMany answers every item as [Authorizer.Check] would, all against the
// same state of the relationships. Item errors are reported in the items;
// the returned error is non-nil only if ctx is done.
func (a *Authorizer) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if err := contextErr(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, wrap(err)
	}
	results := make([]authz.CheckResult, len(req.Items))
	r := a.read()
	for i, item := range req.Items {
		results[i].Decision, results[i].Err = r.check(ctx, item)
	}
	return results, nil
}

// ReadRelationships returns every relationship in which req.Resource is the
// resource, sorted by relation (in schema order) and subject. An unknown
// resource type is an error matching [authz.ErrInvalidRequest].
func (a *Authorizer) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	if err := contextErr(ctx); err != nil {
		return nil, err
	}
	if err := req.Resource.Validate(); err != nil {
		return nil, wrap(err)
	}
	d := a.defs[req.Resource.Type]
	if d == nil {
		return nil, invalidf("unknown resource type %q", req.Resource.Type)
	}
	return a.read().relationshipsOf(d, req.Resource.ID), nil
}

// relationshipsOf returns the relationships of resource id of d that have
// not expired.
func (a reader) relationshipsOf(d *definition, id string) []authz.Relationship {
	return a.storedRelationships(d, id, false)
}

// storedRelationships returns the relationships of resource id of d, the
// expired ones too if expired is set.
func (a reader) storedRelationships(d *definition, id string, expired bool) []authz.Relationship {
	var rels []authz.Relationship
	obj := a.g.lookup(d, id)
	if obj == 0 {
		return nil
	}
	var now int64
	if a.g.expiring > 0 && !expired {
		now = a.now()
	}
	for _, n := range d.relations {
		ts := a.g.out(keyOf(obj, n.id))
		start := len(rels)
		for it := ts.iter(); it.next(); {
			t := unpackTarget(it.member())
			var e edge
			if ep := it.value(); ep != nil {
				e = *ep
			}
			if e.expires != 0 && now >= e.expires && !expired {
				continue // expired: invisible to every read
			}
			r := authz.Relationship{
				Resource: authz.Resource{Type: d.name, ID: id},
				Relation: n.name,
				Subject:  a.subjectOf(t).public(),
			}
			if e.caveat != nil {
				r.Caveat = authz.Caveat{Name: e.caveat.def.Name, Context: e.caveat.ctx}
			}
			if e.expires != 0 {
				r.Expiration = time.Unix(0, e.expires).UTC()
			}
			rels = append(rels, r)
		}
		slices.SortFunc(rels[start:], func(x, y authz.Relationship) int {
			return strings.Compare(x.Subject.String(), y.Subject.String())
		})
	}
	return rels
}

// Enumerate returns, in ascending order, up to req.Limit
// ([DefaultEnumerateLimit] if zero) ids of req.ResourceType that are the
// resource of at least one relationship, after req.Cursor. The result's
// Cursor is the last id returned when more ids follow, and empty otherwise.
// An unknown type, a negative limit or a cursor that is not an id are
// errors matching [authz.ErrInvalidRequest].
func (a *Authorizer) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	if err := contextErr(ctx); err != nil {
		return authz.EnumerateResult{}, err
	}
	if err := authz.ValidateType(req.ResourceType); err != nil {
		return authz.EnumerateResult{}, wrap(err)
	}
	d := a.defs[req.ResourceType]
	if d == nil {
		return authz.EnumerateResult{}, invalidf("unknown resource type %q", req.ResourceType)
	}
	limit, err := pageLimit(req.Limit, DefaultEnumerateLimit)
	if err != nil {
		return authz.EnumerateResult{}, err
	}
	if req.Cursor != "" && !authz.ValidID(req.Cursor) {
		return authz.EnumerateResult{}, invalidf("malformed enumerate cursor")
	}
	r := a.read()
	var ids []string
	r.g.eachObject(d, func(o objID, id string) {
		if id > req.Cursor && r.g.isResource(d, o) {
			ids = append(ids, id)
		}
	})
	if r.g.expiring > 0 {
		// A resource whose relationships have all expired is not there.
		ids = slices.DeleteFunc(ids, func(id string) bool { return len(r.relationshipsOf(d, id)) == 0 })
	}
	slices.Sort(ids)
	if len(ids) <= limit {
		return authz.EnumerateResult{IDs: ids}, nil
	}
	ids = ids[:limit:limit]
	return authz.EnumerateResult{IDs: ids, Cursor: ids[limit-1]}, nil
}

// pageLimit returns the page size for a requested limit: def for zero, an
// error matching [authz.ErrInvalidRequest] for a negative one.
func pageLimit(limit, def int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalidf("negative limit %d", limit)
	case limit == 0:
		return def, nil
	}
	return limit, nil
}
