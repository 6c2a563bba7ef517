// Command quickstart is the smallest complete use of fgac: it loads a
// SpiceDB schema into the in-memory engine, registers an agent and a task
// the way a service does on create, and shows the answers a user gets:
// allowed, denied as forbidden (403) and collapsed to not-found (404).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/memadapter"
)

const schema = `
definition user {}

definition agent {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
	permission update = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->read
	permission update = owner + parent->update
	permission cancel = owner
}
`

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	engine, err := memadapter.New(schema)
	if err != nil {
		return err
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"agent": {authz.OpRead: "read", authz.OpUpdate: "update"},
		"task":  {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpCancel: "cancel"},
	})
	if err != nil {
		return err
	}
	guard := authz.NewGuard(engine, ops)

	alice := authz.Subject{Type: "user", ID: "alice"}
	bob := authz.Subject{Type: "user", ID: "bob"}
	agent := authz.Resource{Type: "agent", ID: "a1"}
	task := authz.Resource{Type: "task", ID: "t1"}

	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: agent, Owner: alice}); err != nil {
		return err
	}
	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: task, Owner: alice, Parent: &agent}); err != nil {
		return err
	}
	tok, err := engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: task, Relation: "viewer", Subject: bob}})
	if err != nil {
		return err
	}
	fresh := authz.AtLeastAsFresh(tok)

	for _, q := range []authz.Question{
		{Subject: alice, Resource: task, Operation: authz.OpCancel, Consistency: fresh},
		{Subject: bob, Resource: task, Operation: authz.OpRead, Consistency: fresh},
		{Subject: bob, Resource: task, Operation: authz.OpCancel, Consistency: fresh},
		{Subject: bob, Resource: agent, Operation: authz.OpUpdate, Consistency: fresh},
	} {
		err := collapse.CheckOrNotFound(ctx, guard, q)
		fmt.Printf("%-10s %-6s %-8s -> %s\n", q.Subject, q.Operation, q.Resource, answer(err))
	}
	return nil
}

func answer(err error) string {
	switch {
	case err == nil:
		return "200 allowed"
	case errors.Is(err, authz.ErrNotFound):
		return "404 not found"
	case errors.Is(err, authz.ErrDenied):
		return "403 forbidden"
	default:
		return "error: " + err.Error()
	}
}
