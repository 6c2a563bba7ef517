package authztest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fgac-go/fgac/authz"
)

// conditionSchema has caveats and expiring relationships.
const conditionSchema = `use expiration

caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

caveat min_level(level int, required int) {
	level >= required
}

definition user {}

definition group {
	relation member: user | user with min_level | group#member
}

definition folder {
	relation viewer: user
	permission view = viewer
}

definition doc {
	relation owner: user
	relation viewer: user | user with on_network | user:* with on_network | group#member | group#member with min_level
	relation banned: user | user with min_level
	relation guest: user with expiration | user with on_network and expiration
	relation parent: folder | folder with min_level
	permission view = owner + viewer + guest + parent->view
	permission safe_view = viewer - banned
	permission owner_on_network = owner & viewer
}
`

// The instants of expiring relationships: long past and far future, so
// that the cases hold whatever the engine's clock says.
var (
	longAgo   = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// caveated returns relationship s with caveat name and stored context ctx.
func (e *env) caveated(s, name string, ctx map[string]any) authz.Relationship {
	e.t.Helper()
	r := e.rel(s)
	r.Caveat = authz.Caveat{Name: name, Context: authz.NewContext(ctx)}
	return r
}

// expiring returns r with expiration at.
func expiring(r authz.Relationship, at time.Time) authz.Relationship {
	r.Expiration = at
	return r
}

// writeRels touches rels in one write.
func (e *env) writeRels(rels ...authz.Relationship) {
	e.t.Helper()
	tok, err := e.a.Write(e.ctx, authz.WriteRequest{Touch: rels})
	e.wrote(fmt.Sprintf("Write(touch %v)", rels), tok, err, rels...)
}

// decide returns the decision for subject's permission on resource under
// the request context ctx (nil for none), stopping the case on an error.
func (e *env) decide(resource, permission, subject string, ctx map[string]any) authz.Decision {
	e.t.Helper()
	req := e.checkReq(resource, permission, subject)
	req.Context = authz.NewContext(ctx)
	d, err := e.a.Check(e.ctx, req)
	if err != nil {
		e.t.Fatalf("Check(%s#%s@%s with %v): %v", resource, permission, subject, req.Context, err)
	}
	return d
}

// wantDecision asserts a decision: "allowed", "denied", or "conditional"
// with exactly the missing parameters (compared as a set, as SpiceDB's
// order and repeats are not part of its contract). It also asserts that
// CheckMany agrees.
func (e *env) wantDecision(resource, permission, subject string, ctx map[string]any, want string, missing ...string) {
	e.t.Helper()
	d := e.decide(resource, permission, subject, ctx)
	e.compareDecision(fmt.Sprintf("Check(%s#%s@%s with %v)", resource, permission, subject, ctx), d, want, missing)
	req := e.checkReq(resource, permission, subject)
	req.Context = authz.NewContext(ctx)
	res, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{req}, Consistency: e.fresh()})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		e.t.Fatalf("CheckMany(%s#%s@%s with %v) = %v, %v", resource, permission, subject, ctx, res, err)
	}
	e.compareDecision(fmt.Sprintf("CheckMany(%s#%s@%s with %v)", resource, permission, subject, ctx), res[0].Decision, want, missing)
}

func (e *env) compareDecision(what string, d authz.Decision, want string, missing []string) {
	e.t.Helper()
	if d.Allowed() && d.Conditional() {
		e.t.Errorf("%s is both allowed and conditional", what)
	}
	if d.String() != want {
		e.t.Errorf("%s = %s (missing %v), want %s", what, d, d.Missing(), want)
		return
	}
	if want != "conditional" {
		return
	}
	if diff := cmp.Diff(sorted(missing), sorted(slices.Compact(sorted(d.Missing())))); diff != "" {
		e.t.Errorf("%s missing parameters mismatch (-want +got):\n%s", what, diff)
	}
}

// lookupWith returns the sorted allowed and conditional ids of a lookup
// under ctx.
func (e *env) lookupWith(typ, permission, subject string, ctx map[string]any, includeConditional bool) (ids, conditional []string) {
	e.t.Helper()
	res, err := e.lookupPage(authz.LookupRequest{
		Subject: e.sub(subject), ResourceType: typ, Permission: permission, Consistency: e.fresh(),
		Context: authz.NewContext(ctx), IncludeConditional: includeConditional,
	})
	if err != nil {
		e.t.Fatalf("Lookup(%s#%s@%s with %v): %v", typ, permission, subject, ctx, err)
	}
	return sorted(res.IDs()), sorted(res.Conditional())
}

