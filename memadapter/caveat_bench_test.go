package memadapter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// conditionSchema is benchSchema's task with caveated and expiring owners.
const conditionBenchSchema = `
use expiration

caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation parent: agent
	relation owner: user | user with expiration | user with on_network
	permission read = owner + parent->read
}
`

// conditionGraphs are three graphs of 100,000 tasks under 100 agents, as
// benchGraph: "plain", where every owner relationship is plain;
// "expiring", where every other task's owner relationship expires (half of
// those in the past, half in the future); and "caveated", where every
// owner relationship is caveated with on_network and a stored cidr.
var conditionGraphs = sync.OnceValues(func() (map[string]*memadapter.Authorizer, error) {
	graphs := map[string]*memadapter.Authorizer{}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	network := authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})
	var first *memadapter.Authorizer
	for _, kind := range []string{"plain", "expiring", "caveated"} {
		a, err := memadapter.New(conditionBenchSchema)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = a
		}
		memadapter.SameSeed(first, a) // the same id layouts on all three
		// One write: writes remove up to 256 expired relationships each
		// (see collectExpired), so that writing the graph in many would
		// leave few of the expired ones it must hold.
		var touch []authz.Relationship
		for i := range benchAgents {
			agent := authz.Resource{Type: "agent", ID: fmt.Sprintf("a%03d", i)}
			touch = append(touch, authz.Relationship{Resource: agent, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("agent-owner-%03d", i)}})
			for j := range benchTasksPerAgent {
				task := authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", i, j)}
				owner := authz.Relationship{Resource: task, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-%03d-%04d", i, j)}}
				switch {
				case kind == "expiring" && j%4 == 1:
					owner.Expiration = future
				case kind == "expiring" && j%4 == 3:
					owner.Expiration = past
				case kind == "caveated":
					owner.Caveat = authz.Caveat{Name: "on_network", Context: network}
				}
				touch = append(touch, authz.Relationship{Resource: task, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: agent.ID}}, owner)
			}
		}
		if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: touch}); err != nil {
			return nil, err
		}
		graphs[kind] = a
	}
	return graphs, nil
})

// BenchmarkConditions compares, side by side, a direct check of a task's
// owner on the three graphs of conditionGraphs: plain (target <= 1µs, 0
// allocs), on the graph where half of the relationships expire (the
// expiry filter: target <= 10% more than plain) for an owner whose
// relationship expires in the future (allowed: one clock reading), and
// caveated with the request's ip in the stored network (target <= 3µs);
// a denied check of a task whose owner relationship expired (the floor
// decides it, no clock reading) against the same denied check of a
// stranger on the plain graph (both walk on to the agent); and the arrow
// check through the agent on the plain and expiring graphs.
func BenchmarkConditions(b *testing.B) {
	graphs, err := conditionGraphs()
	if err != nil {
		b.Fatal(err)
	}
	ip := authz.NewContext(map[string]any{"ip": "10.1.2.3"})
	for _, tt := range []struct {
		name, graph, subject, task string
		ctx                        authz.Context
		allowed                    bool
	}{
		{"direct/plain", "plain", "task-owner-042-0421", "t042-0421", authz.Context{}, true},
		{"direct/half-expiring", "expiring", "task-owner-042-0421", "t042-0421", authz.Context{}, true},
		{"direct/caveated", "caveated", "task-owner-042-0421", "t042-0421", ip, true},
		{"denied/plain", "plain", "task-owner-042-0424", "t042-0423", authz.Context{}, false},
		{"denied/half-expiring", "expiring", "task-owner-042-0423", "t042-0423", authz.Context{}, false},
		{"arrow/plain", "plain", "agent-owner-042", "t042-0421", authz.Context{}, true},
		{"arrow/half-expiring", "expiring", "agent-owner-042", "t042-0421", authz.Context{}, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			a := graphs[tt.graph]
			ctx := context.Background()
			req := authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: tt.subject}, Resource: authz.Resource{Type: "task", ID: tt.task}, Permission: "read", Context: tt.ctx}
			if d, err := a.Check(ctx, req); err != nil || d.Allowed() != tt.allowed {
				b.Fatalf("Check = %v, %v; want allowed %v", d, err, tt.allowed)
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := a.Check(ctx, req); d.Allowed() != tt.allowed {
					b.Fatal("decision changed")
				}
			}
		})
	}
	// Owner checks spread over the whole graph: 4,096 tasks drawn at
	// random (the same on both graphs), each asked about its owner, so that
	// half the relationships met expire (a quarter in the past, a quarter
	// in the future), as on the graph; on the plain graph a task whose
	// owner relationship has expired on the other asks an existing user
	// that is not its owner, so that the answers are the same. This is the
	// filter's cost on a graph where half the relationships expire, its
	// checks landing where a service's would rather than on one hot key.
	rng := rand.New(rand.NewPCG(14, 13))
	var spread [4096]struct{ i, j int }
	for k := range spread {
		spread[k].i, spread[k].j = rng.IntN(benchAgents), rng.IntN(benchTasksPerAgent)
	}
	for _, graph := range []string{"plain", "expiring"} {
		b.Run("graph/"+map[string]string{"plain": "plain", "expiring": "half-expiring"}[graph], func(b *testing.B) {
			a := graphs[graph]
			ctx := context.Background()
			reqs := make([]authz.CheckRequest, len(spread))
			want := make([]bool, len(spread))
			for k, at := range spread {
				reqs[k] = authz.CheckRequest{
					Subject:    authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-%03d-%04d", at.i, at.j)},
					Resource:   authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", at.i, at.j)},
					Permission: "read",
				}
				want[k] = at.j%4 != 3
				if graph == "plain" && at.j%4 == 3 {
					reqs[k].Subject.ID = fmt.Sprintf("task-owner-%03d-%04d", at.i, (at.j+1)%benchTasksPerAgent)
				}
			}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				if d, err := a.Check(ctx, reqs[k]); err != nil || d.Allowed() != want[k] {
					b.Fatalf("Check(%s) = %v, %v; want allowed %v", reqs[k].Resource.ID, d, err, want[k])
				}
				k = (k + 1) % len(reqs)
			}
		})
	}
	// Four owner checks on the plain and half-expiring graphs, with the
	// same answers: tasks t042-0420..0423, whose owner relationships on
	// the expiring graph are plain, future-expiring, plain and expired; on
	// the plain graph the fourth asks a stranger, as the expired owner is
	// one to every read. This is the expiry filter's cost on a graph where
	// half the relationships expire, over its questions rather than one.
	for _, graph := range []string{"plain", "expiring"} {
		b.Run("mixed/"+map[string]string{"plain": "plain", "expiring": "half-expiring"}[graph], func(b *testing.B) {
			a := graphs[graph]
			ctx := context.Background()
			var reqs [4]authz.CheckRequest
			for j := range reqs {
				reqs[j] = authz.CheckRequest{
					Subject:    authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-042-%04d", 420+j)},
					Resource:   authz.Resource{Type: "task", ID: fmt.Sprintf("t042-%04d", 420+j)},
					Permission: "read",
				}
			}
			if graph == "plain" {
				reqs[3].Subject.ID = "task-owner-042-0424"
			}
			want := [4]bool{true, true, true, false}
			b.ReportAllocs()
			for b.Loop() {
				for j := range reqs {
					if d, err := a.Check(ctx, reqs[j]); err != nil || d.Allowed() != want[j] {
						b.Fatalf("Check(%s) = %v, %v; want allowed %v", reqs[j].Resource.ID, d, err, want[j])
					}
				}
			}
		})
	}
}

