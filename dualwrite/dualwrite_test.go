package dualwrite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

var (
	alice = authz.Subject{Type: "user", ID: "alice-principal"}
	bob   = authz.Subject{Type: "user", ID: "bob-principal"}
	agent = authz.Resource{Type: "agent", ID: "a1"}
)

// env is a Writer over a faulty engine and a store of tasks.
type env struct {
	eng   engine
	back  *faulty
	store *store
	rec   *recorder
	count *Counter
	w     *Writer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{eng: newTestEngine(t), store: newStore("task"), rec: &recorder{}, count: &Counter{}}
	e.back = newFaulty(e.eng)
	e.w = &Writer{Registrar: e.back, Granter: e.back, Hook: e.hooks()}
	return e
}

// hooks records and counts.
func (e *env) hooks() Hook {
	return HookFunc(func(ctx context.Context, ev Event) {
		e.rec.Observe(ctx, ev)
		e.count.Observe(ctx, ev)
	})
}

func task(id string) authz.Resource { return authz.Resource{Type: "task", ID: id} }

func registration(id string, owner authz.Subject) authz.RegisterRequest {
	return authz.RegisterRequest{Resource: task(id), Owner: owner, Parent: &agent}
}

// registered reports whether res has any relationship.
func (e *env) registered(t *testing.T, res authz.Resource) bool {
	t.Helper()
	rels, err := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: res, Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("ReadRelationships(%s): %v", res, err)
	}
	return len(rels) > 0
}

func (e *env) readable(t *testing.T, id string, sub authz.Subject) bool {
	t.Helper()
	ok, err := readable(t.Context(), e.store, e.eng, id, sub)
	if err != nil {
		t.Fatalf("readable(%s): %v", id, err)
	}
	return ok
}

// reconcile runs a pass, checks that afterwards every row is registered and
// every registration has a row, and that a second pass finds nothing.
func (e *env) reconcile(t *testing.T, ids ...string) Report {
	t.Helper()
	r := e.store.reconciler(e.eng, e.hooks())
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	for _, id := range ids {
		if row, reg := e.store.has(id), e.registered(t, task(id)); row != reg {
			t.Errorf("after reconciling %s: row %v, registered %v", id, row, reg)
		}
	}
	again, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatalf("second Reconcile: %v", err)
	}
	if again.Orphans != 0 || again.Unregistered != 0 || again.Failed != 0 {
		t.Errorf("second pass is not a no-op: %+v", again)
	}
	return rep
}

// manualDeadline is a context whose deadline passes when expire is called.
type manualDeadline struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newManualDeadline(parent context.Context) *manualDeadline {
	return &manualDeadline{Context: parent, done: make(chan struct{})}
}

func (c *manualDeadline) expire()                     { c.once.Do(func() { close(c.done) }) }
func (c *manualDeadline) Done() <-chan struct{}       { return c.done }
func (c *manualDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *manualDeadline) Value(key any) any           { return c.Context.Value(key) }
func (c *manualDeadline) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// create calls w.Create, turning a panic into a value.
func create(ctx context.Context, w *Writer, req CreateRequest) (err error, panicked any) {
	defer func() { panicked = recover() }()
	_, err = w.Create(ctx, req)
	return err, nil
}

func TestCreateUnderFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		preOwner   *authz.Subject // registered beforehand by this owner, without a row
		register   []fault
		persist    fault
		deadline   bool // persist's cancellation is a deadline
		exists     string
		deregister []fault
		wantIs     []error
		wantNotIs  []error
		wantPanic  bool
		wantRow    bool
		wantReg    bool
		wantKinds  []Kind
		wantComp   bool  // a *CompensationError
		wantCompIs error // what its Compensation matches; nil means ErrUnavailable
	}{
		{
			name:      "success",
			wantRow:   true,
			wantReg:   true,
			wantKinds: []Kind{Registered},
		},
		{
			name:      "register unavailable",
			register:  []fault{failBefore},
			wantIs:    []error{authz.ErrUnavailable},
			wantKinds: nil,
		},
		{
			name:     "register ambiguous leaves an orphan only",
			register: []fault{failAfter},
			wantIs:   []error{authz.ErrUnavailable},
			wantReg:  true,
		},
		{
			name:     "register conflict persists and compensates nothing",
			preOwner: &bob,
			wantIs:   []error{authz.ErrConflict},
			wantReg:  true,
		},
		{
			name:      "persist fails",
			persist:   failBefore,
			wantIs:    []error{errStore},
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "persist fails, read-back finds no row",
			persist:   failBefore,
			exists:    "ok",
			wantIs:    []error{errStore},
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "persist blocks until the request is cancelled",
			persist:   cancelBefore,
			wantIs:    []error{context.Canceled},
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "persist blocks until the request times out",
			persist:   cancelBefore,
			deadline:  true,
			wantIs:    []error{context.DeadlineExceeded},
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "persist panics",
			persist:   panicBefore,
			wantPanic: true,
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "persist commits then panics, read-back keeps the registration",
			persist:   panicAfter,
			exists:    "ok",
			wantPanic: true,
			wantRow:   true,
			wantReg:   true,
			wantKinds: []Kind{Registered, RegistrationKept},
		},
		{
			name:      "persist commits then errors, read-back keeps the registration",
			persist:   failAfter,
			exists:    "ok",
			wantIs:    []error{errStore},
			wantRow:   true,
			wantReg:   true,
			wantKinds: []Kind{Registered, RegistrationKept},
		},
		{
			name:      "persist commits then the request is cancelled, read-back keeps the registration",
			persist:   cancelAfter,
			exists:    "ok",
			wantIs:    []error{context.Canceled},
			wantRow:   true,
			wantReg:   true,
			wantKinds: []Kind{Registered, RegistrationKept},
		},
		{
			name:      "persist commits then errors without read-back: row unregistered until reconciled",
			persist:   failAfter,
			wantIs:    []error{errStore},
			wantRow:   true,
			wantKinds: []Kind{Registered, Compensated},
		},
		{
			name:      "read-back fails: registration kept",
			persist:   failBefore,
			exists:    "fail",
			wantIs:    []error{errStore},
			wantReg:   true,
			wantKinds: []Kind{Registered, ReadBackFailed},
		},
		{
			name:       "read-back panics: registration kept, Persist's error returned with the panic attached",
			persist:    failBefore,
			exists:     "panic",
			wantIs:     []error{errStore},
			wantNotIs:  []error{errReadBackPanic},
			wantComp:   true,
			wantCompIs: errReadBackPanic,
			wantReg:    true,
			wantKinds:  []Kind{Registered, ReadBackFailed},
		},
		{
			name:      "persist panics and the read-back panics: Persist's panic re-raised",
			persist:   panicBefore,
			exists:    "panic",
			wantPanic: true,
			wantReg:   true,
			wantKinds: []Kind{Registered, ReadBackFailed},
		},
		{
			name:       "compensation fails",
			persist:    failBefore,
			deregister: []fault{failBefore},
			wantIs:     []error{errStore},
			wantNotIs:  []error{authz.ErrUnavailable},
			wantComp:   true,
			wantReg:    true,
			wantKinds:  []Kind{Registered, CompensationFailed},
		},
		{
			name:       "compensation fails ambiguously",
			persist:    failBefore,
			deregister: []fault{failAfter},
			wantIs:     []error{errStore},
			wantNotIs:  []error{authz.ErrUnavailable},
			wantComp:   true,
			wantKinds:  []Kind{Registered, CompensationFailed},
		},
		{
			name:       "persist panics and compensation fails",
			persist:    panicBefore,
			deregister: []fault{failBefore},
			wantPanic:  true,
			wantReg:    true,
			wantKinds:  []Kind{Registered, CompensationFailed},
		},
		{
			name:       "request cancelled and compensation fails",
			persist:    cancelBefore,
			deregister: []fault{failBefore},
			wantIs:     []error{context.Canceled},
			wantComp:   true,
			wantReg:    true,
			wantKinds:  []Kind{Registered, CompensationFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const id = "t1"
			res := task(id)
			if tt.preOwner != nil {
				if _, err := e.eng.Register(t.Context(), registration(id, *tt.preOwner)); err != nil {
					t.Fatal(err)
				}
			}
			e.back.inject("register", res, tt.register...)
			e.back.inject("deregister", res, tt.deregister...)
			var ctx context.Context
			var cancel context.CancelFunc
			if tt.deadline {
				d := newManualDeadline(t.Context())
				ctx, cancel = d, d.expire
			} else {
				ctx, cancel = context.WithCancel(t.Context())
			}
			defer cancel()
			req := CreateRequest{Register: registration(id, alice), Persist: e.store.persist(registration(id, alice), tt.persist, cancel)}
			switch tt.exists {
			case "ok", "fail":
				req.Exists = e.store.exists(req.Register, tt.exists == "fail")
			case "panic":
				req.Exists = func(context.Context) (bool, error) { panic(errReadBackPanic) }
			}

			err, panicked := create(ctx, e.w, req)

			if got := panicked != nil; got != tt.wantPanic {
				t.Fatalf("panicked = %v (%v), want %v", got, panicked, tt.wantPanic)
			}
			if tt.wantPanic {
				if diff := cmp.Diff(panicValue{id}, panicked); diff != "" {
					t.Errorf("panic value mismatch (-want +got):\n%s", diff)
				}
			}
			if len(tt.wantIs) == 0 && err != nil {
				t.Errorf("Create: unexpected error %v", err)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("Create error %v does not match %v", err, target)
				}
			}
			for _, target := range tt.wantNotIs {
				if errors.Is(err, target) {
					t.Errorf("Create error %v matches %v, which is the compensation's error", err, target)
				}
			}
			var ce *CompensationError
			if got := errors.As(err, &ce); got != tt.wantComp {
				t.Errorf("Create error %v is a *CompensationError: %v, want %v", err, got, tt.wantComp)
			} else if got {
				wantCompIs := tt.wantCompIs
				if wantCompIs == nil {
					wantCompIs = authz.ErrUnavailable
				}
				if !errors.Is(ce.Compensation, wantCompIs) {
					t.Errorf("CompensationError.Compensation = %v, want a match for %v", ce.Compensation, wantCompIs)
				}
			}
			if err != nil && strings.Contains(err.Error(), alice.ID) {
				t.Errorf("Create error %q names the owner", err)
			}
			row, reg := e.store.has(id), e.registered(t, res)
			if row != tt.wantRow || reg != tt.wantReg {
				t.Errorf("after Create: row %v registered %v, want row %v registered %v", row, reg, tt.wantRow, tt.wantReg)
			}
			if err == nil && panicked == nil && !(row && reg) {
				t.Errorf("Create succeeded but row %v registered %v", row, reg)
			}
			// The read path needs both: an orphan serves nothing.
			if got, want := e.readable(t, id, alice), row && reg && tt.preOwner == nil; got != want {
				t.Errorf("readable by owner = %v, want %v", got, want)
			}
			if e.readable(t, id, bob) && tt.preOwner == nil {
				t.Error("readable by a stranger")
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(res)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			// One engine call per operation: retrying is the engine's.
			compensations := countKind(tt.wantKinds, Compensated) + countKind(tt.wantKinds, CompensationFailed)
			if got := e.back.statsOf("register", res).calls; got != 1 {
				t.Errorf("Create made %d Register calls, want 1", got)
			}
			if got := e.back.statsOf("deregister", res).calls; got != compensations {
				t.Errorf("Create made %d Deregister calls, want %d", got, compensations)
			}

			rep := e.reconcile(t, id)
			wantRep := Report{Registrations: b2i(reg), Rows: b2i(row), Orphans: b2i(reg && !row), OrphansRemoved: b2i(reg && !row), Unregistered: b2i(row && !reg), Reregistered: b2i(row && !reg)}
			if diff := cmp.Diff(wantRep, rep); diff != "" {
				t.Errorf("reconcile report mismatch (-want +got):\n%s", diff)
			}
			if row && !e.readable(t, id, alice) {
				t.Error("after reconciling, the committed row is not readable by its owner")
			}
		})
	}
}

