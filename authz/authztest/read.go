package authztest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

// checkMany runs CheckMany with the case's consistency and stops the case
// unless it answers every item.
func (e *env) checkMany(items []authz.CheckRequest) []authz.CheckResult {
	e.t.Helper()
	// The request's consistency applies to every item: the items carry
	// none of their own.
	items = slices.Clone(items)
	for i := range items {
		items[i].Consistency = authz.Consistency{}
	}
	res, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: items, Consistency: e.fresh()})
	if err != nil {
		e.t.Fatalf("CheckMany: %v", err)
	}
	if len(res) != len(items) {
		e.t.Fatalf("CheckMany of %d items returned %d results", len(items), len(res))
	}
	return res
}

// wantResults asserts that each result has no error and the decision want
// gives for its index.
func (e *env) wantResults(items []authz.CheckRequest, res []authz.CheckResult, want func(i int) bool) {
	e.t.Helper()
	for i, r := range res {
		it := items[i]
		if r.Err != nil {
			e.t.Errorf("CheckMany item %d (%s#%s@%s) error: %v", i, it.Resource, it.Permission, it.Subject, r.Err)
		} else if r.Decision.Allowed() != want(i) {
			e.t.Errorf("CheckMany item %d (%s#%s@%s) allowed = %v, want %v", i, it.Resource, it.Permission, it.Subject, r.Decision.Allowed(), want(i))
		}
	}
}

func checkManyCases() []Case {
	return []Case{
		{
			Name:   "checkmany/order",
			Rule:   "CheckMany answers each item in the order of the items, allowed and denied mixed.",
			Schema: Schema,
			run: func(e *env) {
				var items []authz.CheckRequest
				for i, id := range seq("t", 12) {
					if i%3 == 0 {
						e.write("task:" + id + "#owner@user:alice")
					}
					items = append(items, e.checkReq("task:"+id, "read", "user:alice"))
				}
				e.wantResults(items, e.checkMany(items), func(i int) bool { return i%3 == 0 })
			},
		},
		{
			Name:   "checkmany/one-consistency",
			Rule:   "A CheckMany item that asks for a consistency other than the request's is an invalid request, not silently overruled.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				item := e.checkReq("task:t1", "read", "user:alice")
				item.Consistency = authz.FullyConsistent()
				if item.Consistency == e.fresh() {
					e.t.Fatal("the case needs two different consistencies")
				}
				_, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{item}, Consistency: e.fresh()})
				e.wantInvalid("CheckMany with an item at another consistency", err)
				item.Consistency = e.fresh()
				res, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{item}, Consistency: e.fresh()})
				if err != nil || len(res) != 1 || res[0].Err != nil || !res[0].Decision.Allowed() {
					e.t.Errorf("CheckMany with an item at the request's consistency = %v, %v; want allowed", res, err)
				}
			},
		},
		{
			Name:   "checkmany/item-errors",
			Rule:   "An invalid item of CheckMany gets its own invalid-request error and a denial, while the other items are answered.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				items := []authz.CheckRequest{
					e.checkReq("task:t1", "read", "user:alice"),
					e.checkReq("task:t1", "fly", "user:alice"),
					e.checkReq("task:t1", "read", "user:bob"),
					e.checkReq("task:t 1", "read", "user:alice"),
					e.checkReq("task:t1", "read", "robot:r1"),
					e.checkReq("task:t1", "read", "user:*"),
					e.checkReq("robot:t1", "read", "user:alice"),
					e.checkReq("task:t1", "cancel", "user:alice"),
				}
				res := e.checkMany(items)
				valid := map[int]bool{0: true, 2: false, 7: true}
				for i, r := range res {
					it := items[i]
					want, ok := valid[i]
					switch {
					case !ok:
						if !errors.Is(r.Err, authz.ErrInvalidRequest) || r.Decision.Allowed() {
							e.t.Errorf("CheckMany item %d (%s#%s@%s) = %v, %v; want a denial with %v", i, it.Resource, it.Permission, it.Subject, r.Decision, r.Err, authz.ErrInvalidRequest)
						}
					case r.Err != nil:
						e.t.Errorf("CheckMany item %d (%s#%s@%s) error: %v", i, it.Resource, it.Permission, it.Subject, r.Err)
					case r.Decision.Allowed() != want:
						e.t.Errorf("CheckMany item %d (%s#%s@%s) allowed = %v, want %v", i, it.Resource, it.Permission, it.Subject, r.Decision.Allowed(), want)
					}
				}
			},
		},
		{
			Name:   "checkmany/duplicates",
			Rule:   "CheckMany answers an item repeated in one request once per occurrence.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				allowed, denied := e.checkReq("task:t1", "read", "user:alice"), e.checkReq("task:t1", "read", "user:bob")
				items := []authz.CheckRequest{allowed, denied, allowed, allowed, denied}
				e.wantResults(items, e.checkMany(items), func(i int) bool { return items[i] == allowed })
			},
		},
		{
			Name:   "checkmany/equals-check",
			Rule:   "CheckMany gives, item by item, the decisions Check gives, over a graph with every kind of path.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				var items []authz.CheckRequest
				for _, s := range []string{"user:alice", "user:bob", "user:bea", "user:mallory", "user:olga", "service:bot"} {
					for _, p := range []string{"read", "update", "delete"} {
						for _, id := range seq("t", 7) {
							items = append(items, e.checkReq("task:"+id, p, s))
						}
					}
				}
				res := e.checkMany(items)
				e.wantResults(items, res, func(i int) bool {
					it := items[i]
					return e.allowed(it.Resource.String(), it.Permission, it.Subject.String())
				})
			},
		},
		{
			Name:   "checkmany/consistency",
			Rule:   "CheckMany reads at the request's consistency, so a write's token makes the write visible to it.",
			Schema: Schema,
			run: func(e *env) {
				items := []authz.CheckRequest{{Subject: e.sub("user:bob"), Resource: e.res("task:t1"), Permission: "read"}}
				e.grant("task:t1#viewer@user:bob")
				e.wantResults(items, e.checkMany(items), func(int) bool { return true })
				e.revoke("task:t1#viewer@user:bob")
				e.wantResults(items, e.checkMany(items), func(int) bool { return false })
			},
		},
	}
}

