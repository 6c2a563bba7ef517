package spicedbadapter_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/mock/gomock"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/mock/mockv1"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// fast keeps the backoff of mock tests short.
var fast = spicedbadapter.Config{BackoffBase: time.Microsecond, BackoffMax: time.Millisecond}

func newMock(t *testing.T, cfg ...spicedbadapter.Config) (*spicedbadapter.Adapter, *mockv1.MockPermissionsServiceClient) {
	t.Helper()
	m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
	c := fast
	if len(cfg) > 0 {
		c = cfg[0]
		c.BackoffBase, c.BackoffMax = fast.BackoffBase, fast.BackoffMax
	}
	return spicedbadapter.New(m, &c), m
}

var aliceReadsT1 = authz.CheckRequest{Subject: user("alice"), Resource: task("t1"), Permission: "read"}

func allowed() *v1.CheckPermissionResponse {
	return &v1.CheckPermissionResponse{Permissionship: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION}
}

func TestTransientErrorsAreRetriedThenUnavailable(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(code, "try later")).Times(spicedbadapter.DefaultMaxAttempts)
			d, err := a.Check(t.Context(), aliceReadsT1)
			if !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != code {
				t.Errorf("Check error = %v (code %v), want %v with code %v", err, status.Code(err), authz.ErrUnavailable, code)
			}
			if d.Allowed() {
				t.Error("Check allowed after failing")
			}
		})
	}
}

func TestTransientErrorThenSuccess(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	gomock.InOrder(
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")).Times(2),
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(allowed(), nil),
	)
	if d, err := a.Check(t.Context(), aliceReadsT1); err != nil || !d.Allowed() {
		t.Errorf("Check = %v, %v; want allowed", d, err)
	}
}

func TestMaxAttemptsConfig(t *testing.T) {
	tests := []struct {
		name      string
		option    int
		wantCalls int
	}{
		{name: "no retries", option: 1, wantCalls: 1},
		{name: "two attempts", option: 2, wantCalls: 2},
		{name: "zero means the default", option: 0, wantCalls: spicedbadapter.DefaultMaxAttempts},
		{name: "negative means one", option: -3, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t, spicedbadapter.Config{MaxAttempts: tt.option})
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")).Times(tt.wantCalls)
			if _, err := a.Check(t.Context(), aliceReadsT1); !errors.Is(err, authz.ErrUnavailable) {
				t.Errorf("Check error = %v, want %v", err, authz.ErrUnavailable)
			}
		})
	}
}

