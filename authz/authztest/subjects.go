package authztest

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fgac-go/fgac/authz"
)

// knownSubject adds s to the universe of its type and relation; a wildcard
// adds nothing (the universe always holds an id never written).
func (e *env) knownSubject(s authz.Subject) {
	if s.IsWildcard() {
		return
	}
	key := subjectKey(s.Type, s.Relation)
	if e.subjects == nil {
		e.subjects = map[string]map[string]bool{}
	}
	if e.subjects[key] == nil {
		e.subjects[key] = map[string]bool{}
	}
	e.subjects[key][s.ID] = true
	if s.Relation != "" {
		// A subject set's object is a resource of the graph too.
		e.known(s.Object())
	}
}

func subjectKey(typ, rel string) string {
	if rel == "" {
		return typ
	}
	return typ + "#" + rel
}

// subjectLookuper returns the engine as an authz.SubjectLookuper; an
// engine without subject lookup skips the subject cases, saying so.
func (e *env) subjectLookuper() authz.SubjectLookuper {
	e.t.Helper()
	l, ok := e.a.(authz.SubjectLookuper)
	if !ok {
		e.t.Skipf("the engine (%T) does not implement authz.SubjectLookuper", e.a)
	}
	return l
}

// subjectReq builds the subject lookup of subjectType ("user" or
// "group#member") holding permission on resource.
func (e *env) subjectReq(resource, permission, subjectType string) authz.SubjectLookupRequest {
	e.t.Helper()
	typ, rel, _ := strings.Cut(subjectType, "#")
	return authz.SubjectLookupRequest{Resource: e.res(resource), Permission: permission, SubjectType: typ, SubjectRelation: rel, Consistency: e.fresh()}
}

// lookupSubjects pages through a subject lookup with limit (0 for one
// unlimited call) and returns every subject found, in the order received.
func (e *env) lookupSubjects(req authz.SubjectLookupRequest, limit int) []authz.FoundSubject {
	e.t.Helper()
	l := e.subjectLookuper()
	req.Limit = limit
	var all []authz.FoundSubject
	for range maxPages {
		res, err := l.LookupSubjects(e.ctx, req)
		if err != nil {
			e.t.Fatalf("LookupSubjects(%s#%s, %s, limit %d): %v", req.Resource, req.Permission, subjectKey(req.SubjectType, req.SubjectRelation), limit, err)
		}
		if limit > 0 && len(res.Subjects) > limit {
			e.t.Errorf("LookupSubjects(limit %d) returned a page of %d subjects", limit, len(res.Subjects))
		}
		if limit == 0 && res.Cursor != "" {
			e.t.Errorf("LookupSubjects without a limit returned cursor %q, want none", res.Cursor)
		}
		all = append(all, res.Subjects...)
		if res.Cursor == "" {
			return all
		}
		req.Cursor = res.Cursor
	}
	e.t.Fatalf("LookupSubjects(limit %d) did not finish in %d pages", limit, maxPages)
	return nil
}

// wantSubjects asserts that the subjects of subjectType ("user",
// "group#member") holding permission on resource are exactly want, in
// SpiceDB notation and ascending order (a wildcard, "user:* - {user:x}"
// with its exclusions, first), and that
// they agree with Check in both directions over every subject of the type
// the case wrote plus one never written: a subject is covered by the answer
// exactly when Check allows it.
func (e *env) wantSubjects(resource, permission, subjectType string, want ...string) {
	e.t.Helper()
	req := e.subjectReq(resource, permission, subjectType)
	found := e.lookupSubjects(req, 0)
	got := make([]string, len(found))
	for i, f := range found {
		got[i] = f.String()
		if i > 0 && f.Subject.IsWildcard() {
			e.t.Errorf("LookupSubjects(%s#%s, %s) returned a wildcard at %d, want it first", resource, permission, subjectType, i)
		}
	}
	slices.Sort(got) // an unlimited lookup's order is the engine's; "*" sorts first
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		e.t.Errorf("LookupSubjects(%s#%s, %s) mismatch (-want +got):\n%s", resource, permission, subjectType, diff)
	}
	e.wantSubjectsAgreeWithCheck(req, found)
}

