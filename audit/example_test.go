package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/memadapter"
)

// exampleGuard returns a guard over memadapter in which alice owns task t1.
func exampleGuard() *authz.Guard {
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
	return authz.NewGuard(engine, ops)
}

// Every decision becomes one log record: allowed ones at Info, the others
// at Warn. (The ReplaceAttr here only drops the time and the latency, so
// that the output of the example does not change from run to run.)
func ExampleSlog() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "latency" {
				return slog.Attr{}
			}
			return a
		},
	}))
	enforcer := &enforce.Enforcer{
		Guard: exampleGuard(),
		Hook:  audit.Slog{Logger: logger},
	}
	ctx := context.Background()
	for _, who := range []string{"alice", "bob"} {
		enforcer.Authorize(ctx, enforce.Request{
			Subject:   authz.Subject{Type: "user", ID: who},
			Resource:  authz.Resource{Type: "task", ID: "t1"},
			Operation: authz.OpRead,
			Route:     "GET /tasks/{task_id}",
		})
	}
	// Output:
	// {"level":"INFO","msg":"fgac decision","outcome":"allowed","mode":"enforce","subject":"user:alice","resource":"task:t1","operation":"read","consistency":"minimize_latency","route":"GET /tasks/{task_id}"}
	// {"level":"WARN","msg":"fgac decision","outcome":"not_found","mode":"enforce","subject":"user:bob","resource":"task:t1","operation":"read","consistency":"minimize_latency","route":"GET /tasks/{task_id}"}
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
	enforcer := &enforce.Enforcer{
		Guard: exampleGuard(),
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
