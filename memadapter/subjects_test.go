package memadapter_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

const groupSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition doc {
	relation parent: doc | group
	relation viewer: user | user:* | group#member
	relation banned: user
	permission view = viewer - banned
	permission loop = viewer - parent->loop
	permission all_members = parent.all(member)
}
`

// subjectsOf returns the subjects of typ (and relation rel) holding perm on
// res, in notation.
func subjectsOf(t *testing.T, a *memadapter.Authorizer, res, perm, typ, rel string) []string {
	t.Helper()
	r, err := a.LookupSubjects(t.Context(), authz.SubjectLookupRequest{Resource: parseObject(t, res), Permission: perm, SubjectType: typ, SubjectRelation: rel})
	if err != nil {
		t.Fatalf("LookupSubjects(%s#%s, %s): %v", res, perm, typ, err)
	}
	out := make([]string, len(r.Subjects))
	for i, f := range r.Subjects {
		out[i] = f.String()
	}
	return out
}

func TestSubjectsOfCyclicGroups(t *testing.T) {
	a := newAuthorizer(t, groupSchema,
		"group:a#member@group:b#member",
		"group:b#member@group:c#member",
		"group:c#member@group:a#member",
		"group:a#member@user:ann",
		"group:b#member@user:ben",
		"group:c#member@user:cid",
		"doc:d1#viewer@group:b#member",
	)
	want := []string{"user:ann", "user:ben", "user:cid"}
	for _, g := range []string{"group:a", "group:b", "group:c"} {
		if diff := cmp.Diff(want, subjectsOf(t, a, g, "member", "user", "")); diff != "" {
			t.Errorf("members of %s mismatch (-want +got):\n%s", g, diff)
		}
	}
	if diff := cmp.Diff(want, subjectsOf(t, a, "doc:d1", "view", "user", "")); diff != "" {
		t.Errorf("viewers of doc:d1 mismatch (-want +got):\n%s", diff)
	}
	sets := []string{"group:a#member", "group:b#member", "group:c#member"}
	if diff := cmp.Diff(sets, subjectsOf(t, a, "doc:d1", "view", "group", "member")); diff != "" {
		t.Errorf("groups viewing doc:d1 mismatch (-want +got):\n%s", diff)
	}
	// Every member found passes Check.
	for _, u := range want {
		if d, err := a.Check(t.Context(), authz.CheckRequest{Subject: parseSubject(t, u), Resource: parseObject(t, "doc:d1"), Permission: "view"}); err != nil || !d.Allowed() {
			t.Errorf("Check(doc:d1#view@%s) = %v, %v; want allowed", u, d, err)
		}
	}
}

func TestSubjectsOfDeepChainsHaveNoDepthLimit(t *testing.T) {
	const depth = 3 * memadapter.MaxDepth
	rels := []string{fmt.Sprintf("group:g%d#member@user:deep", depth)}
	for i := range depth {
		rels = append(rels, fmt.Sprintf("group:g%d#member@group:g%d#member", i, i+1))
	}
	a := newAuthorizer(t, groupSchema, rels...)
	if diff := cmp.Diff([]string{"user:deep"}, subjectsOf(t, a, "group:g0", "member", "user", "")); diff != "" {
		t.Errorf("members of group:g0 mismatch (-want +got):\n%s", diff)
	}
	// Check stops at MaxDepth on the same chain; the lookup does not.
	_, err := a.Check(t.Context(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "deep"}, Resource: parseObject(t, "group:g0"), Permission: "member"})
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Check down %d groups = %v, want a depth error", depth, err)
	}
}

func TestSubjectsOfACycleThroughAnExclusionFail(t *testing.T) {
	// view(d1) = viewer - view(d1) has no answer: each round flips it.
	a := newAuthorizer(t, groupSchema, "doc:d1#viewer@user:ann", "doc:d1#parent@doc:d1")
	_, err := a.LookupSubjects(t.Context(), authz.SubjectLookupRequest{Resource: parseObject(t, "doc:d1"), Permission: "loop", SubjectType: "user"})
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("LookupSubjects of a self-excluding permission = %v, want %v", err, authz.ErrInvalidRequest)
	}
}

func TestSubjectsOfAllArrowFollowCheck(t *testing.T) {
	// doc:d2's parents are a group (which has member) and a doc (which has
	// not): Check denies all_members to everyone, and so does the lookup.
	a := newAuthorizer(t, groupSchema,
		"group:g1#member@user:ann", "group:g2#member@user:ann", "group:g2#member@user:ben",
		"doc:d1#parent@group:g1", "doc:d1#parent@group:g2",
		"doc:d2#parent@group:g1", "doc:d2#parent@doc:d1",
	)
	if diff := cmp.Diff([]string{"user:ann"}, subjectsOf(t, a, "doc:d1", "all_members", "user", "")); diff != "" {
		t.Errorf("all_members of doc:d1 mismatch (-want +got):\n%s", diff)
	}
	if got := subjectsOf(t, a, "doc:d2", "all_members", "user", ""); len(got) != 0 {
		t.Errorf("all_members of doc:d2 = %v, want none", got)
	}
	if d, err := a.Check(t.Context(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "ann"}, Resource: parseObject(t, "doc:d2"), Permission: "all_members"}); err != nil || d.Allowed() {
		t.Errorf("Check(doc:d2#all_members@user:ann) = %v, %v; want denied", d, err)
	}
}

func TestSubjectsRejectBadInput(t *testing.T) {
	a := newAuthorizer(t, groupSchema, "doc:d1#viewer@user:ann")
	ok := authz.SubjectLookupRequest{Resource: parseObject(t, "doc:d1"), Permission: "view", SubjectType: "user"}
	for _, tt := range []struct {
		name   string
		mutate func(*authz.SubjectLookupRequest)
	}{
		{"unknown subject type", func(r *authz.SubjectLookupRequest) { r.SubjectType = "robot" }},
		{"unknown subject relation", func(r *authz.SubjectLookupRequest) { r.SubjectType, r.SubjectRelation = "group", "owner" }},
		{"unknown permission", func(r *authz.SubjectLookupRequest) { r.Permission = "edit" }},
		{"unknown resource type", func(r *authz.SubjectLookupRequest) { r.Resource.Type = "folder" }},
		{"malformed cursor", func(r *authz.SubjectLookupRequest) { r.Cursor = "a b" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.mutate(&req)
			if _, err := a.LookupSubjects(t.Context(), req); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("LookupSubjects = %v, want %v", err, authz.ErrInvalidRequest)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := a.LookupSubjects(ctx, ok); !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("LookupSubjects with a cancelled context = %v, want %v", err, authz.ErrUnavailable)
	}
}

func TestSubjectsOfCliquesAndChainsOfGroups(t *testing.T) {
	for _, tt := range []struct {
		name   string
		n      int
		clique bool
	}{
		{"clique of 150", 150, true},
		{"chain of 5000", 5000, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := cyclicGroups(t, tt.n, tt.clique)
			want := make([]string, tt.n)
			for i := range tt.n {
				want[i] = fmt.Sprintf("user:u%d", i)
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, subjectsOf(t, a, "doc:d1", "view", "user", "")); diff != "" {
				t.Errorf("viewers of doc:d1 mismatch (-want +got):\n%s", diff)
			}
			groups := subjectsOf(t, a, "doc:d1", "view", "group", "member")
			if len(groups) != tt.n {
				t.Errorf("found %d groups viewing doc:d1, want %d", len(groups), tt.n)
			}
		})
	}
}

// TestSubjectLookupGrowsWithTheGraph compares the bytes a subject lookup
// allocates on a graph and on one four times its size: about four times as
// many, where computing a set per group (as the first implementation did)
// copies a chain's members once per group, sixteen times as many.
func TestSubjectLookupGrowsWithTheGraph(t *testing.T) {
	for _, tt := range []struct {
		name   string
		n, n4  int
		clique bool
	}{
		{"chain", 4000, 16000, false},
		{"clique", 40, 80, true}, // n² relationships: 4 times as many
	} {
		t.Run(tt.name, func(t *testing.T) {
			small := allocatedBytes(t, cyclicGroups(t, tt.n, tt.clique))
			large := allocatedBytes(t, cyclicGroups(t, tt.n4, tt.clique))
			if ratio := float64(large) / float64(small); ratio > 6 {
				t.Errorf("a lookup allocates %d bytes on the larger graph and %d on the smaller: %.1f times as many, want about 4", large, small, ratio)
			} else {
				t.Logf("%d and %d bytes: %.1f times as many", small, large, ratio)
			}
		})
	}
}

// allocatedBytes returns the bytes the first lookup of viewersOfD1 on a
// allocates: its whole footprint, none of its buffers yet kept from a past
// lookup.
func allocatedBytes(t *testing.T, a *memadapter.Authorizer) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := a.LookupSubjects(t.Context(), viewersOfD1); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// pollingContext counts the calls of Err and, with a positive cancelAfter,
// reports itself cancelled after that many.
type pollingContext struct {
	context.Context
	calls, cancelAfter int
}

func (c *pollingContext) Err() error {
	c.calls++
	if c.cancelAfter > 0 && c.calls > c.cancelAfter {
		return context.Canceled
	}
	return nil
}

func TestSubjectLookupPollsItsContext(t *testing.T) {
	a := cyclicGroups(t, 5000, false)
	// A lookup through 5,000 groups checks its context at least once per
	// thousand of them...
	ctx := &pollingContext{Context: t.Context()}
	if _, err := a.LookupSubjects(ctx, viewersOfD1); err != nil {
		t.Fatal(err)
	}
	if ctx.calls < 5 {
		t.Errorf("a lookup through 5000 groups checked its context %d times, want at least 5", ctx.calls)
	}
	// ...and stops when it is done.
	for _, after := range []int{1, 2, ctx.calls - 1} {
		ctx := &pollingContext{Context: t.Context(), cancelAfter: after}
		if _, err := a.LookupSubjects(ctx, viewersOfD1); !errors.Is(err, authz.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("LookupSubjects cancelled after %d checks = %v, want %v and %v", after, err, authz.ErrUnavailable, context.Canceled)
		}
	}
}

func TestSubjectsOfCyclesThroughExclusions(t *testing.T) {
	const schema = `