func conditionCases() []Case {
	network := map[string]any{"cidr": "10.0.0.0/8"}
	inside := map[string]any{"ip": "10.1.2.3"}
	outside := map[string]any{"ip": "192.168.0.1"}
	return []Case{
		{
			Name:   "conditional/never-allows",
			Rule:   "A caveat whose parameters the contexts lack gives a conditional decision, which is never an allow; with the context it allows or denies.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.writeRels(e.caveated("doc:d1#viewer@user:alice", "on_network", network))
				e.wantDecision("doc:d1", "view", "user:alice", nil, "conditional", "ip")
				e.wantDecision("doc:d1", "view", "user:alice", inside, "allowed")
				e.wantDecision("doc:d1", "view", "user:alice", outside, "denied")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "denied")
				if e.allowed("doc:d1", "view", "user:alice") {
					e.t.Error("a conditional decision allowed")
				}
			},
		},
		{
			Name:   "conditional/missing-context-reported",
			Rule:   "A conditional decision names every parameter the contexts lack; a stored value is not missing and wins over the request's.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.writeRels(
					e.caveated("doc:d1#viewer@user:alice", "on_network", nil),
					e.caveated("doc:d2#viewer@user:alice", "on_network", network),
				)
				e.wantDecision("doc:d1", "view", "user:alice", nil, "conditional", "cidr", "ip")
				e.wantDecision("doc:d1", "view", "user:alice", map[string]any{"ip": "10.1.2.3"}, "conditional", "cidr")
				e.wantDecision("doc:d1", "view", "user:alice", map[string]any{"ip": "10.1.2.3", "cidr": "10.0.0.0/8"}, "allowed")
				// The stored cidr wins over the request's.
				e.wantDecision("doc:d2", "view", "user:alice", map[string]any{"ip": "10.1.2.3", "cidr": "192.168.0.0/16"}, "allowed")
			},
		},
		{
			Name:   "conditional/union-branch",
			Rule:   "A caveat on one branch of a union does not hold back another branch that allows (HAS + COND = HAS); alone it is conditional.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.write("doc:d1#owner@user:alice")
				e.writeRels(
					e.caveated("doc:d1#viewer@user:alice", "on_network", network),
					e.caveated("doc:d1#viewer@user:bob", "on_network", network),
				)
				e.wantDecision("doc:d1", "view", "user:alice", nil, "allowed")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "conditional", "ip")
				e.wantDecision("doc:d1", "owner_on_network", "user:alice", nil, "conditional", "ip")
				e.wantDecision("doc:d1", "owner_on_network", "user:alice", inside, "allowed")
				e.wantDecision("doc:d1", "owner_on_network", "user:bob", nil, "denied")
			},
		},
		{
			Name:   "conditional/caveated-wildcard",
			Rule:   "A caveated wildcard makes every subject of its type conditional, decided by the context.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.writeRels(e.caveated("doc:d1#viewer@user:*", "on_network", network))
				e.wantDecision("doc:d1", "view", "user:someone-new", nil, "conditional", "ip")
				e.wantDecision("doc:d1", "view", "user:someone-new", inside, "allowed")
				e.wantDecision("doc:d1", "view", "user:someone-new", outside, "denied")
			},
		},
		{
			Name:   "conditional/exclusion",
			Rule:   "Excluding a conditional subject is conditional (HAS − COND = COND); the context decides; excluding from a conditional base what is banned for sure denies (COND − HAS = NO).",
			Schema: conditionSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#banned@user:bob")
				e.writeRels(
					e.caveated("doc:d1#banned@user:alice", "min_level", map[string]any{"required": 5}),
					e.caveated("doc:d1#viewer@user:bob", "on_network", network),
				)
				e.wantDecision("doc:d1", "safe_view", "user:alice", nil, "conditional", "level")
				e.wantDecision("doc:d1", "safe_view", "user:alice", map[string]any{"level": 7}, "denied")
				e.wantDecision("doc:d1", "safe_view", "user:alice", map[string]any{"level": 3}, "allowed")
				e.wantDecision("doc:d1", "safe_view", "user:bob", nil, "denied")
			},
		},
		{
			Name:   "conditional/through-groups-and-arrows",
			Rule:   "A caveated subject set or a caveated arrow edge makes what flows through it conditional.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.write("group:g1#member@user:alice", "folder:f1#viewer@user:bob")
				e.writeRels(
					e.caveated("doc:d1#viewer@group:g1#member", "min_level", map[string]any{"required": 2}),
					e.caveated("doc:d1#parent@folder:f1", "min_level", map[string]any{"level": 1}),
				)
				e.wantDecision("doc:d1", "view", "user:alice", nil, "conditional", "level")
				e.wantDecision("doc:d1", "view", "user:alice", map[string]any{"level": 2}, "allowed")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "conditional", "required")
				e.wantDecision("doc:d1", "view", "user:bob", map[string]any{"required": 1}, "allowed")
				e.wantDecision("doc:d1", "view", "user:bob", map[string]any{"required": 2}, "denied")
			},
		},
		{
			Name:   "conditional/lookup",
			Rule:   "A lookup returns only what is definitely allowed, unless it asks for conditional results, which it then lists apart.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.write("doc:d1#owner@user:alice")
				e.writeRels(
					e.caveated("doc:d2#viewer@user:alice", "on_network", network),
					e.caveated("doc:d3#viewer@user:alice", "on_network", map[string]any{"cidr": "192.168.0.0/16"}),
				)
				for _, tt := range []struct {
					ctx       map[string]any
					include   bool
					ids, cond []string
				}{
					{nil, false, []string{"d1"}, nil},
					{nil, true, []string{"d1"}, []string{"d2", "d3"}},
					{inside, false, []string{"d1", "d2"}, nil},
					{inside, true, []string{"d1", "d2"}, nil},
				} {
					ids, cond := e.lookupWith("doc", "view", "user:alice", tt.ctx, tt.include)
					if diff := cmp.Diff(tt.ids, ids, cmpopts.EquateEmpty()); diff != "" {
						e.t.Errorf("Lookup with %v (conditional %v) ids mismatch (-want +got):\n%s", tt.ctx, tt.include, diff)
					}
					if diff := cmp.Diff(tt.cond, cond, cmpopts.EquateEmpty()); diff != "" {
						e.t.Errorf("Lookup with %v (conditional %v) conditional ids mismatch (-want +got):\n%s", tt.ctx, tt.include, diff)
					}
				}
			},
		},
		{
			Name:   "expiration/past-and-future",
			Rule:   "A relationship whose expiration has passed is accepted on write and invisible to checks, lookups and reads; one that expires in the future counts until then.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.writeRels(
					expiring(e.rel("doc:d1#guest@user:alice"), longAgo),
					expiring(e.rel("doc:d1#guest@user:bob"), farFuture),
					expiring(e.caveated("doc:d2#guest@user:bob", "on_network", network), farFuture),
				)
				e.wantDecision("doc:d1", "view", "user:alice", nil, "denied")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "allowed")
				e.wantDecision("doc:d2", "view", "user:bob", inside, "allowed")
				e.wantDecision("doc:d2", "view", "user:bob", nil, "conditional", "ip")
				e.wantAccess("doc", "view", "user:alice")
				e.wantRead("doc:d1", "doc:d1#guest@user:bob")
				rels, err := e.a.ReadRelationships(e.ctx, authz.ReadRequest{Resource: e.res("doc:d2"), Consistency: e.fresh()})
				if err != nil || len(rels) != 1 {
					e.t.Fatalf("ReadRelationships(doc:d2) = %v, %v", rels, err)
				}
				if got := rels[0]; !got.Expiration.Equal(farFuture) || got.Caveat.Name != "on_network" || got.Caveat.Context.String() != `{"cidr":"10.0.0.0/8"}` {
					e.t.Errorf("ReadRelationships(doc:d2) = %s%s, want its caveat, stored context and expiration", got, got.Conditions())
				}
				// Touching again with a past expiration hides it; with a
				// future one revives it.
				e.writeRels(expiring(e.rel("doc:d1#guest@user:bob"), longAgo))
				e.wantDecision("doc:d1", "view", "user:bob", nil, "denied")
				e.writeRels(expiring(e.rel("doc:d1#guest@user:alice"), farFuture))
				e.wantDecision("doc:d1", "view", "user:alice", nil, "allowed")
			},
		},
		{
			Name: "conditional/register-over-expired",
			Rule: "A resource whose relationships have all expired has none, so Register creates it as new even where an expired relationship is the one it writes, and a resource with a relationship that has not expired is a conflict.",
			Schema: `use expiration

definition user {}

definition doc {
	relation owner: user | user with expiration
	relation guest: user with expiration
	permission view = owner + guest
}`,
			run: func(e *env) {
				e.writeRels(
					expiring(e.rel("doc:d1#guest@user:alice"), longAgo),
					expiring(e.rel("doc:d2#guest@user:alice"), farFuture),
					expiring(e.rel("doc:d3#owner@user:bob"), longAgo),
				)
				e.register("doc:d1", "user:bob", "")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "allowed")
				e.wantDecision("doc:d1", "view", "user:alice", nil, "denied")
				e.wantRead("doc:d1", "doc:d1#owner@user:bob")
				e.register("doc:d3", "user:bob", "")
				e.wantDecision("doc:d3", "view", "user:bob", nil, "allowed")
				e.wantRead("doc:d3", "doc:d3#owner@user:bob")
				if _, err := e.a.Register(e.ctx, e.registerReq("doc:d2", "user:bob", "")); !errors.Is(err, authz.ErrConflict) {
					e.t.Errorf("Register(doc:d2), which has a guest that has not expired: %v, want %v", err, authz.ErrConflict)
				}
				e.wantDecision("doc:d2", "view", "user:bob", nil, "denied")
			},
		},
		{
			Name:   "conditional/delete-ignores-expiration",
			Rule:   "A deletion names a relationship by its resource, relation and subject, so an expiration on it is ignored (one its relation does not allow, or none where the relation requires one), while a caveat its relation does not allow is an invalid request that deletes nothing.",
			Schema: conditionSchema,
			run: func(e *env) {
				e.writeRels(e.rel("doc:d1#owner@user:alice"), expiring(e.rel("doc:d1#guest@user:bob"), farFuture), e.rel("doc:d2#owner@user:alice"))
				_, err := e.a.Write(e.ctx, authz.WriteRequest{Delete: []authz.Relationship{e.caveated("doc:d2#owner@user:alice", "on_network", nil)}})
				e.wantInvalid("Write(delete with a caveat the relation does not allow)", err)
				e.wantRead("doc:d2", "doc:d2#owner@user:alice")
				tok, err := e.a.Write(e.ctx, authz.WriteRequest{Delete: []authz.Relationship{expiring(e.rel("doc:d1#owner@user:alice"), farFuture)}})
				e.wrote("Write(delete with an expiration the relation does not allow)", tok, err)
				tok, err = e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: e.rel("doc:d1#guest@user:bob")})
				e.wrote("Revoke(without the expiration the relation requires)", tok, err)
				e.wantRead("doc:d1")
				e.wantDecision("doc:d1", "view", "user:bob", nil, "denied")
			},
		},
		{
			Name:   "conditional/bad-input",
			Rule:   "A wrong-typed or unknown stored context key, a caveat or expiration the relation does not allow, a missing required expiration, and an oversized context are invalid requests; nothing is written.",
			Schema: conditionSchema,
			run: func(e *env) {
				valid := e.rel("doc:d9#owner@user:zoe")
				wide := map[string]any{}
				for i := range 10_000 {
					wide["k"+strconv.Itoa(i)] = i
				}
				deep := map[string]any{"leaf": 1}
				for range 40 {
					deep = map[string]any{"n": deep}
				}
				for _, tt := range []struct {
					name string
					rel  authz.Relationship
				}{
					{"wrong-typed stored value", e.caveated("doc:d1#viewer@user:alice", "on_network", map[string]any{"cidr": 5})},
					{"unknown stored key", e.caveated("doc:d1#viewer@user:alice", "on_network", map[string]any{"port": "80"})},
					{"caveat the relation does not allow", e.caveated("doc:d1#owner@user:alice", "on_network", network)},
					{"unknown caveat", e.caveated("doc:d1#viewer@user:alice", "no_such_caveat", nil)},
					{"expiration the relation does not allow", expiring(e.rel("doc:d1#owner@user:alice"), farFuture)},
					{"missing required expiration", e.rel("doc:d1#guest@user:alice")},
					{"missing caveat of `with c and expiration`", expiring(e.caveated("doc:d1#guest@user:alice", "min_level", nil), farFuture)},
					{"stored context with 10k keys", e.caveated("doc:d1#viewer@user:alice", "on_network", wide)},
					{"stored context nested 41 deep", e.caveated("doc:d1#viewer@user:alice", "on_network", deep)},
					// SpiceDB's limit on a relationship's caveat (25,000 bytes).
					{"stored context of 30,000 bytes", e.caveated("doc:d1#viewer@user:alice", "on_network", map[string]any{"cidr": strings.Repeat("1", 30_000)})},
				} {
					_, err := e.a.Write(e.ctx, authz.WriteRequest{Touch: []authz.Relationship{valid, tt.rel}})
					e.wantInvalid("Write("+tt.name+")", err)
				}
				e.wantRead("doc:d9")
				e.wantRead("doc:d1")
				e.writeRels(e.caveated("doc:d1#viewer@user:alice", "on_network", network))
				// A wrong-typed or null value, 10k keys, 41 levels.
				for _, ctx := range []map[string]any{{"ip": 5}, {"ip": nil}, wide, deep} {
					req := e.checkReq("doc:d1", "view", "user:alice")
					req.Context = authz.NewContext(ctx)
					e.wantCheckInvalid(req)
				}
			},
		},
	}
}
