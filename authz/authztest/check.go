package authztest

import (
	"github.com/fgac-go/fgac/authz"
)

func checkCases() []Case {
	return []Case{
		{
			Name:   "check/direct",
			Rule:   "A subject related through a relation of a permission's union has the permission; another subject does not.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				e.wantAllowed("task:t1", "read", "user:alice")
				e.wantDenied("task:t1", "read", "user:bob")
			},
		},
		{
			Name:   "check/relation-name",
			Rule:   "A relation, not only a permission, can be checked, and it holds only for its own subjects.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:alice", "task:t1#owner@user:bob")
				e.wantAllowed("task:t1", "viewer", "user:alice")
				e.wantDenied("task:t1", "viewer", "user:bob")
				e.wantAllowed("task:t1", "owner", "user:bob")
				e.wantDenied("task:t1", "owner", "user:alice")
			},
		},
		{
			Name:   "check/roles",
			Rule:   "Each role grants exactly the permissions whose expressions include it.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:olive", "task:t1#editor@user:eddie", "task:t1#viewer@user:vera")
				tests := []struct {
					subject, permission string
					want                bool
				}{
					{"user:olive", "read", true},
					{"user:olive", "cancel", true},
					{"user:olive", "delete", true},
					{"user:eddie", "read", true},
					{"user:eddie", "cancel", false},
					{"user:eddie", "delete", false},
					{"user:vera", "read", true},
					{"user:vera", "cancel", false},
					{"user:vera", "delete", false},
				}
				for _, tt := range tests {
					if got := e.allowed("task:t1", tt.permission, tt.subject); got != tt.want {
						e.t.Errorf("Check(task:t1#%s@%s) allowed = %v, want %v", tt.permission, tt.subject, got, tt.want)
					}
				}
			},
		},
		{
			Name:   "check/other-resource",
			Rule:   "A relationship on one resource grants nothing on another resource of the same type.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "task:t2#owner@user:bob")
				e.wantDenied("task:t2", "read", "user:alice")
				e.wantDenied("task:t1", "read", "user:bob")
				e.wantDenied("task:t3", "read", "user:alice")
			},
		},
		{
			Name:   "check/subject-type",
			Rule:   "Subjects of different types with the same id are different subjects.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@service:alice")
				e.wantAllowed("task:t1", "read", "service:alice")
				e.wantDenied("task:t1", "read", "user:alice")
			},
		},
		{
			Name:   "check/resource-type",
			Rule:   "Resources of different types with the same id are different resources.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:x1#owner@user:alice")
				e.wantAllowed("task:x1", "read", "user:alice")
				e.wantDenied("agent:x1", "read", "user:alice")
			},
		},
		{
			Name:   "check/unreachable-subject-type",
			Rule:   "A subject of a type the schema defines but no relation admits is denied cleanly, without an error.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t1#parent@agent:a1")
				e.wantDenied("task:t1", "read", "org:acme", "group:eng", "agent:a1")
			},
		},
		{
			Name:   "check/subject-set-as-subject",
			Rule:   "A subject set granted directly (group:eng#member) has the permission when it is itself the subject of a check.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@group:eng#member")
				e.wantAllowed("task:t1", "read", "group:eng#member")
				e.wantDenied("task:t1", "read", "group:ops#member")
			},
		},
	}
}

