package spicedbadapter_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"go.uber.org/mock/gomock"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/dualwrite"
	"github.com/fgac-go/fgac/internal/mock/mockv1"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// attemptBudget is the documented retry budget: at most three attempts of
// one logical operation. It is a literal rather than
// spicedbadapter.DefaultMaxAttempts so that raising the default fails here.
const attemptBudget = 3

// down is the error of every call to a SpiceDB that is down.
func down() error { return status.Error(codes.Unavailable, "connection refused") }

// TestOutageCostsAtMostThreeAttempts: under a permanent outage every
// operation of an adapter with default options makes at most three calls,
// then fails with authz.ErrUnavailable.
func TestOutageCostsAtMostThreeAttempts(t *testing.T) {
	p := agent("a1")
	g := authz.GrantRequest{Relationship: rel(task("t1"), "viewer", user("bob"))}
	tests := []struct {
		name   string
		expect func(m *mockv1.MockPermissionsServiceClient, times int)
		call   func(ctx context.Context, a *spicedbadapter.Adapter) error
	}{
		{"check", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.Check(ctx, aliceReadsT1)
			return err
		}},
		{"register", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: user("alice"), Parent: &p})
			return err
		}},
		{"deregister", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().DeleteRelationships(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.Deregister(ctx, authz.DeregisterRequest{Resource: task("t1")})
			return err
		}},
		{"grant", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.Grant(ctx, g)
			return err
		}},
		{"revoke", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.Revoke(ctx, g)
			return err
		}},
		{"read relationships", func(m *mockv1.MockPermissionsServiceClient, times int) {
			m.EXPECT().ReadRelationships(gomock.Any(), gomock.Any()).Return(nil, down()).Times(times)
		}, func(ctx context.Context, a *spicedbadapter.Adapter) error {
			_, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: task("t1")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, m := newMock(t)
			tt.expect(m, attemptBudget) // a fourth call fails the test
			if err := tt.call(t.Context(), a); !errors.Is(err, authz.ErrUnavailable) || status.Code(err) != codes.Unavailable {
				t.Errorf("error = %v, want %v with code Unavailable", err, authz.ErrUnavailable)
			}
		})
	}
}

// deleteRow is the store's half of a delete that always finds its row.
func deleteRow(context.Context, string) (bool, error) { return true, nil }

// eventLog is a dualwrite.Hook that keeps the kinds of the events.
type eventLog struct {
	mu    sync.Mutex // guards kinds
	kinds []dualwrite.Kind
}

func (l *eventLog) Observe(_ context.Context, e dualwrite.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kinds = append(l.kinds, e.Kind)
}

func (l *eventLog) get() []dualwrite.Kind {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]dualwrite.Kind(nil), l.kinds...)
}

// TestDeleteUnderOutageMakesAtMostThreeCalls deletes a row through
// dualwrite.Writer over an adapter with default options (default backoff,
// so the latency is the production one) whose SpiceDB is down: the
// deregistration makes at most three DeleteRelationships calls in all,
// the delete still succeeds, reports DeregisterFailed, and returns within
// the engine's backoff budget rather than after layers of retries.
func TestDeleteUnderOutageMakesAtMostThreeCalls(t *testing.T) {
	t.Parallel()
	m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
	var calls atomic.Int64
	m.EXPECT().DeleteRelationships(gomock.Any(), gomock.Any()).DoAndReturn(
		func(context.Context, *v1.DeleteRelationshipsRequest, ...grpc.CallOption) (*v1.DeleteRelationshipsResponse, error) {
			calls.Add(1)
			return nil, down()
		}).AnyTimes()
	var events eventLog
	w := &dualwrite.Writer{Registrar: spicedbadapter.New(m, nil), Hook: &events}

	start := time.Now()
	deleted, err := w.Delete(t.Context(), dualwrite.DeleteRequest{Resource: task("t1"), Delete: deleteRow})
	elapsed := time.Since(start)

	t.Logf("DELETE whose deregistration fails (SpiceDB answers Unavailable): %d DeleteRelationships calls, %v", calls.Load(), elapsed)
	if !deleted || err != nil {
		t.Errorf("Delete = %v, %v; want true, nil: a failed deregistration does not fail the delete", deleted, err)
	}
	if n := calls.Load(); n > attemptBudget {
		t.Errorf("one deregistration made %d DeleteRelationships calls, want at most %d", n, attemptBudget)
	}
	if got := events.get(); len(got) != 1 || got[0] != dualwrite.DeregisterFailed {
		t.Errorf("events = %v, want [deregister_failed]", got)
	}
	// Three attempts wait at most 50ms and 100ms between them.
	if elapsed > time.Second {
		t.Errorf("Delete held the response for %v, want well under a second", elapsed)
	}
}

