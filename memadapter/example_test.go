package memadapter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

func Example() {
	a, err := memadapter.New(`
definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation parent: agent
	relation owner: user
	permission read = owner + parent->read
}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	alice := authz.Subject{Type: "user", ID: "alice"}
	agent := authz.Resource{Type: "agent", ID: "a1"}
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: agent, Owner: alice}); err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"t1", "t2"} {
		_, err := a.Register(ctx, authz.RegisterRequest{
			Resource: authz.Resource{Type: "task", ID: id},
			Owner:    authz.Subject{Type: "user", ID: "bob"},
			Parent:   &agent,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	d, err := a.Check(ctx, authz.CheckRequest{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t1"}, Permission: "read"})
	fmt.Println("alice reads t1:", d, err)

	res, err := a.Lookup(ctx, authz.LookupRequest{Subject: alice, ResourceType: "task", Permission: "read"})
	fmt.Println("alice reads:", res.IDs(), err)

	_, err = a.Check(ctx, authz.CheckRequest{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t1"}, Permission: "write"})
	fmt.Println(err)
	// Output:
	// alice reads t1: allowed <nil>
	// alice reads: [t1 t2] <nil>
	// memadapter: resource type "task" has no relation or permission "write": authz: invalid request
}

func ExampleAuthorizer_Explain() {
	a, err := memadapter.New(`
definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation parent: agent
	relation owner: user
	permission read = owner + parent->read
}
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	agent := authz.Resource{Type: "agent", ID: "a1"}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: agent, Owner: authz.Subject{Type: "user", ID: "alice"}}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: t1, Owner: authz.Subject{Type: "user", ID: "bob"}, Parent: &agent}); err != nil {
		fmt.Println(err)
		return
	}

	for _, id := range []string{"alice", "mallory"} {
		e, err := a.Explain(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: id}, Resource: t1, Permission: "read"})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Print(e)
	}
	// Output:
	// ✓ task:t1#read (permission) owner + parent->read
	//   ✓ (union)
	//     ✗ task:t1#owner (relation)
	//       ✗ (relationship) no task:t1#owner@user:alice
	//     ✓ task:t1#parent (arrow) parent->read
	//       ✓ agent:a1#read (permission) owner
	//         ✓ agent:a1#owner (relation)
	//           ✓ (relationship) agent:a1#owner@user:alice
	// ✗ task:t1#read (permission) owner + parent->read
	//   ✗ (union)
	//     ✗ task:t1#owner (relation)
	//       ✗ (relationship) no task:t1#owner@user:mallory
	//     ✗ task:t1#parent (arrow) parent->read
	//       ✗ agent:a1#read (permission) owner
	//         ✗ agent:a1#owner (relation)
	//           ✗ (relationship) no agent:a1#owner@user:mallory
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "graph")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "graph.db")
	const schema = `
definition user {}

definition task {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
}
`
	ctx := context.Background()
	task := authz.Resource{Type: "task", ID: "t1"}
	bob := authz.Subject{Type: "user", ID: "bob"}

	a, err := memadapter.Open(path, schema, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Once Grant returns, the share is on disk.
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: task, Owner: authz.Subject{Type: "user", ID: "alice"}}); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: task, Relation: "viewer", Subject: bob}}); err != nil {
		fmt.Println(err)
		return
	}
	a.Close()

	// A restart: the relationships are loaded from the file.
	b, err := memadapter.Open(path, schema, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := b.Check(ctx, authz.CheckRequest{Subject: bob, Resource: task, Permission: "read"})
	fmt.Println(d.Allowed(), err)
	b.Close()

	// A schema that would strand stored relationships is refused.
	_, err = memadapter.Open(path, "definition user {}\n\ndefinition task {\n\trelation owner: user\n}", nil)
	fmt.Println(errors.Is(err, authz.ErrInvalidRequest))
	// Output:
	// true <nil>
	// true
}