// errReadBackPanic is what an injected panic of a read-back panics with.
var errReadBackPanic = errors.New("store: exists: injected panic")

// TestCreateKeepsRegistrationWhenReadBackExitsGoroutine: an Exists that
// calls runtime.Goexit after Persist failed leaves the row's existence
// unknown, so the registration is kept and the goroutine goes on exiting.
func TestCreateKeepsRegistrationWhenReadBackExitsGoroutine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := make(chan struct{})
	returned := false
	go func() {
		defer close(done)
		e.w.Create(t.Context(), CreateRequest{
			Register: registration("t1", alice),
			Persist:  e.store.persist(registration("t1", alice), failBefore, nil),
			Exists:   func(context.Context) (bool, error) { runtime.Goexit(); return false, nil },
		})
		returned = true
	}()
	<-done
	if returned {
		t.Error("Create returned after Exists called runtime.Goexit")
	}
	if !e.registered(t, task("t1")) {
		t.Error("registration removed although the read-back could not tell whether the row exists")
	}
	if diff := cmp.Diff([]Kind{Registered, ReadBackFailed}, e.rec.kinds(task("t1"))); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCreateCompensatesWhenPersistExitsGoroutine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.w.Create(t.Context(), CreateRequest{
			Register: registration("t1", alice),
			Persist:  func(context.Context) error { runtime.Goexit(); return nil },
		})
	}()
	<-done
	if e.registered(t, task("t1")) {
		t.Error("registration left behind after Persist called runtime.Goexit")
	}
	if diff := cmp.Diff([]Kind{Registered, Compensated}, e.rec.kinds(task("t1"))); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

