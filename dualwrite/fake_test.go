package dualwrite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/fgac-go/fgac/authz"
)

// engine is what the tests need of an authorization engine: the dual-write
// backend, checks for the read path, and grants.
type engine interface {
	Backend
	authz.Checker
	authz.Granter
}

// fault is what an injected fault does to one backend or store call.
type fault uint8

const (
	noFault      fault = iota
	failBefore         // fail without writing
	failAfter          // write, then report failure (an ambiguous timeout)
	panicBefore        // panic without writing (store only)
	panicAfter         // write, then panic (store only)
	cancelBefore       // cancel the caller's context and fail without writing (store only)
	cancelAfter        // write, cancel the caller's context, then fail (store only)
)

func (f fault) String() string {
	return [...]string{"noFault", "failBefore", "failAfter", "panicBefore", "panicAfter", "cancelBefore", "cancelAfter"}[f]
}

// errInjected is the cause of every injected backend failure.
var errInjected = errors.New("injected")

// callKey names the calls of one operation on one resource.
type callKey struct {
	op  string // "register", "deregister", "write", "grant" or "revoke"
	res authz.Resource
}

// callStats counts what happened to the calls of one key.
type callStats struct {
	calls    int // calls that reached the wrapper
	injected int // calls failed by an injected fault
	ambig    int // calls that wrote and then reported failure
}

// faulty wraps an engine and fails Register, Deregister, Write, Grant and
// Revoke calls as planned per resource (for Write, the resource of its
// first relationship), counting them. Like a remote backend, it fails
// every call whose context is already done. It never retries, so its
// counts are the calls of the code under test.
type faulty struct {
	engine

	mu    sync.Mutex // guards plan and stats
	plan  map[callKey][]fault
	stats map[callKey]callStats
}

func newFaulty(e engine) *faulty {
	return &faulty{engine: e, plan: map[callKey][]fault{}, stats: map[callKey]callStats{}}
}

// inject queues faults for the next calls of op on res, one per call.
func (f *faulty) inject(op string, res authz.Resource, faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := callKey{op, res}
	f.plan[k] = append(f.plan[k], faults...)
}

// reset drops the plan and stats of res.
func (f *faulty) reset(res authz.Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range []string{"register", "deregister", "write", "grant", "revoke"} {
		delete(f.plan, callKey{op, res})
		delete(f.stats, callKey{op, res})
	}
}

func (f *faulty) statsOf(op string, res authz.Resource) callStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats[callKey{op, res}]
}

// next pops the fault for a call and counts the call.
func (f *faulty) next(op string, res authz.Resource) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := callKey{op, res}
	st := f.stats[k]
	st.calls++
	var ft fault
	if q := f.plan[k]; len(q) > 0 {
		ft, f.plan[k] = q[0], q[1:]
	}
	if ft != noFault {
		st.injected++
	}
	f.stats[k] = st
	return ft
}

// wroteAmbiguously counts a call that wrote and then reported failure.
func (f *faulty) wroteAmbiguously(op string, res authz.Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := callKey{op, res}
	st := f.stats[k]
	st.ambig++
	f.stats[k] = st
}

func unavailable(err error) error { return fmt.Errorf("%w: %w", authz.ErrUnavailable, err) }

func (f *faulty) call(ctx context.Context, op string, res authz.Resource, write func() (authz.Token, error)) (authz.Token, error) {
	ft := f.next(op, res)
	if err := ctx.Err(); err != nil {
		return authz.Token{}, unavailable(err)
	}
	if ft == failBefore {
		return authz.Token{}, unavailable(errInjected)
	}
	tok, err := write()
	if ft == failAfter {
		if err == nil {
			f.wroteAmbiguously(op, res)
		}
		return authz.Token{}, unavailable(errInjected)
	}
	return tok, err
}

func (f *faulty) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	return f.call(ctx, "register", req.Resource, func() (authz.Token, error) { return f.engine.Register(ctx, req) })
}

func (f *faulty) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	return f.call(ctx, "deregister", req.Resource, func() (authz.Token, error) { return f.engine.Deregister(ctx, req) })
}

func (f *faulty) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	var res authz.Resource
	if rels := slices.Concat(req.Touch, req.Delete); len(rels) > 0 {
		res = rels[0].Resource
	}
	return f.call(ctx, "write", res, func() (authz.Token, error) { return f.engine.Write(ctx, req) })
}

func (f *faulty) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return f.call(ctx, "grant", req.Relationship.Resource, func() (authz.Token, error) { return f.engine.Grant(ctx, req) })
}

func (f *faulty) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return f.call(ctx, "revoke", req.Relationship.Resource, func() (authz.Token, error) { return f.engine.Revoke(ctx, req) })
}

// sameRels reports whether a and b hold the same relationships, in any
// order.
func sameRels(a, b []authz.Relationship) bool {
	less := func(x, y authz.Relationship) int { return cmp.Compare(x.String(), y.String()) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, less)
	slices.SortFunc(b, less)
	return slices.Equal(a, b)
}

// row is one row of the fake store.
type row struct {
	name   string
	owner  authz.Subject
	parent *authz.Resource
}

