package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// seed fills e with rows and registrations: ids r* have both, o* are
// registrations without rows, u* are rows without registrations.
func (e *env) seed(t *testing.T, rows, orphans, unregistered int) {
	t.Helper()
	for i := range rows {
		id := fmt.Sprintf("r%02d", i)
		if _, err := e.w.Create(t.Context(), CreateRequest{Register: registration(id, alice), Persist: e.store.persist(registration(id, alice), noFault, nil)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range orphans {
		if _, err := e.eng.Register(t.Context(), registration(fmt.Sprintf("o%02d", i), alice)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range unregistered {
		id := fmt.Sprintf("u%02d", i)
		if err := e.store.persist(registration(id, bob), noFault, nil)(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	e.rec.mu.Lock()
	e.rec.events = nil
	e.rec.mu.Unlock()
}

// batches records the largest batch a store func was given or returned.
type batches struct {
	mu  sync.Mutex // guards max
	max map[string]int
}

func (b *batches) note(what string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max == nil {
		b.max = map[string]int{}
	}
	b.max[what] = max(b.max[what], n)
}

func TestReconcilerRepairsInBoundedPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 7, 5, 4)
	var b batches
	r := e.store.reconciler(e.eng, e.hooks())
	rows, exists := r.Rows, r.Exists
	r.Rows = func(ctx context.Context, cursor string, limit int) ([]string, string, error) {
		ids, next, err := rows(ctx, cursor, limit)
		b.note("rows", len(ids))
		return ids, next, err
	}
	r.Exists = func(ctx context.Context, ids []string) ([]string, error) {
		b.note("exists", len(ids))
		return exists(ctx, ids)
	}

	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Report{Registrations: 12, Rows: 11, Orphans: 5, OrphansRemoved: 5, Unregistered: 4, Reregistered: 4}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"rows": 3, "exists": 3}, b.max); diff != "" {
		t.Errorf("largest batches mismatch (-want +got):\n%s", diff)
	}
	wantCounts := map[Kind]int64{Registered: 7, OrphanFound: 5, OrphanRemoved: 5, UnregisteredFound: 4, Reregistered: 4}
	if diff := cmp.Diff(wantCounts, e.count.Counts()); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	for i := range 4 {
		if id := fmt.Sprintf("u%02d", i); !e.readable(t, id, bob) {
			t.Errorf("re-registered row %s not readable by the owner the store records", id)
		}
	}
	again, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 11, Rows: 11}, again); diff != "" {
		t.Errorf("second pass mismatch (-want +got):\n%s", diff)
	}
}

func TestReconcilerDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 2, 2, 2)
	r := e.store.reconciler(e.back, e.hooks())
	r.DryRun = true
	for range 2 {
		rep, err := r.Reconcile(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Report{Registrations: 4, Rows: 4, Orphans: 2, Unregistered: 2}, rep); diff != "" {
			t.Errorf("report mismatch (-want +got):\n%s", diff)
		}
	}
	for _, op := range []string{"register", "deregister"} {
		for _, id := range []string{"o00", "o01", "u00", "u01"} {
			if st := e.back.statsOf(op, task(id)); st.calls != 0 {
				t.Errorf("dry run called %s on %s", op, id)
			}
		}
	}
}

// TestReconcilerReportsFailedRepairs fails one orphan's removal: the pass
// goes on, returns an error matching the cause, and a later pass succeeds.
func TestReconcilerReportsFailedRepairs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 1, 3, 1)
	e.back.inject("deregister", task("o01"), failBefore)
	r := e.store.reconciler(e.back, e.hooks())
	rep, err := r.Reconcile(t.Context())
	if !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("Reconcile error = %v, want a match for ErrUnavailable", err)
	}
	want := Report{Registrations: 4, Rows: 2, Orphans: 3, OrphansRemoved: 2, Unregistered: 1, Reregistered: 1, Failed: 1}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Kind{OrphanFound, RepairFailed}, e.rec.kinds(task("o01"))); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
	if e.readable(t, "o01", alice) {
		t.Error("orphan readable")
	}
	e.reconcile(t, "o00", "o01", "o02", "r00", "u00")
}

// TestReconcilerRestoresCreateInFlight plays a create whose row commits
// while the reconciler removes its registration as an orphan.
func TestReconcilerRestoresCreateInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "f1"
	if _, err := e.back.Register(t.Context(), registration(id, alice)); err != nil {
		t.Fatal(err)
	}
	r := e.store.reconciler(e.back, e.hooks())
	// The row commits right after the orphan is deregistered.
	r.Backend = deregisterHook{Backend: e.back, after: func() {
		if err := e.store.persist(registration(id, alice), noFault, nil)(t.Context()); err != nil {
			t.Error(err)
		}
	}}
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 1, Rows: 1, Orphans: 1, OrphansRemoved: 1, Reregistered: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if !e.readable(t, id, alice) {
		t.Error("the create that committed during reconciliation lost its registration")
	}
}

