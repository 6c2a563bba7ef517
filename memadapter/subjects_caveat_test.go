package memadapter_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

const conditionalSubjectsSchema = `use expiration
use self
caveat on_day(day string, allowed string) {
	day == allowed
}
definition user {
	relation friend: user
	permission itself = self + friend
}
definition doc {
	relation viewer: user | user with on_day | user with expiration
	relation banned: user | user with on_day
	permission view = viewer - banned
}
`

// TestSubjectsWithCaveatsAndExpirations checks that a subject lookup
// leaves out expired relationships and caveated ones that need a context
// (a lookup brings none), keeps caveated ones whose stored context decides
// them, and never lets a conditional ban widen the answer; and that self
// names the resource itself.
func TestSubjectsWithCaveatsAndExpirations(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	var c clock
	c.set(at.Add(-time.Hour))
	a, err := memadapter.NewWithConfig(conditionalSubjectsSchema, memadapter.Config{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	doc := authz.Resource{Type: "doc", ID: "d1"}
	user := func(id string) authz.Subject { return authz.Subject{Type: "user", ID: id} }
	onDay := func(values map[string]any) authz.Caveat {
		return authz.Caveat{Name: "on_day", Context: authz.NewContext(values)}
	}
	rels := []authz.Relationship{
		{Resource: doc, Relation: "viewer", Subject: user("ann")},
		{Resource: doc, Relation: "viewer", Subject: user("ben"), Caveat: onDay(map[string]any{"allowed": "mon"})},
		{Resource: doc, Relation: "viewer", Subject: user("cid"), Caveat: onDay(map[string]any{"allowed": "mon", "day": "mon"})},
		{Resource: doc, Relation: "viewer", Subject: user("dee"), Caveat: onDay(map[string]any{"allowed": "mon", "day": "tue"})},
		{Resource: doc, Relation: "viewer", Subject: user("eve"), Expiration: at},
		{Resource: doc, Relation: "viewer", Subject: user("fay")},
		{Resource: doc, Relation: "banned", Subject: user("fay"), Caveat: onDay(map[string]any{"allowed": "mon"})},
		{Resource: authz.Resource{Type: "user", ID: "ann"}, Relation: "friend", Subject: user("ben")},
	}
	if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	// ben needs a day; dee's stored context denies; fay may be banned.
	if diff := cmp.Diff([]string{"user:ann", "user:cid", "user:eve"}, subjectsOf(t, a, "doc:d1", "view", "user", "")); diff != "" {
		t.Errorf("viewers before eve's expiration mismatch (-want +got):\n%s", diff)
	}
	c.set(at)
	if diff := cmp.Diff([]string{"user:ann", "user:cid"}, subjectsOf(t, a, "doc:d1", "view", "user", "")); diff != "" {
		t.Errorf("viewers at eve's expiration mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"user:ann", "user:ben"}, subjectsOf(t, a, "user:ann", "itself", "user", "")); diff != "" {
		t.Errorf("subjects of ann's self permission mismatch (-want +got):\n%s", diff)
	}
}

// TestSubjectsOfAnAllArrowOverConditionalRelationships checks that a
// subject lookup through rel.all(perm) does not skip a relationship whose
// caveat needs parameters or fails (that would widen the answer: the
// all-arrow asks every relationship to hold), skips only expired ones, and
// agrees with Check on every subject.
func TestSubjectsOfAnAllArrowOverConditionalRelationships(t *testing.T) {
	t.Parallel()
	const schema = `use expiration
caveat big(x int) {
	x > 1
}
definition user {}
definition group {
	relation manager: user
}
definition org {
	relation link: group | group with big | group with expiration | user
	permission view = link.all(manager)
}`
	a, err := memadapter.New(schema)
	if err != nil {
		t.Fatal(err)
	}
	g := func(id string) authz.Subject { return authz.Subject{Type: "group", ID: id} }
	u1 := authz.Subject{Type: "user", ID: "u1"}
	big := func(x any) authz.Caveat {
		if x == nil {
			return authz.Caveat{Name: "big"}
		}
		return authz.Caveat{Name: "big", Context: authz.NewContext(map[string]any{"x": x})}
	}
	org := func(id string) authz.Resource { return authz.Resource{Type: "org", ID: id} }
	rels := []authz.Relationship{
		{Resource: authz.Resource{Type: "group", ID: "g1"}, Relation: "manager", Subject: u1},
		{Resource: authz.Resource{Type: "group", ID: "g2"}, Relation: "manager", Subject: u1},
		// o1: both links hold: u1.
		{Resource: org("o1"), Relation: "link", Subject: g("g1")},
		{Resource: org("o1"), Relation: "link", Subject: g("g2"), Caveat: big(5)},
		// o2: a link needs x: conditional, left out.
		{Resource: org("o2"), Relation: "link", Subject: g("g1")},
		{Resource: org("o2"), Relation: "link", Subject: g("g2"), Caveat: big(nil)},
		// o3: a link's caveat fails: nobody.
		{Resource: org("o3"), Relation: "link", Subject: g("g1")},
		{Resource: org("o3"), Relation: "link", Subject: g("g2"), Caveat: big(0)},
		// o4: an expired link is skipped: u1.
		{Resource: org("o4"), Relation: "link", Subject: g("g1")},
		{Resource: org("o4"), Relation: "link", Subject: g("g2"), Expiration: time.Now().Add(-time.Hour)},
	}
	if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{"o1": {"user:u1"}, "o2": nil, "o3": nil, "o4": {"user:u1"}} {
		res, err := a.LookupSubjects(t.Context(), authz.SubjectLookupRequest{Resource: org(id), Permission: "view", SubjectType: "user"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range res.Subjects {
			got = append(got, f.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("subjects of org:%s#view mismatch (-want +got):\n%s", id, diff)
		}
		d, err := a.Check(t.Context(), authz.CheckRequest{Subject: u1, Resource: org(id), Permission: "view"})
		if err != nil || d.Allowed() != (len(want) == 1) {
			t.Errorf("check org:%s#view@user:u1 = %s, %v; the lookup found %v", id, d, err, want)
		}
	}
}
