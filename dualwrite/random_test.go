package dualwrite

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fgac-go/fgac/authz"
)

var (
	seedFlag      = flag.Int64("dualwrite.seed", 0, "seed of the first randomized schedule (0 picks one from the clock)")
	schedulesFlag = flag.Int("dualwrite.schedules", 10000, "number of randomized schedules")
)

// TestRandomizedSchedules runs many schedules of concurrent creates,
// deletes and crashes with random faults at every step, and checks the
// dual-write invariants after every operation and after reconciling:
// first without VerifyOwnership, where a row may keep another user's
// registration, then with it, after which every row is owned as the store
// says. Schedule i runs with seed -dualwrite.seed + i; a failure prints the
// command that replays it alone.
func TestRandomizedSchedules(t *testing.T) {
	seed := firstSeed(t)
	n := *schedulesFlag
	if testing.Short() {
		n = min(n, 500)
	}
	var total misowned
	schedules := 0
	for i := range n {
		s := seed + int64(i)
		m, err := runSchedule(t, s, correct, true)
		if err != nil {
			t.Fatalf("schedule %d of %d failed: %v\nreplay: go test ./dualwrite -run 'TestRandomizedSchedules$' -dualwrite.seed=%d -dualwrite.schedules=1 -v", i, n, err, s)
		}
		schedules += b2i(m.rows > 0)
		total.rows += m.rows
		total.owner += m.owner
	}
	t.Logf("%d schedules passed (seeds %d..%d); in %d of them reconciling without VerifyOwnership left %d rows registered otherwise than the store says (%d to another owner), and VerifyOwnership repaired every one",
		n, seed, seed+int64(n)-1, schedules, total.rows, total.owner)
}

// TestInvariantCatchesBrokenVariants gives the randomized check teeth: each
// deliberately broken Writer must fail it within the schedule budget.
func TestInvariantCatchesBrokenVariants(t *testing.T) {
	seed := firstSeed(t)
	budget := *schedulesFlag
	for _, tt := range []struct {
		name    string
		variant variant
		verify  bool // reconcile with VerifyOwnership
	}{
		{name: "compensate with the request context", variant: compensateWithRequestContext, verify: true},
		{name: "persist before register", variant: persistBeforeRegister, verify: true},
		{name: "deregister before deleting the row", variant: deregisterBeforeDelete, verify: true},
		// Not a bug but the documented gap: without VerifyOwnership a row
		// can stay registered to another user.
		{name: "reconcile without VerifyOwnership", variant: correct, verify: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range budget {
				if _, err := runSchedule(t, seed+int64(i), tt.variant, tt.verify); err != nil {
					t.Logf("caught by schedule %d (seed %d): %v", i+1, seed+int64(i), firstLine(err))
					return
				}
			}
			t.Errorf("broken variant survived %d schedules from seed %d", budget, seed)
		})
	}
}

func firstSeed(t *testing.T) int64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano() & (1<<52 - 1)
	}
	t.Logf("-dualwrite.seed=%d", seed)
	return seed
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// schedule is one randomized run: a shared engine and store, and callers
// that work concurrently, each on its own ids.
type schedule struct {
	eng   engine
	back  *faulty
	store *store
	rec   *recorder
	w     *Writer
	v     variant     // how the schedule uses w
	allOn atomic.Bool // the gate lets every tenant through
}

// gated reports whether id belongs to a tenant whose writes are gated off.
func gated(id string) bool { return strings.HasPrefix(id, "g") }

// misowned counts the rows that reconciling without VerifyOwnership left
// registered otherwise than the store says.
type misowned struct {
	rows  int // owner or parent not the store's
	owner int // owner not the store's
}

// runSchedule runs the schedule of seed with Writer variant v and
// reconciles, with VerifyOwnership in the second stage if verify is set.
func runSchedule(t *testing.T, seed int64, v variant, verify bool) (misowned, error) {
	t.Helper()
	return runScheduleOn(t, newTestEngine(t), seed, v, verify)
}