// TestDepthExceededIsUndecidable: SpiceDB's maximum depth error is an
// *authz.UndecidableError, asked once (repeating cannot help), which the
// Guard answers as a denial; a plain ResourceExhausted is still retried.
func TestDepthExceededIsUndecidable(t *testing.T) {
	a, m := newMock(t)
	st, err := status.New(codes.ResourceExhausted, "max depth exceeded").WithDetails(&errdetails.ErrorInfo{
		Reason: v1.ErrorReason_ERROR_REASON_MAXIMUM_DEPTH_EXCEEDED.String(),
		Domain: "authzed.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, st.Err()).Times(2)
	d, err := a.Check(t.Context(), aliceReadsT1)
	var ue *authz.UndecidableError
	if !errors.As(err, &ue) || !errors.Is(err, authz.ErrInvalidRequest) || d.Allowed() {
		t.Fatalf("Check = %v, %v; want an *authz.UndecidableError", d, err)
	}
	perms, err := memadapter.New("definition user {}\ndefinition task {\n\trelation owner: user\n\tpermission read = owner\n}")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := authz.NewOperationMap(perms, map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	g := authz.NewGuard(a, ops)
	if d, err := g.Decide(t.Context(), authz.Question{Subject: user("alice"), Resource: task("t1"), Operation: authz.OpRead}); err != nil || d.Allowed() {
		t.Errorf("Guard.Decide = %v, %v; want a denial without error", d, err)
	}
}

func TestPermanentErrorsAreTranslatedWithoutRetry(t *testing.T) {
	tests := []struct {
		name     string
		code     codes.Code
		sentinel []error
	}{
		{name: "invalid argument", code: codes.InvalidArgument, sentinel: []error{authz.ErrInvalidRequest}},
		{name: "unknown definition", code: codes.FailedPrecondition, sentinel: []error{authz.ErrInvalidRequest}},
		{name: "out of range", code: codes.OutOfRange, sentinel: []error{authz.ErrInvalidRequest}},
		{name: "not found", code: codes.NotFound, sentinel: []error{authz.ErrInvalidRequest}},
		{name: "unauthenticated", code: codes.Unauthenticated, sentinel: []error{authz.ErrUnavailable, spicedbadapter.ErrAuthentication}},
		{name: "permission denied", code: codes.PermissionDenied, sentinel: []error{authz.ErrUnavailable, spicedbadapter.ErrAuthentication}},
		{name: "internal", code: codes.Internal, sentinel: []error{authz.ErrUnavailable}},
		{name: "unknown", code: codes.Unknown, sentinel: []error{authz.ErrUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(tt.code, "no")).Times(1)
			d, err := a.Check(t.Context(), aliceReadsT1)
			for _, s := range tt.sentinel {
				if !errors.Is(err, s) {
					t.Errorf("Check error = %v, want it to match %v", err, s)
				}
			}
			if status.Code(err) != tt.code {
				t.Errorf("status.Code(%v) = %v, want %v", err, status.Code(err), tt.code)
			}
			if errors.Is(err, authz.ErrDenied) || d.Allowed() {
				t.Errorf("Check = %v, %v; an error must be neither a denial error nor an allow", d, err)
			}
		})
	}
}

func TestNoCallOnceTheContextIsDone(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		a, _ := newMock(t) // no expected calls: any call fails the test
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := a.Check(ctx, aliceReadsT1)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, authz.ErrUnavailable) {
			t.Errorf("Check error = %v, want %v and %v", err, context.Canceled, authz.ErrUnavailable)
		}
		if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: rel(task("t1"), "owner", user("alice"))}); !errors.Is(err, context.Canceled) {
			t.Errorf("Grant error = %v, want %v", err, context.Canceled)
		}
		if _, err := a.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{aliceReadsT1}}); !errors.Is(err, context.Canceled) {
			t.Errorf("CheckMany error = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("cancelled during a failing call", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t)
		ctx, cancel := context.WithCancel(t.Context())
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).DoAndReturn(
			func(context.Context, *v1.CheckPermissionRequest, ...grpc.CallOption) (*v1.CheckPermissionResponse, error) {
				cancel()
				return nil, status.Error(codes.Unavailable, "down")
			}).Times(1)
		if _, err := a.Check(ctx, aliceReadsT1); !errors.Is(err, context.Canceled) {
			t.Errorf("Check error = %v, want %v", err, context.Canceled)
		}
	})
	t.Run("backoff longer than the deadline", func(t *testing.T) {
		t.Parallel()
		m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
		a := spicedbadapter.New(m, &spicedbadapter.Config{BackoffBase: time.Hour, BackoffMax: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")).Times(1)
		if _, err := a.Check(ctx, aliceReadsT1); !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != codes.Unavailable {
			t.Errorf("Check error = %v, want %v with code Unavailable", err, authz.ErrUnavailable)
		}
	})
}

func TestOnlyHasPermissionAllows(t *testing.T) {
	tests := []struct {
		name string
		p    v1.CheckPermissionResponse_Permissionship
		want bool
	}{
		{name: "has permission", p: v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, want: true},
		{name: "no permission", p: v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION},
		{name: "conditional", p: v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION},
		{name: "unspecified", p: v1.CheckPermissionResponse_PERMISSIONSHIP_UNSPECIFIED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(&v1.CheckPermissionResponse{Permissionship: tt.p}, nil)
			d, err := a.Check(t.Context(), aliceReadsT1)
			if err != nil || d.Allowed() != tt.want {
				t.Errorf("Check = %v, %v; want allowed %v and no error", d, err, tt.want)
			}
		})
	}
}