func arrowCases() []Case {
	return []Case{
		{
			Name:   "arrow/one-level",
			Rule:   "A permission reached through parent->read gives the readers of the parent access to the child, and only to its own children.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:bob", "task:t1#parent@agent:a1", "task:t2#parent@agent:a2")
				e.wantAllowed("task:t1", "read", "user:bob")
				e.wantDenied("task:t2", "read", "user:bob")
			},
		},
		{
			Name:   "arrow/two-levels",
			Rule:   "Arrows chain: a member of an org reads the agents of the org and the tasks of those agents (task -> agent -> org).",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"org:acme#member@user:carol",
					"agent:a1#parent@org:acme", "task:t1#parent@agent:a1",
					"agent:a2#parent@org:other", "task:t2#parent@agent:a2",
				)
				e.wantAllowed("agent:a1", "read", "user:carol")
				e.wantAllowed("task:t1", "read", "user:carol")
				e.wantDenied("agent:a2", "read", "user:carol")
				e.wantDenied("task:t2", "read", "user:carol")
			},
		},
		{
			Name:   "arrow/target-permission",
			Rule:   "An arrow follows the target's permission, not a relation of the same name: an org admin (manage) may delete tasks two levels down, an org member may not.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"org:acme#admin@user:dana", "org:acme#member@user:erin",
					"agent:a1#parent@org:acme", "task:t1#parent@agent:a1",
				)
				e.wantAllowed("task:t1", "delete", "user:dana")
				e.wantDenied("task:t1", "delete", "user:erin")
				e.wantAllowed("task:t1", "read", "user:dana", "user:erin")
			},
		},
		{
			Name:   "arrow/through-group",
			Rule:   "Arrows and subject sets compose: a member of a group that is a member of an org reads the org's tasks.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"group:eng#member@user:bob", "org:acme#member@group:eng#member",
					"agent:a1#parent@org:acme", "task:t1#parent@agent:a1",
				)
				e.wantAllowed("task:t1", "read", "user:bob")
				e.wantDenied("task:t1", "read", "user:eve")
			},
		},
		{
			Name:   "arrow/no-parent",
			Rule:   "A resource without a parent relationship gets nothing through an arrow.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:bob", "task:t1#owner@user:alice")
				e.wantDenied("task:t1", "read", "user:bob")
			},
		},
		{
			Name:   "arrow/downward-only",
			Rule:   "Access flows from parent to child only: a task's owner gains nothing on the task's agent or org.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "task:t1#parent@agent:a1", "agent:a1#parent@org:acme")
				e.wantDenied("agent:a1", "read", "user:alice")
				e.wantDenied("org:acme", "view", "user:alice")
			},
		},
		{
			Name:   "arrow/parent-removed",
			Rule:   "Removing the parent relationship removes the access that flowed through it and nothing else.",
			Schema: Schema,
			run: func(e *env) {
				e.write("agent:a1#viewer@user:bob", "task:t1#parent@agent:a1", "task:t1#owner@user:alice")
				e.wantAllowed("task:t1", "read", "user:bob")
				e.remove("task:t1#parent@agent:a1")
				e.wantDenied("task:t1", "read", "user:bob")
				e.wantAllowed("task:t1", "read", "user:alice")
			},
		},
		{
			Name:   "arrow/middle-link-removed",
			Rule:   "Removing the middle link of a two-level chain cuts access below it and leaves the rest of the chain alone.",
			Schema: Schema,
			run: func(e *env) {
				e.write("org:acme#member@user:carol", "agent:a1#parent@org:acme", "task:t1#parent@agent:a1", "agent:a1#viewer@user:vera")
				e.wantAllowed("task:t1", "read", "user:carol", "user:vera")
				e.remove("agent:a1#parent@org:acme")
				e.wantDenied("task:t1", "read", "user:carol")
				e.wantAllowed("task:t1", "read", "user:vera")
				e.wantAllowed("org:acme", "view", "user:carol")
			},
		},
	}
}