// runScheduleOn is runSchedule on eng, which must hold no relationships.
func runScheduleOn(t *testing.T, eng engine, seed int64, v variant, verify bool) (misowned, error) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	s := &schedule{eng: eng, store: newStore("task"), rec: &recorder{}}
	s.back = newFaulty(s.eng)
	s.w = &Writer{
		Registrar: s.back,
		Hook:      s.rec,
		Gate:      func(_ context.Context, r authz.Resource) bool { return s.allOn.Load() || !gated(r.ID) },
	}
	s.v = v
	var callers []*caller
	for k := range 1 + rng.IntN(4) {
		prefix := "c"
		if rng.IntN(6) == 0 {
			prefix = "g"
		}
		c := &caller{s: s, rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), state: map[string]*excuses{}}
		for j := range 3 {
			id := fmt.Sprintf("%s%d-%d", prefix, k, j)
			c.ids = append(c.ids, id)
			c.state[id] = &excuses{}
		}
		callers = append(callers, c)
	}
	ctx := t.Context()
	var g errgroup.Group
	for _, c := range callers {
		g.Go(func() error { return c.run(ctx, 2+c.rng.IntN(7)) })
	}
	if err := g.Wait(); err != nil {
		return misowned{}, err
	}
	return s.reconcileAndCheck(ctx, callers, verify)
}

// excuses are the known, documented reasons why an id may be out of step
// after the faults injected so far.
type excuses struct {
	// orphan: a registration without a row may exist (ambiguous register,
	// compensation or deregistration failed by injection, read-back failed
	// by injection, crash).
	orphan bool
	// unregistered: a committed row may lack its registration (Persist
	// failed after committing and there was no Exists to tell).
	unregistered bool
	// claimed: a row that had no registration may carry the registration of
	// a failed or crashed duplicate create.
	claimed bool
}

// caller runs operations on its own ids, so that the state of an id after
// an operation is the caller's to check.
type caller struct {
	s     *schedule
	rng   *rand.Rand
	ids   []string
	state map[string]*excuses
	log   []string
}

func (c *caller) run(ctx context.Context, ops int) error {
	for range ops {
		id := c.ids[c.rng.IntN(len(c.ids))]
		var err error
		switch n := c.rng.IntN(20); {
		case n < 10:
			err = c.create(ctx, id)
		case n < 17:
			err = c.delete(ctx, id)
		default:
			err = c.crash(ctx, id)
		}
		if err != nil {
			return fmt.Errorf("%s: %w\nops of this caller:\n  %s", id, err, strings.Join(c.log, "\n  "))
		}
	}
	return nil
}

func (c *caller) pick(p float64) bool { return c.rng.Float64() < p }

// backendFaults plans the fault of the one call a Writer makes per
// operation: the engine's retries are behind it, so a fault here is one
// that outlasted them.
func (c *caller) backendFaults() []fault {
	switch {
	case !c.pick(0.25):
		return []fault{noFault}
	case c.pick(0.5):
		return []fault{failBefore}
	}
	return []fault{failAfter}
}

func (c *caller) owner() authz.Subject {
	if c.pick(0.75) {
		return alice
	}
	return bob
}

// snapshot is the state of one id in the store and the graph.
type snapshot struct {
	row  row
	has  bool
	rels []authz.Relationship
}

func (s *schedule) snapshot(ctx context.Context, id string) (snapshot, error) {
	r, ok := s.store.get(id)
	rels, err := s.eng.ReadRelationships(ctx, authz.ReadRequest{Resource: task(id), Consistency: authz.FullyConsistent()})
	return snapshot{row: r, has: ok, rels: rels}, err
}

// matches reports whether the graph holds exactly the row's registration.
func (sn snapshot) matches(id string) bool {
	want := authz.RegisterRequest{Resource: task(id), Owner: sn.row.owner, Parent: sn.row.parent}.Relationships()
	return sameRels(sn.rels, want)
}

func (c *caller) begin(id string, format string, args ...any) {
	c.s.back.reset(task(id))
	c.s.rec.forget(task(id))
	c.log = append(c.log, id+": "+fmt.Sprintf(format, args...))
}