func TestCheckRequestShape(t *testing.T) {
	minimize := &v1.Consistency{Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true}}
	full := &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}
	fresh := &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: "zed"}}}
	tests := []struct {
		name string
		c    authz.Consistency
		want *v1.Consistency
	}{
		{name: "minimize latency", c: authz.MinimizeLatency(), want: minimize},
		{name: "zero value", want: minimize},
		{name: "fully consistent", c: authz.FullyConsistent(), want: full},
		{name: "at least as fresh", c: authz.AtLeastAsFresh(authz.NewToken("zed")), want: fresh},
		{name: "no token", c: authz.AtLeastAsFresh(authz.Token{}), want: full},
		{name: "token that is not UTF-8", c: authz.AtLeastAsFresh(authz.NewToken("\xff")), want: full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			req := authz.CheckRequest{Subject: authz.Subject{Type: "group", ID: "eng", Relation: "member"}, Resource: task("t1"), Permission: "read", Consistency: tt.c}
			want := &v1.CheckPermissionRequest{
				Consistency: tt.want,
				Resource:    &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
				Permission:  "read",
				Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "group", ObjectId: "eng"}, OptionalRelation: "member"},
			}
			m.EXPECT().CheckPermission(gomock.Any(), protoEq(want)).Return(allowed(), nil)
			if _, err := a.Check(t.Context(), req); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

func TestRejectedTokenIsRetriedFullyConsistent(t *testing.T) {
	for _, code := range []codes.Code{codes.InvalidArgument, codes.OutOfRange} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			gomock.InOrder(
				m.EXPECT().CheckPermission(gomock.Any(), consistencyIs("at_least_as_fresh")).Return(nil, status.Error(code, "invalid revision requested")),
				m.EXPECT().CheckPermission(gomock.Any(), consistencyIs("fully_consistent")).Return(allowed(), nil),
			)
			req := aliceReadsT1
			req.Consistency = authz.AtLeastAsFresh(authz.NewToken("r42"))
			if d, err := a.Check(t.Context(), req); err != nil || !d.Allowed() {
				t.Errorf("Check = %v, %v; want allowed", d, err)
			}
		})
	}
	t.Run("without a token no second call", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t)
		m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.InvalidArgument, "bad")).Times(1)
		if _, err := a.Check(t.Context(), aliceReadsT1); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("Check error = %v, want %v", err, authz.ErrInvalidRequest)
		}
	})
}

func TestMalformedRequestsMakeNoCall(t *testing.T) {
	a, _ := newMock(t) // no expected calls
	ctx := t.Context()
	bad := authz.Resource{Type: "task", ID: "has space"}
	wildcard := rel(task("t1"), "owner", authz.Wildcard("user"))
	tests := []struct {
		name string
		call func() error
	}{
		{"check malformed id", func() error {
			_, err := a.Check(ctx, authz.CheckRequest{Subject: user("alice"), Resource: bad, Permission: "read"})
			return err
		}},
		{"check wildcard subject", func() error {
			_, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Wildcard("user"), Resource: task("t1"), Permission: "read"})
			return err
		}},
		{"check malformed permission", func() error {
			_, err := a.Check(ctx, authz.CheckRequest{Subject: user("alice"), Resource: task("t1"), Permission: "Read"})
			return err
		}},
		{"lookup wildcard subject", func() error {
			_, err := a.Lookup(ctx, authz.LookupRequest{Subject: authz.Wildcard("user"), ResourceType: "task", Permission: "read"})
			return err
		}},
		{"lookup negative limit", func() error {
			_, err := a.Lookup(ctx, authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read", Limit: -1})
			return err
		}},
		{"lookup foreign cursor", func() error {
			_, err := a.Lookup(ctx, authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read", Cursor: "42"})
			return err
		}},
		{"register wildcard owner", func() error {
			_, err := a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: authz.Wildcard("user")})
			return err
		}},
		{"register wildcard parent", func() error {
			p := authz.Resource{Type: "agent", ID: "*"}
			_, err := a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: user("alice"), Parent: &p})
			return err
		}},
		{"deregister malformed id", func() error {
			_, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: bad})
			return err
		}},
		{"grant malformed relation", func() error {
			_, err := a.Grant(ctx, authz.GrantRequest{Relationship: rel(task("t1"), "X", user("alice"))})
			return err
		}},
		{"write one malformed relationship", func() error {
			_, err := a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{wildcard, rel(bad, "owner", user("alice"))}})
			return err
		}},
		{"write touch and delete the same", func() error {
			r := rel(task("t1"), "owner", user("alice"))
			_, err := a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{r}, Delete: []authz.Relationship{r}})
			return err
		}},
		{"read malformed id", func() error {
			_, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: bad})
			return err
		}},
		{"enumerate malformed type", func() error {
			_, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "Task"})
			return err
		}},
		{"enumerate lookup cursor", func() error {
			_, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: "task", Cursor: "s1.eyJrIjoibCJ9"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("error = %v, want %v", err, authz.ErrInvalidRequest)
			}
		})
	}
}

