package spicedbadapter_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/mock/mockv1"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// found is one LookupSubjects result: an id (or "*"), whether it holds
// unconditionally, and a wildcard's exclusions.
type found struct {
	id       string
	cond     bool
	excluded []string
}

// subjectStream returns a stream of results, then err (io.EOF for a clean
// end).
func subjectStream(t *testing.T, results []found, err error) grpc.ServerStreamingClient[v1.LookupSubjectsResponse] {
	s := mockv1.NewMockServerStreamingClient[v1.LookupSubjectsResponse](gomock.NewController(t))
	calls := make([]any, 0, len(results)+1)
	for _, r := range results {
		p := v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION
		if r.cond {
			p = v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION
		}
		resp := &v1.LookupSubjectsResponse{
			Subject:    &v1.ResolvedSubject{SubjectObjectId: r.id, Permissionship: p},
			LookedUpAt: &v1.ZedToken{Token: "snap"},
		}
		for _, x := range r.excluded {
			resp.ExcludedSubjects = append(resp.ExcludedSubjects, &v1.ResolvedSubject{SubjectObjectId: x, Permissionship: v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION})
		}
		calls = append(calls, s.EXPECT().Recv().Return(resp, nil))
	}
	calls = append(calls, s.EXPECT().Recv().Return(nil, err))
	gomock.InOrder(calls...)
	return s
}

// unverified leaves out the confirming checks, for the tests of how the
// adapter unites SpiceDB's stream; TestLookupSubjectsConfirmsWithChecks
// covers the confirmation.
var unverified = spicedbadapter.Config{UnverifiedLookups: true}

var whoReadsT1 = authz.SubjectLookupRequest{Resource: task("t1"), Permission: "read", SubjectType: "user"}

// subjectStrings renders found subjects in notation.
func subjectStrings(fs []authz.FoundSubject) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

func TestLookupSubjectsRequestShape(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, unverified)
	want := &v1.LookupSubjectsRequest{
		Consistency:             &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
		Resource:                &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
		Permission:              "read",
		SubjectObjectType:       "group",
		OptionalSubjectRelation: "member",
		WildcardOption:          v1.LookupSubjectsRequest_WILDCARD_OPTION_INCLUDE_WILDCARDS,
	}
	m.EXPECT().LookupSubjects(gomock.Any(), protoEq(want)).Return(subjectStream(t, []found{{id: "eng"}}, io.EOF), nil)
	req := authz.SubjectLookupRequest{Resource: task("t1"), Permission: "read", SubjectType: "group", SubjectRelation: "member", Consistency: authz.FullyConsistent()}
	res, err := a.LookupSubjects(t.Context(), req)
	if err != nil {
		t.Fatalf("LookupSubjects: %v", err)
	}
	if diff := cmp.Diff([]string{"group:eng#member"}, subjectStrings(res.Subjects)); diff != "" {
		t.Errorf("LookupSubjects mismatch (-want +got):\n%s", diff)
	}
}

func TestLookupSubjectsUnitesWhatSpiceDBRepeats(t *testing.T) {
	tests := []struct {
		name    string
		results []found
		want    []string
	}{
		{"repeats", []found{{id: "bob"}, {id: "alice"}, {id: "bob"}}, []string{"user:alice", "user:bob"}},
		{"wildcards intersect their exclusions", []found{{id: "*", excluded: []string{"eve", "mal"}}, {id: "*", excluded: []string{"mal", "zed"}}}, []string{"user:* - {user:mal}"}},
		{"a subject found on its own is not excluded", []found{{id: "*", excluded: []string{"eve", "mal"}}, {id: "eve"}}, []string{"user:* - {user:mal}", "user:eve"}},
		{"a wildcard without exclusions wins", []found{{id: "*", excluded: []string{"eve"}}, {id: "*"}}, []string{"user:*"}},
		{"conditional subjects are left out", []found{{id: "alice", cond: true}, {id: "bob"}, {id: "*", cond: true}}, []string{"user:bob"}},
		{"a conditional repeat does not hide a subject", []found{{id: "alice", cond: true}, {id: "alice"}}, []string{"user:alice"}},
		{"none", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t, unverified)
			m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, tt.results, io.EOF), nil)
			res, err := a.LookupSubjects(t.Context(), whoReadsT1)
			if err != nil {
				t.Fatalf("LookupSubjects: %v", err)
			}
			got := subjectStrings(res.Subjects)
			slices.Sort(got) // unlimited: SpiceDB's order, the wildcard first
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LookupSubjects mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookupSubjectsConditionalExclusionExcludes(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, unverified)
	s := mockv1.NewMockServerStreamingClient[v1.LookupSubjectsResponse](gomock.NewController(t))
	gomock.InOrder(
		s.EXPECT().Recv().Return(&v1.LookupSubjectsResponse{
			Subject:          &v1.ResolvedSubject{SubjectObjectId: "*", Permissionship: v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION},
			ExcludedSubjects: []*v1.ResolvedSubject{{SubjectObjectId: "mal", Permissionship: v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_CONDITIONAL_PERMISSION}},
		}, nil),
		s.EXPECT().Recv().Return(nil, io.EOF),
	)
	m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(s, nil)
	res, err := a.LookupSubjects(t.Context(), whoReadsT1)
	if err != nil {
		t.Fatalf("LookupSubjects: %v", err)
	}
	if diff := cmp.Diff([]string{"user:* - {user:mal}"}, subjectStrings(res.Subjects)); diff != "" {
		t.Errorf("LookupSubjects mismatch (-want +got):\n%s", diff)
	}
}

