package dualwrite

import (
	"fmt"
	"testing"
)

// BenchmarkCreateDelete measures the Writer's own overhead around a
// create and a delete, over in-memory fakes.
func BenchmarkCreateDelete(b *testing.B) {
	eng, st := newTestEngine(b), newStore("task")
	w := &Writer{Registrar: eng, Hook: &Counter{}}
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := registration(fmt.Sprintf("b%d", i), alice)
		if _, err := w.Create(ctx, CreateRequest{Register: req, Persist: st.persist(req, noFault, nil), Exists: st.exists(req, false)}); err != nil {
			b.Fatal(err)
		}
		if _, err := w.Delete(ctx, DeleteRequest{Resource: req.Resource, Delete: st.delete(noFault, nil)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconcileInStep measures a pass over 1000 rows that are all in
// step (the steady state), in pages of 100.
func BenchmarkReconcileInStep(b *testing.B) { benchmarkReconcileInStep(b, false) }

// BenchmarkReconcileInStepVerifyingOwnership is BenchmarkReconcileInStep
// with VerifyOwnership: the extra Registration call and comparison per row.
func BenchmarkReconcileInStepVerifyingOwnership(b *testing.B) { benchmarkReconcileInStep(b, true) }

func benchmarkReconcileInStep(b *testing.B, verify bool) {
	eng, st := newTestEngine(b), newStore("task")
	w := &Writer{Registrar: eng}
	for i := range 1000 {
		req := registration(fmt.Sprintf("r%04d", i), alice)
		if _, err := w.Create(b.Context(), CreateRequest{Register: req, Persist: st.persist(req, noFault, nil)}); err != nil {
			b.Fatal(err)
		}
	}
	r := st.reconciler(eng, nil)
	r.PageSize = 100
	r.VerifyOwnership = verify
	b.ReportAllocs()
	for b.Loop() {
		rep, err := r.Reconcile(b.Context())
		if err != nil || rep.Orphans+rep.Unregistered+rep.OwnershipMismatches != 0 {
			b.Fatal(rep, err)
		}
	}
}
