package enforce_test

import (
	"context"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/testfixture"
)

// BenchmarkEvents measures what decision events cost: the same allowed
// decision with no hook and with a no-op hook, side by side.
func BenchmarkEvents(b *testing.B) {
	r := testfixture.New(b)
	r.RegisterTask(b, "t1", "alice")
	ops := r.Guard.Operations()
	guard := authz.NewGuard(r.Engine, ops)
	req := enforce.Request{Subject: user("alice"), Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead, Route: "GET /tasks/{task_id}"}
	for _, tc := range []struct {
		name string
		hook audit.Hook
	}{
		{"no-hook", nil},
		{"noop-hook", audit.HookFunc(func(context.Context, audit.Event) {})},
	} {
		e := &enforce.Enforcer{Guard: guard, Hook: tc.hook}
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Authorize(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