// bulkAnswer answers a bulk check: items on resources whose id starts with
// "a" are allowed, "c" conditional, "e" an unknown permission, others
// denied.
func bulkAnswer(_ context.Context, in *v1.CheckBulkPermissionsRequest, _ ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
	resp := &v1.CheckBulkPermissionsResponse{}
	for _, item := range in.GetItems() {
		pair := &v1.CheckBulkPermissionsPair{Request: item}
		p := v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
		switch item.GetResource().GetObjectId()[0] {
		case 'a':
			p = v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
		case 'c':
			p = v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION
		case 'e':
			pair.Response = &v1.CheckBulkPermissionsPair_Error{Error: status.New(codes.FailedPrecondition, "unknown permission").Proto()}
		}
		if pair.Response == nil {
			pair.Response = &v1.CheckBulkPermissionsPair_Item{Item: &v1.CheckBulkPermissionsResponseItem{Permissionship: p}}
		}
		resp.Pairs = append(resp.Pairs, pair)
	}
	return resp, nil
}

func TestCheckManyChunksKeepOrderAndItemErrors(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, spicedbadapter.Config{BulkChunkSize: 2})
	ids := []string{"a1", "d1", "bad id", "c1", "e1", "a2", "d2"}
	var sizes []int
	m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, in *v1.CheckBulkPermissionsRequest, opts ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
			sizes = append(sizes, len(in.GetItems()))
			return bulkAnswer(ctx, in, opts...)
		}).Times(3)
	items := make([]authz.CheckRequest, len(ids))
	for i, id := range ids {
		items[i] = authz.CheckRequest{Subject: user("alice"), Resource: task(id), Permission: "read"}
	}
	results, err := a.CheckMany(t.Context(), authz.CheckManyRequest{Items: items})
	if err != nil {
		t.Fatalf("CheckMany: %v", err)
	}
	if diff := cmp.Diff([]int{2, 2, 2}, sizes); diff != "" {
		t.Errorf("chunk sizes mismatch (-want +got):\n%s", diff)
	}
	type outcome struct {
		Allowed bool
		Invalid bool
	}
	want := []outcome{{Allowed: true}, {}, {Invalid: true}, {}, {Invalid: true}, {Allowed: true}, {}}
	got := make([]outcome, len(results))
	for i, r := range results {
		got[i] = outcome{Allowed: r.Decision.Allowed(), Invalid: errors.Is(r.Err, authz.ErrInvalidRequest)}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	if code := status.Code(results[4].Err); code != codes.FailedPrecondition {
		t.Errorf("status.Code of the item SpiceDB refused = %v, want FailedPrecondition", code)
	}
}

func TestCheckManyChunkFailure(t *testing.T) {
	items := []authz.CheckRequest{
		{Subject: user("alice"), Resource: task("a1"), Permission: "read"},
		{Subject: user("alice"), Resource: task("a2"), Permission: "read"},
	}
	t.Run("one chunk fails", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t, spicedbadapter.Config{BulkChunkSize: 1, MaxAttempts: 1})
		gomock.InOrder(
			m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(bulkAnswer),
			m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")),
		)
		results, err := a.CheckMany(t.Context(), authz.CheckManyRequest{Items: items})
		if err != nil {
			t.Fatalf("CheckMany: %v", err)
		}
		if !results[0].Decision.Allowed() || results[0].Err != nil {
			t.Errorf("answered item = %v, %v; want allowed", results[0].Decision, results[0].Err)
		}
		if !errors.Is(results[1].Err, authz.ErrUnavailable) || results[1].Decision.Allowed() {
			t.Errorf("item of the failed chunk = %v, %v; want a denial with %v", results[1].Decision, results[1].Err, authz.ErrUnavailable)
		}
	})
	t.Run("every chunk fails", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t, spicedbadapter.Config{BulkChunkSize: 1, MaxAttempts: 1})
		m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "down")).Times(2)
		results, err := a.CheckMany(t.Context(), authz.CheckManyRequest{Items: items})
		if !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != codes.Unavailable || results != nil {
			t.Errorf("CheckMany = %v, %v; want no results and %v with code Unavailable", results, err, authz.ErrUnavailable)
		}
	})
	t.Run("answers out of order", func(t *testing.T) {
		t.Parallel()
		a, m := newMock(t)
		m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(
			func(ctx context.Context, in *v1.CheckBulkPermissionsRequest, opts ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
				resp, err := bulkAnswer(ctx, in, opts...)
				resp.Pairs[0], resp.Pairs[1] = resp.Pairs[1], resp.Pairs[0]
				return resp, err
			})
		if _, err := a.CheckMany(t.Context(), authz.CheckManyRequest{Items: items}); !errors.Is(err, authz.ErrUnavailable) {
			t.Errorf("CheckMany error = %v, want %v", err, authz.ErrUnavailable)
		}
	})
}