// deregisterHook calls after after every Deregister.
type deregisterHook struct {
	Backend
	after func()
}

func (d deregisterHook) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	tok, err := d.Backend.Deregister(ctx, req)
	d.after()
	return tok, err
}

// TestReconcilerUndoesRegistrationOfVanishedRow plays a delete that removes
// the row while the reconciler registers it.
func TestReconcilerUndoesRegistrationOfVanishedRow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 0, 0, 1)
	r := e.store.reconciler(e.back, e.hooks())
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
	if diff := cmp.Diff(Report{Rows: 1, Unregistered: 1, Reregistered: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if e.registered(t, task("u00")) {
		t.Error("registration of a vanished row left behind")
	}
}

// TestReconcilerYieldsToConcurrentRegistration lets someone else register a
// row between the reconciler's read and its write: Register's conflict is
// not a failure and nothing is overwritten.
func TestReconcilerYieldsToConcurrentRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(t, 0, 0, 1)
	r := e.store.reconciler(e.back, e.hooks())
	reg := r.Registration
	r.Registration = func(ctx context.Context, id string) (authz.RegisterRequest, bool, error) {
		if _, err := e.eng.Register(ctx, registration(id, alice)); err != nil {
			t.Error(err)
		}
		return reg(ctx, id)
	}
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Rows: 1, Unregistered: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if !e.readable(t, "u00", alice) {
		t.Error("the concurrent registration was overwritten")
	}
}

func TestReconcilerRemovesGrantOnlyOrphans(t *testing.T) {
	t.Parallel()
	f := newTestEngine(t)
	if _, err := f.Grant(t.Context(), authz.GrantRequest{Relationship: authz.Relationship{Resource: task("g1"), Relation: "viewer", Subject: bob}}); err != nil {
		t.Fatal(err)
	}
	s := newStore("task")
	rep, err := s.reconciler(f, nil).Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 1, Orphans: 1, OrphansRemoved: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
}

func TestReconcilerStopsOnPageErrors(t *testing.T) {
	t.Parallel()
	errPage := errors.New("page failed")
	tests := []struct {
		name     string
		sabotage func(r *Reconciler)
	}{
		{name: "enumerate", sabotage: func(r *Reconciler) { r.Backend = failingInspector{Backend: r.Backend, enumerate: errPage} }},
		{name: "read relationships", sabotage: func(r *Reconciler) { r.Backend = failingInspector{Backend: r.Backend, read: errPage} }},
		{name: "rows", sabotage: func(r *Reconciler) {
			r.Rows = func(context.Context, string, int) ([]string, string, error) { return nil, "", errPage }
		}},
		{name: "exists", sabotage: func(r *Reconciler) {
			r.Exists = func(context.Context, []string) ([]string, error) { return nil, errPage }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t, 2, 1, 1)
			r := e.store.reconciler(e.back, nil)
			tt.sabotage(r)
			if _, err := r.Reconcile(t.Context()); !errors.Is(err, errPage) {
				t.Errorf("Reconcile error = %v, want a match for %v", err, errPage)
			}
		})
	}
}

type failingInspector struct {
	Backend
	enumerate, read error
}

func (f failingInspector) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	if f.enumerate != nil {
		return authz.EnumerateResult{}, f.enumerate
	}
	return f.Backend.Enumerate(ctx, req)
}

func (f failingInspector) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	if f.read != nil {
		return nil, f.read
	}
	return f.Backend.ReadRelationships(ctx, req)
}

func TestReconcilerRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	s := newStore("task")
	tests := []struct {
		name string
		r    *Reconciler
	}{
		{name: "zero", r: &Reconciler{}},
		{name: "no exists", r: &Reconciler{Backend: newTestEngine(t), ResourceType: "task", Rows: s.page}},
		{name: "bad type", r: &Reconciler{Backend: newTestEngine(t), ResourceType: "Task", Rows: s.page, Exists: s.existing}},
		{name: "verify ownership without registration", r: &Reconciler{Backend: newTestEngine(t), ResourceType: "task", Rows: s.page, Exists: s.existing, VerifyOwnership: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.r.Reconcile(t.Context()); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Reconcile error = %v, want a match for ErrInvalidRequest", err)
			}
		})
	}
}