func (c *caller) create(ctx context.Context, id string) error {
	res := task(id)
	req := authz.RegisterRequest{Resource: res, Owner: c.owner()}
	if c.pick(0.5) {
		req.Parent = &agent
	}
	persistFaults := []fault{noFault, noFault, noFault, noFault, failBefore, failAfter, panicBefore, panicAfter, cancelBefore, cancelAfter}
	pf := persistFaults[c.rng.IntN(len(persistFaults))]
	existsMode := []string{"none", "none", "none", "ok", "ok", "ok", "ok", "ok", "ok", "fail"}[c.rng.IntN(10)]
	regFaults, deregFaults := c.backendFaults(), c.backendFaults()
	c.begin(id, "create owner=%s parent=%v persist=%s exists=%s register=%v deregister=%v", req.Owner.ID, req.Parent != nil, pf, existsMode, regFaults, deregFaults)
	before, err := c.s.snapshot(ctx, id)
	if err != nil {
		return err
	}
	c.s.back.inject("register", res, regFaults...)
	c.s.back.inject("deregister", res, deregFaults...)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cr := CreateRequest{Register: req, Persist: c.s.store.persist(req, pf, cancel)}
	if existsMode != "none" {
		cr.Exists = c.s.store.exists(req, existsMode == "fail")
	}

	err, panicked := createAs(cctx, c.s.v, c.s.w, cr)

	c.log[len(c.log)-1] += fmt.Sprintf(" -> err=%v panic=%v events=%v", err, panicked, c.s.rec.kinds(res))
	kinds := c.s.rec.kinds(res)
	has := func(k Kind) bool { return countKind(kinds, k) > 0 }
	regStats, deregStats := c.s.back.statsOf("register", res), c.s.back.statsOf("deregister", res)
	ex := c.state[id]
	unregBefore := before.has && len(before.rels) == 0

	if panicked != nil {
		if pv, ok := panicked.(panicValue); !ok || pv.ID != id || (pf != panicBefore && pf != panicAfter) {
			return fmt.Errorf("unexpected panic %v", panicked)
		}
	}
	if has(Registered) && panicked == nil && c.s.v != persistBeforeRegister {
		// The caller gets Persist's own error.
		var want error
		switch {
		case pf == failBefore:
			want = errStore
		case pf == cancelBefore:
			want = context.Canceled
		case before.has:
			want = errDuplicate // the insert fails before any "after" fault
		case pf == failAfter:
			want = errStore
		case pf == cancelAfter:
			want = context.Canceled
		}
		if !errors.Is(err, want) || (want == nil && err != nil) {
			return fmt.Errorf("Create returned %v, want Persist's error %v", err, want)
		}
	}
	if !gated(id) && c.s.v != persistBeforeRegister &&
		!has(Registered) && regFaults[0] == noFault && !errors.Is(err, authz.ErrConflict) {
		return fmt.Errorf("registration failed without an injected fault: %v", err)
	}
	if regStats.calls > 1 || deregStats.calls > 1 {
		return fmt.Errorf("dualwrite retried: %d Register and %d Deregister calls, want at most one each", regStats.calls, deregStats.calls)
	}
	if has(ReadBackFailed) && existsMode != "fail" {
		return errors.New("read-back failed without an injected fault")
	}
	if has(CompensationFailed) && deregStats.injected < deregStats.calls {
		return fmt.Errorf("compensation failed without an injected fault (%d calls, %d injected)", deregStats.calls, deregStats.injected)
	}
	// Known ways to leave an orphan.
	if regStats.ambig > 0 && !has(Registered) || has(CompensationFailed) || has(ReadBackFailed) {
		ex.orphan = true
		ex.claimed = ex.claimed || unregBefore
	}
	if (has(Compensated) || has(CompensationFailed)) && cr.Exists == nil {
		ex.unregistered = true
	}
	if err == nil && panicked == nil {
		after, err := c.s.snapshot(ctx, id)
		if err != nil {
			return err
		}
		if gated(id) {
			if !after.has {
				return errors.New("create acknowledged but no row")
			}
		} else if !after.has || !after.matches(id) {
			return fmt.Errorf("create acknowledged but row=%v relationships=%v", after.has, after.rels)
		}
	}
	return c.check(ctx, id)
}

func (c *caller) delete(ctx context.Context, id string) error {
	res := task(id)
	deleteFaults := []fault{noFault, noFault, noFault, noFault, noFault, noFault, failBefore, failAfter, cancelBefore, cancelAfter}
	df := deleteFaults[c.rng.IntN(len(deleteFaults))]
	byName := c.pick(0.3)
	deregFaults := c.backendFaults()
	c.begin(id, "delete byName=%v delete=%s deregister=%v", byName, df, deregFaults)
	c.s.back.inject("deregister", res, deregFaults...)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := DeleteRequest{Resource: res, Delete: c.s.store.delete(df, cancel)}
	if byName {
		req.Resource.ID = ""
		req.Resolve = c.s.store.resolve("n-" + id)
	}

	deleted, err := c.s.v.delete(cctx, c.s.w, req)

	kinds := c.s.rec.kinds(res)
	c.log[len(c.log)-1] += fmt.Sprintf(" -> deleted=%v err=%v events=%v", deleted, err, kinds)
	deregStats := c.s.back.statsOf("deregister", res)
	ex := c.state[id]
	if deregStats.calls > 1 {
		return fmt.Errorf("dualwrite retried: %d Deregister calls, want at most one", deregStats.calls)
	}
	if countKind(kinds, DeregisterFailed) > 0 {
		if deregStats.injected < deregStats.calls {
			return fmt.Errorf("deregister failed without an injected fault (%d calls, %d injected)", deregStats.calls, deregStats.injected)
		}
		ex.orphan = true
	}
	if deleted && err == nil {
		if c.s.store.has(id) {
			return errors.New("delete acknowledged but the row is still there")
		}
		if !gated(id) && countKind(kinds, Deregistered)+countKind(kinds, DeregisterFailed) != 1 {
			return fmt.Errorf("acknowledged delete neither deregistered nor reported a failure: %v", kinds)
		}
	}
	if (df == failAfter || df == cancelAfter) && !gated(id) {
		ex.orphan = true // the row is gone but the delete reported failure
	}
	return c.check(ctx, id)
}

