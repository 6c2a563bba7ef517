package authztest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fgac-go/fgac/authz"
)

// workers is the number of goroutines of each concurrency case.
const workers = 16

func concurrencyCases() []Case {
	return []Case{
		{
			Name:   "concurrent/register-and-check",
			Rule:   "Registrations and checks from many goroutines at once each get the answer they would get alone.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a0#viewer@user:vera", "agent:a1#parent@org:acme", "org:acme#member@user:mia")
				var wg sync.WaitGroup
				for i := range workers {
					wg.Go(func() {
						task := authz.Resource{Type: "task", ID: fmt.Sprintf("c%02d", i)}
						owner := authz.Subject{Type: "user", ID: fmt.Sprintf("u%02d", i)}
						parent := authz.Resource{Type: "agent", ID: fmt.Sprintf("a%d", i%2)}
						tok, err := e.a.Register(e.ctx, authz.RegisterRequest{Resource: task, Owner: owner, Parent: &parent})
						if err != nil {
							e.t.Errorf("Register(%s): %v", task, err)
							return
						}
						inherited := authz.Subject{Type: "user", ID: []string{"vera", "mia"}[i%2]}
						other := authz.Subject{Type: "user", ID: fmt.Sprintf("u%02d", (i+1)%workers)}
						items := []authz.CheckRequest{
							{Subject: owner, Resource: task, Permission: "read"},
							{Subject: inherited, Resource: task, Permission: "read"},
							{Subject: other, Resource: task, Permission: "read"},
							{Subject: owner, Resource: task, Permission: "cancel"},
						}
						want := []bool{true, true, false, true}
						res, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: items, Consistency: authz.AtLeastAsFresh(tok)})
						if err != nil || len(res) != len(items) {
							e.t.Errorf("CheckMany on %s = %d results, %v", task, len(res), err)
							return
						}
						for j, r := range res {
							d, err := e.a.Check(e.ctx, authz.CheckRequest{Subject: items[j].Subject, Resource: task, Permission: items[j].Permission, Consistency: authz.AtLeastAsFresh(tok)})
							if r.Err != nil || err != nil || r.Decision.Allowed() != want[j] || d.Allowed() != want[j] {
								e.t.Errorf("%s#%s@%s: CheckMany %v, %v; Check %v, %v; want allowed %v", task, items[j].Permission, items[j].Subject, r.Decision, r.Err, d, err, want[j])
							}
						}
						res2, err := e.a.Lookup(e.ctx, authz.LookupRequest{Subject: owner, ResourceType: "task", Permission: "read", Consistency: authz.AtLeastAsFresh(tok)})
						if err != nil || len(res2.IDs()) != 1 || res2.IDs()[0] != task.ID {
							e.t.Errorf("Lookup for %s = %v, %v; want [%s]", owner, res2.IDs(), err, task.ID)
						}
					})
				}
				wg.Wait()
				e.tok = authz.Token{} // every later read is fully consistent
				e.wantOnce("Enumerate(task)", seq("c", workers), e.enumerate("task", 5))
				var vera []string
				for i, id := range seq("c", workers) {
					if i%2 == 0 {
						vera = append(vera, id)
					}
				}
				e.wantOnce("Lookup(task#read@user:vera)", vera, e.lookup("task", "read", "user:vera"))
			},
		},
		{
			Name:   "concurrent/register-race",
			Rule:   "When many goroutines register the same resource with different owners at once, exactly one wins and the others get a conflict.",
			Schema: Schema,
			run: func(e *env) {
				var wins atomic.Int32
				var wg sync.WaitGroup
				for i := range workers {
					wg.Go(func() {
						owner := authz.Subject{Type: "user", ID: fmt.Sprintf("u%02d", i)}
						_, err := e.a.Register(e.ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "contested"}, Owner: owner})
						switch {
						case err == nil:
							wins.Add(1)
						case !errors.Is(err, authz.ErrConflict):
							e.t.Errorf("Register owned by %s error = %v, want nil or %v", owner, err, authz.ErrConflict)
						}
					})
				}
				wg.Wait()
				if n := wins.Load(); n != 1 {
					e.t.Errorf("%d registrations succeeded, want exactly 1", n)
				}
				e.tok = authz.Token{}
				if rels := e.read("task:contested"); len(rels) != 1 {
					e.t.Errorf("ReadRelationships(task:contested) = %v, want one owner", rels)
				}
			},
		},
		{
			Name:   "concurrent/grants-on-one-resource",
			Rule:   "Grants and revokes of different relationships of one resource from many goroutines at once all take effect.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				var wg sync.WaitGroup
				for i := range workers {
					wg.Go(func() {
						rel := authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%02d", i)}}
						if _, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: rel}); err != nil {
							e.t.Errorf("Grant(%s): %v", rel, err)
							return
						}
						if i%2 == 1 {
							if _, err := e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: rel}); err != nil {
								e.t.Errorf("Revoke(%s): %v", rel, err)
							}
						}
					})
				}
				wg.Wait()
				e.tok = authz.Token{}
				want := []string{"task:t1#owner@user:alice"}
				for i, id := range seq("u", workers) {
					if i%2 == 0 {
						want = append(want, "task:t1#viewer@user:"+id)
					}
				}
				e.wantRead("task:t1", want...)
			},
		},
	}
}
