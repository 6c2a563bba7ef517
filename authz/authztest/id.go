package authztest

import (
	"fmt"
	"strings"

	"github.com/fgac-go/fgac/authz"
)

// idUse puts an id in one position of one method and returns the method's
// error.
type idUse struct {
	name string
	// writeSubject is set when the id is the subject of a write, where "*"
	// is the wildcard rather than an id.
	writeSubject bool
	call         func(e *env, id string) error
}

// idUses lists every position of the port that takes an id. The valid
// parts of each request name task:t1, which the case has registered.
func idUses() []idUse {
	alice := authz.Subject{Type: "user", ID: "alice"}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	check := func(e *env, req authz.CheckRequest) error {
		req.Consistency = e.fresh()
		d, err := e.a.Check(e.ctx, req)
		if d.Allowed() {
			e.t.Errorf("Check(%s#%s@%s) allowed with a malformed id", req.Resource, req.Permission, req.Subject)
		}
		return err
	}
	return []idUse{
		{name: "Check resource", call: func(e *env, id string) error {
			return check(e, authz.CheckRequest{Subject: alice, Resource: authz.Resource{Type: "task", ID: id}, Permission: "read"})
		}},
		{name: "Check subject", call: func(e *env, id string) error {
			return check(e, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: id}, Resource: t1, Permission: "read"})
		}},
		{name: "Check subject set", call: func(e *env, id string) error {
			return check(e, authz.CheckRequest{Subject: authz.Subject{Type: "group", ID: id, Relation: "member"}, Resource: t1, Permission: "read"})
		}},
		{name: "CheckMany item", call: func(e *env, id string) error {
			items := []authz.CheckRequest{{Subject: authz.Subject{Type: "user", ID: id}, Resource: t1, Permission: "read"}}
			res, err := e.a.CheckMany(e.ctx, authz.CheckManyRequest{Items: items, Consistency: e.fresh()})
			if err != nil {
				return err
			}
			if len(res) != 1 {
				e.t.Fatalf("CheckMany of 1 item returned %d results", len(res))
			}
			if res[0].Decision.Allowed() {
				e.t.Errorf("CheckMany item with a malformed id allowed")
			}
			return res[0].Err
		}},
		{name: "Lookup subject", call: func(e *env, id string) error {
			_, err := e.lookupPage(authz.LookupRequest{Subject: authz.Subject{Type: "user", ID: id}, ResourceType: "task", Permission: "read", Consistency: e.fresh()})
			return err
		}},
		{name: "Register resource", call: func(e *env, id string) error {
			_, err := e.a.Register(e.ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: id}, Owner: alice})
			return err
		}},
		{name: "Register owner", call: func(e *env, id string) error {
			_, err := e.a.Register(e.ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "r1"}, Owner: authz.Subject{Type: "user", ID: id}})
			return err
		}},
		{name: "Register parent", call: func(e *env, id string) error {
			_, err := e.a.Register(e.ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "r2"}, Owner: alice, Parent: &authz.Resource{Type: "agent", ID: id}})
			return err
		}},
		{name: "Deregister", call: func(e *env, id string) error {
			_, err := e.a.Deregister(e.ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "task", ID: id}})
			return err
		}},
		{name: "Grant resource", call: func(e *env, id string) error {
			_, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: id}, Relation: "viewer", Subject: alice}})
			return err
		}},
		{name: "Grant subject", writeSubject: true, call: func(e *env, id string) error {
			_, err := e.a.Grant(e.ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: t1, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: id}}})
			return err
		}},
		{name: "Revoke resource", call: func(e *env, id string) error {
			_, err := e.a.Revoke(e.ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: id}, Relation: "owner", Subject: alice}})
			return err
		}},
		{name: "Write touch subject", writeSubject: true, call: func(e *env, id string) error {
			_, err := e.a.Write(e.ctx, authz.WriteRequest{Touch: []authz.Relationship{{Resource: t1, Relation: "editor", Subject: authz.Subject{Type: "group", ID: id, Relation: "member"}}}})
			return err
		}},
		{name: "Write delete resource", call: func(e *env, id string) error {
			_, err := e.a.Write(e.ctx, authz.WriteRequest{Delete: []authz.Relationship{{Resource: authz.Resource{Type: "task", ID: id}, Relation: "owner", Subject: alice}}})
			return err
		}},
		{name: "ReadRelationships", call: func(e *env, id string) error {
			_, err := e.a.ReadRelationships(e.ctx, authz.ReadRequest{Resource: authz.Resource{Type: "task", ID: id}, Consistency: e.fresh()})
			return err
		}},
	}
}

