package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// readHook is a Backend whose ReadRelationships calls before first.
type readHook struct {
	Backend
	before func()
}

func (h readHook) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	h.before()
	return h.Backend.ReadRelationships(ctx, req)
}

// TestReconcilerTurnsPanicsAndGoexitsIntoErrors sabotages the code the
// reconciler runs on the goroutines that check rows: the store's
// Registration, the engine and the hooks. A panic there must end the pass
// with an error that carries the panic's value and names the row, not
// crash the process (errgroup does not recover: without the reconciler's
// own recovery the first panicking case kills this test binary), and a
// runtime.Goexit must be an error too, not a row silently taken as checked.
func TestReconcilerTurnsPanicsAndGoexitsIntoErrors(t *testing.T) {
	t.Parallel()
	errBoom := errors.New("boom error")
	tests := []struct {
		name     string
		sabotage func(r *Reconciler)
		wantMsg  []string
		wantIs   error
	}{
		{
			name: "registration panics",
			sabotage: func(r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) { panic("registration boom") }
			},
			wantMsg: []string{"callback panicked: registration boom", "check task:u0", "goroutine "},
		},
		{
			name: "registration panics with an error",
			sabotage: func(r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) {
					panic(fmt.Errorf("store: %w", errBoom))
				}
			},
			wantMsg: []string{"callback panicked: store: boom error"},
			wantIs:  errBoom,
		},
		{
			name: "registration panics with nil",
			sabotage: func(r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) { panic(nil) }
			},
			wantMsg: []string{"callback panicked: panic called with nil argument"},
		},
		{
			name: "engine panics",
			sabotage: func(r *Reconciler) {
				r.Backend = readHook{Backend: r.Backend, before: func() { panic("read boom") }}
			},
			wantMsg: []string{"callback panicked: read boom", "check task:"},
		},
		{
			name: "hook panics",
			sabotage: func(r *Reconciler) {
				r.Hook = HookFunc(func(_ context.Context, e Event) {
					if e.Kind == UnregisteredFound {
						panic("hook boom")
					}
				})
			},
			wantMsg: []string{"callback panicked: hook boom", "check task:u0"},
		},
		{
			name: "registration calls Goexit",
			sabotage: func(r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) {
					runtime.Goexit()
					return authz.RegisterRequest{}, false, nil
				}
			},
			wantMsg: []string{"callback called runtime.Goexit", "check task:u0"},
		},
		{
			name: "engine calls Goexit",
			sabotage: func(r *Reconciler) {
				r.Backend = readHook{Backend: r.Backend, before: runtime.Goexit}
			},
			wantMsg: []string{"callback called runtime.Goexit", "check task:"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t, 2, 0, 3)
			r := e.store.reconciler(e.eng, e.hooks())
			tt.sabotage(r)

			rep, err := r.Reconcile(t.Context())

			if err == nil {
				t.Fatalf("Reconcile = %+v, nil; want an error", rep)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Reconcile error %q does not contain %q", err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), "dualwrite: reconcile task: ") {
				t.Errorf("Reconcile error %q is not prefixed with the package and the type", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Reconcile error %v does not match %v", err, tt.wantIs)
			}
			// The sabotage is gone: the next pass repairs everything.
			e.reconcile(t, "r00", "r01", "u00", "u01", "u02")
		})
	}
}
