package memadapter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// TestConcurrentReadersSeeWholeWrites runs writers that grant and revoke
// pairs of relationships in single writes against readers that must see
// each pair whole: both relationships or neither, in reads, checks and
// lookups. Run with -race.
func TestConcurrentReadersSeeWholeWrites(t *testing.T) {
	const (
		writers = 4
		rounds  = 200
	)
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema)
	pair := func(w int) []authz.Relationship {
		task := authz.Resource{Type: "task", ID: fmt.Sprintf("t%d", w)}
		user := authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", w)}
		return []authz.Relationship{
			{Resource: task, Relation: "owner", Subject: user},
			{Resource: task, Relation: "viewer", Subject: user},
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := range writers {
		wg.Go(func() {
			for range rounds {
				if _, err := a.Write(ctx, authz.WriteRequest{Touch: pair(w)}); err != nil {
					report(err)
					return
				}
				if _, err := a.Write(ctx, authz.WriteRequest{Delete: pair(w)}); err != nil {
					report(err)
					return
				}
			}
		})
	}
	for r := range writers {
		wg.Go(func() {
			task := authz.Resource{Type: "task", ID: fmt.Sprintf("t%d", r)}
			user := authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", r)}
			for range rounds {
				rels, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: task})
				if err != nil || (len(rels) != 0 && len(rels) != 2) {
					report(fmt.Errorf("ReadRelationships saw %d relationships (%v), want 0 or 2", len(rels), err))
					return
				}
				res, err := a.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{
					{Subject: user, Resource: task, Permission: "owner"},
					{Subject: user, Resource: task, Permission: "viewer"},
				}})
				if err != nil || res[0].Decision.Allowed() != res[1].Decision.Allowed() {
					report(fmt.Errorf("CheckMany saw half a write: %+v, %v", res, err))
					return
				}
				if _, err := a.Lookup(ctx, authz.LookupRequest{Subject: user, ResourceType: "task", Permission: "read"}); err != nil {
					report(err)
					return
				}
				if _, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "task"}); err != nil {
					report(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestConcurrentRegistersCreateOnce races registrations of one resource
// by different owners: exactly one wins, the others conflict.
func TestConcurrentRegistersCreateOnce(t *testing.T) {
	const racers = 8
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema)
	results := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			_, results[i] = a.Register(ctx, authz.RegisterRequest{
				Resource: authz.Resource{Type: "task", ID: "contested"},
				Owner:    authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i)},
			})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		switch errOutcome(err) {
		case "ok":
			won++
		case "conflict":
		default:
			t.Errorf("Register = %v, want success or a conflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d registrations won, want exactly 1", won)
	}
}
