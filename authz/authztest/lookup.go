package authztest

import (
	"fmt"

	"github.com/fgac-go/fgac/authz"
)

// mainGraph writes a graph over [Schema] in which access to tasks t1..t6
// arrives by every path the schema has: ownership, roles, nested groups, an
// org two levels up, a public agent, bans and a missing parent.
func mainGraph(e *env) {
	e.t.Helper()
	e.write(
		"org:acme#owner@user:olga",
		"org:acme#member@group:eng#member",
		"group:eng#member@user:bob",
		"group:eng#member@group:backend#member",
		"group:backend#member@user:bea",
		"agent:a1#parent@org:acme",
		"agent:a1#viewer@user:alice",
		"agent:a2#owner@user:alice",
		"agent:a2#viewer@user:*",
		"task:t1#parent@agent:a1",
		"task:t1#owner@user:alice",
		"task:t2#parent@agent:a1",
		"task:t2#editor@user:carol",
		"task:t2#banned@user:bob",
		"task:t3#parent@agent:a2",
		"task:t3#owner@user:dana",
		"task:t4#owner@user:alice",
		"task:t5#viewer@group:eng#member",
		"task:t5#banned@user:mallory",
		"task:t6#parent@agent:a2",
		"task:t6#banned@user:mallory",
	)
}

// operatorGraph writes a graph over operatorSchema that separates the
// permissions of the doc definition from each other.
func operatorGraph(e *env) {
	e.t.Helper()
	e.write(
		"doc:d1#viewer@user:alice",
		"doc:d1#approver@user:alice",
		"doc:d2#viewer@user:bob",
		"doc:d2#editor@user:bob",
		"doc:d2#banned@user:bob",
		"doc:d2#pardoned@user:bob",
		"doc:d3#viewer@user:*",
		"doc:d3#banned@user:mallory",
		"doc:d4#viewer@user:carol",
		"doc:d4#editor@user:carol",
		"doc:d5#viewer@service:bot",
		"doc:d5#banned@user:*",
		"doc:d6#approver@user:bob",
	)
}

// access is the expected answer of one lookup.
type access struct {
	subject string
	want    []string
}

// wantAccessAll asserts wantAccess for each entry.
func (e *env) wantAccessAll(typ, permission string, entries []access) {
	e.t.Helper()
	for _, a := range entries {
		e.wantAccess(typ, permission, a.subject, a.want...)
	}
}

