package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fgac-go/fgac/authz"
)

var (
	carol  = authz.Subject{Type: "user", ID: "carol-principal"}
	agent2 = authz.Resource{Type: "agent", ID: "a2"}
)

// claimedEnv is an env whose row t1, owned by alice in the store, was
// written while the gate was off and so has no registration.
type claimedEnv struct {
	*env
	gateOn atomic.Bool
}

func newClaimedEnv(t *testing.T, storeParent *authz.Resource) *claimedEnv {
	t.Helper()
	e := &claimedEnv{env: newEnv(t)}
	e.w.Gate = func(context.Context, authz.Resource) bool { return e.gateOn.Load() }
	req := authz.RegisterRequest{Resource: task("t1"), Owner: alice, Parent: storeParent}
	if _, err := e.w.Create(t.Context(), CreateRequest{Register: req, Persist: e.store.persist(req, noFault, nil)}); err != nil {
		t.Fatal(err)
	}
	if e.registered(t, task("t1")) {
		t.Fatal("a create with the gate off registered")
	}
	e.gateOn.Store(true)
	// bob owns agent a2, so that a parent a2 lets him read its tasks.
	if _, err := e.eng.Register(t.Context(), authz.RegisterRequest{Resource: agent2, Owner: bob}); err != nil {
		t.Fatal(err)
	}
	e.rec.forget(task("t1"))
	return e
}

// relationships returns the relationships of res.
func (e *env) relationships(t *testing.T, res authz.Resource) []authz.Relationship {
	t.Helper()
	rels, err := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: res, Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("ReadRelationships(%s): %v", res, err)
	}
	return rels
}

func rel(res authz.Resource, relation string, sub authz.Subject) authz.Relationship {
	return authz.Relationship{Resource: res, Relation: relation, Subject: sub}
}

func sortRels() cmp.Option {
	return cmpopts.SortSlices(func(a, b authz.Relationship) bool { return a.String() < b.String() })
}