func operatorCases() []Case {
	return []Case{
		{
			Name:   "union/each-branch",
			Rule:   "A union grants the permission through any one of its branches.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#editor@user:bob")
				e.wantAllowed("doc:d1", "view", "user:alice", "user:bob")
				e.wantDenied("doc:d1", "view", "user:carol")
			},
		},
		{
			Name:   "intersection/both-required",
			Rule:   "An intersection grants only to subjects in every branch.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#approver@user:alice", "doc:d1#viewer@user:bob", "doc:d1#approver@user:carol")
				e.wantAllowed("doc:d1", "approved_view", "user:alice")
				e.wantDenied("doc:d1", "approved_view", "user:bob", "user:carol")
			},
		},
		{
			Name:   "intersection/with-arrow",
			Rule:   "An intersection with an arrow (task update = (editor + owner) & parent->read) needs both a role on the task and read on its parent.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"agent:a1#viewer@user:alice", "agent:a1#viewer@user:bob",
					"task:t1#owner@user:alice", "task:t1#parent@agent:a1",
					"task:t2#owner@user:alice", "task:t2#parent@agent:a2",
					"task:t3#owner@user:alice",
				)
				e.wantAllowed("task:t1", "update", "user:alice")
				e.wantDenied("task:t1", "update", "user:bob")
				e.wantDenied("task:t2", "update", "user:alice")
				e.wantDenied("task:t3", "update", "user:alice")
			},
		},
		{
			Name:   "exclusion/base-minus-excluded",
			Rule:   "An exclusion grants the base permission minus the excluded subjects, and never to an excluded subject without the base.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#banned@user:alice", "doc:d1#viewer@user:bob", "doc:d1#banned@user:carol")
				e.wantAllowed("doc:d1", "safe_view", "user:bob")
				e.wantDenied("doc:d1", "safe_view", "user:alice", "user:carol")
			},
		},
		{
			Name:   "exclusion/every-branch",
			Rule:   "An exclusion around a whole union removes every path, ownership and arrows included, and only for that permission.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"task:t1#owner@user:alice", "task:t1#banned@user:alice",
					"agent:a1#viewer@user:bob", "task:t1#parent@agent:a1", "task:t1#banned@user:bob",
				)
				e.wantDenied("task:t1", "read", "user:alice", "user:bob")
				e.wantAllowed("task:t1", "cancel", "user:alice")
			},
		},
		{
			Name:   "exclusion/nested",
			Rule:   "A nested exclusion re-admits subjects removed from the excluded set: view - (banned - pardoned).",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write(
					"doc:d1#viewer@user:alice", "doc:d1#banned@user:alice", "doc:d1#pardoned@user:alice",
					"doc:d1#viewer@user:bob", "doc:d1#banned@user:bob",
					"doc:d1#editor@user:carol",
					"doc:d1#pardoned@user:dave",
				)
				e.wantAllowed("doc:d1", "lenient_view", "user:alice", "user:carol")
				e.wantDenied("doc:d1", "lenient_view", "user:bob", "user:dave")
			},
		},
		{
			Name:   "exclusion/of-intersection",
			Rule:   "(viewer & editor) - banned needs both roles and no ban.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write(
					"doc:d1#viewer@user:alice", "doc:d1#editor@user:alice",
					"doc:d1#viewer@user:bob", "doc:d1#editor@user:bob", "doc:d1#banned@user:bob",
					"doc:d1#viewer@user:carol",
				)
				e.wantAllowed("doc:d1", "strict_view", "user:alice")
				e.wantDenied("doc:d1", "strict_view", "user:bob", "user:carol")
			},
		},
		{
			Name:   "nil/alone",
			Rule:   "A permission defined as nil denies everyone, cleanly, and its lookup is empty.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#editor@user:alice", "doc:d1#approver@user:alice")
				e.wantDenied("doc:d1", "nothing", "user:alice")
				e.wantAccess("doc", "nothing", "user:alice")
			},
		},
		{
			Name:   "nil/union",
			Rule:   "viewer + nil grants exactly what viewer grants.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#editor@user:bob")
				e.wantAllowed("doc:d1", "view_or_nil", "user:alice")
				e.wantDenied("doc:d1", "view_or_nil", "user:bob")
			},
		},
		{
			Name:   "nil/exclusion",
			Rule:   "viewer - nil grants exactly what viewer grants.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#editor@user:bob")
				e.wantAllowed("doc:d1", "view_minus_nil", "user:alice")
				e.wantDenied("doc:d1", "view_minus_nil", "user:bob")
			},
		},
		{
			Name:   "nil/intersection",
			Rule:   "viewer & nil denies everyone, viewers included.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d2#viewer@user:*")
				e.wantDenied("doc:d1", "view_and_nil", "user:alice")
				e.wantDenied("doc:d2", "view_and_nil", "user:alice")
			},
		},
	}
}

func wildcardCases() []Case {
	return []Case{
		{
			Name:   "wildcard/every-user",
			Rule:   "A user:* grant admits every user, including ids written nowhere, on that resource only.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t2#owner@user:alice")
				e.wantAllowed("task:t1", "read", "user:alice", "user:bob", "user:someone-new")
				e.wantDenied("task:t2", "read", "user:bob")
			},
		},
		{
			Name:   "wildcard/other-type",
			Rule:   "A user:* grant never admits a subject of another type.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*")
				e.wantDenied("task:t1", "read", "service:bot", "group:eng#member")
			},
		},
		{
			Name:   "wildcard/not-a-role",
			Rule:   "A user:* grant on one relation gives no other relation: public viewers cannot cancel or delete.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t1#owner@user:alice")
				e.wantDenied("task:t1", "cancel", "user:bob")
				e.wantDenied("task:t1", "delete", "user:bob")
			},
		},
		{
			Name:   "wildcard/minus-ban",
			Rule:   "A wildcard minus a specific ban admits every subject of the type except the banned one.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#banned@user:mallory")
				e.wantAllowed("doc:d1", "safe_view", "user:alice", "user:bob")
				e.wantDenied("doc:d1", "safe_view", "user:mallory")
			},
		},
		{
			Name:   "wildcard/excluded",
			Rule:   "A wildcard on the excluded side of an exclusion removes every subject of its type, even ones granted directly, and no subject of another type.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#banned@user:*", "doc:d1#viewer@service:bot")
				e.wantDenied("doc:d1", "safe_view", "user:alice")
				e.wantAllowed("doc:d1", "safe_view", "service:bot")
			},
		},
		{
			Name:   "wildcard/intersection",
			Rule:   "A wildcard satisfies its side of an intersection, so only subjects on the other side are admitted.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#approver@user:alice")
				e.wantAllowed("doc:d1", "approved_view", "user:alice")
				e.wantDenied("doc:d1", "approved_view", "user:bob")
			},
		},
		{
			Name:   "wildcard/revoke",
			Rule:   "Revoking user:* ends public access and keeps specific grants.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t1#viewer@user:alice")
				e.revoke("task:t1#viewer@user:*")
				e.wantDenied("task:t1", "read", "user:bob")
				e.wantAllowed("task:t1", "read", "user:alice")
			},
		},
		{
			Name:   "wildcard/lookup",
			Rule:   "Lookup returns the resources granted through a wildcard for any subject of its type and for no other type.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t2#viewer@user:alice", "task:t3#owner@service:bot")
				e.wantAccess("task", "read", "user:alice", "t1", "t2")
				e.wantAccess("task", "read", "user:nobody", "t1")
				e.wantAccess("task", "read", "service:bot", "t3")
			},
		},
	}
}

