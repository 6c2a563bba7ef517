package enforce_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
)

// An Enforcer with Rows: the service's store, not the graph, decides what
// exists. A task whose row was deleted while its relationships linger (a
// deregistration that failed) answers not-found even to its owner, exactly
// like a task that never existed. Messages are authorized as their task.
func ExampleEnforcer() {
	ctx := context.Background()
	engine, err := memadapter.New(`
		definition user {}
		definition task {
			relation owner: user
			permission read = owner
		}`)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read"},
	})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"t1", "t2"} {
		if _, err := engine.Register(ctx, authz.RegisterRequest{
			Resource: authz.Resource{Type: "task", ID: id},
			Owner:    authz.Subject{Type: "user", ID: "alice"},
		}); err != nil {
			panic(err)
		}
	}

	tasks := map[string]bool{"t1": true, "t2": true} // the tasks table
	messages := map[string]string{"m1": "t1"}        // the messages table: id -> task
	delete(tasks, "t2")                              // t2's row is deleted; its relationships are not

	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		task, ok := messages[id]
		if !ok {
			return "", authz.ErrNotFound
		}
		return task, nil
	}))
	enforcer := &enforce.Enforcer{
		Guard:   authz.NewGuard(engine, ops),
		Parents: parents,
		Rows: enforce.RowsFunc(func(_ context.Context, r authz.Resource) (bool, error) {
			return r.Type == "task" && tasks[r.ID], nil // SELECT EXISTS (...)
		}),
	}

	for _, r := range []authz.Resource{
		{Type: "task", ID: "t1"},
		{Type: "message", ID: "m1"},
		{Type: "task", ID: "t2"}, // row deleted, relationships linger
		{Type: "task", ID: "t3"}, // never existed
		{Type: "message", ID: "m2"},
	} {
		checked, err := enforcer.Authorize(ctx, enforce.Request{
			Subject:   authz.Subject{Type: "user", ID: "alice"},
			Resource:  r,
			Operation: authz.OpRead,
		})
		switch {
		case err == nil:
			fmt.Println(r, "-> allowed, checked", checked)
		case errors.Is(err, authz.ErrNotFound):
			fmt.Println(r, "-> not found")
		default:
			fmt.Println(r, "->", err)
		}
	}
	// Output:
	// task:t1 -> allowed, checked task:t1
	// message:m1 -> allowed, checked task:t1
	// task:t2 -> not found
	// task:t3 -> not found
	// message:m2 -> not found
}

// tenantKey is the context key under which the service's authentication
// puts the caller's tenant.
type tenantKey struct{}

// A rollout per tenant: acme enforces, globex runs in shadow mode (checked
// and recorded, but let through), initech is off. A flag system that
// returns anything else, such as Mode(7) from a corrupt flag, enforces.
func ExampleMode() {
	flags := map[string]enforce.Mode{ // your flag system
		"acme":     enforce.Enforce,
		"globex":   enforce.Shadow,
		"initech":  enforce.Off,
		"umbrella": enforce.Mode(7),
	}
	engine, err := memadapter.New(`
		definition user {}
		definition task {
			relation owner: user
			permission read = owner
		}`)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read"},
	})
	if err != nil {
		panic(err)
	}
	if _, err := engine.Register(context.Background(), authz.RegisterRequest{
		Resource: authz.Resource{Type: "task", ID: "t1"},
		Owner:    authz.Subject{Type: "user", ID: "alice"},
	}); err != nil {
		panic(err)
	}

	enforcer := &enforce.Enforcer{
		Guard: authz.NewGuard(engine, ops),
		Modes: func(ctx context.Context, _ enforce.ModeRequest) enforce.Mode {
			tenant, _ := ctx.Value(tenantKey{}).(string)
			return flags[tenant] // a tenant without a flag gets the zero Mode: Enforce
		},
		Hook: audit.HookFunc(func(_ context.Context, e audit.Event) {
			fmt.Printf("event: mode=%s outcome=%s\n", e.Mode, e.Outcome)
		}),
	}

	fmt.Println(enforce.Mode(7), enforce.Mode(7).Enforced(), enforce.Mode(7).Known())
	for _, tenant := range []string{"acme", "globex", "initech", "umbrella"} {
		ctx := context.WithValue(context.Background(), tenantKey{}, tenant)
		// bob may not read alice's task.
		_, err := enforcer.Authorize(ctx, enforce.Request{
			Subject:   authz.Subject{Type: "user", ID: "bob"},
			Resource:  authz.Resource{Type: "task", ID: "t1"},
			Operation: authz.OpRead,
		})
		mode := flags[tenant]
		fmt.Printf("%s: %s enforced=%t -> not found: %t\n", tenant, mode, mode.Enforced(), errors.Is(err, authz.ErrNotFound))
	}
	// Output:
	// Mode(7) true false
	// event: mode=enforce outcome=not_found
	// acme: enforce enforced=true -> not found: true
	// event: mode=shadow outcome=shadow_denied
	// globex: shadow enforced=false -> not found: false
	// event: mode=off outcome=unchecked
	// initech: off enforced=false -> not found: false
	// event: mode=Mode(7) outcome=not_found
	// umbrella: Mode(7) enforced=true -> not found: true
}
