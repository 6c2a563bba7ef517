package collapse_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/memadapter"
)

// The README's quickstart: register a task with its owner and parent, then
// ask what bob may do with it.
func ExampleCheckOrNotFound() {
	ctx := context.Background()
	engine, err := memadapter.New(`
		definition user {}
		definition agent {
			relation owner: user
			permission read = owner
		}
		definition task {
			relation parent: agent
			relation owner: user
			relation viewer: user
			permission read = owner + viewer + parent->read
			permission cancel = owner
		}`)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpCancel: "cancel"},
	})
	if err != nil {
		panic(err)
	}
	guard := authz.NewGuard(engine, ops)

	tok, err := engine.Register(ctx, authz.RegisterRequest{
		Resource: authz.Resource{Type: "task", ID: "t1"},
		Owner:    authz.Subject{Type: "user", ID: "alice"},
		Parent:   &authz.Resource{Type: "agent", ID: "a1"},
	})
	if err != nil {
		panic(err)
	}
	ask := func(who string, op authz.Operation, id string) {
		err := collapse.CheckOrNotFound(ctx, guard, authz.Question{
			Subject:     authz.Subject{Type: "user", ID: who},
			Resource:    authz.Resource{Type: "task", ID: id},
			Operation:   op,
			Consistency: authz.AtLeastAsFresh(tok),
		})
		switch {
		case err == nil:
			fmt.Println(who, op, id, "-> 200")
		case errors.Is(err, authz.ErrNotFound):
			fmt.Println(who, op, id, "-> 404")
		case errors.Is(err, authz.ErrDenied):
			fmt.Println(who, op, id, "-> 403")
		default:
			fmt.Println(who, op, id, "->", err)
		}
	}
	ask("alice", authz.OpCancel, "t1")
	ask("bob", authz.OpCancel, "t1") // unreadable: same answer as missing
	ask("bob", authz.OpCancel, "t2") // missing
	tok, _ = engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"},
	}})
	ask("bob", authz.OpRead, "t1")
	ask("bob", authz.OpCancel, "t1") // readable: a plain 403
	// Output:
	// alice cancel t1 -> 200
	// bob cancel t1 -> 404
	// bob cancel t2 -> 404
	// bob read t1 -> 200
	// bob cancel t1 -> 403
}

// A page of tasks filtered with bulk checks, for lists too long to look
// up. Each page checks the candidates the repository fetches, a batch per
// bulk call, until the page is full. The cursor handed to the client is
// sealed: it may point after a task the caller cannot see, so its bytes
// say nothing, and it is good only for the subject and list it was
// issued for.
func ExampleFilterPage() {
	ctx := context.Background()
	engine, err := memadapter.New(`
		definition user {}
		definition task {
			relation owner: user
			permission read = owner
		}`)
	if err != nil {
		panic(err)
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read"},
	})
	if err != nil {
		panic(err)
	}
	guard := authz.NewGuard(engine, ops)

	// The service's table, in the order of its primary key.
	type task struct{ id, owner string }
	rows := []task{
		{"t01", "alice"}, {"t02", "alice"}, {"t03", "bob"}, {"t04", "alice"}, {"t05", "bob"},
		{"t06", "bob"}, {"t07", "alice"}, {"t08", "alice"}, {"t09", "bob"},
	}
	for _, t := range rows {
		if _, err := engine.Register(ctx, authz.RegisterRequest{
			Resource: authz.Resource{Type: "task", ID: t.id},
			Owner:    authz.Subject{Type: "user", ID: t.owner},
		}); err != nil {
			panic(err)
		}
	}
	// fetch is SELECT id, owner FROM tasks WHERE id > $cursor ORDER BY id LIMIT $n.
	fetch := func(_ context.Context, cursor string, n int) ([]task, string, error) {
		var out []task
		for _, t := range rows {
			if t.id > cursor && len(out) < n {
				out = append(out, t)
			}
		}
		if len(out) < n {
			return out, "", nil // exhausted
		}
		return out, out[len(out)-1].id, nil
	}

	cursors := collapse.RandomCursors() // NewCursors(key) when replicas share cursors
	page := func(who, cursor string) ([]task, string, error) {
		return collapse.FilterPage(ctx, guard, collapse.PageRequest[task]{
			Subject:   authz.Subject{Type: "user", ID: who},
			Operation: authz.OpRead,
			Size:      2,
			Batch:     3,
			List:      "GET /tasks",
			Cursors:   cursors,
			Cursor:    cursor,
			Fetch:     fetch,
			Resource:  func(t task) authz.Resource { return authz.Resource{Type: "task", ID: t.id} },
			CursorOf:  func(t task) string { return t.id },
		})
	}

	var cursor, second string
	for n := 1; ; n++ {
		items, next, err := page("alice", cursor)
		if err != nil {
			panic(err)
		}
		fmt.Printf("page %d: %v, more: %t\n", n, items, len(next) > 0)
		if n == 1 {
			second = next
		}
		if next == "" {
			break
		}
		cursor = next
	}

	// Alice's cursor is no good to bob.
	_, _, err = page("bob", second)
	fmt.Println("bob with alice's cursor:", errors.Is(err, collapse.ErrBadCursor))
	// Output:
	// page 1: [{t01 alice} {t02 alice}], more: true
	// page 2: [{t04 alice} {t07 alice}], more: true
	// page 3: [{t08 alice}], more: false
	// bob with alice's cursor: true
}