// lookupStream returns a stream of results for ids, then err (io.EOF for
// a clean end).
func lookupStream(t *testing.T, ids []string, err error) grpc.ServerStreamingClient[v1.LookupResourcesResponse] {
	s := mockv1.NewMockServerStreamingClient[v1.LookupResourcesResponse](gomock.NewController(t))
	calls := make([]any, 0, len(ids)+1)
	for _, id := range ids {
		calls = append(calls, s.EXPECT().Recv().Return(&v1.LookupResourcesResponse{
			ResourceObjectId:  id,
			Permissionship:    v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION,
			AfterResultCursor: &v1.Cursor{Token: "after-" + id},
			LookedUpAt:        &v1.ZedToken{Token: "snap"},
		}, nil))
	}
	calls = append(calls, s.EXPECT().Recv().Return(nil, err))
	gomock.InOrder(calls...)
	return s
}

func TestLookupFailingMidStreamReturnsNoList(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	m.EXPECT().LookupResources(gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, *v1.LookupResourcesRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupResourcesResponse], error) {
			return lookupStream(t, []string{"t1", "t2"}, status.Error(codes.Unavailable, "connection reset")), nil
		}).Times(spicedbadapter.DefaultMaxAttempts)
	res, err := a.Lookup(t.Context(), authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"})
	if !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != codes.Unavailable {
		t.Errorf("Lookup error = %v, want %v with code Unavailable", err, authz.ErrUnavailable)
	}
	if len(res.IDs()) != 0 {
		t.Errorf("Lookup returned %v with its error, want nothing", res.IDs())
	}
}

func TestLookupFollowsSpiceDBCursors(t *testing.T) {
	t.Parallel()
	a, m := newMock(t, spicedbadapter.Config{PageSize: 2, UnverifiedLookups: true})
	fresh := &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: "zed"}}}
	page := func(cursor string) *v1.LookupResourcesRequest {
		r := &v1.LookupResourcesRequest{
			Consistency:        fresh,
			ResourceObjectType: "task",
			Permission:         "read",
			Subject:            &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
			OptionalLimit:      2,
		}
		if cursor != "" {
			r.OptionalCursor = &v1.Cursor{Token: cursor}
		}
		return r
	}
	gomock.InOrder(
		m.EXPECT().LookupResources(gomock.Any(), protoEq(page(""))).Return(lookupStream(t, []string{"t1", "t2"}, io.EOF), nil),
		m.EXPECT().LookupResources(gomock.Any(), protoEq(page("after-t2"))).Return(lookupStream(t, []string{"t2", "t3"}, io.EOF), nil),
		m.EXPECT().LookupResources(gomock.Any(), protoEq(page("after-t3"))).Return(lookupStream(t, []string{"t4"}, io.EOF), nil),
	)
	res, err := a.Lookup(t.Context(), authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read", Consistency: authz.AtLeastAsFresh(authz.NewToken("zed"))})
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if diff := cmp.Diff([]string{"t1", "t2", "t3", "t4"}, res.IDs()); diff != "" {
		t.Errorf("Lookup ids mismatch (-want +got):\n%s", diff)
	}
}

