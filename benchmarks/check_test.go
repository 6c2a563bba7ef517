package benchmarks

import (
	"context"
	"fmt"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/fgac-go/fgac/authz"
)

// casbinModel is casbin's documented RBAC-with-domains model
// (examples/rbac_with_domains_model.conf).
const casbinModel = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`

// casbinEnforcer returns the casbin equivalent of checkGraph(n): each agent
// is a domain whose owner has the role "owner" there (one g line per
// agent), and the role may read each task of the domain (one p line per
// task).
func casbinEnforcer(n int) (*casbin.Enforcer, error) {
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		return nil, err
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, err
	}
	var g, p [][]string
	for a := range n / tasksPerAgent {
		g = append(g, []string{ownerID(a), "owner", agentID(a)})
	}
	for i := range n {
		p = append(p, []string{"owner", agentID(i / tasksPerAgent), taskID(i), "read"})
	}
	if _, err := e.AddGroupingPolicies(g); err != nil {
		return nil, err
	}
	if _, err := e.AddPolicies(p); err != nil {
		return nil, err
	}
	return e, nil
}

// checkCase is the question of the check benchmarks on a graph of n tasks:
// the owner of task n/2's agent reads it (allowed), or the owner of another
// agent does (denied).
func checkCase(n int, allowed bool) (owner, agent, task string) {
	i := n / 2
	a := i / tasksPerAgent
	if !allowed {
		a = (a + 1) % (n / tasksPerAgent)
	}
	return ownerID(a), agentID(i / tasksPerAgent), taskID(i)
}

// BenchmarkCheck compares one check on memadapter with casbin Enforce on
// the equivalent RBAC-with-domains policy, at 1,000 and 10,000 tasks (one
// policy line per task, plus one per agent), and memadapter alone at
// 100,000 tasks, where casbin would take tens of milliseconds. The
// allowed case is the middle task; the denied case, where casbin scans
// every policy line, asks as another agent's owner.
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		engine, err := memEngine(checkGraph(n))
		if err != nil {
			b.Fatal(err)
		}
		var enforcer *casbin.Enforcer
		if n <= 10_000 {
			if enforcer, err = casbinEnforcer(n); err != nil {
				b.Fatal(err)
			}
		}
		for _, allowed := range []bool{true, false} {
			owner, agent, task := checkCase(n, allowed)
			want := "denied"
			if allowed {
				want = "allowed"
			}
			b.Run(fmt.Sprintf("tasks=%d/%s/memadapter", n, want), func(b *testing.B) {
				ctx := context.Background()
				req := authz.CheckRequest{Subject: userSubject(owner), Resource: authz.Resource{Type: "task", ID: task}, Permission: "read"}
				b.ReportAllocs()
				for b.Loop() {
					d, err := engine.Check(ctx, req)
					if err != nil || d.Allowed() != allowed {
						b.Fatalf("Check = %v, %v; want %s", d, err, want)
					}
				}
			})
			if enforcer == nil {
				continue
			}
			b.Run(fmt.Sprintf("tasks=%d/%s/casbin", n, want), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					ok, err := enforcer.Enforce(owner, agent, task, "read")
					if err != nil || ok != allowed {
						b.Fatalf("Enforce = %v, %v; want %s", ok, err, want)
					}
				}
			})
		}
	}
}