func tokenCases() []Case {
	return []Case{
		{
			Name:   "token/read-your-writes",
			Rule:   "Reading with AtLeastAsFresh and the token of a write sees that write, in every read method.",
			Schema: Schema,
			run: func(e *env) {
				for round := range 3 {
					e.grant("task:t1#viewer@user:bob")
					e.wantAllowed("task:t1", "read", "user:bob")
					e.wantAccess("task", "read", "user:bob", "t1")
					e.wantRead("task:t1", "task:t1#viewer@user:bob")
					e.revoke("task:t1#viewer@user:bob")
					e.wantDenied("task:t1", "read", "user:bob")
					e.wantAccess("task", "read", "user:bob")
					e.wantRead("task:t1")
					if e.t.Failed() {
						e.t.Fatalf("round %d", round)
					}
				}
			},
		},
		{
			Name:   "token/returned",
			Rule:   "Every write that changes the graph returns a non-zero token.",
			Schema: Schema,
			run: func(e *env) {
				writes := []struct {
					name string
					do   func() (authz.Token, error)
				}{
					{"Register", func() (authz.Token, error) {
						return e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", "agent:a1"))
					}},
					{"Grant", func() (authz.Token, error) {
						return e.a.Grant(e.ctx, authz.GrantRequest{Relationship: e.rel("task:t1#viewer@user:bob")})
					}},
					{"Revoke", func() (authz.Token, error) {
						return e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: e.rel("task:t1#viewer@user:bob")})
					}},
					{"Write", func() (authz.Token, error) {
						return e.a.Write(e.ctx, authz.WriteRequest{Touch: e.rels([]string{"task:t2#owner@user:alice"})})
					}},
					{"Deregister", func() (authz.Token, error) {
						return e.a.Deregister(e.ctx, authz.DeregisterRequest{Resource: e.res("task:t1")})
					}},
				}
				for _, w := range writes {
					tok, err := w.do()
					e.wrote(w.name, tok, err)
					if tok.IsZero() {
						e.t.Errorf("%s returned a zero token", w.name)
					}
				}
			},
		},
		{
			Name:   "token/zero-and-full",
			Rule:   "AtLeastAsFresh with a zero token and FullyConsistent both see every acknowledged write.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				for _, c := range []authz.Consistency{authz.AtLeastAsFresh(authz.Token{}), authz.FullyConsistent()} {
					d, err := e.a.Check(e.ctx, authz.CheckRequest{Subject: e.sub("user:alice"), Resource: e.res("task:t1"), Permission: "read", Consistency: c})
					if err != nil || !d.Allowed() {
						e.t.Errorf("Check at %v = %v, %v; want allowed", c, d, err)
					}
					res, err := e.a.Lookup(e.ctx, authz.LookupRequest{Subject: e.sub("user:alice"), ResourceType: "task", Permission: "read", Consistency: c})
					if err != nil || !res.Contains("t1") {
						e.t.Errorf("Lookup at %v = %v, %v; want [t1]", c, res.IDs(), err)
					}
					rels, err := e.a.ReadRelationships(e.ctx, authz.ReadRequest{Resource: e.res("task:t1"), Consistency: c})
					if err != nil || len(rels) != 1 {
						e.t.Errorf("ReadRelationships at %v = %v, %v; want the owner", c, rels, err)
					}
				}
			},
		},
		{
			Name:   "token/foreign",
			Rule:   "A token the engine did not issue is not an error and does not weaken the answer: the engine answers fully consistently.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				for _, s := range []string{"not-a-token", "GgYKBENJQ0U=", "\x00\xff"} {
					c := authz.AtLeastAsFresh(authz.NewToken(s))
					for _, tt := range []struct {
						subject string
						want    bool
					}{{"user:alice", true}, {"user:bob", false}} {
						d, err := e.a.Check(e.ctx, authz.CheckRequest{Subject: e.sub(tt.subject), Resource: e.res("task:t1"), Permission: "read", Consistency: c})
						if err != nil || d.Allowed() != tt.want {
							e.t.Errorf("Check(task:t1#read@%s) with token %q = %v, %v; want allowed %v and no error", tt.subject, s, d, err, tt.want)
						}
					}
				}
			},
		},
		{
			Name:   "token/older",
			Rule:   "The token of an earlier write still gives an answer that includes that write.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#viewer@user:bob")
				first := e.tok
				for _, id := range seq("later", 5) {
					e.grant("task:" + id + "#viewer@user:carol")
				}
				d, err := e.a.Check(e.ctx, authz.CheckRequest{Subject: e.sub("user:bob"), Resource: e.res("task:t1"), Permission: "read", Consistency: authz.AtLeastAsFresh(first)})
				if err != nil || !d.Allowed() {
					e.t.Errorf("Check with the first write's token = %v, %v; want allowed", d, err)
				}
			},
		},
	}
}