// crash plays a process that registers and dies before persisting.
func (c *caller) crash(ctx context.Context, id string) error {
	if gated(id) {
		return nil // a gated Writer never registers
	}
	req := authz.RegisterRequest{Resource: task(id), Owner: c.owner()}
	c.begin(id, "crash owner=%s", req.Owner.ID)
	before, err := c.s.snapshot(ctx, id)
	if err != nil {
		return err
	}
	_, err = c.s.back.Register(ctx, req)
	c.log[len(c.log)-1] += fmt.Sprintf(" -> %v", err)
	ex := c.state[id]
	ex.orphan = true
	ex.claimed = ex.claimed || before.has && len(before.rels) == 0
	return c.check(ctx, id)
}

// check verifies the invariants of id after an operation, given the
// excuses accumulated from injected faults.
func (c *caller) check(ctx context.Context, id string) error {
	sn, err := c.s.snapshot(ctx, id)
	if err != nil {
		return err
	}
	ex := c.state[id]
	if err := c.checkReadPath(ctx, id, sn); err != nil {
		return err
	}
	if gated(id) {
		if len(sn.rels) > 0 {
			return fmt.Errorf("gated resource has relationships %v", sn.rels)
		}
		return nil
	}
	switch {
	case sn.has && len(sn.rels) == 0:
		if !ex.unregistered {
			return errors.New("committed row without registration")
		}
	case sn.has && !sn.matches(id):
		if !ex.claimed {
			return fmt.Errorf("row of %s registered as %v", sn.row.owner.ID, sn.rels)
		}
	case !sn.has && len(sn.rels) > 0:
		if !ex.orphan {
			return fmt.Errorf("orphan registration %v without an injected fault", sn.rels)
		}
	default:
		*ex = excuses{} // in step again
	}
	return nil
}

// checkReadPath asserts that only a row's registered owner can read it:
// an orphan registration serves nothing.
func (c *caller) checkReadPath(ctx context.Context, id string, sn snapshot) error {
	for _, sub := range []authz.Subject{alice, bob} {
		got, err := readable(ctx, c.s.store, c.s.eng, id, sub)
		if err != nil {
			return err
		}
		want := sn.has && ownedBy(sn.rels, sub)
		if got != want {
			return fmt.Errorf("readable by %s = %v, want %v (row %v, relationships %v)", sub.ID, got, want, sn.has, sn.rels)
		}
	}
	return nil
}

func ownedBy(rels []authz.Relationship, sub authz.Subject) bool {
	for _, r := range rels {
		if r.Relation == authz.DefaultOwnerRelation && r.Subject == sub {
			return true
		}
	}
	return false
}

