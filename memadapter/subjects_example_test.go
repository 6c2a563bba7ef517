package memadapter_test

import (
	"context"
	"fmt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

func ExampleAuthorizer_LookupSubjects() {
	a, err := memadapter.New(`
definition user {}

definition group {
	relation member: user | group#member
}

definition doc {
	relation viewer: user | user:* | group#member
	relation banned: user
	permission view = viewer - banned
}`)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	doc := authz.Resource{Type: "doc", ID: "d1"}
	_, err = a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "group", ID: "eng", Relation: "member"}},
		{Resource: authz.Resource{Type: "group", ID: "eng"}, Relation: "member", Subject: authz.Subject{Type: "user", ID: "bob"}},
		{Resource: authz.Resource{Type: "group", ID: "eng"}, Relation: "member", Subject: authz.Subject{Type: "user", ID: "mallory"}},
		{Resource: doc, Relation: "banned", Subject: authz.Subject{Type: "user", ID: "mallory"}},
	}})
	if err != nil {
		panic(err)
	}
	who := authz.SubjectLookupRequest{Resource: doc, Permission: "view", SubjectType: "user"}
	res, _ := a.LookupSubjects(ctx, who)
	fmt.Println(res.Subjects)

	// Made public, the document's viewers are everyone but the banned.
	_, _ = a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Wildcard("user")}})
	for f, err := range authz.AllSubjects(ctx, a, who) {
		if err != nil {
			panic(err)
		}
		fmt.Println(f)
	}
	// Output:
	// [user:bob]
	// user:* - {user:mallory}
	// user:bob
}