func TestLookupSubjectsFailingMidStreamReturnsNothing(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, unverified)
	m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, *v1.LookupSubjectsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupSubjectsResponse], error) {
			return subjectStream(t, []found{{id: "alice"}}, status.Error(codes.Unavailable, "connection reset")), nil
		}).Times(spicedbadapter.DefaultMaxAttempts)
	res, err := a.LookupSubjects(t.Context(), whoReadsT1)
	if !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != codes.Unavailable {
		t.Errorf("LookupSubjects error = %v, want %v with code Unavailable", err, authz.ErrUnavailable)
	}
	if len(res.Subjects) != 0 {
		t.Errorf("LookupSubjects returned %v with its error, want nothing", res.Subjects)
	}
}

func TestLookupSubjectsRetriesTheWholeStream(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, unverified)
	gomock.InOrder(
		m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, []found{{id: "alice"}, {id: "mal"}}, status.Error(codes.Unavailable, "reset")), nil),
		m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, []found{{id: "bob"}}, io.EOF), nil),
	)
	res, err := a.LookupSubjects(t.Context(), whoReadsT1)
	if err != nil {
		t.Fatalf("LookupSubjects: %v", err)
	}
	// Nothing of the failed attempt survives.
	if diff := cmp.Diff([]string{"user:bob"}, subjectStrings(res.Subjects)); diff != "" {
		t.Errorf("LookupSubjects mismatch (-want +got):\n%s", diff)
	}
}

func TestLookupSubjectsPermanentErrorsAreTranslated(t *testing.T) {
	for _, tt := range []struct {
		code codes.Code
		want error
	}{
		{codes.FailedPrecondition, authz.ErrInvalidRequest},
		{codes.InvalidArgument, authz.ErrInvalidRequest},
		{codes.Unauthenticated, spicedbadapter.ErrAuthentication},
		{codes.Internal, authz.ErrUnavailable},
	} {
		t.Run(tt.code.String(), func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t, unverified)
			m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(nil, status.Error(tt.code, "no")).Times(1)
			if _, err := a.LookupSubjects(t.Context(), whoReadsT1); !errors.Is(err, tt.want) || status.Code(err) != tt.code {
				t.Errorf("LookupSubjects error = %v, want %v with code %v", err, tt.want, tt.code)
			}
		})
	}
}

func TestLookupSubjectsPagesAtOneSnapshot(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, unverified)
	all := []found{{id: "carol"}, {id: "*", excluded: []string{"mal"}}, {id: "alice"}, {id: "bob"}}
	snapshot := &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: &v1.ZedToken{Token: "snap"}}}
	gomock.InOrder(
		m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, all, io.EOF), nil),
		m.EXPECT().LookupSubjects(gomock.Any(), gomock.Cond(func(r *v1.LookupSubjectsRequest) bool { return r.GetConsistency().String() == snapshot.String() })).Return(subjectStream(t, all, io.EOF), nil),
	)
	req := whoReadsT1
	req.Limit = 2
	var got []string
	for range 2 {
		res, err := a.LookupSubjects(t.Context(), req)
		if err != nil {
			t.Fatalf("LookupSubjects: %v", err)
		}
		got = append(got, subjectStrings(res.Subjects)...)
		if res.Cursor == "" {
			break
		}
		req.Cursor = res.Cursor
	}
	if diff := cmp.Diff([]string{"user:* - {user:mal}", "user:alice", "user:bob", "user:carol"}, got); diff != "" {
		t.Errorf("pages mismatch (-want +got):\n%s", diff)
	}
}

