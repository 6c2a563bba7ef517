package memadapter_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

const expirySchema = `use expiration
caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}
definition user {}
definition group {
	relation member: user | user with expiration
}
definition doc {
	relation viewer: user with expiration | group#member | user with on_network
	permission view = viewer
}
`

// clock is a settable clock for Config.Now.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

func TestExpiryAtTheBoundaryInstant(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	var c clock
	c.set(at.Add(-time.Nanosecond))
	a, err := memadapter.NewWithConfig(expirySchema, memadapter.Config{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rels := []authz.Relationship{
		{Resource: authz.Resource{Type: "doc", ID: "d1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"}, Expiration: at},
		{Resource: authz.Resource{Type: "doc", ID: "d2"}, Relation: "viewer", Subject: authz.Subject{Type: "group", ID: "g1", Relation: "member"}},
		{Resource: authz.Resource{Type: "group", ID: "g1"}, Relation: "member", Subject: authz.Subject{Type: "user", ID: "bob"}, Expiration: at},
	}
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	check := func(doc, user string) bool {
		t.Helper()
		d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: user}, Resource: authz.Resource{Type: "doc", ID: doc}, Permission: "view"})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed()
	}
	lookup := func(user string) []string {
		t.Helper()
		r, err := a.Lookup(ctx, authz.LookupRequest{Subject: authz.Subject{Type: "user", ID: user}, ResourceType: "doc", Permission: "view"})
		if err != nil {
			t.Fatal(err)
		}
		return r.IDs()
	}
	enumerate := func(typ string) []string {
		t.Helper()
		r, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: typ})
		if err != nil {
			t.Fatal(err)
		}
		return r.IDs
	}
	if !check("d1", "alice") || !check("d2", "bob") {
		t.Fatal("denied one nanosecond before the expiration")
	}
	if diff := cmp.Diff([]string{"d1"}, lookup("alice")); diff != "" {
		t.Errorf("Lookup before expiry mismatch (-want +got):\n%s", diff)
	}
	c.set(at)
	if check("d1", "alice") || check("d2", "bob") {
		t.Error("allowed at the expiration instant")
	}
	if got := lookup("alice"); len(got) != 0 {
		t.Errorf("Lookup at expiry = %v, want none", got)
	}
	read, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: authz.Resource{Type: "doc", ID: "d1"}})
	if err != nil || len(read) != 0 {
		t.Errorf("ReadRelationships at expiry = %v, %v; want none", read, err)
	}
	if diff := cmp.Diff([]string{"d2"}, enumerate("doc")); diff != "" {
		t.Errorf("Enumerate(doc) at expiry mismatch (-want +got):\n%s", diff)
	}
	if got := enumerate("group"); len(got) != 0 {
		t.Errorf("Enumerate(group) at expiry = %v, want none", got)
	}
	// Touching with a later expiration revives it.
	rels[0].Expiration = at.Add(time.Hour)
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels[:1]}); err != nil {
		t.Fatal(err)
	}
	if !check("d1", "alice") {
		t.Error("a touch with a later expiration did not revive the relationship")
	}
}

func TestExplainShowsConditional(t *testing.T) {
	t.Parallel()
	a, err := memadapter.New(expirySchema)
	if err != nil {
		t.Fatal(err)
	}
	r := authz.Relationship{Resource: authz.Resource{Type: "doc", ID: "d1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"},
		Caveat: authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}}
	if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{r}}); err != nil {
		t.Fatal(err)
	}
	e, err := a.Explain(t.Context(), authz.CheckRequest{Subject: r.Subject, Resource: r.Resource, Permission: "view"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Result || !strings.Contains(e.String(), "conditional: missing ip") {
		t.Errorf("Explain = \n%s\nwant a denial noted conditional on ip", e)
	}
}

// TestLookupThroughAnExpiredArrow checks that a lookup whose candidates
// come through an arrow over an expired or caveated relationship confirms
// them, as a check does.
func TestLookupThroughAnExpiredArrow(t *testing.T) {
	t.Parallel()
	a, err := memadapter.New(`use expiration
caveat never(b bool) {
	b && !b
}
definition user {}
definition group {
	relation manager: user
}
definition doc {
	relation team: group with expiration | group with never
	permission view = team->manager
}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	u := authz.Subject{Type: "user", ID: "u0"}
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: authz.Resource{Type: "group", ID: "g0"}, Relation: "manager", Subject: u},
		{Resource: authz.Resource{Type: "doc", ID: "d0"}, Relation: "team", Subject: authz.Subject{Type: "group", ID: "g0"}, Expiration: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Resource: authz.Resource{Type: "doc", ID: "d1"}, Relation: "team", Subject: authz.Subject{Type: "group", ID: "g0"}, Caveat: authz.Caveat{Name: "never"}},
	}}); err != nil {
		t.Fatal(err)
	}
	r, err := a.Lookup(ctx, authz.LookupRequest{Subject: u, ResourceType: "doc", Permission: "view", Context: authz.NewContext(map[string]any{"b": true}), IncludeConditional: true})
	if err != nil || len(r.IDs()) != 0 || len(r.Conditional()) != 0 {
		t.Errorf("Lookup = %v (conditional %v), %v; want none", r.IDs(), r.Conditional(), err)
	}
}

// TestExpiryWithTheSystemClock checks, on the default clock, that a
// relationship is visible until its expiration and never after, whether
// the clock or the floor of past readings decides it, under concurrent
// checks.
func TestExpiryWithTheSystemClock(t *testing.T) {
	t.Parallel()
	const schema = `use expiration
definition user {}
definition doc {
	relation viewer: user with expiration
}`
	a, err := memadapter.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	doc := authz.Resource{Type: "doc", ID: "d1"}
	ann, ben := authz.Subject{Type: "user", ID: "ann"}, authz.Subject{Type: "user", ID: "ben"}
	expires := time.Now().Round(0).Add(300 * time.Millisecond)
	if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: doc, Relation: "viewer", Subject: ann, Expiration: expires},
		{Resource: doc, Relation: "viewer", Subject: ben, Expiration: time.Now().Add(-time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				// Expirations are wall-clock instants, and the clock
				// follows the wall clock to within the monotonic clock's
				// drift over 10 ms (NTP slews at most 500 ppm: 5 µs):
				// compare wall readings (Round(0) drops the monotonic
				// one), allowing that much.
				const slack = 50 * time.Microsecond
				before := time.Now().Round(0).Add(-slack)
				d, err := a.Check(t.Context(), authz.CheckRequest{Subject: ann, Resource: doc, Permission: "viewer"})
				after := time.Now().Round(0).Add(slack)
				switch {
				case err != nil:
					t.Error(err)
					return
				case d.Allowed() && !before.Before(expires):
					t.Errorf("allowed by a relationship that expired at %v, asked at %v", expires, before)
					return
				case !d.Allowed() && after.Before(expires):
					t.Errorf("denied before the expiration %v (answered by %v)", expires, after)
					return
				case before.After(expires.Add(100 * time.Millisecond)):
					return
				}
				if d, err := a.Check(t.Context(), authz.CheckRequest{Subject: ben, Resource: doc, Permission: "viewer"}); err != nil || d.Allowed() {
					t.Errorf("a relationship expired an hour ago: %v, %v", d, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