// store is an in-memory table of one resource type whose calls fail as
// planned. Like a database, it fails calls whose context is done.
type store struct {
	typ string

	mu   sync.Mutex // guards rows
	rows map[string]row
}

func newStore(typ string) *store { return &store{typ: typ, rows: map[string]row{}} }

var errStore = errors.New("store: injected failure")

// errDuplicate is the store's duplicate-key error.
var errDuplicate = errors.New("store: duplicate key")

// panicValue is what an injected store panic panics with.
type panicValue struct{ ID string }

func (s *store) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.rows[id]
	return ok
}

func (s *store) get(id string) (row, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rows[id]
	return r, ok
}

// apply runs write under the planned fault ft. cancel cancels the caller's
// context (for cancelBefore and cancelAfter).
func (s *store) apply(ctx context.Context, id string, ft fault, cancel context.CancelFunc, write func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch ft {
	case failBefore:
		return errStore
	case panicBefore:
		panic(panicValue{id})
	case cancelBefore:
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if err := write(); err != nil {
		return err
	}
	switch ft {
	case failAfter:
		return errStore
	case panicAfter:
		panic(panicValue{id})
	case cancelAfter:
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// persist returns a Persist func that inserts the row of req.
func (s *store) persist(req authz.RegisterRequest, ft fault, cancel context.CancelFunc) func(context.Context) error {
	id := req.Resource.ID
	return func(ctx context.Context) error {
		return s.apply(ctx, id, ft, cancel, func() error {
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, ok := s.rows[id]; ok {
				return errDuplicate
			}
			s.rows[id] = row{name: "n-" + id, owner: req.Owner, parent: req.Parent}
			return nil
		})
	}
}

// exists returns an Exists func that reports whether the row req's create
// persisted is there: same id, owner and parent. With fail it fails.
func (s *store) exists(req authz.RegisterRequest, fail bool) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if fail {
			return false, errStore
		}
		r, ok := s.get(req.Resource.ID)
		return ok && r.owner == req.Owner && equalParent(r.parent, req.Parent), nil
	}
}

func equalParent(a, b *authz.Resource) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// delete returns a Delete func.
func (s *store) delete(ft fault, cancel context.CancelFunc) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		deleted := false
		err := s.apply(ctx, id, ft, cancel, func() error {
			s.mu.Lock()
			defer s.mu.Unlock()
			_, deleted = s.rows[id]
			delete(s.rows, id)
			return nil
		})
		return deleted && err == nil, err
	}
}

// resolve returns a Resolve func that finds a row by name.
func (s *store) resolve(name string) func(context.Context) (string, bool, error) {
	return func(ctx context.Context) (string, bool, error) {
		if err := ctx.Err(); err != nil {
			return "", false, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for id, r := range s.rows {
			if r.name == name {
				return id, true, nil
			}
		}
		return "", false, nil
	}
}

// page returns the store's ids in order, limit at a time.
func (s *store) page(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	s.mu.Lock()
	var ids []string
	for id := range s.rows {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	if len(ids) <= limit {
		return ids, "", nil
	}
	return ids[:limit], ids[limit-1], nil
}

// existing returns those of ids with a row.
func (s *store) existing(ctx context.Context, ids []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range ids {
		if _, ok := s.rows[id]; ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// registration returns the registration the store records for id.
func (s *store) registration(ctx context.Context, id string) (authz.RegisterRequest, bool, error) {
	r, ok := s.get(id)
	if !ok {
		return authz.RegisterRequest{}, false, nil
	}
	return authz.RegisterRequest{Owner: r.owner, Parent: r.parent}, true, nil
}

// reconciler returns a Reconciler over s and e.
func (s *store) reconciler(e Backend, hooks Hook) *Reconciler {
	return &Reconciler{
		Backend:      e,
		ResourceType: s.typ,
		Rows:         s.page,
		Exists:       s.existing,
		Registration: s.registration,
		Hook:         hooks,
		PageSize:     3,
		Concurrency:  2,
	}
}

// readable is the read path of a service: it serves the row only if it
// exists and the subject may read it.
func readable(ctx context.Context, s *store, e authz.Checker, id string, sub authz.Subject) (bool, error) {
	if !s.has(id) {
		return false, nil
	}
	d, err := e.Check(ctx, authz.CheckRequest{Subject: sub, Resource: authz.Resource{Type: s.typ, ID: id}, Permission: "read", Consistency: authz.FullyConsistent()})
	if err != nil {
		return false, err
	}
	return d.Allowed(), nil
}

// recorder is a Hook that keeps every event.
type recorder struct {
	mu     sync.Mutex // guards events
	events []Event
}

func (r *recorder) Observe(_ context.Context, e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// kinds returns the kinds of the events about res, in order.
func (r *recorder) kinds(res authz.Resource) []Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []Kind
	for _, e := range r.events {
		if e.Resource == res {
			ks = append(ks, e.Kind)
		}
	}
	return ks
}

// forget drops the events about res.
func (r *recorder) forget(res authz.Resource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = slices.DeleteFunc(r.events, func(e Event) bool { return e.Resource == res })
}