// TestLookupIsConfirmedByABulkCheck: by default the ids a lookup streams
// are confirmed with one bulk check at the lookup's snapshot; ids the check
// denies (or answers conditionally) are dropped, and an item error fails
// the whole lookup.
func TestLookupIsConfirmedByABulkCheck(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	m.EXPECT().LookupResources(gomock.Any(), gomock.Any()).Return(lookupStream(t, []string{"a1", "b2", "a3", "c4"}, io.EOF), nil)
	m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, in *v1.CheckBulkPermissionsRequest, opts ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
			if got := in.GetConsistency().GetAtLeastAsFresh().GetToken(); got != "snap" {
				t.Errorf("confirmation consistency token = %q, want the lookup's snapshot", got)
			}
			if len(in.GetItems()) != 4 {
				t.Errorf("confirmation has %d items, want 4 in one call", len(in.GetItems()))
			}
			return bulkAnswer(ctx, in, opts...)
		})
	res, err := a.Lookup(t.Context(), authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"})
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if diff := cmp.Diff([]string{"a1", "a3"}, res.IDs()); diff != "" {
		t.Errorf("Lookup ids mismatch (-want +got):\n%s", diff)
	}

	a, m = newMock(t)
	m.EXPECT().LookupResources(gomock.Any(), gomock.Any()).Return(lookupStream(t, []string{"a1", "e2"}, io.EOF), nil)
	m.EXPECT().CheckBulkPermissions(gomock.Any(), gomock.Any()).DoAndReturn(bulkAnswer)
	if res, err := a.Lookup(t.Context(), authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"}); !errors.Is(err, authz.ErrInvalidRequest) || len(res.IDs()) != 0 {
		t.Errorf("Lookup with a failing confirmation = %v, %v; want no ids and the item's error", res.IDs(), err)
	}
}

func TestRegisterRequestShape(t *testing.T) {
	t.Parallel()
	a, m := newMock(t)
	p := agent("a1")
	want := &v1.WriteRelationshipsRequest{
		Updates: []*v1.RelationshipUpdate{
			{Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: &v1.Relationship{
				Resource: &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
				Relation: "owner",
				Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
			}},
			{Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: &v1.Relationship{
				Resource: &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
				Relation: "parent",
				Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "agent", ObjectId: "a1"}},
			}},
		},
		OptionalPreconditions: []*v1.Precondition{{
			Operation: v1.Precondition_OPERATION_MUST_NOT_MATCH,
			Filter:    &v1.RelationshipFilter{ResourceType: "task", OptionalResourceId: "t1"},
		}},
	}
	m.EXPECT().WriteRelationships(gomock.Any(), protoEq(want)).Return(&v1.WriteRelationshipsResponse{WrittenAt: &v1.ZedToken{Token: "w1"}}, nil)
	tok, err := a.Register(t.Context(), authz.RegisterRequest{Resource: task("t1"), Owner: user("alice"), Parent: &p})
	if err != nil || tok != authz.NewToken("w1") {
		t.Errorf("Register = %v, %v; want token w1", tok, err)
	}
}

func TestRegisterAfterAmbiguousFailure(t *testing.T) {
	precondition := func() error {
		st, err := status.New(codes.FailedPrecondition, "unable to satisfy write precondition").WithDetails(&errdetails.ErrorInfo{
			Reason: v1.ErrorReason_ERROR_REASON_WRITE_OR_DELETE_PRECONDITION_FAILURE.String(),
			Domain: "authzed.com",
		})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	readStream := func(rels ...authz.Relationship) grpc.ServerStreamingClient[v1.ReadRelationshipsResponse] {
		s := mockv1.NewMockServerStreamingClient[v1.ReadRelationshipsResponse](gomock.NewController(t))
		var calls []any
		for _, r := range rels {
			calls = append(calls, s.EXPECT().Recv().Return(&v1.ReadRelationshipsResponse{
				ReadAt: &v1.ZedToken{Token: "r1"},
				Relationship: &v1.Relationship{
					Resource: &v1.ObjectReference{ObjectType: r.Resource.Type, ObjectId: r.Resource.ID},
					Relation: r.Relation,
					Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: r.Subject.Type, ObjectId: r.Subject.ID}},
				},
				AfterResultCursor: &v1.Cursor{Token: "c"},
			}, nil))
		}
		calls = append(calls, s.EXPECT().Recv().Return(nil, io.EOF))
		gomock.InOrder(calls...)
		return s
	}
	req := authz.RegisterRequest{Resource: task("t1"), Owner: user("alice")}
	tests := []struct {
		name     string
		existing []authz.Relationship
		wantErr  error
	}{
		{name: "exactly the requested", existing: []authz.Relationship{rel(task("t1"), "owner", user("alice"))}},
		{name: "another owner", existing: []authz.Relationship{rel(task("t1"), "owner", user("bob"))}, wantErr: authz.ErrConflict},
		{name: "more", existing: []authz.Relationship{rel(task("t1"), "owner", user("alice")), rel(task("t1"), "viewer", user("bob"))}, wantErr: authz.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			gomock.InOrder(
				m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).Return(nil, status.Error(codes.Unavailable, "timeout")),
				m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).Return(nil, precondition()),
				m.EXPECT().ReadRelationships(gomock.Any(), consistencyIs("fully_consistent")).Return(readStream(tt.existing...), nil),
			)
			tok, err := a.Register(t.Context(), req)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Register error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && tok != authz.NewToken("r1") {
				t.Errorf("Register token = %v, want the token of the read", tok)
			}
		})
	}
}