func lookupCases() []Case {
	return []Case{
		{
			Name:   "lookup/main-read",
			Rule:   "Lookup of task read equals the set of ids Check allows, through ownership, roles, groups, two levels of arrows, a public agent and bans.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantAccessAll("task", "read", []access{
					{"user:alice", []string{"t1", "t2", "t3", "t4", "t6"}},
					{"user:bob", []string{"t1", "t3", "t5", "t6"}},
					{"user:bea", []string{"t1", "t2", "t3", "t5", "t6"}},
					{"user:carol", []string{"t2", "t3", "t6"}},
					{"user:dana", []string{"t3", "t6"}},
					{"user:mallory", []string{"t3"}},
					{"user:olga", []string{"t1", "t2", "t3", "t6"}},
					{"user:nobody", []string{"t3", "t6"}},
					{"service:bot", nil},
				})
			},
		},
		{
			Name:   "lookup/main-update",
			Rule:   "Lookup of an intersection with an arrow (task update) equals the set of ids Check allows.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantAccessAll("task", "update", []access{
					{"user:alice", []string{"t1"}},
					{"user:dana", []string{"t3"}},
					{"user:carol", nil},
					{"user:olga", nil},
					{"user:bob", nil},
				})
			},
		},
		{
			Name:   "lookup/main-delete-cancel",
			Rule:   "Lookup of a permission that follows a permission two levels up (task delete) and of a single relation (task cancel) equals the set of ids Check allows.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantAccessAll("task", "delete", []access{
					{"user:alice", []string{"t1", "t3", "t4", "t6"}},
					{"user:olga", []string{"t1", "t2"}},
					{"user:dana", []string{"t3"}},
					{"user:bob", nil},
				})
				e.wantAccessAll("task", "cancel", []access{
					{"user:alice", []string{"t1", "t4"}},
					{"user:dana", []string{"t3"}},
					{"user:olga", nil},
				})
			},
		},
		{
			Name:   "lookup/main-agents",
			Rule:   "Lookup one level up (agent read and update) equals the set of ids Check allows.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantAccessAll("agent", "read", []access{
					{"user:alice", []string{"a1", "a2"}},
					{"user:bea", []string{"a1", "a2"}},
					{"user:olga", []string{"a1", "a2"}},
					{"user:carol", []string{"a2"}},
					{"service:bot", nil},
				})
				e.wantAccessAll("agent", "update", []access{
					{"user:olga", []string{"a1"}},
					{"user:alice", []string{"a2"}},
					{"user:bob", nil},
				})
			},
		},
		{
			Name:   "lookup/operators",
			Rule:   "Lookup of unions, intersections, nested exclusions, wildcards and nil equals the set of ids Check allows.",
			Schema: operatorSchema,
			run: func(e *env) {
				operatorGraph(e)
				view := []access{
					{"user:alice", []string{"d1", "d3"}},
					{"user:bob", []string{"d2", "d3"}},
					{"user:carol", []string{"d3", "d4"}},
					{"user:mallory", []string{"d3"}},
					{"user:nobody", []string{"d3"}},
					{"service:bot", []string{"d5"}},
				}
				e.wantAccessAll("doc", "view", view)
				e.wantAccessAll("doc", "view_or_nil", view)
				e.wantAccessAll("doc", "view_minus_nil", view)
				e.wantAccessAll("doc", "approved_view", []access{
					{"user:alice", []string{"d1"}},
					{"user:bob", nil},
					{"user:nobody", nil},
				})
				e.wantAccessAll("doc", "safe_view", []access{
					{"user:alice", []string{"d1", "d3"}},
					{"user:bob", []string{"d3"}},
					{"user:carol", []string{"d3", "d4"}},
					{"user:mallory", nil},
					{"service:bot", []string{"d5"}},
				})
				e.wantAccessAll("doc", "lenient_view", []access{
					{"user:bob", []string{"d2", "d3"}},
					{"user:mallory", nil},
					{"service:bot", []string{"d5"}},
				})
				e.wantAccessAll("doc", "strict_view", []access{
					{"user:carol", []string{"d4"}},
					{"user:bob", nil},
				})
				e.wantAccessAll("doc", "view_and_nil", []access{{"user:alice", nil}, {"user:nobody", nil}})
				e.wantAccessAll("doc", "nothing", []access{{"user:bob", nil}})
			},
		},
		{
			Name:   "lookup/nested-groups",
			Rule:   "Lookup follows nested groups exactly as Check does.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"group:eng#member@group:backend#member",
					"group:backend#member@user:bea",
					"group:eng#member@user:bob",
					"task:t1#viewer@group:eng#member",
					"task:t2#editor@group:backend#member",
					"task:t3#viewer@group:ops#member",
				)
				e.wantAccess("task", "read", "user:bea", "t1", "t2")
				e.wantAccess("task", "read", "user:bob", "t1")
				e.wantAccess("group", "member", "user:bea", "backend", "eng")
			},
		},
		{
			Name:   "lookup/relation",
			Rule:   "Lookup by a relation name returns exactly the direct holders of that relation.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:alice", "task:t2#owner@user:alice", "task:t3#viewer@user:*")
				e.wantAccess("task", "viewer", "user:alice", "t1", "t3")
				e.wantAccess("task", "owner", "user:alice", "t2")
			},
		},
		{
			Name:   "lookup/empty",
			Rule:   "A lookup that matches nothing is an empty list without a cursor.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				res, err := e.a.Lookup(e.ctx, authz.LookupRequest{Subject: e.sub("user:bob"), ResourceType: "task", Permission: "read", Consistency: e.fresh()})
				if err != nil {
					e.t.Fatalf("Lookup: %v", err)
				}
				if len(res.IDs()) != 0 || res.Cursor() != "" {
					e.t.Errorf("Lookup = ids %v, cursor %q; want an empty list without a cursor", res.IDs(), res.Cursor())
				}
				if res.Contains("t1") {
					e.t.Errorf("empty Lookup result contains t1")
				}
				e.wantAccess("agent", "read", "user:alice")
			},
		},
		{
			Name:   "lookup/paging",
			Rule:   "Paging a lookup with Limit and Cursor returns every id exactly once and at most Limit ids per page, whatever the limit.",
			Schema: Schema,
			run: func(e *env) {
				ids := seq("p", 25)
				var rels []string
				for _, id := range ids {
					rels = append(rels, "task:"+id+"#owner@user:alice")
				}
				e.write(rels...)
				for _, limit := range []int{1, 2, 7, 25, 100} {
					e.wantOnce(fmt.Sprintf("Lookup pages with limit %d", limit), ids, e.lookupPaged("task", "read", "user:alice", limit))
				}
			},
		},
		{
			Name:   "lookup/paging-mixed",
			Rule:   "Paging a lookup whose ids arrive by several paths, some of them excluded, returns each allowed id exactly once.",
			Schema: Schema,
			run: func(e *env) {
				e.write("group:eng#member@user:alice", "agent:a1#viewer@user:alice")
				var rels, want []string
				for i, id := range seq("m", 30) {
					switch i % 5 {
					case 0:
						rels = append(rels, "task:"+id+"#owner@user:alice")
					case 1:
						rels = append(rels, "task:"+id+"#viewer@group:eng#member")
					case 2:
						rels = append(rels, "task:"+id+"#parent@agent:a1", "task:"+id+"#owner@user:alice")
					case 3:
						rels = append(rels, "task:"+id+"#parent@agent:a1", "task:"+id+"#banned@user:alice")
						continue
					case 4:
						rels = append(rels, "task:"+id+"#owner@user:bob")
						continue
					}
					want = append(want, id)
				}
				e.write(rels...)
				for _, limit := range []int{1, 4, 18, 50} {
					e.wantOnce(fmt.Sprintf("Lookup pages with limit %d", limit), want, e.lookupPaged("task", "read", "user:alice", limit))
				}
			},
		},
		{
			Name:   "lookup-error/unknown-names",
			Rule:   "A lookup of an undefined permission, resource type or subject type, or of a subject set with an undefined relation, is an invalid request.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "task:t2#viewer@group:eng#member")
				tests := []struct {
					name                     string
					subject, typ, permission string
				}{
					{"unknown permission", "user:alice", "task", "fly"},
					{"permission of another type", "user:alice", "agent", "cancel"},
					{"unknown resource type", "user:alice", "robot", "read"},
					{"unknown subject type", "robot:r1", "task", "read"},
					{"unknown subject relation", "group:eng#boss", "task", "read"},
				}
				for _, tt := range tests {
					_, err := e.lookupPage(authz.LookupRequest{Subject: e.sub(tt.subject), ResourceType: tt.typ, Permission: tt.permission, Consistency: e.fresh()})
					e.wantInvalid("Lookup with "+tt.name, err)
				}
			},
		},
		{
			Name:   "lookup-error/wildcard-subject",
			Rule:   "A lookup for the wildcard subject is an invalid request, not the list of public resources.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*")
				_, err := e.lookupPage(authz.LookupRequest{Subject: authz.Wildcard("user"), ResourceType: "task", Permission: "read", Consistency: e.fresh()})
				e.wantInvalid("Lookup for user:*", err)
			},
		},
	}
}
