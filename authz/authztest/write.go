package authztest

import (
	"github.com/fgac-go/fgac/authz"
)

func registerCases() []Case {
	return []Case{
		{
			Name:   "register/owner-and-parent",
			Rule:   "Register writes exactly the owner and parent relationships, and both take effect.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:bob")
				e.register("task:t1", "user:alice", "agent:a1")
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1")
				e.wantAllowed("task:t1", "read", "user:alice", "user:bob")
			},
		},
		{
			Name:   "register/owner-only",
			Rule:   "Register without a parent writes only the owner relationship.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "service:scheduler", "")
				e.wantRead("task:t1", "task:t1#owner@service:scheduler")
				e.wantAllowed("task:t1", "cancel", "service:scheduler")
			},
		},
		{
			Name:   "register/custom-owner-relation",
			Rule:   "Register writes the owner under OwnerRelation when it is set.",
			Schema: Schema,
			run: func(e *env) {
				req := e.registerReq("task:t1", "user:eddie", "agent:a1")
				req.OwnerRelation = "editor"
				tok, err := e.a.Register(e.ctx, req)
				e.wrote("Register", tok, err, req.Relationships()...)
				e.wantRead("task:t1", "task:t1#editor@user:eddie", "task:t1#parent@agent:a1")
				e.wantDenied("task:t1", "cancel", "user:eddie")
			},
		},
		{
			Name:   "register/invalid-parent-type",
			Rule:   "A registration whose parent type the parent relation does not allow is an invalid request and writes neither relationship.",
			Schema: Schema,
			run: func(e *env) {
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", "org:acme"))
				e.wantInvalid("Register with an org parent", err)
				e.wantRead("task:t1")
				e.wantDenied("task:t1", "read", "user:alice")
			},
		},
		{
			Name:   "register/parent-relation-is-permission",
			Rule:   "A registration whose parent relation is a permission is an invalid request and writes neither relationship.",
			Schema: Schema,
			run: func(e *env) {
				req := e.registerReq("task:t1", "user:alice", "agent:a1")
				req.ParentRelation = "read"
				_, err := e.a.Register(e.ctx, req)
				e.wantInvalid("Register with parent relation read", err)
				e.wantRead("task:t1")
			},
		},
		{
			Name:   "register/type-without-parent",
			Rule:   "Registering a parent for a type that has no parent relation is an invalid request and writes no owner.",
			Schema: Schema,
			run: func(e *env) {
				_, err := e.a.Register(e.ctx, e.registerReq("org:acme", "user:olga", "agent:a1"))
				e.wantInvalid("Register org with a parent", err)
				e.wantRead("org:acme")
				e.wantDenied("org:acme", "manage", "user:olga")
			},
		},
		{
			Name:   "register/invalid-owner",
			Rule:   "A registration whose owner type, or owner subject set, the owner relation does not allow is an invalid request and writes nothing.",
			Schema: Schema,
			run: func(e *env) {
				_, err := e.a.Register(e.ctx, e.registerReq("org:acme", "service:bot", ""))
				e.wantInvalid("Register org owned by a service", err)
				_, err = e.a.Register(e.ctx, e.registerReq("task:t1", "group:eng#member", "agent:a1"))
				e.wantInvalid("Register task owned by a group", err)
				e.wantRead("org:acme")
				e.wantRead("task:t1")
			},
		},
		{
			Name:   "register/wildcard-owner",
			Rule:   "A wildcard owner is an invalid request, even where the schema would allow the wildcard, and writes nothing.",
			Schema: Schema,
			run: func(e *env) {
				req := e.registerReq("task:t1", "user:alice", "")
				req.OwnerRelation = "viewer"
				req.Owner = authz.Wildcard("user")
				_, err := e.a.Register(e.ctx, req)
				e.wantInvalid("Register with owner user:*", err)
				e.wantRead("task:t1")
			},
		},
		{
			Name:   "register/idempotent",
			Rule:   "Repeating an identical registration succeeds and leaves exactly the same relationships.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				e.register("task:t1", "user:alice", "agent:a1")
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1")
				e.register("task:t2", "user:alice", "")
				e.register("task:t2", "user:alice", "")
				e.wantRead("task:t2", "task:t2#owner@user:alice")
			},
		},
		{
			Name:   "register/conflict-owner",
			Rule:   "Registering a registered resource with a different owner is a conflict and changes nothing.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:mallory", "agent:a1"))
				e.wantConflict("Register with another owner", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1")
				e.wantDenied("task:t1", "read", "user:mallory")
			},
		},
		{
			Name:   "register/conflict-parent",
			Rule:   "Registering a registered resource with a different parent is a conflict and changes nothing.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", "agent:a2"))
				e.wantConflict("Register with another parent", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1")
			},
		},
		{
			Name:   "register/conflict-other-relationships",
			Rule:   "Registering a resource that already has relationships other than the requested ones (a grant) is a conflict and changes nothing.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#viewer@user:bob")
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", ""))
				e.wantConflict("Register over a grant", err)
				e.wantRead("task:t1", "task:t1#viewer@user:bob")
			},
		},
		{
			Name:   "register/conflict-missing-parent",
			Rule:   "Registering without a parent a resource registered with one is a conflict: the existing relationships must be exactly the requested ones.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", ""))
				e.wantConflict("Register without the parent", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1")
			},
		},
		{
			Name:   "register/conflict-added-parent",
			Rule:   "Registering with a parent a resource registered without one is a conflict and writes no parent.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				_, err := e.a.Register(e.ctx, e.registerReq("task:t1", "user:alice", "agent:a1"))
				e.wantConflict("Register adding a parent", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice")
			},
		},
		{
			Name:   "register/after-deregister",
			Rule:   "A deregistered resource can be registered again, by another owner.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				e.deregister("task:t1")
				e.register("task:t1", "user:bob", "")
				e.wantRead("task:t1", "task:t1#owner@user:bob")
				e.wantDenied("task:t1", "read", "user:alice")
			},
		},
	}
}

