package authz_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

func ExampleParseSubject() {
	s, err := authz.ParseSubject("group:eng#member")
	fmt.Println(s.Type, s.ID, s.Relation, err)

	// Input can never name every user at once.
	_, err = authz.ParseSubject("user:*")
	fmt.Println(errors.Is(err, authz.ErrInvalidRequest))
	// Output:
	// group eng member <nil>
	// true
}

func ExampleRelationship_String() {
	r := authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t1"},
		Relation: "viewer",
		Subject:  authz.Wildcard("user"),
	}
	fmt.Println(r)
	// Output: task:t1#viewer@user:*
}

func ExampleFilter() {
	for _, f := range []authz.Filter{authz.FilterIDs([]string{"t1", "t2"}, ""), {}, authz.Unfiltered()} {
		// Test Empty and All before IDs: an empty filter lists nothing,
		// only an unfiltered one (a trusted bypass) lists everything.
		switch {
		case f.Empty():
			fmt.Println("nothing")
		case f.All():
			fmt.Println("no filter")
		default:
			fmt.Printf("only %q\n", f.IDs())
		}
	}
	// Output:
	// only ["t1" "t2"]
	// nothing
	// no filter
}

func ExampleNewOperationMap() {
	schema := perms{"task": {"read", "update"}}
	_, err := authz.NewOperationMap(schema, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpCancel: "cancel"},
	})
	fmt.Println(err)
	// Output: authz: task: operation "cancel" maps to permission "cancel", which the schema does not define
}

// ownerEngine allows one check: user:alice may read task:t1.
type ownerEngine struct{ countingEngine }

func (*ownerEngine) Check(_ context.Context, req authz.CheckRequest) (authz.Decision, error) {
	if req.Subject.String() == "user:alice" && req.Resource.String() == "task:t1" && req.Permission == "read" {
		return authz.Allow(), nil
	}
	return authz.Deny(), nil
}

func ExampleGuard_Authorize() {
	ops, err := authz.NewOperationMap(perms{"task": {"read", "update"}}, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpUpdate: "update"},
	})
	if err != nil {
		panic(err)
	}
	g := authz.NewGuard(&ownerEngine{}, ops)
	ctx := context.Background()
	alice := authz.Subject{Type: "user", ID: "alice"}
	t1 := authz.Resource{Type: "task", ID: "t1"}

	fmt.Println(g.Authorize(ctx, authz.Question{Subject: alice, Resource: t1, Operation: authz.OpRead}))
	err = g.Authorize(ctx, authz.Question{Subject: alice, Resource: t1, Operation: authz.OpUpdate})
	fmt.Println(err, errors.Is(err, authz.ErrDenied))
	err = g.Authorize(ctx, authz.Question{Subject: alice, Resource: t1, Operation: authz.OpDelete})
	fmt.Println(errors.Is(err, authz.ErrInvalidRequest))
	// Output:
	// <nil>
	// authz: permission denied: update on task:t1 true
	// true
}

func ExampleWithBypass() {
	ops, err := authz.NewOperationMap(perms{"task": {"delete"}}, map[string]map[authz.Operation]string{"task": {authz.OpDelete: "delete"}})
	if err != nil {
		panic(err)
	}
	g := authz.NewGuard(&ownerEngine{}, ops)
	// Only Go code, after authenticating the job, can build this context.
	ctx := authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "cleanup"}})

	t9 := authz.Resource{Type: "task", ID: "t9"}
	d, err := g.Decide(ctx, authz.Question{
		Subject:   authz.Subject{Type: "service", ID: "cleanup"},
		Resource:  t9,
		Operation: authz.OpDelete,
	})
	b, bypassed := authz.BypassFor(ctx, t9)
	fmt.Println(d, err, bypassed, b.Identity)
	// Output: allowed <nil> true service:cleanup
}
