package audit_test

import (
	"context"
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