// wantSubjectsAgreeWithCheck asserts that found covers exactly the
// subjects of the universe that Check allows.
func (e *env) wantSubjectsAgreeWithCheck(req authz.SubjectLookupRequest, found []authz.FoundSubject) {
	e.t.Helper()
	universe := map[string]bool{"never-written": true}
	for id := range e.subjects[subjectKey(req.SubjectType, req.SubjectRelation)] {
		universe[id] = true
	}
	for _, f := range found {
		if !f.Subject.IsWildcard() {
			universe[f.Subject.ID] = true
		}
		for _, x := range f.Excluded {
			universe[x.ID] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(universe)) {
		s := authz.Subject{Type: req.SubjectType, ID: id, Relation: req.SubjectRelation}
		covered := slices.ContainsFunc(found, func(f authz.FoundSubject) bool { return f.Covers(s) })
		d, err := e.a.Check(e.ctx, authz.CheckRequest{Subject: s, Resource: req.Resource, Permission: req.Permission, Consistency: e.fresh()})
		if err != nil {
			e.t.Fatalf("Check(%s#%s@%s): %v", req.Resource, req.Permission, s, err)
		}
		if d.Allowed() != covered {
			e.t.Errorf("%s: Check(%s#%s) allows = %v, but the subject lookup covers it = %v", s, req.Resource, req.Permission, d.Allowed(), covered)
		}
	}
}

// wantSubjectsInvalid asserts that a subject lookup fails with
// ErrInvalidRequest.
func (e *env) wantSubjectsInvalid(what string, req authz.SubjectLookupRequest) {
	e.t.Helper()
	res, err := e.subjectLookuper().LookupSubjects(e.ctx, req)
	if !errors.Is(err, authz.ErrInvalidRequest) {
		e.t.Errorf("LookupSubjects(%s) error = %v, want %v", what, err, authz.ErrInvalidRequest)
	}
	if len(res.Subjects) > 0 {
		e.t.Errorf("LookupSubjects(%s) = %v with error %v, want no subjects", what, res.Subjects, err)
	}
}

func subjectCases() []Case {
	return []Case{
		{
			Name:   "subjects/relation",
			Rule:   "The subjects of a relation are the subjects of its relationships of the type asked for, each once, in ascending order of id.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:carol", "task:t1#viewer@user:alice", "task:t1#owner@user:alice", "task:t1#owner@service:bot", "task:t2#viewer@user:dana")
				e.wantSubjects("task:t1", "viewer", "user", "user:alice", "user:carol")
				e.wantSubjects("task:t1", "owner", "user", "user:alice")
				e.wantSubjects("task:t1", "owner", "service", "service:bot")
			},
		},
		{
			Name:   "subjects/main-read",
			Rule:   "The users who may read a task are found through ownership, roles, nested groups and two levels of arrows, minus the banned, exactly as Check allows.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantSubjects("task:t1", "read", "user", "user:alice", "user:bea", "user:bob", "user:olga")
				e.wantSubjects("task:t2", "read", "user", "user:alice", "user:bea", "user:carol", "user:olga")
				e.wantSubjects("task:t4", "read", "user", "user:alice")
				e.wantSubjects("task:t5", "read", "user", "user:bea", "user:bob")
			},
		},
		{
			Name:   "subjects/wildcard",
			Rule:   "A wildcard reached through an arrow is reported as a wildcard, not expanded, beside the subjects found on their own.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantSubjects("task:t3", "read", "user", "user:*", "user:alice", "user:dana")
				e.wantSubjects("agent:a2", "viewer", "user", "user:*")
			},
		},
		{
			Name:   "subjects/wildcard-excluded",
			Rule:   "A wildcard minus a ban is reported with the banned subject as its exclusion, and the banned subject is not found on its own.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.write("task:t6#viewer@user:mallory")
				e.wantSubjects("task:t6", "read", "user", "user:* - {user:mallory}", "user:alice")
			},
		},
		{
			Name:   "subjects/wildcard-and-concrete",
			Rule:   "A subject granted directly beside a wildcard is reported as well as the wildcard.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#viewer@user:alice", "doc:d1#editor@user:bob")
				e.wantSubjects("doc:d1", "view", "user", "user:*", "user:alice", "user:bob")
			},
		},
		{
			Name:   "subjects/intersection",
			Rule:   "The subjects of an intersection with an arrow are those both sides hold.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantSubjects("task:t1", "update", "user", "user:alice")
				e.wantSubjects("task:t2", "update", "user")
				e.wantSubjects("task:t3", "update", "user", "user:dana")
			},
		},
		{
			Name:   "subjects/intersection-wildcard",
			Rule:   "A wildcard satisfies its side of an intersection: the subjects found are those of the other side.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#approver@user:alice", "doc:d1#approver@user:bob", "doc:d1#banned@user:bob")
				e.wantSubjects("doc:d1", "approved_view", "user", "user:alice", "user:bob")
			},
		},
		{
			Name:   "subjects/exclusion-wildcard",
			Rule:   "A wildcard on the excluded side removes every subject of its type, even ones granted directly, and no subject of another type.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:alice", "doc:d1#banned@user:*", "doc:d1#viewer@service:bot")
				e.wantSubjects("doc:d1", "safe_view", "user")
				e.wantSubjects("doc:d1", "safe_view", "service", "service:bot")
			},
		},
		{
			Name:   "subjects/exclusion-of-exclusion",
			Rule:   "A wildcard minus a wildcard that excludes some subjects leaves exactly those subjects, found on their own.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#banned@user:*", "doc:d1#pardoned@user:bob", "doc:d1#pardoned@user:carol", "doc:d1#editor@user:alice")
				e.wantSubjects("doc:d1", "lenient_view", "user", "user:bob", "user:carol")
			},
		},
		{
			Name:   "subjects/nil",
			Rule:   "nil holds no subject: alone or intersected it finds nobody, united or subtracted it changes nothing.",
			Schema: operatorSchema,
			run: func(e *env) {
				e.write("doc:d1#viewer@user:*", "doc:d1#viewer@user:alice")
				e.wantSubjects("doc:d1", "nothing", "user")
				e.wantSubjects("doc:d1", "view_and_nil", "user")
				e.wantSubjects("doc:d1", "view_or_nil", "user", "user:*", "user:alice")
				e.wantSubjects("doc:d1", "view_minus_nil", "user", "user:*", "user:alice")
			},
		},
		{
			Name:   "subjects/nested-groups",
			Rule:   "The members of a group include the members of the groups nested in it, at any depth.",
			Schema: Schema,
			run: func(e *env) {
				e.write("group:a#member@group:b#member", "group:b#member@group:c#member", "group:c#member@user:carol", "group:b#member@user:bob", "group:a#member@service:bot")
				e.wantSubjects("group:a", "member", "user", "user:bob", "user:carol")
				e.wantSubjects("group:a", "member", "service", "service:bot")
				e.wantSubjects("group:c", "member", "user", "user:carol")
			},
		},
		{
			Name:   "subjects/subject-sets",
			Rule:   "Asked for subject sets (group#member), the lookup finds the sets granted and the sets nested in them, and a set is a member of itself.",
			Schema: Schema,
			run: func(e *env) {
				mainGraph(e)
				e.wantSubjects("task:t5", "read", "group#member", "group:backend#member", "group:eng#member")
				e.wantSubjects("group:eng", "member", "group#member", "group:backend#member", "group:eng#member")
				e.wantSubjects("task:t4", "read", "group#member")
			},
		},
		{
			Name:   "subjects/other-type",
			Rule:   "A lookup of one subject type never returns subjects of another, nor a wildcard of another type.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t1#owner@service:bot", "task:t1#editor@user:alice")
				e.wantSubjects("task:t1", "read", "service", "service:bot")
				e.wantSubjects("task:t1", "read", "user", "user:*", "user:alice")
			},
		},
		{
			Name:   "subjects/follows-writes",
			Rule:   "A subject lookup reflects revocations and deregistrations read at least as fresh as their tokens.",
			Schema: Schema,
			run: func(e *env) {
				e.register("task:t1", "user:alice", "")
				e.grant("task:t1#viewer@user:bob")
				e.wantSubjects("task:t1", "read", "user", "user:alice", "user:bob")
				e.revoke("task:t1#viewer@user:bob")
				e.wantSubjects("task:t1", "read", "user", "user:alice")
				e.deregister("task:t1")
				e.wantSubjects("task:t1", "read", "user")
			},
		},
		{
			Name:   "subjects/unknown-resource",
			Rule:   "A resource with no relationships has no subjects: an empty answer, not an error.",
			Schema: Schema,
			run: func(e *env) {
				e.wantSubjects("task:never-written", "read", "user")
			},
		},
		{
			Name:   "subjects/paged",
			Rule:   "Paged with a limit, a subject lookup returns every subject exactly once across its pages, in ascending order, a wildcard first and counted in the limit.",
			Schema: Schema,
			run: func(e *env) {
				users := seq("u", 11)
				rels := []string{"task:t1#viewer@user:*"}
				for _, u := range users {
					rels = append(rels, "task:t1#viewer@user:"+u)
				}
				e.write(rels...)
				want := append([]string{"user:*"}, prefixed("user:", users)...)
				for _, limit := range []int{1, 3, 12, 50} {
					found := e.lookupSubjects(e.subjectReq("task:t1", "read", "user"), limit)
					got := make([]string, len(found))
					for i, f := range found {
						got[i] = f.String()
					}
					if diff := cmp.Diff(want, got); diff != "" {
						e.t.Errorf("LookupSubjects paged by %d mismatch (-want +got):\n%s", limit, diff)
					}
				}
			},
		},
		{
			Name:   "subjects/invalid",
			Rule:   "A malformed request or an unknown type, permission, subject type or subject relation fails with ErrInvalidRequest and finds nobody.",
			Schema: Schema,
			run: func(e *env) {
				e.write("task:t1#viewer@user:*", "task:t1#owner@user:alice")
				ok := e.subjectReq("task:t1", "read", "user")
				for _, tc := range []struct {
					name   string
					mutate func(*authz.SubjectLookupRequest)
				}{
					{"unknown resource type", func(r *authz.SubjectLookupRequest) { r.Resource.Type = "nothing" }},
					{"unknown subject type", func(r *authz.SubjectLookupRequest) { r.SubjectType = "robot" }},
					{"unknown permission", func(r *authz.SubjectLookupRequest) { r.Permission = "fly" }},
					{"unknown subject relation", func(r *authz.SubjectLookupRequest) { r.SubjectType, r.SubjectRelation = "group", "owner" }},
					{"malformed resource id", func(r *authz.SubjectLookupRequest) { r.Resource.ID = "a b" }},
					{"wildcard resource id", func(r *authz.SubjectLookupRequest) { r.Resource.ID = "*" }},
					{"malformed subject type", func(r *authz.SubjectLookupRequest) { r.SubjectType = "User!" }},
					{"malformed subject relation", func(r *authz.SubjectLookupRequest) { r.SubjectRelation = "x" }},
					{"negative limit", func(r *authz.SubjectLookupRequest) { r.Limit = -1 }},
					{"foreign cursor", func(r *authz.SubjectLookupRequest) { r.Cursor = "not a cursor" }},
				} {
					req := ok
					tc.mutate(&req)
					e.wantSubjectsInvalid(tc.name, req)
				}
			},
		},
	}
}

func prefixed(prefix string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = prefix + id
	}
	return out
}