func TestLookupSubjectsMalformedRequestsMakeNoCall(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*authz.SubjectLookupRequest)
	}{
		{"malformed resource", func(r *authz.SubjectLookupRequest) { r.Resource.ID = "a b" }},
		{"wildcard resource", func(r *authz.SubjectLookupRequest) { r.Resource.ID = "*" }},
		{"malformed permission", func(r *authz.SubjectLookupRequest) { r.Permission = "Read" }},
		{"malformed subject type", func(r *authz.SubjectLookupRequest) { r.SubjectType = "" }},
		{"malformed subject relation", func(r *authz.SubjectLookupRequest) { r.SubjectRelation = "m" }},
		{"negative limit", func(r *authz.SubjectLookupRequest) { r.Limit = -2 }},
		{"foreign cursor", func(r *authz.SubjectLookupRequest) { r.Cursor = "s1.garbage" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := newMock(t, unverified) // any call fails the test
			req := whoReadsT1
			tt.mutate(&req)
			if _, err := a.LookupSubjects(t.Context(), req); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("LookupSubjects error = %v, want %v", err, authz.ErrInvalidRequest)
			}
		})
	}
}

// checksOnly is a Client without LookupSubjects.
type checksOnly struct{ spicedbadapter.Client }

func TestLookupSubjectsNeedsAClientThatHasIt(t *testing.T) {
	t.Parallel()
	_, m := newMock(t)
	a := spicedbadapter.New(checksOnly{m}, nil)
	if _, err := a.LookupSubjects(t.Context(), whoReadsT1); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("LookupSubjects error = %v, want %v", err, authz.ErrInvalidRequest)
	}
}

// TestLookupSubjectsConfirmsWithChecks: by default every listed subject
// and every subject a wildcard excludes is confirmed with one bulk check at
// the lookup's snapshot: a listed subject the check denies is dropped, and
// an excluded one the check allows is no longer excluded (SpiceDB v1.56.2's
// LookupSubjects disagrees with its own check on all-arrows). A continued
// lookup confirms as fresh as the caller asks now.
func TestLookupSubjectsConfirmsWithChecks(t *testing.T) {
	a, m := newMock(t)
	stream := func() { // bob and alice listed, a wildcard excluding mal and eve
		m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, []found{{id: "*", excluded: []string{"mal", "eve"}}, {id: "bob"}, {id: "alice"}}, io.EOF), nil)
	}
	allow := map[string]bool{"bob": true, "eve": true} // alice denied, eve allowed
	var asked []*v1.Consistency
	checks := func() {
		m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, in *v1.CheckBulkPermissionsRequest, _ ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
			asked = append(asked, in.GetConsistency())
			resp := &v1.CheckBulkPermissionsResponse{CheckedAt: &v1.ZedToken{Token: "snap"}}
			for _, it := range in.GetItems() {
				p := v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
				if allow[it.GetSubject().GetObject().GetObjectId()] {
					p = v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
				}
				resp.Pairs = append(resp.Pairs, &v1.CheckBulkPermissionsPair{Request: it, Response: &v1.CheckBulkPermissionsPair_Item{Item: &v1.CheckBulkPermissionsResponseItem{Permissionship: p}}})
			}
			return resp, nil
		})
	}
	stream()
	checks()
	res, err := a.LookupSubjects(t.Context(), whoReadsT1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"user:* - {user:mal}", "user:bob"}, subjectStrings(res.Subjects)); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
	if len(asked) != 1 || asked[0].GetAtLeastAsFresh().GetToken() != "snap" {
		t.Errorf("confirmed at %v, want the lookup's snapshot", asked)
	}
	// A second page confirms at the caller's consistency, not the cursor's
	// snapshot.
	asked = nil
	stream()
	checks()
	req := whoReadsT1
	req.Limit = 1
	stream()
	checks()
	first, err := a.LookupSubjects(t.Context(), req)
	if err != nil || first.Cursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	req.Cursor, req.Consistency = first.Cursor, authz.FullyConsistent()
	if _, err := a.LookupSubjects(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || !asked[1].GetFullyConsistent() {
		t.Errorf("continuation confirmed at %v, want fully consistent", asked)
	}
}

// TestSubjectCursorsContinueOnlyTheirLookup: a cursor is bound to the
// question it came from and names a valid id: a cursor of another lookup,
// or one whose last id is malformed, is ErrInvalidRequest before any call.
func TestSubjectCursorsContinueOnlyTheirLookup(t *testing.T) {
	a, m := newMock(t, unverified)
	m.EXPECT().LookupSubjects(gomock.Any(), gomock.Any()).Return(subjectStream(t, []found{{id: "bob"}, {id: "alice"}}, io.EOF), nil)
	req := whoReadsT1
	req.Limit = 1
	first, err := a.LookupSubjects(t.Context(), req)
	if err != nil || first.Cursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	other := req
	other.Resource = task("t2")
	other.Cursor = first.Cursor
	if _, err := a.LookupSubjects(t.Context(), other); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("another lookup's cursor: %v, want ErrInvalidRequest", err)
	}
	other = req
	other.Permission = "update"
	other.Cursor = first.Cursor
	if _, err := a.LookupSubjects(t.Context(), other); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("another permission's cursor: %v, want ErrInvalidRequest", err)
	}
}