// reconcileAndCheck reconciles in two stages. First, without
// VerifyOwnership and with the gate as it is, it checks that every orphan
// was removed in one pass, every row registered (rows claimed by a failed
// duplicate create: registered to someone), and that a second pass is a
// no-op. Then, with VerifyOwnership if verify is set, it checks that one
// pass gives every claimed row the store's owner and parent back, so that
// every row's registration is exactly the store's, that a second pass is a
// no-op, and that opening the gate backfills every row. It returns what the
// first stage left misowned.
func (s *schedule) reconcileAndCheck(ctx context.Context, callers []*caller, verify bool) (misowned, error) {
	type want struct{ orphans, unregistered, gatedRows int }
	var w want
	var ids []string
	claimed := map[string]bool{}
	for _, c := range callers {
		for _, id := range c.ids {
			ids = append(ids, id)
			claimed[id] = c.state[id].claimed
			sn, err := s.snapshot(ctx, id)
			if err != nil {
				return misowned{}, err
			}
			switch {
			case gated(id):
				w.gatedRows += b2i(sn.has)
			case !sn.has && len(sn.rels) > 0:
				w.orphans++
			case sn.has && len(sn.rels) == 0:
				w.unregistered++
			}
		}
	}
	r := &Reconciler{
		Backend:      s.eng,
		ResourceType: "task",
		Rows:         s.store.page,
		Exists:       s.store.existing,
		Registration: s.store.registration,
		Gate:         s.w.Gate,
		PageSize:     2,
		Concurrency:  2,
	}
	rep, err := r.Reconcile(ctx)
	if err != nil {
		return misowned{}, fmt.Errorf("reconcile: %w", err)
	}
	if rep.Orphans != w.orphans || rep.OrphansRemoved != w.orphans || rep.Reregistered != w.unregistered ||
		rep.Unregistered != w.unregistered+w.gatedRows || rep.Skipped != w.gatedRows || rep.Failed != 0 {
		return misowned{}, fmt.Errorf("first pass %+v, want %d orphans, %d unregistered, %d gated rows", rep, w.orphans, w.unregistered, w.gatedRows)
	}
	if err := s.checkInStep(ctx, ids, claimed, false); err != nil {
		return misowned{}, fmt.Errorf("after the first pass: %w", err)
	}
	rep, err = r.Reconcile(ctx)
	if err != nil {
		return misowned{}, fmt.Errorf("second reconcile: %w", err)
	}
	if rep.Orphans != 0 || rep.Unregistered != w.gatedRows || rep.Reregistered != 0 || rep.OwnershipMismatches != 0 || rep.Failed != 0 {
		return misowned{}, fmt.Errorf("second pass is not a no-op: %+v", rep)
	}

	var m misowned
	for _, id := range ids {
		sn, err := s.snapshot(ctx, id)
		if err != nil {
			return misowned{}, err
		}
		if sn.has && len(sn.rels) > 0 && !sn.matches(id) {
			m.rows++
			m.owner += b2i(!ownedBy(sn.rels, sn.row.owner))
		}
	}
	r.VerifyOwnership = verify
	rep, err = r.Reconcile(ctx)
	if err != nil {
		return misowned{}, fmt.Errorf("reconcile verifying ownership: %w", err)
	}
	wantRepaired := m.rows * b2i(verify)
	if rep.OwnershipMismatches != wantRepaired || rep.OwnershipRepaired != wantRepaired ||
		rep.Orphans != 0 || rep.Reregistered != 0 || rep.Failed != 0 {
		return misowned{}, fmt.Errorf("pass verifying ownership %+v, want %d rows repaired", rep, wantRepaired)
	}
	if err := s.checkInStep(ctx, ids, nil, false); err != nil {
		return misowned{}, fmt.Errorf("after the pass verifying ownership (VerifyOwnership %v): %w", verify, err)
	}
	rep, err = r.Reconcile(ctx)
	if err != nil || rep.OwnershipMismatches != 0 || rep.Orphans != 0 || rep.Unregistered != w.gatedRows || rep.Failed != 0 {
		return misowned{}, fmt.Errorf("second pass verifying ownership is not a no-op: %+v, %v", rep, err)
	}

	s.allOn.Store(true)
	rep, err = r.Reconcile(ctx)
	if err != nil {
		return misowned{}, fmt.Errorf("backfill: %w", err)
	}
	if rep.Reregistered != w.gatedRows || rep.Orphans != 0 || rep.OwnershipMismatches != 0 {
		return misowned{}, fmt.Errorf("backfill %+v, want %d rows registered", rep, w.gatedRows)
	}
	if err := s.checkInStep(ctx, ids, nil, true); err != nil {
		return misowned{}, fmt.Errorf("after the backfill: %w", err)
	}
	rep, err = r.Reconcile(ctx)
	if err != nil || rep.Orphans != 0 || rep.Unregistered != 0 || rep.OwnershipMismatches != 0 {
		return misowned{}, fmt.Errorf("pass after the backfill is not a no-op: %+v, %v", rep, err)
	}
	return m, nil
}

// checkInStep asserts that every id has a row exactly when it has its
// registration, exactly as the store records it (claimed rows: some
// registration).
func (s *schedule) checkInStep(ctx context.Context, ids []string, claimed map[string]bool, withGated bool) error {
	for _, id := range ids {
		if gated(id) && !withGated {
			continue
		}
		sn, err := s.snapshot(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case !sn.has && len(sn.rels) > 0:
			return fmt.Errorf("%s: orphan %v left", id, sn.rels)
		case sn.has && len(sn.rels) == 0:
			return fmt.Errorf("%s: row left unregistered", id)
		case sn.has && !claimed[id] && !sn.matches(id):
			return fmt.Errorf("%s: row of %s registered as %v", id, sn.row.owner.ID, sn.rels)
		}
	}
	return nil
}