func groupCases() []Case {
	return []Case{
		{
			Name:   "group/member",
			Rule:   "Members of a group granted a role through group#member have the role's permissions; non-members do not.",
			Schema: Schema,
			run: func(e *env) {
				e.write("group:eng#member@user:bob", "task:t1#viewer@group:eng#member")
				e.wantAllowed("task:t1", "read", "user:bob")
				e.wantDenied("task:t1", "read", "user:eve")
			},
		},
		{
			Name:   "group/nested",
			Rule:   "Membership is transitive through nested groups, to any depth the graph has.",
			Schema: Schema,
			run: func(e *env) {
				e.write(
					"task:t1#viewer@group:eng#member",
					"group:eng#member@group:backend#member",
					"group:backend#member@group:storage#member",
					"group:storage#member@user:sam",
					"group:backend#member@user:bea",
				)
				e.wantAllowed("task:t1", "read", "user:sam", "user:bea")
				e.wantAllowed("group:eng", "member", "user:sam")
				e.wantDenied("group:storage", "member", "user:bea")
			},
		},
		{
			Name:   "group/membership-removed",
			Rule:   "Removing a membership removes every permission that flowed through it.",
			Schema: Schema,
			run: func(e *env) {
				e.write("group:eng#member@group:backend#member", "group:backend#member@user:bea", "task:t1#editor@group:eng#member")
				e.wantAllowed("task:t1", "read", "user:bea")
				e.remove("group:eng#member@group:backend#member")
				e.wantDenied("task:t1", "read", "user:bea")
				e.wantAllowed("group:backend", "member", "user:bea")
			},
		},
		{
			Name:   "group/mixed-member-types",
			Rule:   "A group holds subjects of several types, and each member is matched with its own type.",
			Schema: Schema,
			run: func(e *env) {
				e.write("group:eng#member@service:bot", "org:acme#member@group:eng#member", "agent:a1#parent@org:acme")
				e.wantAllowed("agent:a1", "read", "service:bot")
				e.wantDenied("agent:a1", "read", "user:bot")
			},
		},
	}
}

func checkErrorCases() []Case {
	return []Case{
		{
			Name:   "check-error/unknown-permission",
			Rule:   "Checking a permission the resource's type does not define is an invalid request, never a clean deny.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice", "agent:a1#owner@user:alice")
				e.wantCheckInvalid(e.checkReq("task:t1", "fly", "user:alice"))
				e.wantCheckInvalid(e.checkReq("agent:a1", "cancel", "user:alice"))
			},
		},
		{
			Name:   "check-error/unknown-resource-type",
			Rule:   "Checking a resource of a type the schema does not define is an invalid request.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				e.wantCheckInvalid(e.checkReq("robot:t1", "read", "user:alice"))
			},
		},
		{
			Name:   "check-error/unknown-subject-type",
			Rule:   "Checking for a subject of a type the schema does not define is an invalid request, even on a public resource.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*")
				e.wantCheckInvalid(e.checkReq("task:t1", "read", "robot:r1"))
			},
		},
		{
			Name:   "check-error/unknown-subject-relation",
			Rule:   "Checking for a subject set whose relation its type does not define is an invalid request.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@group:eng#member")
				e.wantCheckInvalid(e.checkReq("task:t1", "read", "group:eng#boss"))
			},
		},
		{
			Name:   "check-error/malformed-names",
			Rule:   "A malformed permission or type name is an invalid request.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#owner@user:alice")
				e.wantCheckInvalid(e.checkReq("task:t1", "Read", "user:alice"))
				e.wantCheckInvalid(e.checkReq("task:t1", "", "user:alice"))
				e.wantCheckInvalid(authz.CheckRequest{Subject: e.sub("user:alice"), Resource: authz.Resource{ID: "t1"}, Permission: "read", Consistency: e.fresh()})
				e.wantCheckInvalid(authz.CheckRequest{Subject: authz.Subject{ID: "alice"}, Resource: e.res("task:t1"), Permission: "read", Consistency: e.fresh()})
			},
		},
	}
}
