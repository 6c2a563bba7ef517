package dualwrite

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// outage is how many failures a permanent outage injects per operation:
// far more than any retry loop would use.
const outage = 20

// down fails every call of op on res.
func (f *faulty) down(res authz.Resource, ops ...string) {
	for _, op := range ops {
		for range outage {
			f.inject(op, res, failBefore)
		}
	}
}

// TestOneEngineCallPerOperation runs every authorization write of a Writer
// and a Reconciler against an engine that is down for good: dualwrite
// makes exactly one engine call per logical operation, because retrying
// is the engine's (spicedbadapter: at most three attempts), and two
// layers of retries multiply.
func TestOneEngineCallPerOperation(t *testing.T) {
	t.Parallel()
	type calls map[string]int
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
		want calls
	}{
		{
			name: "create whose registration fails",
			run: func(t *testing.T, e *env) {
				e.back.down(task("t1"), "register")
				_, err := e.w.Create(t.Context(), CreateRequest{Register: registration("t1", alice), Persist: e.store.persist(registration("t1", alice), noFault, nil)})
				if !errors.Is(err, authz.ErrUnavailable) {
					t.Errorf("Create error = %v, want a match for ErrUnavailable", err)
				}
			},
			want: calls{"register": 1},
		},
		{
			name: "create whose compensation fails",
			run: func(t *testing.T, e *env) {
				e.back.down(task("t1"), "deregister")
				_, err := e.w.Create(t.Context(), CreateRequest{Register: registration("t1", alice), Persist: e.store.persist(registration("t1", alice), failBefore, nil)})
				var ce *CompensationError
				if !errors.As(err, &ce) {
					t.Errorf("Create error = %v, want a *CompensationError", err)
				}
			},
			want: calls{"register": 1, "deregister": 1},
		},
		{
			name: "delete whose deregistration fails",
			run: func(t *testing.T, e *env) {
				e.createTask(t, "t1")
				e.back.reset(task("t1"))
				e.back.down(task("t1"), "deregister")
				if deleted, err := e.w.Delete(t.Context(), DeleteRequest{Resource: task("t1"), Delete: e.store.delete(noFault, nil)}); !deleted || err != nil {
					t.Errorf("Delete = %v, %v; want true, nil", deleted, err)
				}
				if got := e.count.Count(DeregisterFailed); got != 1 {
					t.Errorf("DeregisterFailed events = %d, want 1", got)
				}
			},
			want: calls{"deregister": 1},
		},
		{
			name: "grant that fails",
			run: func(t *testing.T, e *env) {
				e.createTask(t, "t1")
				e.back.reset(task("t1"))
				e.back.down(task("t1"), "grant")
				if _, err := e.w.Grant(t.Context(), GrantRequest{Grant: viewerGrant("t1", bob), Exists: e.store.present("t1")}); !errors.Is(err, authz.ErrUnavailable) {
					t.Errorf("Grant error = %v, want a match for ErrUnavailable", err)
				}
			},
			want: calls{"grant": 1},
		},
		{
			name: "grant on a deleted row whose revocation fails",
			run: func(t *testing.T, e *env) {
				e.createTask(t, "t1")
				e.deleteTask(t, "t1")
				e.back.reset(task("t1"))
				e.back.down(task("t1"), "revoke")
				if _, err := e.w.Grant(t.Context(), GrantRequest{Grant: viewerGrant("t1", bob), Exists: e.store.present("t1")}); !errors.Is(err, authz.ErrNotFound) {
					t.Errorf("Grant error = %v, want a match for ErrNotFound", err)
				}
			},
			want: calls{"grant": 1, "revoke": 1},
		},
		{
			name: "reconciler whose repairs fail",
			run: func(t *testing.T, e *env) {
				if _, err := e.eng.Register(t.Context(), registration("t1", alice)); err != nil { // an orphan
					t.Fatal(err)
				}
				if err := e.store.persist(registration("t2", alice), noFault, nil)(t.Context()); err != nil { // unregistered
					t.Fatal(err)
				}
				e.back.down(task("t1"), "deregister")
				e.back.down(task("t2"), "register")
				r := e.store.reconciler(e.back, e.hooks())
				rep, err := r.Reconcile(t.Context())
				if !errors.Is(err, authz.ErrUnavailable) || rep.Failed != 2 {
					t.Errorf("Reconcile = %+v, %v; want 2 failed repairs and a match for ErrUnavailable", rep, err)
				}
			},
			want: calls{"deregister": 1, "register": 1},
		},
		{
			name: "reconciler whose ownership repair fails",
			run: func(t *testing.T, e *env) {
				if _, err := e.eng.Register(t.Context(), registration("t1", bob)); err != nil {
					t.Fatal(err)
				}
				if err := e.store.persist(registration("t1", alice), noFault, nil)(t.Context()); err != nil {
					t.Fatal(err)
				}
				e.back.down(task("t1"), "write")
				r := e.store.reconciler(e.back, e.hooks())
				r.VerifyOwnership = true
				rep, err := r.Reconcile(t.Context())
				if !errors.Is(err, authz.ErrUnavailable) || rep.Failed != 1 {
					t.Errorf("Reconcile = %+v, %v; want 1 failed repair and a match for ErrUnavailable", rep, err)
				}
			},
			want: calls{"write": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tt.run(t, e)
			got := calls{}
			for _, id := range []string{"t1", "t2"} {
				for _, op := range []string{"register", "deregister", "write", "grant", "revoke"} {
					if n := e.back.statsOf(op, task(id)).calls; n > 0 {
						got[op] += n
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("engine calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
