package memadapter_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

const writeSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition agent {
	relation owner: user
}

definition task {
	relation parent: agent
	relation owner: user | group#member
	relation viewer: user | user:*
	permission read = owner + viewer + parent->owner
}
`

func relStrings(rels []authz.Relationship) []string {
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = r.String()
	}
	return out
}

func readAll(t *testing.T, a interface {
	ReadRelationships(context.Context, authz.ReadRequest) ([]authz.Relationship, error)
}, resource string) []string {
	t.Helper()
	rels, err := a.ReadRelationships(context.Background(), authz.ReadRequest{Resource: parseObject(t, resource)})
	if err != nil {
		t.Fatal(err)
	}
	return relStrings(rels)
}

func TestWriteValidatesAgainstSchema(t *testing.T) {
	tests := []struct {
		name string
		rel  authz.Relationship
		want string
	}{
		{"plain subject", parseRel(t, "task:t1#viewer@user:alice"), "ok"},
		{"wildcard where allowed", parseRel(t, "task:t1#viewer@user:*"), "ok"},
		{"subject set where allowed", parseRel(t, "task:t1#owner@group:eng#member"), "ok"},
		{"unknown resource type", parseRel(t, "project:p1#viewer@user:alice"), "invalid"},
		{"unknown relation", parseRel(t, "task:t1#editor@user:alice"), "invalid"},
		{"permission instead of relation", parseRel(t, "task:t1#read@user:alice"), "invalid"},
		{"unknown subject type", parseRel(t, "task:t1#viewer@robot:r1"), "invalid"},
		{"subject type not allowed", parseRel(t, "task:t1#viewer@agent:a1"), "invalid"},
		{"wildcard where not allowed", parseRel(t, "task:t1#owner@user:*"), "invalid"},
		{"subject set where only plain allowed", parseRel(t, "task:t1#viewer@group:eng#member"), "invalid"},
		{"plain where only subject set allowed", parseRel(t, "task:t1#owner@group:eng"), "invalid"},
		{"unknown subject relation", parseRel(t, "task:t1#owner@group:eng#admin"), "invalid"},
		{"malformed resource id", authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t 1"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"}}, "invalid"},
		{"wildcard resource id", authz.Relationship{Resource: authz.Resource{Type: "task", ID: "*"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"}}, "invalid"},
		{"malformed relation", authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "Viewer", Subject: authz.Subject{Type: "user", ID: "alice"}}, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a := newAuthorizer(t, writeSchema)
			_, err := a.Grant(ctx, authz.GrantRequest{Relationship: tt.rel})
			if got := errOutcome(err); got != tt.want {
				t.Fatalf("Grant(%s) = %s (%v), want %s", tt.rel, got, err, tt.want)
			}
			_, err = a.Revoke(ctx, authz.GrantRequest{Relationship: tt.rel})
			if got := errOutcome(err); got != tt.want {
				t.Errorf("Revoke(%s) = %s (%v), want %s", tt.rel, got, err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "alice") {
				t.Errorf("error %q echoes a subject id", err)
			}
		})
	}
}

func TestWriteIsAtomic(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema, "task:t1#viewer@user:alice")
	before := a.Schema() // the schema is immutable; the relationships are not
	_, err := a.Write(ctx, authz.WriteRequest{
		Touch:  []authz.Relationship{parseRel(t, "task:t2#viewer@user:bob"), parseRel(t, "task:t3#viewer@agent:a1")},
		Delete: []authz.Relationship{parseRel(t, "task:t1#viewer@user:alice")},
	})
	if errOutcome(err) != "invalid" {
		t.Fatalf("Write with one invalid relationship = %v, want invalid", err)
	}
	if diff := cmp.Diff([]string{"task:t1#viewer@user:alice"}, readAll(t, a, "task:t1")); diff != "" {
		t.Errorf("task:t1 changed by a failed write (-want +got):\n%s", diff)
	}
	if got := readAll(t, a, "task:t2"); len(got) != 0 {
		t.Errorf("task:t2 written by a failed write: %v", got)
	}
	if a.Schema() != before {
		t.Errorf("Schema changed")
	}

	_, err = a.Write(ctx, authz.WriteRequest{
		Touch:  []authz.Relationship{parseRel(t, "task:t2#viewer@user:bob")},
		Delete: []authz.Relationship{parseRel(t, "task:t2#viewer@user:bob")},
	})
	if errOutcome(err) != "invalid" {
		t.Errorf("Write touching and deleting one relationship = %v, want invalid", err)
	}

	_, err = a.Write(ctx, authz.WriteRequest{
		Touch:  []authz.Relationship{parseRel(t, "task:t2#viewer@user:bob"), parseRel(t, "task:t2#owner@group:eng#member")},
		Delete: []authz.Relationship{parseRel(t, "task:t1#viewer@user:alice"), parseRel(t, "task:t9#viewer@user:nobody")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"task:t2#owner@group:eng#member", "task:t2#viewer@user:bob"}, readAll(t, a, "task:t2")); diff != "" {
		t.Errorf("task:t2 mismatch (-want +got):\n%s", diff)
	}
	if got := readAll(t, a, "task:t1"); len(got) != 0 {
		t.Errorf("task:t1 not deleted: %v", got)
	}
}

// TestWriteRefusesDuplicates writes relationships that appear twice in
// one write (in Touch, in Delete, or far apart in a long write): each is
// invalid and writes nothing. Relationships that differ in one part only
// are not duplicates.
func TestWriteRefusesDuplicates(t *testing.T) {
	ctx := context.Background()
	long := make([]authz.Relationship, 0, 2001)
	for i := range 2000 {
		long = append(long, parseRel(t, fmt.Sprintf("task:t%d#viewer@user:u%d", i, i)))
	}
	rels := func(ss ...string) []authz.Relationship {
		out := make([]authz.Relationship, len(ss))
		for i, s := range ss {
			out[i] = parseRel(t, s)
		}
		return out
	}
	tests := []struct {
		name          string
		touch, delete []authz.Relationship
		want          string
	}{
		{name: "twice in touch", touch: rels("task:t1#viewer@user:a", "task:t2#viewer@user:a", "task:t1#viewer@user:a"), want: "invalid"},
		{name: "twice in delete", delete: rels("task:t1#viewer@user:a", "task:t1#viewer@user:a"), want: "invalid"},
		{name: "far apart in a long write", touch: append(slices.Clone(long), long[3]), want: "invalid"},
		{name: "a long write without duplicates", touch: long, want: "ok"},
		{name: "different in one part", touch: rels(
			"task:t1#viewer@user:a", "task:t1#viewer@user:ab", "task:t1#owner@user:a", "task:t1a#viewer@user:a",
			"task:t1#owner@group:eng#member", "task:t1#viewer@user:*", "agent:t1#owner@user:a", "group:t1#member@user:a",
		), want: "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthorizer(t, writeSchema)
			_, err := a.Write(ctx, authz.WriteRequest{Touch: tt.touch, Delete: tt.delete})
			if got := errOutcome(err); got != tt.want {
				t.Fatalf("Write = %v (%s), want %s", err, got, tt.want)
			}
			if tt.want != "ok" {
				if got := dump(t, a); len(got) != 0 {
					t.Errorf("a refused write wrote %d relationships", len(got))
				}
			}
		})
	}
}

// TestLargeWritesNumberEachObjectOnce writes thousands of relationships
// at a time whose objects share ids across types (task:x1, agent:x1,
// user:x1) and recur within and across writes, as a bulk load does: each
// object is found again by its type and id, whichever write names it.
func TestLargeWritesNumberEachObjectOnce(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema)
	var want []string
	for w := range 3 {
		var touch []authz.Relationship
		for i := w * 1000; i < (w+1)*1000; i++ {
			touch = append(touch,
				parseRel(t, fmt.Sprintf("task:x%d#parent@agent:x%d", i, i%50)),
				parseRel(t, fmt.Sprintf("task:x%d#owner@user:x%d", i, i%700)),
			)
			if i < 50*(w+1) && i >= 50*w {
				touch = append(touch, parseRel(t, fmt.Sprintf("agent:x%d#owner@user:x%d", i, i)))
			}
		}
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: touch}); err != nil {
			t.Fatal(err)
		}
		want = append(want, relStrings(touch)...)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, dump(t, a)); diff != "" {
		t.Fatalf("relationships mismatch (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		user, task string
		allowed    bool
	}{{"x7", "x7", true}, {"x7", "x2107", true}, {"x7", "x2057", true}, {"x7", "x8", false}, {"x49", "x1999", true}} {
		d, err := a.Check(ctx, authz.CheckRequest{
			Subject:    authz.Subject{Type: "user", ID: tc.user},
			Resource:   authz.Resource{Type: "task", ID: tc.task},
			Permission: "read",
		})
		if err != nil || d.Allowed() != tc.allowed {
			t.Errorf("Check(user:%s read task:%s) = %v, %v; want allowed %v", tc.user, tc.task, d, err, tc.allowed)
		}
	}
}

func TestRegisterCreatesOnce(t *testing.T) {
	ctx := context.Background()
	task := authz.Resource{Type: "task", ID: "t1"}
	req := authz.RegisterRequest{Resource: task, Owner: authz.Subject{Type: "user", ID: "alice"}, Parent: &authz.Resource{Type: "agent", ID: "a1"}}
	a := newAuthorizer(t, writeSchema)

	tok1, err := a.Register(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"task:t1#parent@agent:a1", "task:t1#owner@user:alice"}
	if diff := cmp.Diff(want, readAll(t, a, "task:t1")); diff != "" {
		t.Errorf("after Register (-want +got):\n%s", diff)
	}

	// An identical retry succeeds and writes nothing.
	tok2, err := a.Register(ctx, req)
	if err != nil {
		t.Errorf("retried Register = %v, want success", err)
	}
	if tok2 != tok1 {
		t.Errorf("retried Register returned token %v, want %v (no new write)", tok2, tok1)
	}

	for _, tt := range []struct {
		name string
		req  authz.RegisterRequest
	}{
		{"other owner", authz.RegisterRequest{Resource: task, Owner: authz.Subject{Type: "user", ID: "mallory"}, Parent: req.Parent}},
		{"no parent", authz.RegisterRequest{Resource: task, Owner: req.Owner}},
		{"other parent", authz.RegisterRequest{Resource: task, Owner: req.Owner, Parent: &authz.Resource{Type: "agent", ID: "a2"}}},
	} {
		if _, err := a.Register(ctx, tt.req); errOutcome(err) != "conflict" {
			t.Errorf("Register with %s = %v, want a conflict", tt.name, err)
		}
	}
	if diff := cmp.Diff(want, readAll(t, a, "task:t1")); diff != "" {
		t.Errorf("conflicting Registers changed the resource (-want +got):\n%s", diff)
	}

	// A resource that has only a grant is not free to register.
	if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: parseRel(t, "task:t2#viewer@user:bob")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t2"}, Owner: req.Owner}); errOutcome(err) != "conflict" {
		t.Errorf("Register over a grant = %v, want a conflict", err)
	}

	for _, tt := range []struct {
		name string
		req  authz.RegisterRequest
	}{
		{"owner relation missing from schema", authz.RegisterRequest{Resource: authz.Resource{Type: "group", ID: "g1"}, Owner: req.Owner}},
		{"parent type not allowed", authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t3"}, Owner: req.Owner, Parent: &authz.Resource{Type: "task", ID: "t1"}}},
		{"wildcard owner", authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t3"}, Owner: authz.Wildcard("user")}},
		{"custom owner relation", authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t3"}, Owner: req.Owner, OwnerRelation: "viewer"}},
	} {
		_, err := a.Register(ctx, tt.req)
		want := "invalid"
		if tt.name == "custom owner relation" {
			want = "ok"
		}
		if got := errOutcome(err); got != want {
			t.Errorf("Register with %s = %s (%v), want %s", tt.name, got, err, want)
		}
	}
}

func TestDeregisterRemovesOnlyTheResourcesRelationships(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema,
		"agent:a1#owner@user:alice",
		"task:t1#parent@agent:a1", "task:t1#owner@user:bob", "task:t1#viewer@user:*",
		"task:t2#parent@agent:a1")
	if _, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "agent", ID: "a1"}}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, "agent:a1"); len(got) != 0 {
		t.Errorf("agent:a1 still has %v", got)
	}
	if diff := cmp.Diff([]string{"task:t2#parent@agent:a1"}, readAll(t, a, "task:t2")); diff != "" {
		t.Errorf("relationship with the agent as subject removed (-want +got):\n%s", diff)
	}
	if _, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, "task:t1"); len(got) != 0 {
		t.Errorf("task:t1 still has %v", got)
	}
	if d, err := a.Check(ctx, parseCheck(t, "task:t1#read@user:anyone")); err != nil || d.Allowed() {
		t.Errorf("deregistered task still readable by the public: %v, %v", d, err)
	}
	if _, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "task", ID: "never"}}); err != nil {
		t.Errorf("Deregister of an unknown resource = %v, want success", err)
	}
	if _, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "project", ID: "p1"}}); errOutcome(err) != "invalid" {
		t.Errorf("Deregister of an unknown type = %v, want invalid", err)
	}
}

func TestTokensAdvanceAndAnyConsistencyReadsEverything(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema)
	tok1, err := a.Grant(ctx, authz.GrantRequest{Relationship: parseRel(t, "task:t1#viewer@user:alice")})
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := a.Revoke(ctx, authz.GrantRequest{Relationship: parseRel(t, "task:t1#viewer@user:nobody")})
	if err != nil {
		t.Fatal(err)
	}
	if tok1.IsZero() || tok1 == tok2 {
		t.Errorf("tokens %v, %v: want distinct non-zero tokens", tok1, tok2)
	}
	for _, c := range []authz.Consistency{
		authz.MinimizeLatency(),
		authz.FullyConsistent(),
		authz.AtLeastAsFresh(tok1),
		authz.AtLeastAsFresh(authz.NewToken("mem:999999")),
		authz.AtLeastAsFresh(authz.NewToken("GgYKBENBUT0=")),
		authz.AtLeastAsFresh(authz.NewToken("garbage")),
	} {
		req := parseCheck(t, "task:t1#read@user:alice")
		req.Consistency = c
		if got := outcome(a.Check(ctx, req)); got != "allow" {
			t.Errorf("Check with %v = %s, want allow", c, got)
		}
	}
}

func TestEnumeratePages(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, writeSchema,
		"task:t3#viewer@user:alice", "task:t1#viewer@user:alice", "task:t1#owner@user:bob",
		"task:t2#parent@agent:a1", "agent:a1#owner@user:alice")
	var got []string
	var cursors []string
	req := authz.EnumerateRequest{ResourceType: "task", Limit: 2}
	for {
		res, err := a.Enumerate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.IDs...)
		cursors = append(cursors, res.Cursor)
		if res.Cursor == "" {
			break
		}
		req.Cursor = res.Cursor
	}
	if diff := cmp.Diff([]string{"t1", "t2", "t3"}, got); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"t2", ""}, cursors); diff != "" {
		t.Errorf("cursors mismatch (-want +got):\n%s", diff)
	}
	res, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "user"})
	if err != nil || len(res.IDs) != 0 {
		t.Errorf("Enumerate(user) = %v, %v; want no ids: users are only subjects", res, err)
	}
	for _, req := range []authz.EnumerateRequest{
		{ResourceType: "project"},
		{ResourceType: "task", Limit: -1},
		{ResourceType: "task", Cursor: "not an id"},
	} {
		if _, err := a.Enumerate(ctx, req); errOutcome(err) != "invalid" {
			t.Errorf("Enumerate(%+v) = %v, want invalid", req, err)
		}
	}
	if _, err := a.Revoke(ctx, authz.GrantRequest{Relationship: parseRel(t, "task:t2#parent@agent:a1")}); err != nil {
		t.Fatal(err)
	}
	res, err = a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "task"})
	if diff := cmp.Diff([]string{"t1", "t3"}, res.IDs); err != nil || diff != "" {
		t.Errorf("Enumerate after revoking t2's only relationship: %v (-want +got):\n%s", err, diff)
	}
}