// protoEq matches a request equal to want.
func protoEq(want any) gomock.Matcher {
	return gomock.GotFormatterAdapter(
		gomock.GotFormatterFunc(func(got any) string { return cmp.Diff(want, got, protocmp.Transform()) }),
		gomock.Cond(func(got any) bool { return cmp.Equal(want, got, protocmp.Transform()) }),
	)
}

// consistencyIs matches a request whose consistency has the given mode:
// "minimize_latency", "at_least_as_fresh" or "fully_consistent".
func consistencyIs(mode string) gomock.Matcher {
	return gomock.Cond(func(got any) bool {
		r, ok := got.(interface{ GetConsistency() *v1.Consistency })
		if !ok {
			return false
		}
		c := r.GetConsistency()
		switch mode {
		case "minimize_latency":
			return c.GetMinimizeLatency()
		case "at_least_as_fresh":
			return c.GetAtLeastAsFresh() != nil
		case "fully_consistent":
			return c.GetFullyConsistent()
		}
		return false
	})
}

// TestAbandonedStreamsAreCancelled checks that a stream the adapter stops
// reading before its end (here, a result without a cursor) has its context
// cancelled when the call returns, rather than living on, with its gRPC
// resources, until the caller's context ends.
func TestAbandonedStreamsAreCancelled(t *testing.T) {
	tests := []struct {
		name string
		call func(a *spicedbadapter.Adapter, m *mockv1.MockPermissionsServiceClient, streamCtx *context.Context) error
	}{
		{"lookup", func(a *spicedbadapter.Adapter, m *mockv1.MockPermissionsServiceClient, streamCtx *context.Context) error {
			s := mockv1.NewMockServerStreamingClient[v1.LookupResourcesResponse](gomock.NewController(t))
			s.EXPECT().Recv().Return(&v1.LookupResourcesResponse{
				ResourceObjectId: "t1",
				Permissionship:   v1.LookupPermissionship_LOOKUP_PERMISSIONSHIP_HAS_PERMISSION,
			}, nil)
			m.EXPECT().LookupResources(gomock.Any(), gomock.Any()).DoAndReturn(
				func(ctx context.Context, _ *v1.LookupResourcesRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupResourcesResponse], error) {
					*streamCtx = ctx
					return s, nil
				})
			_, err := a.Lookup(t.Context(), authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"})
			return err
		}},
		{"enumerate", func(a *spicedbadapter.Adapter, m *mockv1.MockPermissionsServiceClient, streamCtx *context.Context) error {
			s := mockv1.NewMockServerStreamingClient[v1.ReadRelationshipsResponse](gomock.NewController(t))
			s.EXPECT().Recv().Return(&v1.ReadRelationshipsResponse{
				Relationship: &v1.Relationship{Resource: &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"}, Relation: "owner"},
			}, nil)
			m.EXPECT().ReadRelationships(gomock.Any(), gomock.Any()).DoAndReturn(
				func(ctx context.Context, _ *v1.ReadRelationshipsRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[v1.ReadRelationshipsResponse], error) {
					*streamCtx = ctx
					return s, nil
				})
			_, err := a.Enumerate(t.Context(), authz.EnumerateRequest{ResourceType: "task"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			var streamCtx context.Context
			if err := tt.call(a, m, &streamCtx); !errors.Is(err, authz.ErrUnavailable) {
				t.Errorf("error = %v, want %v", err, authz.ErrUnavailable)
			}
			if streamCtx == nil {
				t.Fatal("no stream was opened")
			}
			if streamCtx.Err() == nil {
				t.Error("the abandoned stream's context is still live after the call returned")
			}
		})
	}
}
