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
