package memadapter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// benchSchema is the schema of the performance targets.
const benchSchema = `
definition user {}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	relation banned: user
	permission read = owner + viewer + parent->read
	permission write = owner + parent->owner
	permission visible = read - banned
}
`

const (
	benchAgents        = 100
	benchTasksPerAgent = 1000
)

// benchGraph is 100,000 tasks under 100 agents: agent a<i> is owned by
// user:agent-owner-<i>, and task t<i>-<j> has parent agent a<i> and owner
// user:task-owner-<i>-<j>. It is built once per test binary.
var benchGraph = sync.OnceValues(func() (*memadapter.Authorizer, error) {
	a, err := memadapter.New(benchSchema)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	for i := range benchAgents {
		agent := authz.Resource{Type: "agent", ID: fmt.Sprintf("a%03d", i)}
		touch := []authz.Relationship{{Resource: agent, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("agent-owner-%03d", i)}}}
		for j := range benchTasksPerAgent {
			task := authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", i, j)}
			touch = append(touch,
				authz.Relationship{Resource: task, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: agent.ID}},
				authz.Relationship{Resource: task, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("task-owner-%03d-%04d", i, j)}},
			)
		}
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: touch}); err != nil {
			return nil, err
		}
	}
	return a, nil
})

func benchAuthorizer(b *testing.B) *memadapter.Authorizer {
	b.Helper()
	a, err := benchGraph()
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func benchCheck(b *testing.B, req authz.CheckRequest) {
	a := benchAuthorizer(b)
	ctx := context.Background()
	d, err := a.Check(ctx, req)
	if err != nil || !d.Allowed() {
		b.Fatalf("Check = %v, %v; want allowed", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := a.Check(ctx, req); !d.Allowed() {
			b.Fatal("denied")
		}
	}
}

// BenchmarkCheckDirect checks a task's owner: target <= 1µs, 0 allocs/op.
func BenchmarkCheckDirect(b *testing.B) {
	benchCheck(b, authz.CheckRequest{
		Subject:    authz.Subject{Type: "user", ID: "task-owner-042-0421"},
		Resource:   authz.Resource{Type: "task", ID: "t042-0421"},
		Permission: "read",
	})
}

// BenchmarkCheckArrow checks a task through its parent agent's owner:
// target <= 2µs, 0 allocs/op.
func BenchmarkCheckArrow(b *testing.B) {
	benchCheck(b, authz.CheckRequest{
		Subject:    authz.Subject{Type: "user", ID: "agent-owner-042"},
		Resource:   authz.Resource{Type: "task", ID: "t042-0421"},
		Permission: "read",
	})
}

// BenchmarkCheckDenied checks a user with no path to the task.
func BenchmarkCheckDenied(b *testing.B) {
	a := benchAuthorizer(b)
	ctx := context.Background()
	req := authz.CheckRequest{
		Subject:    authz.Subject{Type: "user", ID: "agent-owner-043"},
		Resource:   authz.Resource{Type: "task", ID: "t042-0421"},
		Permission: "read",
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := a.Check(ctx, req); d.Allowed() {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkLookup lists the 1,000 tasks of the agent a user owns, out of
// 100,000: target <= 2ms. read's candidates are its answer.
func BenchmarkLookup(b *testing.B) {
	benchLookup(b, "read")
}

// BenchmarkLookupChecked is BenchmarkLookup for a permission with an
// exclusion, whose 1,000 candidates are each checked.
func BenchmarkLookupChecked(b *testing.B) {
	benchLookup(b, "visible")
}

func benchLookup(b *testing.B, perm string) {
	a := benchAuthorizer(b)
	ctx := context.Background()
	req := authz.LookupRequest{
		Subject:      authz.Subject{Type: "user", ID: "agent-owner-042"},
		ResourceType: "task",
		Permission:   perm,
	}
	res, err := a.Lookup(ctx, req)
	if err != nil || len(res.IDs()) != benchTasksPerAgent {
		b.Fatalf("Lookup = %d ids, %v; want %d", len(res.IDs()), err, benchTasksPerAgent)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Lookup(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
