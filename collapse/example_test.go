package collapse_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/memadapter"
)

// The README's quickstart: register a task with its owner and parent, then
// ask what bob may do with it.
func ExampleCheckOrNotFound() {
	ctx := context.Background()
	engine, err := memadapter.New(`
		definition user {}
		definition agent {
			relation owner: user
			permission read = owner
		}
		definition task {
			relation parent: agent
			relation owner: user
			relation viewer: user
			permission read = owner + viewer + parent->read
			permission cancel = owner
		}`)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpCancel: "cancel"},
	})
	if err != nil {
		panic(err)
	}
	guard := authz.NewGuard(engine, ops)

	tok, err := engine.Register(ctx, authz.RegisterRequest{
		Resource: authz.Resource{Type: "task", ID: "t1"},
		Owner:    authz.Subject{Type: "user", ID: "alice"},
		Parent:   &authz.Resource{Type: "agent", ID: "a1"},
	})
	if err != nil {
		panic(err)
	}
	ask := func(who string, op authz.Operation, id string) {
		err := collapse.CheckOrNotFound(ctx, guard, authz.Question{
			Subject:     authz.Subject{Type: "user", ID: who},
			Resource:    authz.Resource{Type: "task", ID: id},
			Operation:   op,
			Consistency: authz.AtLeastAsFresh(tok),
		})
		switch {
		case err == nil:
			fmt.Println(who, op, id, "-> 200")
		case errors.Is(err, authz.ErrNotFound):
			fmt.Println(who, op, id, "-> 404")
		case errors.Is(err, authz.ErrDenied):
			fmt.Println(who, op, id, "-> 403")
		default:
			fmt.Println(who, op, id, "->", err)
		}
	}
	ask("alice", authz.OpCancel, "t1")
	ask("bob", authz.OpCancel, "t1") // unreadable: same answer as missing
	ask("bob", authz.OpCancel, "t2") // missing
	tok, _ = engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"},
	}})
	ask("bob", authz.OpRead, "t1")
	ask("bob", authz.OpCancel, "t1") // readable: a plain 403
	// Output:
	// alice cancel t1 -> 200
	// bob cancel t1 -> 404
	// bob cancel t2 -> 404
	// bob read t1 -> 200
	// bob cancel t1 -> 403
}
