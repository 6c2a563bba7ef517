package dualwrite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/fgac-go/fgac/authz"
)

// Defaults of [Reconciler] fields left zero.
const (
	// DefaultPageSize is the number of ids the reconciler asks for at once.
	DefaultPageSize = 500
	// DefaultConcurrency is the number of rows whose relationships the
	// reconciler reads at once.
	DefaultConcurrency = 8
)

// Backend is what a [Reconciler] needs of an engine: registration,
// inspection of the graph, and the atomic write of chosen relationships
// with which VerifyOwnership replaces a wrong owner without touching
// grants. Every [authz.Authorizer] is a Backend.
type Backend interface {
	authz.Registrar
	authz.Inspector
	authz.RelationshipWriter
}

// Reconciler compares one resource type's rows in a store with its
// registrations in the graph and repairs the differences: it removes
// orphan registrations (registered, no row) and registers rows that have
// none; with VerifyOwnership it also gives rows whose owner or parent in
// the graph is not the store's their own back. A pass is idempotent: a
// second pass over an unchanged store finds nothing.
//
// It works in pages and holds at most one page of ids (PageSize) plus the
// relationships of Concurrency rows at a time, so its memory does not grow
// with the table. Each page of the graph's enumeration costs one batch
// Exists query on the store; each page of the store's rows costs one
// ReadRelationships call per row (Concurrency at a time), and, with
// VerifyOwnership, one Registration call per registered row.
//
// The zero Reconciler is not usable: Backend, ResourceType, Rows and Exists
// must be set, and Registration too for VerifyOwnership. A Reconciler is
// safe for concurrent use, but two passes over the same type at once only
// do the work twice.
type Reconciler struct {
	// Backend is the authorization engine.
	Backend Backend
	// ResourceType is the definition reconciled, such as "task".
	ResourceType string
	// Rows returns one page of at most limit ids of the store's rows,
	// starting at cursor ("" for the first page), and the cursor of the next
	// page ("" at the end). A cursor must never repeat within a pass: one
	// that does ends the pass with an error.
	Rows func(ctx context.Context, cursor string, limit int) (ids []string, next string, err error)
	// Exists returns those of ids that have a row, in any order: one batch
	// query per page (SELECT id ... WHERE id IN (...)). An id it was not
	// asked about ends the pass with an error.
	Exists func(ctx context.Context, ids []string) (existing []string, err error)
	// Registration returns the registration of the row id, with its owner
	// and parent as the store records them, or found false if the row no
	// longer exists. The request's Resource is set by the reconciler. If
	// Registration is nil, rows without a registration are only reported;
	// VerifyOwnership needs it.
	Registration func(ctx context.Context, id string) (req authz.RegisterRequest, found bool, err error)
	// Gate, if set, is asked before each repair; when it returns false the
	// difference is reported (SkippedByGate) but left alone, as a [Writer]
	// with the same gate would have left it. Nil means always on.
	Gate func(ctx context.Context, r authz.Resource) bool
	// Hook, if set, receives an [Event] for every difference found and
	// every repair.
	Hook Hook
	// PageSize caps the ids of one page of the enumeration, of Rows and of
	// one Exists batch. Zero means [DefaultPageSize].
	PageSize int
	// Concurrency is the number of rows checked at once. Zero means
	// [DefaultConcurrency].
	Concurrency int
	// DryRun reports differences without repairing them.
	DryRun bool
	// VerifyOwnership, if set, checks the owner and parent of every row that
	// has relationships, not only that it has some: a row that picked up
	// another user's registration while it had none (see the package
	// documentation) otherwise looks registered and is never repaired.
	//
	// The owner and parent relationships the store provides are those of
	// the request Registration returns, as [authz.RegisterRequest.Relationships]
	// spells them: its OwnerRelation and ParentRelation, defaulting to
	// [authz.DefaultOwnerRelation] and [authz.DefaultParentRelation], name
	// the two relations the store decides for the row. In the graph, those
	// two relations of the row must hold exactly the request's owner and,
	// if it has one, its parent: another subject in either (a second owner,
	// a parent where the store records none) is a mismatch. Other relations,
	// such as viewer grants, are not compared and never changed. So enable
	// VerifyOwnership only where the owner and parent relations are written
	// by registration alone, and where Registration names the relations
	// that the Writer's creates use.
	//
	// A mismatch is reported (an OwnershipMismatch event, counted in
	// Report.OwnershipMismatches) and, unless DryRun or the gate says
	// otherwise, repaired by one atomic [authz.RelationshipWriter.Write]
	// that touches the store's owner and parent and deletes the other
	// relationships of those two relations.
	//
	// It costs one Registration call (a point read of the store) per row
	// that has relationships, Concurrency at a time, plus a comparison in
	// memory; the ReadRelationships call is made for every row anyway.
	// Default off.
	VerifyOwnership bool
}