// TestCreateCompensatesWhenRequestCancelledDuringPersist cancels the
// request from outside while Persist blocks on its context, as a client
// disconnect would.
func TestCreateCompensatesWhenRequestCancelledDuringPersist(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := e.w.Create(ctx, CreateRequest{
			Register: registration("t1", alice),
			Persist: func(ctx context.Context) error {
				close(started)
				<-ctx.Done()
				return fmt.Errorf("store: insert: %w", ctx.Err())
			},
		})
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Create error = %v, want a match for context.Canceled", err)
	}
	if e.registered(t, task("t1")) {
		t.Error("registration left behind after the request was cancelled")
	}
	if diff := cmp.Diff([]Kind{Registered, Compensated}, e.rec.kinds(task("t1"))); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestCreateRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	persisted := false
	persist := func(context.Context) error { persisted = true; return nil }
	tests := []struct {
		name string
		w    *Writer
		req  CreateRequest
	}{
		{name: "no persist", w: &Writer{Registrar: newTestEngine(t)}, req: CreateRequest{Register: registration("t1", alice)}},
		{name: "malformed id", w: &Writer{Registrar: newTestEngine(t)}, req: CreateRequest{Register: registration("t 1", alice), Persist: persist}},
		{name: "wildcard owner", w: &Writer{Registrar: newTestEngine(t)}, req: CreateRequest{Register: registration("t1", authz.Wildcard("user")), Persist: persist}},
		{name: "no registrar", w: &Writer{}, req: CreateRequest{Register: registration("t1", alice), Persist: persist}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.w.Create(t.Context(), tt.req)
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Create error = %v, want a match for ErrInvalidRequest", err)
			}
			if persisted {
				t.Error("persisted an invalid request")
			}
		})
	}
}

