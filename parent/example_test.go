package parent_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/parent"
)

// Messages carry no permissions of their own: a message is authorized as
// the task it belongs to. A resolver reports a missing child with
// authz.ErrNotFound, or with the store's own not-found (sql.ErrNoRows,
// fs.ErrNotExist), which Resolve recognises too, so that a missing child
// answers 404 rather than 500.
func ExampleRegistry() {
	ctx := context.Background()
	messages := map[string]string{"m1": "t1"} // message id -> task id

	var parents parent.Registry
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		task, ok := messages[id]
		if !ok {
			return "", authz.ErrNotFound
		}
		return task, nil
	}))
	// A resolver over database/sql returns what QueryRowContext(...).Scan
	// returns for no row.
	parents.Register("checkpoint", "task", parent.ResolverFunc(func(context.Context, string) (string, error) {
		return "", sql.ErrNoRows
	}))

	r, err := parents.Resolve(ctx, authz.Resource{Type: "message", ID: "m1"})
	fmt.Println(r, err)

	_, err = parents.Resolve(ctx, authz.Resource{Type: "message", ID: "m2"})
	fmt.Println("missing message:", errors.Is(err, authz.ErrNotFound))

	_, err = parents.Resolve(ctx, authz.Resource{Type: "checkpoint", ID: "c1"})
	fmt.Println("sql.ErrNoRows:", errors.Is(err, authz.ErrNotFound))

	// A type that is not a child resolves to itself.
	r, err = parents.Resolve(ctx, authz.Resource{Type: "task", ID: "t1"})
	fmt.Println(r, err)

	// The type a child is authorized as is known without asking a resolver.
	typ, err := parents.TargetType("message")
	fmt.Println(typ, err)
	// Output:
	// task:t1 <nil>
	// missing message: true
	// sql.ErrNoRows: true
	// task:t1 <nil>
	// task <nil>
}