func deregisterCases() []Case {
	return []Case{
		{
			Name:   "deregister/removes-all",
			Rule:   "Deregister removes every relationship of the resource (owner, parent, roles, wildcard, subject sets, bans), so every check is denied and no lookup returns it.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:vera", "group:eng#member@user:bob")
				e.register("task:t1", "user:alice", "agent:a1")
				e.write(
					"task:t1#editor@user:eddie", "task:t1#viewer@user:*",
					"task:t1#viewer@group:eng#member", "task:t1#banned@user:mallory",
				)
				e.deregister("task:t1")
				e.wantRead("task:t1")
				e.wantDenied("task:t1", "read", "user:alice", "user:vera", "user:eddie", "user:bob", "user:nobody")
				e.wantDenied("task:t1", "cancel", "user:alice")
				e.wantAccess("task", "read", "user:alice")
			},
		},
		{
			Name:   "deregister/keeps-siblings",
			Rule:   "Deregister leaves the relationships of every other resource, including one with the same id in another type.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "agent:a1")
				e.register("task:t2", "user:alice", "agent:a1")
				e.register("agent:t1", "user:alice", "")
				e.deregister("task:t1")
				e.wantRead("task:t2", "task:t2#owner@user:alice", "task:t2#parent@agent:a1")
				e.wantRead("agent:t1", "agent:t1#owner@user:alice")
				e.wantAllowed("task:t2", "read", "user:alice")
			},
		},
		{
			Name:   "deregister/keeps-subject-side",
			Rule:   "Deregister leaves relationships in which the resource is the subject: a child's parent edge and a grant to a group's members stay, though access through them ends.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:vera", "group:eng#member@user:bob")
				e.register("task:t1", "user:alice", "agent:a1")
				e.grant("task:t1#viewer@group:eng#member")
				e.deregister("agent:a1")
				e.deregister("group:eng")
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#parent@agent:a1", "task:t1#viewer@group:eng#member")
				e.wantRead("agent:a1")
				e.wantDenied("task:t1", "read", "user:vera", "user:bob")
				e.wantAllowed("task:t1", "read", "user:alice")
			},
		},
		{
			Name:   "deregister/unknown",
			Rule:   "Deregistering a resource that has no relationships succeeds, and so does deregistering twice.",
			Schema: Schema,
			run: func(e *env) {
				e.deregister("task:never")
				e.register("task:t1", "user:alice", "")
				e.deregister("task:t1")
				e.deregister("task:t1")
				e.wantRead("task:t1")
			},
		},
	}
}