// TestReconcilerCleansCrashBetweenRegisterAndPersist simulates a process
// that dies after registering and before persisting: the registration is
// written, Create never returns, nothing compensates.
func TestReconcilerCleansCrashBetweenRegisterAndPersist(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := []string{"c1", "c2", "c3", "c4", "c5"}
	for _, id := range ids {
		if _, err := e.back.Register(t.Context(), registration(id, alice)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.w.Create(t.Context(), CreateRequest{Register: registration("live", alice), Persist: e.store.persist(registration("live", alice), noFault, nil)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if e.readable(t, id, alice) {
			t.Errorf("orphan %s is readable", id)
		}
	}
	rep := e.reconcile(t, append(ids, "live")...)
	want := Report{Registrations: 6, Rows: 1, Orphans: 5, OrphansRemoved: 5}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report mismatch (-want +got):\n%s", diff)
	}
	if !e.readable(t, "live", alice) {
		t.Error("the live row lost its registration")
	}
}

func TestDeleteUnderFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		byName      string // address by this name instead of the id
		noRow       bool
		del         fault
		deregister  []fault
		cancelAfter bool // the request is cancelled once the row is deleted
		wantDeleted bool
		wantIs      error
		wantRow     bool
		wantReg     bool
		wantKinds   []Kind
	}{
		{name: "by id", wantDeleted: true, wantKinds: []Kind{Deregistered}},
		{name: "by name", byName: "n-t1", wantDeleted: true, wantKinds: []Kind{Deregistered}},
		{name: "missing name", byName: "n-other", wantRow: true, wantReg: true},
		{name: "missing row", noRow: true, wantReg: true},
		{name: "row delete fails", del: failBefore, wantIs: errStore, wantRow: true, wantReg: true},
		{name: "row deleted but delete reports failure", del: failAfter, wantIs: errStore, wantReg: true},
		{name: "request cancelled during row delete", del: cancelBefore, wantIs: context.Canceled, wantRow: true, wantReg: true},
		{name: "request cancelled after row delete", del: cancelAfter, wantIs: context.Canceled, wantReg: true},
		{name: "request cancelled before deregistering", cancelAfter: true, wantDeleted: true, wantKinds: []Kind{Deregistered}},
		{name: "deregister fails ambiguously", deregister: []fault{failAfter}, wantDeleted: true, wantKinds: []Kind{DeregisterFailed}},
		{
			name:        "deregister fails: delete still succeeds",
			deregister:  []fault{failBefore},
			wantDeleted: true,
			wantReg:     true,
			wantKinds:   []Kind{DeregisterFailed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const id = "t1"
			res := task(id)
			if _, err := e.back.Register(t.Context(), registration(id, alice)); err != nil {
				t.Fatal(err)
			}
			if !tt.noRow {
				if err := e.store.persist(registration(id, alice), noFault, nil)(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			e.back.inject("deregister", res, tt.deregister...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req := DeleteRequest{Resource: res, Delete: e.store.delete(tt.del, cancel)}
			if tt.cancelAfter {
				del := req.Delete
				req.Delete = func(ctx context.Context, id string) (bool, error) {
					ok, err := del(ctx, id)
					cancel()
					return ok, err
				}
			}
			if tt.byName != "" {
				req.Resource.ID = ""
				req.Resolve = e.store.resolve(tt.byName)
			}

			deleted, err := e.w.Delete(ctx, req)

			if deleted != tt.wantDeleted || !errors.Is(err, tt.wantIs) || (tt.wantIs == nil && err != nil) {
				t.Errorf("Delete = %v, %v; want %v, %v", deleted, err, tt.wantDeleted, tt.wantIs)
			}
			if deleted && e.store.has(id) {
				t.Error("an acknowledged delete left the row")
			}
			row, reg := e.store.has(id), e.registered(t, res)
			if row != tt.wantRow || reg != tt.wantReg {
				t.Errorf("after Delete: row %v registered %v, want row %v registered %v", row, reg, tt.wantRow, tt.wantReg)
			}
			if got, want := e.readable(t, id, alice), row && reg; got != want {
				t.Errorf("readable = %v, want %v", got, want)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(res)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if got, want := e.count.Count(DeregisterFailed), int64(countKind(tt.wantKinds, DeregisterFailed)); got != want {
				t.Errorf("Counter(DeregisterFailed) = %d, want %d", got, want)
			}
			// One engine call per operation: retrying is the engine's.
			if got, want := e.back.statsOf("deregister", res).calls, b2i(tt.wantDeleted); got != want {
				t.Errorf("Delete made %d Deregister calls, want %d", got, want)
			}
			e.reconcile(t, id)
		})
	}
}

func countKind(ks []Kind, k Kind) int {
	n := 0
	for _, x := range ks {
		if x == k {
			n++
		}
	}
	return n
}

func TestDeleteRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	deleted := false
	del := func(context.Context, string) (bool, error) { deleted = true; return true, nil }
	resolveTo := func(id string) func(context.Context) (string, bool, error) {
		return func(context.Context) (string, bool, error) { return id, true, nil }
	}
	tests := []struct {
		name string
		req  DeleteRequest
		w    *Writer
	}{
		// Without a Registrar the row's relationships could not be
		// removed after it: refused before the row goes, as Create is.
		{name: "no registrar", req: DeleteRequest{Resource: task("t1"), Delete: del}, w: &Writer{}},
		{name: "no delete", req: DeleteRequest{Resource: task("t1")}},
		{name: "malformed type", req: DeleteRequest{Resource: authz.Resource{Type: "Task", ID: "t1"}, Delete: del}},
		{name: "empty id", req: DeleteRequest{Resource: authz.Resource{Type: "task"}, Delete: del}},
		{name: "id and resolve", req: DeleteRequest{Resource: task("t1"), Resolve: resolveTo("t1"), Delete: del}},
		{name: "resolved id malformed", req: DeleteRequest{Resource: authz.Resource{Type: "task"}, Resolve: resolveTo("t 1"), Delete: del}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w
			if w == nil {
				w = &Writer{Registrar: newTestEngine(t)}
			}
			_, err := w.Delete(t.Context(), tt.req)
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Delete error = %v, want a match for ErrInvalidRequest", err)
			}
			if deleted {
				t.Error("deleted a row for an invalid request")
			}
		})
	}
}

// TestGateDefersRegistrationToReconciler turns authorization writes off for
// one tenant: its rows are written without registrations and reported by
// the reconciler, which registers them once the gate is on.
func TestGateDefersRegistrationToReconciler(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var on sync.Map // tenant prefix -> bool
	gate := func(_ context.Context, r authz.Resource) bool {
		v, _ := on.Load(r.ID[:2])
		return v != nil && v.(bool)
	}
	on.Store("a-", true)
	on.Store("b-", false)
	e.w.Gate = gate
	for _, id := range []string{"a-1", "b-1", "b-2"} {
		if _, err := e.w.Create(t.Context(), CreateRequest{Register: registration(id, alice), Persist: e.store.persist(registration(id, alice), noFault, nil)}); err != nil {
			t.Fatal(err)
		}
	}
	if !e.readable(t, "a-1", alice) || e.registered(t, task("b-1")) || e.registered(t, task("b-2")) {
		t.Fatal("gate did not split the writes")
	}
	if _, err := e.w.Delete(t.Context(), DeleteRequest{Resource: task("b-2"), Delete: e.store.delete(noFault, nil)}); err != nil {
		t.Fatal(err)
	}
	wantCounts := map[Kind]int64{Registered: 1, SkippedByGate: 3}
	if diff := cmp.Diff(wantCounts, e.count.Counts()); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}

	r := e.store.reconciler(e.eng, e.hooks())
	r.Gate = gate
	rep, err := r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 1, Rows: 2, Unregistered: 1, Skipped: 1}, rep); diff != "" {
		t.Errorf("report with the gate off mismatch (-want +got):\n%s", diff)
	}
	on.Store("b-", true)
	rep, err = r.Reconcile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Report{Registrations: 1, Rows: 2, Unregistered: 1, Reregistered: 1}, rep); diff != "" {
		t.Errorf("report with the gate on mismatch (-want +got):\n%s", diff)
	}
	if !e.readable(t, "b-1", alice) {
		t.Error("backfilled row not readable by its owner")
	}
}