// BenchmarkExpiryFilterPaired measures the expiry filter's cost as one
// ratio from one run, so that a shared machine's noise falls on both sides
// alike. Each iteration times a block of owner checks on the plain graph
// and the same block on the half-expiring graph, in alternating order
// (plain first on even iterations, expiring first on odd); the benchmark
// reports the nanoseconds per check of each and overhead-% =
// 100 * (expiring/plain - 1). The graph block is BenchmarkConditions'
// graph rows (the owners of 4,096 random tasks: the filter's cost on a
// graph where half the relationships expire); the mixed block is its mixed
// rows (four hot tasks, plain, future-expiring, plain and expired, repeated
// to 4,096 checks: the same questions with the graph's cache misses gone,
// so the filter's own work weighs more). On the plain graph a task whose
// owner relationship expired on the other asks an existing user who is not
// its owner, for the same answer.
func BenchmarkExpiryFilterPaired(b *testing.B) {
	graphs, err := conditionGraphs()
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 13))
	for _, block := range []string{"graph", "mixed"} {
		b.Run(block, func(b *testing.B) {
			type side struct {
				a    *memadapter.Authorizer
				reqs []authz.CheckRequest
				want []bool
				took time.Duration
			}
			sides := [2]*side{{a: graphs["plain"]}, {a: graphs["expiring"]}}
			for k := range 4096 {
				i, j := 42, 420+k%4
				if block == "graph" {
					i, j = rng.IntN(benchAgents), rng.IntN(benchTasksPerAgent)
				}
				for s, sd := range sides {
					req := authz.CheckRequest{
						Subject:    authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-%03d-%04d", i, j)},
						Resource:   authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", i, j)},
						Permission: "read",
					}
					if s == 0 && j%4 == 3 {
						req.Subject.ID = fmt.Sprintf("task-owner-%03d-%04d", i, (j+1)%benchTasksPerAgent)
					}
					sd.reqs, sd.want = append(sd.reqs, req), append(sd.want, j%4 != 3)
				}
			}
			ctx := context.Background()
			run := func(sd *side) {
				start := time.Now()
				for k := range sd.reqs {
					if d, err := sd.a.Check(ctx, sd.reqs[k]); err != nil || d.Allowed() != sd.want[k] {
						b.Fatalf("Check(%s) = %v, %v; want allowed %v", sd.reqs[k].Resource.ID, d, err, sd.want[k])
					}
				}
				sd.took += time.Since(start)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				first := n % 2
				run(sides[first])
				run(sides[1-first])
				n++
			}
			checks := float64(n * len(sides[0].reqs))
			plain, expiring := float64(sides[0].took)/checks, float64(sides[1].took)/checks
			b.ReportMetric(plain, "plain-ns/check")
			b.ReportMetric(expiring, "expiring-ns/check")
			b.ReportMetric(100*(expiring/plain-1), "overhead-%")
		})
	}
}
