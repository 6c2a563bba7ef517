package dualwrite_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/dualwrite"
	"github.com/fgac-go/fgac/memadapter"
)

const schema = `
definition user {}

definition task {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
}
`

// tasks is a service's table of tasks: id -> owner.
type tasks struct {
	mu   sync.Mutex // guards rows
	rows map[string]string
}

func (t *tasks) insert(id, owner string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.rows[id]; ok {
		return errors.New("tasks: duplicate key")
	}
	t.rows[id] = owner
	return nil
}

func (t *tasks) has(id, owner string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.rows[id]
	return ok && (owner == "" || o == owner)
}

func (t *tasks) remove(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.rows[id]
	delete(t.rows, id)
	return ok
}

// page is Reconciler.Rows: a real store runs
// SELECT id FROM tasks WHERE id > $cursor ORDER BY id LIMIT $limit.
func (t *tasks) page(_ context.Context, cursor string, limit int) ([]string, string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id := range t.rows {
		if id > cursor {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		return ids[:limit], ids[limit-1], nil
	}
	return ids, "", nil
}

// existing is Reconciler.Exists: SELECT id FROM tasks WHERE id = ANY($ids).
func (t *tasks) existing(_ context.Context, ids []string) ([]string, error) {
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !t.has(id, "") }), nil
}

// registration is Reconciler.Registration: the owner the row records.
func (t *tasks) registration(_ context.Context, id string) (authz.RegisterRequest, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	owner, ok := t.rows[id]
	return authz.RegisterRequest{Owner: authz.Subject{Type: "user", ID: owner}}, ok, nil
}

// create is how a service creates a task through a Writer.
func create(ctx context.Context, w *dualwrite.Writer, db *tasks, id, owner string, persist func(context.Context) error) error {
	_, err := w.Create(ctx, dualwrite.CreateRequest{
		Register: authz.RegisterRequest{
			Resource: authz.Resource{Type: "task", ID: id},
			Owner:    authz.Subject{Type: "user", ID: owner},
		},
		Persist: persist,
		Exists:  func(ctx context.Context) (bool, error) { return db.has(id, owner), nil },
	})
	return err
}

func Example() {
	ctx := context.Background()
	engine, err := memadapter.New(schema)
	if err != nil {
		panic(err)
	}
	db := &tasks{rows: map[string]string{}}
	var counts dualwrite.Counter
	w := &dualwrite.Writer{Registrar: engine, Hook: &counts}

	// A create registers, then inserts.
	err = create(ctx, w, db, "t1", "alice", func(context.Context) error { return db.insert("t1", "alice") })
	fmt.Println("create t1:", err)

	// An insert that fails is compensated; the caller gets the insert's error.
	err = create(ctx, w, db, "t2", "alice", func(context.Context) error { return errors.New("tasks: disk full") })
	fmt.Println("create t2:", err)

	// A duplicate by someone else is refused by the graph before the insert.
	err = create(ctx, w, db, "t1", "mallory", func(context.Context) error { return db.insert("t1", "mallory") })
	fmt.Println("create t1 again:", errors.Is(err, authz.ErrConflict))

	// A delete removes the row, then the relationships.
	deleted, err := w.Delete(ctx, dualwrite.DeleteRequest{
		Resource: authz.Resource{Type: "task", ID: "t1"},
		Delete:   func(_ context.Context, id string) (bool, error) { return db.remove(id), nil },
	})
	fmt.Println("delete t1:", deleted, err)

	fmt.Println(counts.Counts())
	// Output:
	// create t1: <nil>
	// create t2: tasks: disk full
	// create t1 again: true
	// delete t1: true <nil>
	// map[registered:2 compensated:1 deregistered:1]
}