// TestEventsNeverNameThePrincipal runs every kind of Writer event and checks
// that no event mentions the owner.
func TestEventsNeverNameThePrincipal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var seen []string
	e.w.Hook = HookFunc(func(_ context.Context, ev Event) { seen = append(seen, fmt.Sprintf("%+v %v", ev, ev.Err)) })
	e.back.inject("deregister", task("t2"), failBefore)
	e.back.inject("deregister", task("t4"), failBefore)
	e.w.Create(t.Context(), CreateRequest{Register: registration("t1", alice), Persist: e.store.persist(registration("t1", alice), failBefore, nil)})
	e.w.Create(t.Context(), CreateRequest{Register: registration("t2", alice), Persist: e.store.persist(registration("t2", alice), failBefore, nil)})
	e.w.Create(t.Context(), CreateRequest{Register: registration("t3", alice), Persist: e.store.persist(registration("t3", alice), failBefore, nil), Exists: e.store.exists(registration("t3", alice), true)})
	e.w.Create(t.Context(), CreateRequest{Register: registration("t4", alice), Persist: e.store.persist(registration("t4", alice), noFault, nil)})
	e.w.Delete(t.Context(), DeleteRequest{Resource: task("t4"), Delete: e.store.delete(noFault, nil)})
	if len(seen) < 6 {
		t.Fatalf("saw %d events, want at least 6", len(seen))
	}
	for _, s := range seen {
		if strings.Contains(s, alice.ID) {
			t.Errorf("event names the owner: %s", s)
		}
	}
}

func TestCounter(t *testing.T) {
	t.Parallel()
	var c Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Observe(t.Context(), Event{Kind: Compensated})
				c.Observe(t.Context(), Event{Kind: DeregisterFailed})
			}
		})
	}
	wg.Wait()
	c.Observe(t.Context(), Event{Kind: 0})
	c.Observe(t.Context(), Event{Kind: numKinds})
	want := map[Kind]int64{Compensated: 800, DeregisterFailed: 800}
	if diff := cmp.Diff(want, c.Counts()); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	if got := c.Count(Registered); got != 0 {
		t.Errorf("Count(Registered) = %d, want 0", got)
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for k := Kind(1); k < numKinds; k++ {
		s := k.String()
		if s == "unknown" || seen[s] {
			t.Errorf("Kind(%d).String() = %q: not a distinct name", k, s)
		}
		seen[s] = true
	}
	if got := numKinds.String(); got != "unknown" {
		t.Errorf("numKinds.String() = %q, want unknown", got)
	}
}