// wantIDRejected asserts that every use of each id is an invalid request
// and that nothing was written.
func wantIDRejected(e *env, ids ...string) {
	e.t.Helper()
	e.register("task:t1", "user:alice", "")
	for _, id := range ids {
		for _, u := range idUses() {
			if id == authz.WildcardID && u.writeSubject {
				continue
			}
			e.wantInvalid(u.name+" with id "+abbrev(id), u.call(e, id))
		}
	}
	e.wantOnce("Enumerate(task)", []string{"t1"}, e.enumerate("task", 0))
	e.wantRead("task:t1", "task:t1#owner@user:alice")
}

// abbrev quotes id for a message, shortening a long one.
func abbrev(id string) string {
	if len(id) > 20 {
		return fmt.Sprintf("%q...(%d bytes)", id[:8], len(id))
	}
	return fmt.Sprintf("%q", id)
}

func idCases() []Case {
	return []Case{
		{
			Name:   "id/max-length",
			Rule:   "An id of exactly 1024 bytes is accepted everywhere and usable as a resource, a subject and a parent.",
			Schema: Schema,
			run: func(e *env) {
				task, user, agent := strings.Repeat("t", authz.MaxIDLength), strings.Repeat("U", authz.MaxIDLength), strings.Repeat("a", authz.MaxIDLength)
				e.write("agent:" + agent + "#viewer@user:bob")
				e.register("task:"+task, "user:"+user, "agent:"+agent)
				e.wantAllowed("task:"+task, "read", "user:"+user, "user:bob")
				e.wantAccess("task", "read", "user:"+user, task)
				e.wantRead("task:"+task, "task:"+task+"#owner@user:"+user, "task:"+task+"#parent@agent:"+agent)
				e.wantOnce("Enumerate(task)", []string{task}, e.enumerate("task", 0))
				e.deregister("task:" + task)
				e.wantRead("task:" + task)
			},
		},
		{
			Name:   "id/too-long",
			Rule:   "An id of 1025 bytes is an invalid request wherever an id is taken, and nothing is written.",
			Schema: Schema,
			run: func(e *env) {
				wantIDRejected(e, strings.Repeat("x", authz.MaxIDLength+1))
			},
		},
		{
			Name:   "id/empty",
			Rule:   "An empty id is an invalid request wherever an id is taken, and nothing is written.",
			Schema: Schema,
			run: func(e *env) {
				wantIDRejected(e, "")
			},
		},
		{
			Name:   "id/outside-grammar",
			Rule:   "An id with a character outside [a-zA-Z0-9/_|=+-] is an invalid request wherever an id is taken, and nothing is written.",
			Schema: Schema,
			run: func(e *env) {
				wantIDRejected(e, "a b", "a:b", "a#b", "a@b", "a.b", "a*", "é", "a\x00b", "a\nb", "t1 ")
			},
		},
		{
			Name:   "id/wildcard",
			Rule:   "\"*\" is not an id: it is an invalid request as a resource, as the subject of a question and as an owner or parent.",
			Schema: Schema,
			run: func(e *env) {
				wantIDRejected(e, authz.WildcardID)
			},
		},
		{
			Name:   "id/punctuation",
			Rule:   "Every character of the id grammar is accepted and kept exactly.",
			Schema: Schema,
			run: func(e *env) {
				id, user := "A/b_c|d-e=f+G9", "u/1|x=y+z-_"
				e.register("task:"+id, "user:"+user, "")
				e.wantAllowed("task:"+id, "read", "user:"+user)
				e.wantAccess("task", "read", "user:"+user, id)
				e.wantRead("task:"+id, "task:"+id+"#owner@user:"+user)
			},
		},
		{
			Name:   "id/case-resource",
			Rule:   "Resource ids are case-sensitive: task:T1 and task:t1 are different resources.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:T1", "user:alice", "")
				e.wantAllowed("task:T1", "read", "user:alice")
				e.wantDenied("task:t1", "read", "user:alice")
				e.wantAccess("task", "read", "user:alice", "T1")
				e.wantRead("task:t1")
			},
		},
		{
			Name:   "id/case-subject",
			Rule:   "Subject ids are case-sensitive: user:Alice and user:alice are different subjects.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:Alice", "")
				e.wantAllowed("task:t1", "read", "user:Alice")
				e.wantDenied("task:t1", "read", "user:alice")
				e.wantAccess("task", "read", "user:alice")
			},
		},
	}
}