func ExampleReconciler() {
	ctx := context.Background()
	engine, err := memadapter.New(schema)
	if err != nil {
		panic(err)
	}
	db := &tasks{rows: map[string]string{"t1": "alice"}}
	alice := authz.Subject{Type: "user", ID: "alice"}
	// t1 was inserted while the gate was off; t9's create crashed between
	// registering and inserting.
	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t9"}, Owner: alice}); err != nil {
		panic(err)
	}

	r := &dualwrite.Reconciler{
		Backend:      engine,
		ResourceType: "task",
		Rows:         db.page,
		Exists:       db.existing,
		Registration: db.registration,
	}
	for range 2 {
		rep, err := r.Reconcile(ctx)
		fmt.Printf("orphans %d removed %d, unregistered %d registered %d, err %v\n",
			rep.Orphans, rep.OrphansRemoved, rep.Unregistered, rep.Reregistered, err)
	}
	d, _ := engine.Check(ctx, authz.CheckRequest{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t1"}, Permission: "read"})
	fmt.Println("alice reads t1:", d)
	// Output:
	// orphans 1 removed 1, unregistered 1 registered 1, err <nil>
	// orphans 0 removed 0, unregistered 0 registered 0, err <nil>
	// alice reads t1: allowed
}

// A row inserted while the gate was off has no registration, so a
// duplicate create by someone else can register it; if that create then
// crashes before compensating, the row looks registered. VerifyOwnership
// gives it back to the owner the store records and keeps its grants.
func ExampleReconciler_verifyOwnership() {
	ctx := context.Background()
	engine, err := memadapter.New(schema)
	if err != nil {
		panic(err)
	}
	db := &tasks{rows: map[string]string{"t1": "alice"}}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	alice, mallory, bob := authz.Subject{Type: "user", ID: "alice"}, authz.Subject{Type: "user", ID: "mallory"}, authz.Subject{Type: "user", ID: "bob"}
	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: t1, Owner: mallory}); err != nil {
		panic(err)
	}
	if _, err := engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: t1, Relation: "viewer", Subject: bob}}); err != nil {
		panic(err)
	}

	r := &dualwrite.Reconciler{
		Backend:         engine,
		ResourceType:    "task",
		Rows:            db.page,
		Exists:          db.existing,
		Registration:    db.registration,
		VerifyOwnership: true,
	}
	for range 2 {
		rep, err := r.Reconcile(ctx)
		fmt.Printf("mismatches %d repaired %d, err %v\n", rep.OwnershipMismatches, rep.OwnershipRepaired, err)
	}
	for _, who := range []authz.Subject{alice, mallory, bob} {
		d, _ := engine.Check(ctx, authz.CheckRequest{Subject: who, Resource: t1, Permission: "read"})
		fmt.Printf("%s reads t1: %v\n", who.ID, d)
	}
	// Output:
	// mismatches 1 repaired 1, err <nil>
	// mismatches 0 repaired 0, err <nil>
	// alice reads t1: allowed
	// mallory reads t1: denied
	// bob reads t1: allowed
}

// A share is authorized, then the task is deleted before the share's grant
// is written: the grant fails as not found and leaves nothing behind.
func ExampleWriter_Grant() {
	ctx := context.Background()
	engine, err := memadapter.New(schema)
	if err != nil {
		panic(err)
	}
	db := &tasks{rows: map[string]string{}}
	w := &dualwrite.Writer{Registrar: engine, Granter: engine}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	bobViews := authz.GrantRequest{Relationship: authz.Relationship{Resource: t1, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}}}
	share := func() error {
		_, err := w.Grant(ctx, dualwrite.GrantRequest{
			Grant:  bobViews,
			Exists: func(context.Context) (bool, error) { return db.has("t1", ""), nil },
		})
		return err
	}
	if err := create(ctx, w, db, "t1", "alice", func(context.Context) error { return db.insert("t1", "alice") }); err != nil {
		panic(err)
	}

	fmt.Println("share:", share())
	if _, err := w.Delete(ctx, dualwrite.DeleteRequest{Resource: t1, Delete: func(_ context.Context, id string) (bool, error) { return db.remove(id), nil }}); err != nil {
		panic(err)
	}
	err = share() // authorized before the delete, granted after it
	fmt.Println("share after the delete:", errors.Is(err, authz.ErrNotFound))
	rels, _ := engine.ReadRelationships(ctx, authz.ReadRequest{Resource: t1})
	fmt.Println("relationships of t1 left:", len(rels))
	// Output:
	// share: <nil>
	// share after the delete: true
	// relationships of t1 left: 0
}