func inspectCases() []Case {
	return []Case{
		{
			Name:   "read/exact",
			Rule:   "ReadRelationships returns exactly the relationships in which the resource is the resource, wildcards and subject sets included.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"task:t1#owner@user:alice", "task:t1#viewer@user:*", "task:t1#editor@group:eng#member", "task:t1#parent@agent:a1",
					"task:t2#parent@agent:t1", "agent:t1#owner@user:alice", "task:t10#owner@user:alice",
				)
				e.wantRead("task:t1", "task:t1#editor@group:eng#member", "task:t1#owner@user:alice", "task:t1#parent@agent:a1", "task:t1#viewer@user:*")
				e.wantRead("task:t9")
			},
		},
		{
			Name:   "enumerate/pages",
			Rule:   "Enumerate pages through every id of a type exactly once, each page in ascending order, whatever the limit.",
			Schema: Schema,
			run: func(e *env) {
				ids := append(seq("e", 20), "A", "Z9", "_x", "a/b", "a-b", "a|b")
				var rels []string
				for _, id := range ids {
					rels = append(rels, "task:"+id+"#owner@user:alice")
				}
				e.write(rels...)
				for _, limit := range []int{1, 4, 10, 0} {
					e.wantOnce(fmt.Sprintf("Enumerate(task) with limit %d", limit), ids, e.enumerate("task", limit))
				}
			},
		},
		{
			Name:   "enumerate/resources-only",
			Rule:   "Enumerate lists the ids that are the resource of at least one relationship: not deregistered ids, not ids seen only as subjects, not ids of another type.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a9")
				e.register("task:t2", "user:alice", "agent:a1")
				e.register("task:t3", "user:alice", "")
				e.register("agent:a1", "user:alice", "")
				e.write("task:t4#viewer@user:*")
				e.deregister("task:t3")
				e.wantOnce("Enumerate(task)", []string{"t1", "t2", "t4"}, e.enumerate("task", 2))
				e.wantOnce("Enumerate(agent)", []string{"a1"}, e.enumerate("agent", 0))
				e.wantOnce("Enumerate(user)", nil, e.enumerate("user", 0))
			},
		},
		{
			Name:   "enumerate/empty",
			Rule:   "Enumerating a type with no resources returns no ids and no cursor.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				res, err := e.a.Enumerate(e.ctx, authz.EnumerateRequest{ResourceType: "org", Limit: 10, Consistency: e.fresh()})
				if err != nil || len(res.IDs) != 0 || res.Cursor != "" {
					e.t.Errorf("Enumerate(org) = %v, cursor %q, %v; want nothing", res.IDs, res.Cursor, err)
				}
			},
		},
	}
}