func grantCases() []Case {
	return []Case{
		{
			Name:   "grant/idempotent",
			Rule:   "Granting an existing relationship succeeds and leaves a single relationship.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#viewer@user:bob")
				e.grant("task:t1#viewer@user:bob")
				e.wantRead("task:t1", "task:t1#viewer@user:bob")
				e.wantAllowed("task:t1", "read", "user:bob")
			},
		},
		{
			Name:   "grant/kinds",
			Rule:   "Grant writes plain subjects, wildcards and subject sets where the relation allows them.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#viewer@user:*")
				e.grant("task:t1#editor@group:eng#member")
				e.grant("task:t1#owner@service:bot")
				e.wantRead("task:t1", "task:t1#editor@group:eng#member", "task:t1#owner@service:bot", "task:t1#viewer@user:*")
			},
		},
		{
			Name:   "revoke/idempotent",
			Rule:   "Revoke removes one relationship and only it; revoking a missing relationship succeeds.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#viewer@user:bob")
				e.grant("task:t1#viewer@user:carol")
				e.revoke("task:t1#viewer@user:bob")
				e.wantDenied("task:t1", "read", "user:bob")
				e.wantAllowed("task:t1", "read", "user:carol")
				e.revoke("task:t1#viewer@user:bob")
				e.revoke("task:t9#viewer@user:bob")
				e.wantRead("task:t1", "task:t1#viewer@user:carol")
			},
		},
		{
			Name:   "grant-error/schema",
			Rule:   "A grant the schema does not allow (a permission, an unknown relation or type, a disallowed subject type, subject set or wildcard) is an invalid request and writes nothing.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#owner@user:alice")
				for _, s := range []string{
					"task:t1#read@user:bob",
					"task:t1#fly@user:bob",
					"robot:t1#owner@user:bob",
					"task:t1#viewer@robot:r1",
					"task:t1#banned@service:bot",
					"task:t1#parent@org:acme",
					"task:t1#owner@group:eng#member",
					"task:t1#viewer@group:eng#boss",
					"task:t1#owner@user:*",
					"task:t1#viewer@service:*",
				} {
					_, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: e.rel(s)})
					e.wantInvalid("Grant("+s+")", err)
				}
				e.wantRead("task:t1", "task:t1#owner@user:alice")
			},
		},
		{
			Name:   "grant-error/wildcard-from-data",
			Rule:   "A subject whose id is the string \"*\" is a malformed subject, not a wildcard: only authz.Wildcard makes a public grant.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#owner@user:alice")
				fromData := authz.Subject{Type: "user", ID: authz.WildcardID}
				if fromData.IsWildcard() {
					e.t.Errorf("Subject{ID: %q}.IsWildcard() = true", authz.WildcardID)
				}
				rel := authz.Relationship{Resource: e.res("task:t1"), Relation: "viewer", Subject: fromData}
				_, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: rel})
				e.wantInvalid("Grant(task:t1#viewer@Subject{ID: \"*\"})", err)
				_, err = e.a.Write(e.ctx, authz.WriteRequest{Touch: []authz.Relationship{rel}})
				e.wantInvalid("Write(task:t1#viewer@Subject{ID: \"*\"})", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice")
				e.wantDenied("task:t1", "read", "user:bob")
				e.grant("task:t1#viewer@user:*")
				e.wantAllowed("task:t1", "read", "user:bob")
			},
		},
		{
			Name:   "revoke-error/schema",
			Rule:   "Revoking a relationship the schema cannot hold (a permission or an unknown relation) is an invalid request, not a silent success.",
			Schema: Schema,
			run: func(e *env) {
				e.grant("task:t1#owner@user:alice")
				for _, s := range []string{"task:t1#read@user:alice", "task:t1#fly@user:alice", "robot:t1#owner@user:alice"} {
					_, err := e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: e.rel(s)})
					e.wantInvalid("Revoke("+s+")", err)
				}
				e.wantRead("task:t1", "task:t1#owner@user:alice")
			},
		},
	}
}

