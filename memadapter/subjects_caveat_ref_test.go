package memadapter

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// caveatedCyclicSchema is cyclicSchema with caveated and expiring
// relationships allowed on every relation, and self.
const caveatedCyclicSchema = `use expiration
use self
caveat same(x int, y int) {
	x == y
}

definition user {}

definition group {
	relation member: user | user with same | user with expiration | user:* | group#member | group#member with same
	relation admin: user | user with same | group#member | group#admin with same
	relation banned: user | user with same | user:*
	relation parent: group | group with same | group with expiration
	permission both = member & admin
	permission view = (member + parent->view) - banned
	permission strict = (admin + parent->strict) & member
	permission every = parent.all(view)
	permission any = member + parent->any + admin
	permission fenced = member - parent->fenced
	permission itself = (self - (banned - member)) + parent->itself
	permission twice = member - (admin - (banned - parent->twice))
}
`

// TestSubjectsMatchTheRoundsOnRandomCaveatedGraphs compares subject
// lookups on random cyclic graphs whose relationships are in part
// caveated (held, denied, or needing a parameter by their stored context)
// or expired with the rounds of the first implementation as issue 13
// extended them: a caveat that needs a parameter counts only under an odd
// number of exclusions' right sides, expired relationships never, and self
// yields the group itself.
func TestSubjectsMatchTheRoundsOnRandomCaveatedGraphs(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	perms := []string{"member", "admin", "banned", "both", "view", "strict", "every", "any", "itself", "twice", "fenced"}
	var lookups, caveated int
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 13))
		groups := 2 + r.IntN(7)
		a, err := NewWithConfig(caveatedCyclicSchema, Config{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		rels := randomCyclicGraph(r, groups, 1+r.IntN(5))
		for i := range rels {
			rel := &rels[i]
			if rel.Subject.ID == authz.WildcardID || rel.Relation == "admin" && rel.Subject.Relation == "member" {
				continue // forms without a caveat in the schema
			}
			switch r.IntN(6) {
			case 0:
				rel.Caveat = authz.Caveat{Name: "same", Context: authz.NewContext(map[string]any{"x": 1, "y": 1})}
			case 1:
				rel.Caveat = authz.Caveat{Name: "same", Context: authz.NewContext(map[string]any{"x": 1, "y": 2})}
			case 2:
				rel.Caveat = authz.Caveat{Name: "same", Context: authz.NewContext(map[string]any{"x": 1})}
			case 3:
				if rel.Relation == "member" && rel.Subject.Relation == "" || rel.Relation == "parent" {
					rel.Expiration = at.Add(time.Duration(r.IntN(3)-1) * time.Hour)
				}
			}
			if rel.Relation == "admin" && rel.Subject.Relation == "admin" && rel.Caveat.Name == "" {
				rel.Caveat = authz.Caveat{Name: "same", Context: authz.NewContext(map[string]any{"x": 2})}
			}
			if rel.Caveat.Name != "" || !rel.Expiration.IsZero() {
				caveated++
			}
		}
		if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: rels}); err != nil {
			t.Fatalf("seed %d: Write: %v", seed, err)
		}
		for g := range groups {
			id := fmt.Sprintf("g%d", g)
			for _, perm := range perms {
				for _, sub := range []authz.Subject{{Type: "user"}, {Type: "group"}, {Type: "group", Relation: "member"}, {Type: "group", Relation: "admin"}} {
					n := a.defs["group"].nodes[perm]
					rd := a.read()
					got, gotErr := rd.subjectsOf(t.Context(), n, id, sub.Type, sub.Relation)
					want, wantErr := refSubjectsOf(t.Context(), rd, n, id, sub.Type, sub.Relation)
					lookups++
					if gotErr != nil && !errors.Is(gotErr, authz.ErrInvalidRequest) {
						t.Errorf("seed %d: group:%s#%s for %s: error %v, want %v", seed, id, perm, sub, gotErr, authz.ErrInvalidRequest)
					}
					if gotErr != nil || wantErr != nil {
						if perm != "fenced" && perm != "twice" {
							t.Errorf("seed %d: group:%s#%s for %s: error %v, rounds %v; want none", seed, id, perm, sub, gotErr, wantErr)
						}
						continue
					}
					if diff := cmp.Diff(describe(want), describe(got)); diff != "" {
						t.Errorf("seed %d: group:%s#%s for %s mismatch (-rounds +components):\n%s\nrelationships: %v", seed, id, perm, sub, diff, rels)
					}
				}
			}
		}
	}
	t.Logf("%d lookups, %d caveated or expiring relationships", lookups, caveated)
}