definition user {}

definition group {
	relation member: user
	relation parent: group
	permission fenced = member - parent->fenced
}
`
	for _, tt := range []struct {
		name  string
		rels  []string
		group string
		want  []string // nil with wantErr
		err   bool
	}{{
		// fenced(g1) = {ann} - fenced(g1): ann is neither in nor out.
		name: "excludes itself", rels: []string{"group:g1#member@user:ann", "group:g1#parent@group:g1"}, group: "group:g1", err: true,
	}, {
		// Two fixpoints, {ann} and {}: which one rounds found depended on
		// the order of evaluation.
		name: "two groups excluding each other", rels: []string{"group:g1#member@user:ann", "group:g2#member@user:ann", "group:g1#parent@group:g2", "group:g2#parent@group:g1"}, group: "group:g1", err: true,
	}, {
		// The cycle holds nobody: the well-founded value is empty.
		name: "empty cycle", rels: []string{"group:g1#parent@group:g1", "group:g2#parent@group:g1", "group:g2#member@user:ann"}, group: "group:g2", want: []string{"user:ann"},
	}, {
		// No cycle: fenced(g2) = {ben} - fenced(g3) = {ben}, and
		// fenced(g1) = {ben} - fenced(g2) = {}.
		name: "a chain of exclusions", rels: []string{"group:g2#member@user:ben", "group:g2#parent@group:g3", "group:g1#member@user:ben", "group:g1#parent@group:g2"}, group: "group:g1", want: []string{},
	}, {
		// Only what fenced reads decides: g2's empty base skips the
		// undecided g1.
		name: "an empty base skips an undecided cycle", rels: []string{"group:g1#member@user:ann", "group:g1#parent@group:g1", "group:g2#parent@group:g1"}, group: "group:g2", want: []string{},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthorizer(t, schema, tt.rels...)
			res, err := a.LookupSubjects(t.Context(), authz.SubjectLookupRequest{Resource: parseObject(t, tt.group), Permission: "fenced", SubjectType: "user"})
			if tt.err {
				if !errors.Is(err, authz.ErrInvalidRequest) {
					t.Errorf("LookupSubjects = %v, %v; want %v", res, err, authz.ErrInvalidRequest)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, f := range res.Subjects {
				got = append(got, f.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fenced of %s mismatch (-want +got):\n%s", tt.group, diff)
			}
		})
	}
}