func writeCases() []Case {
	return []Case{
		{
			Name:   "write/atomic",
			Rule:   "A write with one relationship the schema does not allow is an invalid request and applies none of its changes.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "task:t2#viewer@user:bob")
				_, err := e.a.Write(e.ctx, authz.WriteRequest{
					Touch:  e.rels([]string{"task:t1#viewer@user:carol", "task:t3#owner@user:carol", "task:t1#parent@org:acme"}),
					Delete: e.rels([]string{"task:t2#viewer@user:bob"}),
				})
				e.wantInvalid("Write with a disallowed parent", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice")
				e.wantRead("task:t2", "task:t2#viewer@user:bob")
				e.wantRead("task:t3")
			},
		},
		{
			Name:   "write/atomic-invalid-delete",
			Rule:   "An invalid relationship among the deletes of a write stops its touches too.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				_, err := e.a.Write(e.ctx, authz.WriteRequest{
					Touch:  e.rels([]string{"task:t2#owner@user:bob"}),
					Delete: e.rels([]string{"task:t1#owner@user:alice", "task:t1#read@user:alice"}),
				})
				e.wantInvalid("Write deleting from a permission", err)
				e.wantRead("task:t1", "task:t1#owner@user:alice")
				e.wantRead("task:t2")
			},
		},
		{
			Name:   "write/atomic-malformed-id",
			Rule:   "A malformed id anywhere in a write is an invalid request and applies none of its changes.",
			Schema: Schema,
			run: func(e *env) {
				bad := authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t 2"}, Relation: "owner", Subject: e.sub("user:bob")}
				_, err := e.a.Write(e.ctx, authz.WriteRequest{Touch: []authz.Relationship{e.rel("task:t1#owner@user:alice"), bad}})
				e.wantInvalid("Write with id \"t 2\"", err)
				e.wantRead("task:t1")
			},
		},
		{
			Name:   "write/touch-and-delete",
			Rule:   "One write applies its touches and deletes together: moving a task to another agent moves its inherited access.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:bob", "agent:a2#viewer@user:carol", "task:t1#parent@agent:a1")
				tok, err := e.a.Write(e.ctx, authz.WriteRequest{
					Touch:  e.rels([]string{"task:t1#parent@agent:a2"}),
					Delete: e.rels([]string{"task:t1#parent@agent:a1"}),
				})
				e.wrote("Write", tok, err)
				e.wantRead("task:t1", "task:t1#parent@agent:a2")
				e.wantAllowed("task:t1", "read", "user:carol")
				e.wantDenied("task:t1", "read", "user:bob")
			},
		},
		{
			Name:   "write/idempotent",
			Rule:   "Touching an existing relationship and deleting a missing one succeed and change nothing else.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "task:t1#viewer@user:bob")
				tok, err := e.a.Write(e.ctx, authz.WriteRequest{
					Touch:  e.rels([]string{"task:t1#owner@user:alice"}),
					Delete: e.rels([]string{"task:t1#viewer@user:carol"}),
				})
				e.wrote("Write", tok, err)
				e.wantRead("task:t1", "task:t1#owner@user:alice", "task:t1#viewer@user:bob")
			},
		},
	}
}