// TestVerifyOwnershipRestoresTheStoresOwner plays the gap of Register's
// create semantics: a row without a registration picks up another user's
// (or a foreign parent), which a reconciler without VerifyOwnership takes
// for a registered row, and which VerifyOwnership replaces with the
// store's owner and parent, keeping grants.
func TestVerifyOwnershipRestoresTheStoresOwner(t *testing.T) {
	t.Parallel()
	t1 := task("t1")
	tests := []struct {
		name        string
		storeParent *authz.Resource
		// claim makes the graph's owner or parent of t1 another than the
		// store's.
		claim func(t *testing.T, e *claimedEnv)
		// bobReads is whether bob can read t1 once it is claimed.
		bobReads bool
	}{
		{
			name:        "duplicate create by another user whose compensation fails",
			storeParent: &agent,
			claim: func(t *testing.T, e *claimedEnv) {
				e.back.inject("deregister", t1, failBefore)
				req := registration("t1", bob)
				_, err := e.w.Create(t.Context(), CreateRequest{Register: req, Persist: e.store.persist(req, noFault, nil)})
				if !errors.Is(err, errDuplicate) {
					t.Fatalf("duplicate Create = %v, want a match for %v", err, errDuplicate)
				}
				if diff := cmp.Diff([]Kind{Registered, CompensationFailed}, e.rec.kinds(t1)); diff != "" {
					t.Errorf("duplicate create's events mismatch (-want +got):\n%s", diff)
				}
			},
			bobReads: true,
		},
		{
			name:        "duplicate create by another user whose read-back fails",
			storeParent: &agent,
			claim: func(t *testing.T, e *claimedEnv) {
				req := registration("t1", bob)
				_, err := e.w.Create(t.Context(), CreateRequest{Register: req, Persist: e.store.persist(req, noFault, nil), Exists: e.store.exists(req, true)})
				if !errors.Is(err, errDuplicate) {
					t.Fatalf("duplicate Create = %v, want a match for %v", err, errDuplicate)
				}
				if diff := cmp.Diff([]Kind{Registered, ReadBackFailed}, e.rec.kinds(t1)); diff != "" {
					t.Errorf("duplicate create's events mismatch (-want +got):\n%s", diff)
				}
			},
			bobReads: true,
		},
		{
			name:        "another user's create crashes between register and persist",
			storeParent: &agent,
			claim: func(t *testing.T, e *claimedEnv) {
				if _, err := e.back.Register(t.Context(), registration("t1", bob)); err != nil {
					t.Fatal(err)
				}
			},
			bobReads: true,
		},
		{
			name: "foreign registration with a parent where the store has none",
			claim: func(t *testing.T, e *claimedEnv) {
				if _, err := e.back.Register(t.Context(), authz.RegisterRequest{Resource: t1, Owner: bob, Parent: &agent2}); err != nil {
					t.Fatal(err)
				}
			},
			bobReads: true,
		},
		{
			name:        "same owner, another parent",
			storeParent: &agent,
			claim: func(t *testing.T, e *claimedEnv) {
				if _, err := e.back.Register(t.Context(), authz.RegisterRequest{Resource: t1, Owner: alice, Parent: &agent2}); err != nil {
					t.Fatal(err)
				}
			},
			bobReads: true, // through agent a2, which he owns
		},
		{
			name:        "a grant but no owner",
			storeParent: &agent,
			claim:       func(*testing.T, *claimedEnv) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newClaimedEnv(t, tt.storeParent)
			tt.claim(t, e)
			// A grant written meanwhile is not the reconciler's to judge.
			if _, err := e.eng.Grant(t.Context(), authz.GrantRequest{Relationship: rel(t1, "viewer", carol)}); err != nil {
				t.Fatal(err)
			}
			e.rec.forget(t1)
			claimed := e.relationships(t, t1)

			// Without VerifyOwnership the row looks registered: nothing is
			// reported and the wrong owner keeps it.
			r := e.store.reconciler(e.back, e.hooks())
			rep, err := r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 1, Rows: 1}, rep); diff != "" {
				t.Errorf("report without VerifyOwnership mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(claimed, e.relationships(t, t1), sortRels()); diff != "" {
				t.Errorf("reconciling without VerifyOwnership changed relationships (-want +got):\n%s", diff)
			}
			if got := e.readable(t, "t1", bob); got != tt.bobReads {
				t.Errorf("without VerifyOwnership, readable by bob = %v, want %v", got, tt.bobReads)
			}

			// With it, the store's owner and parent replace the graph's.
			r.VerifyOwnership = true
			rep, err = r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1, OwnershipRepaired: 1}, rep); diff != "" {
				t.Errorf("report with VerifyOwnership mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]Kind{OwnershipMismatch, OwnershipRepaired}, e.rec.kinds(t1)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			want := append(authz.RegisterRequest{Resource: t1, Owner: alice, Parent: tt.storeParent}.Relationships(), rel(t1, "viewer", carol))
			if diff := cmp.Diff(want, e.relationships(t, t1), sortRels()); diff != "" {
				t.Errorf("relationships after the repair mismatch (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				sub  authz.Subject
				want bool
			}{{alice, true}, {bob, false}, {carol, true}} {
				if got := e.readable(t, "t1", c.sub); got != c.want {
					t.Errorf("after the repair, readable by %s = %v, want %v", c.sub.ID, got, c.want)
				}
			}
			if got := e.back.statsOf("write", t1).calls; got != 1 {
				t.Errorf("repair made %d writes, want 1", got)
			}

			// A second pass finds nothing and writes nothing.
			rep, err = r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 1, Rows: 1}, rep); diff != "" {
				t.Errorf("second pass mismatch (-want +got):\n%s", diff)
			}
			if got := e.back.statsOf("write", t1).calls; got != 1 {
				t.Errorf("second pass wrote: %d writes in all, want 1", got)
			}
			wantCounts := map[Kind]int64{OwnershipMismatch: 1, OwnershipRepaired: 1}
			got := e.count.Counts()
			if diff := cmp.Diff(wantCounts, map[Kind]int64{OwnershipMismatch: got[OwnershipMismatch], OwnershipRepaired: got[OwnershipRepaired]}); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			e.rec.mu.Lock()
			defer e.rec.mu.Unlock()
			for _, ev := range e.rec.events {
				s := fmt.Sprintf("%+v %v", ev, ev.Err)
				for _, p := range []authz.Subject{alice, bob, carol} {
					if strings.Contains(s, p.ID) {
						t.Errorf("event names a principal: %s", s)
					}
				}
			}
		})
	}
}