// Report counts what one pass of a [Reconciler] found and did.
type Report struct {
	// Registrations is the number of registered ids enumerated.
	Registrations int
	// Rows is the number of rows examined.
	Rows int
	// Orphans is the number of registrations found without a row.
	Orphans int
	// OrphansRemoved is the number of orphans deregistered.
	OrphansRemoved int
	// Unregistered is the number of rows found without a registration.
	Unregistered int
	// Reregistered is the number of registrations written for rows.
	Reregistered int
	// OwnershipMismatches is the number of registered rows whose owner or
	// parent relationships were not the store's (VerifyOwnership only).
	OwnershipMismatches int
	// OwnershipRepaired is the number of those given the store's owner and
	// parent back.
	OwnershipRepaired int
	// Skipped is the number of differences the gate left alone.
	Skipped int
	// Failed is the number of repairs that failed.
	Failed int
}

// Reconcile runs one pass: first it enumerates the graph's registrations of
// ResourceType page by page and removes those without a row, then it pages
// through the store's rows and registers those without a registration
// (and, with VerifyOwnership, repairs the owner and parent of those with
// one).
//
// Reads use full consistency. A failed page read (Enumerate, Rows, Exists,
// ReadRelationships) ends the pass with an error. So does an answer that
// cannot be right, with an error matching [authz.ErrInternal]: a next
// cursor of Enumerate or Rows that repeats one returned before in the pass
// (pages that would go round until ctx ends), or an Exists that returns an
// id it was not asked about. A failed repair does not:
// it is counted in Report.Failed and reported as a RepairFailed event, and
// the pass goes on; Reconcile then returns an error wrapping the first
// repair failure. Each repair is one engine call: retrying is the engine's,
// and a repair that fails is tried again by the next pass. The report is
// returned in every case.
//
// Rows are checked on goroutines of the pass. A callback, engine or hook
// that panics or calls runtime.Goexit there ends the pass with an error
// that names the row and, for a panic, carries its value (matched by
// [errors.Is] if it is an error) and stack: never a crash, never a row
// silently taken as checked. On the caller's goroutine (the first stage)
// a panic propagates to the caller, as panics in [Writer.Create] do.
//
// An orphan may be a create in flight (registered, row not yet committed).
// So after removing orphans the reconciler asks the store again, and
// registers any row that has appeared meanwhile; likewise, after
// registering a row it checks that the row still exists, and deregisters
// it otherwise. A create whose Persist commits after that second look
// leaves its row unregistered until the next pass; it fails closed.
func (r *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	if r.Backend == nil || r.Rows == nil || r.Exists == nil {
		return Report{}, fmt.Errorf("dualwrite: %w: reconciler needs Backend, Rows and Exists", authz.ErrInvalidRequest)
	}
	if r.VerifyOwnership && r.Registration == nil {
		return Report{}, fmt.Errorf("dualwrite: %w: reconciler needs Registration to verify ownership", authz.ErrInvalidRequest)
	}
	if err := authz.ValidateType(r.ResourceType); err != nil {
		return Report{}, fmt.Errorf("dualwrite: reconcile: %w", err)
	}
	p := &pass{r: r}
	err := p.removeOrphans(ctx)
	if err == nil {
		err = p.registerRows(ctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil && p.firstFailure != nil {
		err = fmt.Errorf("dualwrite: reconcile %s: %d repairs failed, first: %w", r.ResourceType, p.report.Failed, p.firstFailure)
	}
	return p.report, err
}

// pass is the state of one Reconcile call.
type pass struct {
	r *Reconciler

	mu           sync.Mutex // guards report and firstFailure
	report       Report
	firstFailure error
}

// count applies f to the report under the lock.
func (p *pass) count(f func(*Report)) {
	p.mu.Lock()
	f(&p.report)
	p.mu.Unlock()
}

// fail records a failed repair of res.
func (p *pass) fail(ctx context.Context, res authz.Resource, err error) {
	p.mu.Lock()
	p.report.Failed++
	if p.firstFailure == nil {
		p.firstFailure = err
	}
	p.mu.Unlock()
	observe(ctx, p.r.Hook, Event{Kind: RepairFailed, Resource: res, Err: err})
}

func (p *pass) resource(id string) authz.Resource {
	return authz.Resource{Type: p.r.ResourceType, ID: id}
}

// repairable reports whether res may be repaired, reporting a skip if the
// gate is off.
func (p *pass) repairable(ctx context.Context, res authz.Resource) bool {
	if p.r.DryRun {
		return false
	}
	if p.r.Gate != nil && !p.r.Gate(ctx, res) {
		p.count(func(rep *Report) { rep.Skipped++ })
		observe(ctx, p.r.Hook, Event{Kind: SkippedByGate, Resource: res})
		return false
	}
	return true
}

// removeOrphans enumerates registrations page by page and deregisters those
// without a row.
func (p *pass) removeOrphans(ctx context.Context) error {
	r := p.r
	cursor := ""
	var walk cursorWalk
	for {
		page, err := r.Backend.Enumerate(ctx, authz.EnumerateRequest{
			ResourceType: r.ResourceType,
			Limit:        pageSize(r.PageSize),
			Cursor:       cursor,
			Consistency:  authz.FullyConsistent(),
		})
		if err != nil {
			return fmt.Errorf("dualwrite: reconcile %s: enumerate: %w", r.ResourceType, err)
		}
		p.count(func(rep *Report) { rep.Registrations += len(page.IDs) })
		orphans, err := p.missing(ctx, page.IDs)
		if err != nil {
			return err
		}
		var removed []string
		for _, id := range orphans {
			res := p.resource(id)
			p.count(func(rep *Report) { rep.Orphans++ })
			observe(ctx, r.Hook, Event{Kind: OrphanFound, Resource: res})
			if !p.repairable(ctx, res) {
				continue
			}
			if err := p.deregister(ctx, res); err != nil {
				p.fail(ctx, res, err)
				continue
			}
			p.count(func(rep *Report) { rep.OrphansRemoved++ })
			observe(ctx, r.Hook, Event{Kind: OrphanRemoved, Resource: res})
			removed = append(removed, id)
		}
		if err := p.restoreAppeared(ctx, removed); err != nil {
			return err
		}
		if page.Cursor == "" {
			return nil
		}
		if walk.repeats(page.Cursor) {
			return fmt.Errorf("dualwrite: reconcile %s: enumerate: %w: the engine returned a cursor it had returned before, so its pages never end", r.ResourceType, authz.ErrInternal)
		}
		cursor = page.Cursor
	}
}

// restoreAppeared registers those of the just-deregistered ids whose row
// has appeared since they were found orphaned: creates that were in flight.
func (p *pass) restoreAppeared(ctx context.Context, removed []string) error {
	if len(removed) == 0 {
		return nil
	}
	gone, err := p.missing(ctx, removed)
	if err != nil {
		return err
	}
	for _, id := range removed {
		if !slices.Contains(gone, id) {
			p.register(ctx, p.resource(id))
		}
	}
	return nil
}

// missing returns those of ids that have no row, in order. An answer of
// Exists that names an id it was not asked about is an error matching
// [authz.ErrInternal]: it shows a query that does not answer the question
// asked (one that ignores its argument, or spells ids otherwise), and
// taking the ids it left out for rows that are gone would deregister live
// rows.
func (p *pass) missing(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	existing, err := p.r.Exists(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("dualwrite: reconcile %s: exists: %w", p.r.ResourceType, err)
	}
	asked := make(map[string]bool, len(ids))
	for _, id := range ids {
		asked[id] = false
	}
	for _, id := range existing {
		if _, ok := asked[id]; !ok {
			return nil, fmt.Errorf("dualwrite: reconcile %s: exists: %w: Exists returned an id it was not asked about", p.r.ResourceType, authz.ErrInternal)
		}
		asked[id] = true
	}
	var out []string
	for _, id := range ids {
		if !asked[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// registerRows pages through the store's rows and registers those without
// a registration.
func (p *pass) registerRows(ctx context.Context) error {
	r := p.r
	limit := r.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	cursor := ""
	var walk cursorWalk
	for {
		ids, next, err := r.Rows(ctx, cursor, pageSize(r.PageSize))
		if err != nil {
			return fmt.Errorf("dualwrite: reconcile %s: rows: %w", r.ResourceType, err)
		}
		p.count(func(rep *Report) { rep.Rows += len(ids) })
		g, gctx := newGroup(ctx, limit, "reconcile "+r.ResourceType)
		for _, id := range ids {
			g.Go(p.resource(id), func() error { return p.checkRow(gctx, id) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		if walk.repeats(next) {
			return fmt.Errorf("dualwrite: reconcile %s: rows: %w: Rows returned a cursor it had returned before, so its pages never end", r.ResourceType, authz.ErrInternal)
		}
		cursor = next
	}
}

// cursorWalk notices pagination that goes round instead of ending: a next
// cursor equal to the one just used (a store that ignores the cursor) at
// once, and a longer cycle (a, b, a, ...) within about twice its length,
// by Brent's algorithm, in constant memory. Real cursors never repeat
// within a pass: each page starts after the last, so a repeated cursor
// asks for a page already read. The zero cursorWalk starts a pass.
type cursorWalk struct {
	last  string // the cursor of the page just read
	mark  string // an earlier cursor, moved forward at powers of two
	since int    // cursors since mark was set
	power int    // cursors after which mark moves next
}

// repeats records next, the non-empty cursor of the page to read next, and
// reports whether it repeats a cursor of the walk.
func (w *cursorWalk) repeats(next string) bool {
	if next == w.last || next == w.mark {
		return true
	}
	w.last = next
	if w.since++; w.since >= w.power {
		w.mark, w.since, w.power = next, 0, max(1, 2*w.power)
	}
	return false
}

// checkRow registers the row id if it has no relationships, and verifies
// its owner and parent otherwise if VerifyOwnership is set.
func (p *pass) checkRow(ctx context.Context, id string) error {
	res := p.resource(id)
	if !authz.ValidID(id) {
		p.fail(ctx, res, fmt.Errorf("dualwrite: reconcile %s: %w: store row has a malformed id", p.r.ResourceType, authz.ErrInvalidRequest))
		return nil
	}
	rels, err := p.r.Backend.ReadRelationships(ctx, authz.ReadRequest{Resource: res, Consistency: authz.FullyConsistent()})
	if err != nil {
		return fmt.Errorf("dualwrite: reconcile %s: read relationships: %w", p.r.ResourceType, err)
	}
	if len(rels) > 0 {
		if p.r.VerifyOwnership {
			p.verifyOwnership(ctx, res, rels)
		}
		return nil
	}
	p.count(func(rep *Report) { rep.Unregistered++ })
	observe(ctx, p.r.Hook, Event{Kind: UnregisteredFound, Resource: res})
	if p.r.Registration == nil || !p.repairable(ctx, res) {
		return nil
	}
	p.register(ctx, res)
	return nil
}

// register registers res from the store's record of its owner and parent,
// then undoes the registration if the row has vanished meanwhile (a delete
// in flight). Failures are recorded, not returned.
func (p *pass) register(ctx context.Context, res authz.Resource) {
	if p.r.Registration == nil {
		return
	}
	req, found, err := p.r.Registration(ctx, res.ID)
	if err != nil {
		p.fail(ctx, res, fmt.Errorf("dualwrite: reconcile %s: registration: %w", p.r.ResourceType, err))
		return
	}
	if !found {
		return
	}
	req.Resource = res
	_, err = register(ctx, p.r.Backend, req)
	switch {
	case errors.Is(err, authz.ErrConflict):
		// Registered meanwhile by someone else, such as a create.
		return
	case err != nil:
		p.fail(ctx, res, err)
		return
	}
	p.count(func(rep *Report) { rep.Reregistered++ })
	observe(ctx, p.r.Hook, Event{Kind: Reregistered, Resource: res})
	p.undoIfVanished(ctx, res)
}

// verifyOwnership compares the owner and parent relationships among rels,
// the relationships of the row res, with the store's registration of the
// row, and replaces them with the store's if they differ. Failures are
// recorded, not returned.
func (p *pass) verifyOwnership(ctx context.Context, res authz.Resource, rels []authz.Relationship) {
	req, found, err := p.r.Registration(ctx, res.ID)
	if err != nil {
		p.fail(ctx, res, fmt.Errorf("dualwrite: reconcile %s: registration: %w", p.r.ResourceType, err))
		return
	}
	if !found {
		return // deleted meanwhile: the next pass removes the orphan
	}
	req.Resource = res
	if err := req.Validate(); err != nil {
		p.fail(ctx, res, fmt.Errorf("dualwrite: reconcile %s: registration: %w", p.r.ResourceType, err))
		return
	}
	want, wrong, same := ownership(req, rels)
	if same {
		return
	}
	p.count(func(rep *Report) { rep.OwnershipMismatches++ })
	observe(ctx, p.r.Hook, Event{Kind: OwnershipMismatch, Resource: res})
	if !p.repairable(ctx, res) {
		return
	}
	if _, err := p.r.Backend.Write(ctx, authz.WriteRequest{Touch: want, Delete: wrong}); err != nil {
		p.fail(ctx, res, fmt.Errorf("dualwrite: reconcile %s: repair ownership of %s: %w", p.r.ResourceType, res, err))
		return
	}
	p.count(func(rep *Report) { rep.OwnershipRepaired++ })
	observe(ctx, p.r.Hook, Event{Kind: OwnershipRepaired, Resource: res})
	p.undoIfVanished(ctx, res)
}

// ownership compares the owner and parent relationships among rels with
// those req writes. It returns req's relationships, the relationships of
// rels in req's owner or parent relation that req does not write, and
// whether the two sets are the same. The parent relation is
// req.ParentRelation or its default even when req has no parent, so that
// a parent the store does not record is found.
func ownership(req authz.RegisterRequest, rels []authz.Relationship) (want, wrong []authz.Relationship, same bool) {
	want = req.Relationships()
	ownerRel := want[0].Relation
	parentRel := cmp.Or(req.ParentRelation, authz.DefaultParentRelation)
	same = true
	for _, r := range want {
		if !slices.Contains(rels, r) {
			same = false
		}
	}
	for _, r := range rels {
		if (r.Relation == ownerRel || r.Relation == parentRel) && !slices.Contains(want, r) {
			wrong = append(wrong, r)
			same = false
		}
	}
	return want, wrong, same
}

// undoIfVanished deregisters res if its row has vanished since the
// reconciler wrote its relationships (a delete in flight). Failures are
// recorded, not returned.
func (p *pass) undoIfVanished(ctx context.Context, res authz.Resource) {
	gone, err := p.missing(ctx, []string{res.ID})
	if err != nil {
		p.fail(ctx, res, err)
		return
	}
	if len(gone) > 0 {
		if err := p.deregister(ctx, res); err != nil {
			p.fail(ctx, res, err)
		}
	}
}

// deregister removes res's relationships.
func (p *pass) deregister(ctx context.Context, res authz.Resource) error {
	return deregister(ctx, p.r.Backend, res)
}

func pageSize(n int) int {
	if n <= 0 {
		return DefaultPageSize
	}
	return n
}

// group checks resources on goroutines, at most limit at once, and returns
// the first error, which cancels the others' context: an
// [errgroup.Group] from [errgroup.WithContext], except for panics and
// runtime.Goexit.
//
// The functions run code the caller supplied (the store's callbacks, the
// engine, the hooks) on goroutines the caller did not start, where nothing
// the caller wrote can recover. errgroup leaves a panic there to crash the
// process, a reconciliation running in the background of a service
// included, and counts a Goexit as success, so a pass whose rows went
// unchecked would report nothing missing. errgroup's reasons for not
// recovering (a panic delayed until Wait, its stack turned into a value)
// weigh less here than a crash: a failed pass is simply run again. So a
// group turns a panic into an error of the pass that carries the panic's
// value and stack, and a Goexit into an error too, and cancels the rest.
type group struct {
	g      errgroup.Group
	cancel context.CancelCauseFunc
	name   string // of the work, for errors: "reconcile task"

	mu  sync.Mutex // guards err
	err error      // the first error
}

// newGroup returns a group of at most limit goroutines at once, doing the
// work name, and the context its functions use, cancelled by the first
// error.
func newGroup(ctx context.Context, limit int, name string) (*group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := &group{cancel: cancel, name: name}
	g.g.SetLimit(limit)
	return g, ctx
}

// Go calls f, which checks res, on a goroutine of the group. Its error,
// or its panic or runtime.Goexit turned into an error that names res,
// fails the group.
func (g *group) Go(res authz.Resource, f func() error) {
	g.g.Go(func() error {
		returned := false
		defer func() {
			if !returned {
				g.fail(fmt.Errorf("dualwrite: %s: check %s: %w", g.name, res, unwound(recover())))
			}
		}()
		err := f()
		returned = true
		if err != nil {
			g.fail(err)
		}
		return nil
	})
}

// fail records err if it is the first error and cancels the group.
func (g *group) fail(err error) {
	g.mu.Lock()
	if g.err == nil {
		g.err = err
	}
	g.mu.Unlock()
	g.cancel(err)
}

// Wait waits for every function of the group and returns the first error.
func (g *group) Wait() error {
	g.g.Wait()
	g.cancel(nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// unwound returns the error of a function that did not return: it panicked
// with p, or, if p is nil, it called runtime.Goexit.
func unwound(p any) error {
	if p == nil {
		return errGoexit
	}
	return &panicError{value: p, stack: debug.Stack()}
}

// errGoexit reports a function that called runtime.Goexit.
var errGoexit = errors.New("callback called runtime.Goexit")

// panicError is a panic recovered on a goroutine of a [group].
type panicError struct {
	value any
	stack []byte // of the panicking goroutine
}

func (e *panicError) Error() string {
	return fmt.Sprintf("callback panicked: %v\n\n%s", e.value, e.stack)
}

// Unwrap returns the panic's value if it is an error.
func (e *panicError) Unwrap() error {
	err, _ := e.value.(error)
	return err
}