func TestReconcilerReportsMalformedRowIDs(t *testing.T) {
	t.Parallel()
	s := newStore("task")
	s.rows["bad id"] = row{owner: alice}
	rep, err := s.reconciler(newTestEngine(t), nil).Reconcile(t.Context())
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Reconcile error = %v, want a match for ErrInvalidRequest", err)
	}
	if diff := cmp.Diff(Report{Rows: 1, Failed: 1}, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
}

// TestReconcilerStopsOnPagesThatNeverEnd gives the reconciler pagination
// that goes round, in the store and in the engine: the pass ends with an
// error matching authz.ErrInternal after a few pages instead of reading
// the same pages until its context ends.
func TestReconcilerStopsOnPagesThatNeverEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		sabotage func(r *Reconciler, calls *int)
		maxCalls int
	}{
		{
			name: "rows returns the cursor it was given",
			sabotage: func(r *Reconciler, calls *int) {
				r.Rows = func(context.Context, string, int) ([]string, string, error) {
					*calls++
					return []string{"r00"}, "stuck", nil
				}
			},
			maxCalls: 2,
		},
		{
			name: "rows goes round two cursors",
			sabotage: func(r *Reconciler, calls *int) {
				next := map[string]string{"": "a", "a": "b", "b": "a"}
				r.Rows = func(_ context.Context, cursor string, _ int) ([]string, string, error) {
					*calls++
					return []string{"r00"}, next[cursor], nil
				}
			},
			maxCalls: 6,
		},
		{
			name: "enumerate returns the cursor it was given",
			sabotage: func(r *Reconciler, calls *int) {
				r.Backend = stuckEnumerator{Backend: r.Backend, calls: calls}
			},
			maxCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t, 2, 1, 1)
			r := e.store.reconciler(e.back, nil)
			calls := 0
			tt.sabotage(r, &calls)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			rep, err := r.Reconcile(ctx)

			if !errors.Is(err, authz.ErrInternal) {
				t.Errorf("Reconcile error = %v, want a match for ErrInternal", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Reconcile ran until its context ended: %v", err)
			}
			if calls > tt.maxCalls {
				t.Errorf("%d page calls, want at most %d", calls, tt.maxCalls)
			}
			if rep.Rows > tt.maxCalls || rep.Registrations > 3*tt.maxCalls {
				t.Errorf("report counts pages read again: %+v", rep)
			}
		})
	}
}

// stuckEnumerator answers every Enumerate with the first page and a
// cursor that never moves.
type stuckEnumerator struct {
	Backend
	calls *int
}

func (s stuckEnumerator) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	*s.calls++
	req.Cursor = ""
	page, err := s.Backend.Enumerate(ctx, req)
	if err != nil {
		return authz.EnumerateResult{}, err
	}
	return authz.EnumerateResult{IDs: page.IDs, Cursor: "stuck"}, nil
}

// TestReconcilerRejectsExistsAnswersItWasNotAskedAbout gives the
// reconciler an Exists whose answer names ids it was not asked about: the
// pass ends with an error matching authz.ErrInternal and deregisters
// nothing, rather than taking the rows it left out for gone.
func TestReconcilerRejectsExistsAnswersItWasNotAskedAbout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		exists func(s *store) func(context.Context, []string) ([]string, error)
	}{
		{
			name: "ignores its argument",
			exists: func(s *store) func(context.Context, []string) ([]string, error) {
				return func(ctx context.Context, _ []string) ([]string, error) {
					ids, _, err := s.page(ctx, "", 1000)
					return ids, err
				}
			},
		},
		{
			name: "spells ids otherwise",
			exists: func(s *store) func(context.Context, []string) ([]string, error) {
				return func(ctx context.Context, ids []string) ([]string, error) {
					have, err := s.existing(ctx, ids)
					for i, id := range have {
						have[i] = strings.ToUpper(id)
					}
					return have, err
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.seed(t, 2, 1, 1)
			r := e.store.reconciler(e.back, nil)
			r.Exists = tt.exists(e.store)

			rep, err := r.Reconcile(t.Context())

			if !errors.Is(err, authz.ErrInternal) {
				t.Errorf("Reconcile error = %v, want a match for ErrInternal", err)
			}
			if rep.OrphansRemoved != 0 {
				t.Errorf("report %+v: deregistered on an answer it could not trust", rep)
			}
			for _, id := range []string{"r00", "r01"} {
				if !e.registered(t, task(id)) || !e.readable(t, id, alice) {
					t.Errorf("live row %s lost its registration", id)
				}
			}
		})
	}
}