// TestVerifyOwnershipLeavesOrFailsRepairs covers the passes that find a
// mismatch but do not repair it: a dry run, a gate that is off, and
// failures, after which a plain pass repairs.
func TestVerifyOwnershipLeavesOrFailsRepairs(t *testing.T) {
	t.Parallel()
	t1 := task("t1")
	errRegistration := errors.New("store: registration failed")
	tests := []struct {
		name      string
		sabotage  func(e *claimedEnv, r *Reconciler)
		wantIs    error
		want      Report
		wantKinds []Kind
	}{
		{
			name:      "dry run",
			sabotage:  func(_ *claimedEnv, r *Reconciler) { r.DryRun = true },
			want:      Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1},
			wantKinds: []Kind{OwnershipMismatch},
		},
		{
			name: "gate off",
			sabotage: func(_ *claimedEnv, r *Reconciler) {
				r.Gate = func(context.Context, authz.Resource) bool { return false }
			},
			want:      Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1, Skipped: 1},
			wantKinds: []Kind{OwnershipMismatch, SkippedByGate},
		},
		{
			name: "repair write unavailable",
			sabotage: func(e *claimedEnv, _ *Reconciler) {
				e.back.inject("write", t1, failBefore)
			},
			wantIs:    authz.ErrUnavailable,
			want:      Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1, Failed: 1},
			wantKinds: []Kind{OwnershipMismatch, RepairFailed},
		},
		{
			name: "registration read fails",
			sabotage: func(_ *claimedEnv, r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) {
					return authz.RegisterRequest{}, false, errRegistration
				}
			},
			wantIs:    errRegistration,
			want:      Report{Registrations: 1, Rows: 1, Failed: 1},
			wantKinds: []Kind{RepairFailed},
		},
		{
			name: "store records a malformed owner",
			sabotage: func(_ *claimedEnv, r *Reconciler) {
				r.Registration = func(context.Context, string) (authz.RegisterRequest, bool, error) {
					return authz.RegisterRequest{Owner: authz.Wildcard("user")}, true, nil
				}
			},
			wantIs:    authz.ErrInvalidRequest,
			want:      Report{Registrations: 1, Rows: 1, Failed: 1},
			wantKinds: []Kind{RepairFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newClaimedEnv(t, &agent)
			if _, err := e.back.Register(t.Context(), registration("t1", bob)); err != nil {
				t.Fatal(err)
			}
			claimed := e.relationships(t, t1)
			r := e.store.reconciler(e.back, e.hooks())
			r.VerifyOwnership = true
			tt.sabotage(e, r)

			rep, err := r.Reconcile(t.Context())

			if !errors.Is(err, tt.wantIs) || (tt.wantIs == nil && err != nil) {
				t.Errorf("Reconcile error = %v, want a match for %v", err, tt.wantIs)
			}
			if err != nil && strings.Contains(err.Error(), bob.ID) {
				t.Errorf("Reconcile error %q names the owner", err)
			}
			if diff := cmp.Diff(tt.want, rep); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(t1)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(claimed, e.relationships(t, t1), sortRels()); diff != "" {
				t.Errorf("relationships changed (-want +got):\n%s", diff)
			}

			r = e.store.reconciler(e.back, nil)
			r.VerifyOwnership = true
			rep, err = r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1, OwnershipRepaired: 1}, rep); diff != "" {
				t.Errorf("next pass mismatch (-want +got):\n%s", diff)
			}
			if !e.readable(t, "t1", alice) || e.readable(t, "t1", bob) {
				t.Error("the next pass did not give the row back to its owner")
			}
		})
	}
}

// TestVerifyOwnershipUndoesRepairOfVanishedRow deletes the row while the
// reconciler repairs it: the relationships it wrote are removed again.
func TestVerifyOwnershipUndoesRepairOfVanishedRow(t *testing.T) {
	t.Parallel()
	e := newClaimedEnv(t, &agent)
	if _, err := e.back.Register(t.Context(), registration("t1", bob)); err != nil {
		t.Fatal(err)
	}
	r := e.store.reconciler(e.back, e.hooks())
	r.VerifyOwnership = true
	reg := r.Registration
	r.Registration = func(ctx context.Context, id string) (authz.RegisterRequest, bool, error) {
		req, found, err := reg(ctx, id)
		if _, err := e.store.delete(noFault, nil)(ctx, id); err != nil {
			t.Error(err)
		}
		return req, found, err
	}
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 1, Rows: 1, OwnershipMismatches: 1, OwnershipRepaired: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if e.registered(t, task("t1")) {
		t.Error("relationships of a vanished row left behind")
	}
}

// TestVerifyOwnershipAppliesDefaultRelationNames checks that a store that
// spells the default relation names out and one that leaves them empty
// provide the same relationships: rows registered by a Writer are in step
// either way.
func TestVerifyOwnershipAppliesDefaultRelationNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		explicit bool
	}{
		{name: "empty names", explicit: false},
		{name: "names spelled out", explicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t, 4, 0, 0)
			noParent := authz.RegisterRequest{Resource: task("p1"), Owner: bob}
			if _, err := e.w.Create(t.Context(), CreateRequest{Register: noParent, Persist: e.store.persist(noParent, noFault, nil)}); err != nil {
				t.Fatal(err)
			}
			r := e.store.reconciler(e.back, e.hooks())
			r.VerifyOwnership = true
			if tt.explicit {
				reg := r.Registration
				r.Registration = func(ctx context.Context, id string) (authz.RegisterRequest, bool, error) {
					req, found, err := reg(ctx, id)
					req.OwnerRelation, req.ParentRelation = authz.DefaultOwnerRelation, authz.DefaultParentRelation
					return req, found, err
				}
			}
			rep, err := r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 5, Rows: 5}, rep); diff != "" {
				t.Errorf("report mismatch (-want +got):\n%s", diff)
			}
			// A parent where the store records none is found under the
			// default parent relation even though the request has no parent.
			if _, err := e.eng.Grant(t.Context(), authz.GrantRequest{Relationship: rel(task("p1"), authz.DefaultParentRelation, authz.Subject{Type: agent2.Type, ID: agent2.ID})}); err != nil {
				t.Fatal(err)
			}
			rep, err = r.Reconcile(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Report{Registrations: 5, Rows: 5, OwnershipMismatches: 1, OwnershipRepaired: 1}, rep); diff != "" {
				t.Errorf("report after adding a parent mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(noParent.Relationships(), e.relationships(t, task("p1")), sortRels()); diff != "" {
				t.Errorf("relationships mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