// countingClient counts the DeleteRelationships calls made through it.
type countingClient struct {
	spicedbadapter.Client
	deletes atomic.Int64
}

func (c *countingClient) DeleteRelationships(ctx context.Context, in *v1.DeleteRelationshipsRequest, opts ...grpc.CallOption) (*v1.DeleteRelationshipsResponse, error) {
	c.deletes.Add(1)
	return c.Client.DeleteRelationships(ctx, in, opts...)
}

// TestDeleteUnderSpiceDBOutageMakesAtMostThreeCalls is the test above
// against a real SpiceDB, stopped after the task is registered.
func TestDeleteUnderSpiceDBOutageMakesAtMostThreeCalls(t *testing.T) {
	t.Parallel()
	srv := spicedbtest.StartServer(t)
	c := srv.Client(t)
	if _, err := spicedbadapter.WriteSchema(t.Context(), c, schema); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	cc := &countingClient{Client: c}
	a := spicedbadapter.New(cc, nil)
	if _, err := a.Register(t.Context(), authz.RegisterRequest{Resource: task("t1"), Owner: user("alice")}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	srv.Stop(t)
	var events eventLog
	w := &dualwrite.Writer{Registrar: a, Hook: &events}

	start := time.Now()
	deleted, err := w.Delete(t.Context(), dualwrite.DeleteRequest{Resource: task("t1"), Delete: deleteRow})
	elapsed := time.Since(start)

	t.Logf("DELETE whose deregistration fails (SpiceDB stopped): %d DeleteRelationships calls, %v", cc.deletes.Load(), elapsed)
	if !deleted || err != nil {
		t.Errorf("Delete = %v, %v; want true, nil", deleted, err)
	}
	if n := cc.deletes.Load(); n > attemptBudget {
		t.Errorf("one deregistration made %d DeleteRelationships calls, want at most %d", n, attemptBudget)
	}
	if got := events.get(); len(got) != 1 || got[0] != dualwrite.DeregisterFailed {
		t.Errorf("events = %v, want [deregister_failed]", got)
	}
	if elapsed > time.Second {
		t.Errorf("Delete held the response for %v, want well under a second", elapsed)
	}
}

// TestDeleteUnderHungSpiceDBHoldsTheCleanupTimeout: a SpiceDB that never
// answers holds a DELETE for the Writer's CleanupTimeout (the default, which
// this test measures), never longer, and costs one call: the attempt that
// times out ends the budget because the deadline has passed.
func TestDeleteUnderHungSpiceDBHoldsTheCleanupTimeout(t *testing.T) {
	t.Parallel()
	m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
	var calls atomic.Int64
	m.EXPECT().DeleteRelationships(gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, _ *v1.DeleteRelationshipsRequest, _ ...grpc.CallOption) (*v1.DeleteRelationshipsResponse, error) {
			calls.Add(1)
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}).AnyTimes()
	var events eventLog
	w := &dualwrite.Writer{Registrar: spicedbadapter.New(m, nil), Hook: &events}

	start := time.Now()
	deleted, err := w.Delete(t.Context(), dualwrite.DeleteRequest{Resource: task("t1"), Delete: deleteRow})
	elapsed := time.Since(start)

	t.Logf("DELETE whose deregistration hangs: %d DeleteRelationships calls, %v (DefaultCleanupTimeout %v)", calls.Load(), elapsed, dualwrite.DefaultCleanupTimeout)
	if !deleted || err != nil {
		t.Errorf("Delete = %v, %v; want true, nil", deleted, err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a deregistration that timed out made %d calls, want 1", n)
	}
	if elapsed > dualwrite.DefaultCleanupTimeout+500*time.Millisecond || dualwrite.DefaultCleanupTimeout > 2*time.Second {
		t.Errorf("Delete held the response for %v (DefaultCleanupTimeout %v), want at most about 2s", elapsed, dualwrite.DefaultCleanupTimeout)
	}
	if got := events.get(); len(got) != 1 || got[0] != dualwrite.DeregisterFailed {
		t.Errorf("events = %v, want [deregister_failed]", got)
	}
}

// hang is a call on a node that stalled: it answers only when its context
// ends.
func hang[T any](ctx context.Context) (T, error) {
	<-ctx.Done()
	var zero T
	return zero, status.FromContextError(ctx.Err()).Err()
}

// TestStalledReadIsRepeatedWithinTheDeadline: a check whose first attempt
// a node holds without answering is abandoned after its share of the
// caller's deadline and repeated; the repeat's answer is the result, well
// before the deadline. Without per-attempt limits the first attempt would
// hold the whole deadline.
func TestStalledReadIsRepeatedWithinTheDeadline(t *testing.T) {
	t.Parallel()
	m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
	a := spicedbadapter.New(m, nil) // default floor, backoff and budget
	var calls atomic.Int64
	m.EXPECT().CheckPermission(gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, _ *v1.CheckPermissionRequest, _ ...grpc.CallOption) (*v1.CheckPermissionResponse, error) {
			if calls.Add(1) == 1 {
				return hang[*v1.CheckPermissionResponse](ctx)
			}
			return allowed(), nil
		}).AnyTimes()
	const deadline = 3 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	d, err := a.Check(ctx, aliceReadsT1)
	elapsed := time.Since(start)
	t.Logf("check whose first attempt stalls: %d calls, %v (deadline %v)", calls.Load(), elapsed, deadline)
	if err != nil || !d.Allowed() {
		t.Fatalf("Check = %v, %v; want allowed by the repeat", d, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2", n)
	}
	if elapsed > deadline/2 {
		t.Errorf("the stalled attempt held the check %v of its %v deadline, want about a third", elapsed, deadline)
	}
}

// TestStalledWriteIsNotRepeatedEarly: a write attempt is never abandoned
// before the caller's deadline (a node that stalled could apply it after a
// repeat and after the caller's next write), so a write on a node that
// never answers makes one call and fails at the deadline.
func TestStalledWriteIsNotRepeatedEarly(t *testing.T) {
	t.Parallel()
	m := mockv1.NewMockPermissionsServiceClient(gomock.NewController(t))
	a := spicedbadapter.New(m, nil)
	var calls atomic.Int64
	m.EXPECT().WriteRelationships(gomock.Any(), gomock.Any()).DoAndReturn(
		func(ctx context.Context, _ *v1.WriteRelationshipsRequest, _ ...grpc.CallOption) (*v1.WriteRelationshipsResponse, error) {
			calls.Add(1)
			return hang[*v1.WriteRelationshipsResponse](ctx)
		}).AnyTimes()
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	_, err := a.Grant(ctx, authz.GrantRequest{Relationship: rel(task("t1"), "viewer", user("bob"))})
	if !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("Grant = %v, want %v", err, authz.ErrUnavailable)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a stalled grant made %d calls, want 1", n)
	}
}
