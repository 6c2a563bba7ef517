package memo_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memo"
)

var tok1, tok2 = authz.NewToken("mem:1"), authz.NewToken("mem:2")

func with(req authz.CheckRequest, c authz.Consistency) authz.CheckRequest {
	req.Consistency = c
	return req
}

func TestRequestAsksEachQuestionOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		asks      []authz.CheckRequest
		want      []string // decisions, in order
		wantCalls int
	}{
		{
			name:      "same allowed question five times",
			asks:      []authz.CheckRequest{ask("alice", "t1", "read"), ask("alice", "t1", "read"), ask("alice", "t1", "read"), ask("alice", "t1", "read"), ask("alice", "t1", "read")},
			want:      []string{"allowed", "allowed", "allowed", "allowed", "allowed"},
			wantCalls: 1,
		},
		{
			name:      "a denial is remembered as a denial",
			asks:      []authz.CheckRequest{ask("carol", "t1", "read"), ask("carol", "t1", "read"), ask("carol", "t1", "read")},
			want:      []string{"denied", "denied", "denied"},
			wantCalls: 1,
		},
		{
			name:      "subject, resource and permission are each part of the question",
			asks:      []authz.CheckRequest{ask("alice", "t1", "read"), ask("bob", "t1", "read"), ask("alice", "t2", "read"), ask("alice", "t1", "update"), ask("bob", "t1", "read")},
			want:      []string{"allowed", "allowed", "denied", "allowed", "allowed"},
			wantCalls: 4,
		},
		{
			name: "each consistency and token is its own question",
			asks: []authz.CheckRequest{
				with(ask("alice", "t1", "read"), authz.MinimizeLatency()),
				with(ask("alice", "t1", "read"), authz.AtLeastAsFresh(tok1)),
				with(ask("alice", "t1", "read"), authz.AtLeastAsFresh(tok2)),
				with(ask("alice", "t1", "read"), authz.AtLeastAsFresh(tok1)),
				with(ask("alice", "t1", "read"), authz.MinimizeLatency()),
			},
			want:      []string{"allowed", "allowed", "allowed", "allowed", "allowed"},
			wantCalls: 3,
		},
		{
			name: "fully consistent questions are always asked",
			asks: []authz.CheckRequest{
				with(ask("alice", "t1", "read"), authz.FullyConsistent()),
				with(ask("alice", "t1", "read"), authz.FullyConsistent()),
				with(ask("alice", "t1", "read"), authz.FullyConsistent()),
			},
			want:      []string{"allowed", "allowed", "allowed"},
			wantCalls: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := record(newEngine(t))
			r := memo.New(rec, nil)
			ctx := memo.WithRequestCache(context.Background())
			var got []string
			for _, q := range tc.asks {
				d, err := r.Check(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decisions mismatch (-want +got):\n%s", diff)
			}
			if got := rec.calls(); got != tc.wantCalls {
				t.Errorf("backend calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestNothingIsRememberedOutsideARequestCache(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	q := ask("alice", "t1", "read")
	// No request cache, then two separate requests: nothing carries over.
	ctxs := []context.Context{
		context.Background(), context.Background(),
		memo.WithRequestCache(context.Background()), memo.WithRequestCache(context.Background()),
	}
	for _, ctx := range ctxs {
		if d, err := r.Check(ctx, q); err != nil || !d.Allowed() {
			t.Fatalf("Check = %v, %v; want allowed", d, err)
		}
	}
	if got := rec.calls(); got != len(ctxs) {
		t.Errorf("backend calls = %d, want %d", got, len(ctxs))
	}
}

func TestNestedRequestCachesAreOne(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	outer := memo.WithRequestCache(context.Background())
	inner := memo.WithRequestCache(outer)
	for _, ctx := range []context.Context{outer, inner, outer} {
		if _, err := r.Check(ctx, ask("alice", "t1", "read")); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.calls(); got != 1 {
		t.Errorf("backend calls = %d, want 1", got)
	}
}

func TestErrorsAreNotRemembered(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	q := ask("alice", "t1", "read")

	rec.failNext(authz.ErrUnavailable)
	if _, err := r.Check(ctx, q); !errors.Is(err, authz.ErrUnavailable) {
		t.Fatalf("Check with the backend down = %v, want ErrUnavailable", err)
	}
	for range 2 {
		if d, err := r.Check(ctx, q); err != nil || !d.Allowed() {
			t.Fatalf("Check after recovery = %v, %v; want allowed", d, err)
		}
	}
	// The failure was not remembered; the allow was.
	if got := rec.calls(); got != 2 {
		t.Errorf("backend calls = %d, want 2", got)
	}

	// An invalid question's error is not remembered either.
	bad := ask("alice", "t1", "no_such_permission")
	for range 2 {
		if _, err := r.Check(ctx, bad); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Fatalf("Check(unknown permission) = %v, want ErrInvalidRequest", err)
		}
	}
	if got := rec.calls(); got != 4 {
		t.Errorf("backend calls = %d, want 4", got)
	}
}

// result is a CheckResult in comparable form.
type result struct {
	Decision string
	Err      error
}

func results(rs []authz.CheckResult) []result {
	out := make([]result, len(rs))
	for i, r := range rs {
		out[i] = result{Decision: r.Decision.String(), Err: r.Err}
	}
	return out
}

var errInvalid = cmp.Comparer(func(x, y error) bool {
	return (x == nil) == (y == nil) && (x == nil || errors.Is(x, authz.ErrInvalidRequest) == errors.Is(y, authz.ErrInvalidRequest))
})

func TestCheckManyAsksOnlyWhatTheRequestDoesNotKnow(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	known, knownDenied := ask("alice", "t1", "read"), ask("carol", "t1", "read")
	for _, q := range []authz.CheckRequest{known, knownDenied} {
		if _, err := r.Check(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	fresh, other := ask("bob", "t1", "read"), ask("bob", "t1", "update")
	bad := ask("bob", "t1", "no_such_permission")
	items := []authz.CheckRequest{known, fresh, knownDenied, fresh, bad, other, bad}

	got, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	want := []result{
		{"allowed", nil}, {"allowed", nil}, {"denied", nil}, {"allowed", nil},
		{"denied", authz.ErrInvalidRequest}, {"denied", nil}, {"denied", authz.ErrInvalidRequest},
	}
	if diff := cmp.Diff(want, results(got), errInvalid); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	// The second time only the item that failed is asked again; a check
	// of a question the bulk call answered asks nothing.
	if _, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: items}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(ctx, other); err != nil {
		t.Fatal(err)
	}
	wantBulks := [][]string{describe(fresh, bad, other), describe(bad)}
	if diff := cmp.Diff(wantBulks, rec.bulkCalls()); diff != "" {
		t.Errorf("bulk calls mismatch (-want +got):\n%s", diff)
	}
	if got := len(rec.checks); got != 2 {
		t.Errorf("single checks = %d, want 2", got)
	}
}

func TestCheckManyAllKnownAsksNothing(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	q := ask("alice", "t1", "read")
	if _, err := r.Check(ctx, q); err != nil {
		t.Fatal(err)
	}
	got, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{q, q}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]result{{"allowed", nil}, {"allowed", nil}}, results(got)); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	if got := rec.calls(); got != 1 {
		t.Errorf("backend calls = %d, want 1", got)
	}
}

func TestCheckManyGoesAsItIsWithoutACacheOrFullyConsistent(t *testing.T) {
	t.Parallel()
	q := ask("alice", "t1", "read")
	tests := []struct {
		name string
		ctx  context.Context
		c    authz.Consistency
	}{
		{"no request cache", context.Background(), authz.MinimizeLatency()},
		{"fully consistent", memo.WithRequestCache(context.Background()), authz.FullyConsistent()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := record(newEngine(t))
			r := memo.New(rec, nil)
			items := []authz.CheckRequest{q, q}
			for range 2 {
				if _, err := r.CheckMany(tc.ctx, authz.CheckManyRequest{Items: items, Consistency: tc.c}); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff([][]string{describe(items...), describe(items...)}, rec.bulkCalls()); diff != "" {
				t.Errorf("bulk calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckManyFailureIsReturnedAndNotRemembered(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	req := authz.CheckManyRequest{Items: []authz.CheckRequest{ask("alice", "t1", "read")}}
	rec.failNext(authz.ErrUnavailable)
	if got, err := r.CheckMany(ctx, req); !errors.Is(err, authz.ErrUnavailable) || got != nil {
		t.Fatalf("CheckMany with the backend down = %v, %v; want nil, ErrUnavailable", got, err)
	}
	got, err := r.CheckMany(ctx, req)
	if err != nil || !got[0].Decision.Allowed() {
		t.Fatalf("CheckMany after recovery = %v, %v; want allowed", got, err)
	}
	if got := len(rec.bulks); got != 2 {
		t.Errorf("bulk calls = %d, want 2", got)
	}
}

// short answers one item fewer than asked.
type short struct{ authz.Reader }

func (s short) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	res, err := s.Reader.CheckMany(ctx, req)
	return res[:len(res)-1], err
}

func TestCheckManyRejectsAnAnswerOfTheWrongLength(t *testing.T) {
	t.Parallel()
	r := memo.New(short{newEngine(t)}, nil)
	ctx := memo.WithRequestCache(context.Background())
	_, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{ask("alice", "t1", "read"), ask("bob", "t1", "read")}})
	if !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("CheckMany = %v, want ErrUnavailable", err)
	}
}

func TestReadersDoNotAnswerForEachOther(t *testing.T) {
	t.Parallel()
	allowing := memo.New(record(newEngine(t)), nil)
	empty := testfixture.Engine(t)
	denying := memo.New(empty, nil)
	ctx := memo.WithRequestCache(context.Background())
	q := ask("alice", "t1", "read")
	var got []string
	for _, r := range []*memo.Reader{allowing, denying, allowing, denying} {
		d, err := r.Check(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.String())
	}
	if diff := cmp.Diff([]string{"allowed", "denied", "allowed", "denied"}, got); diff != "" {
		t.Errorf("decisions mismatch (-want +got):\n%s", diff)
	}
}

func TestLookupsAreNotRemembered(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	req := authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"}
	for range 2 {
		res, err := r.Lookup(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"t1"}, res.IDs()); diff != "" {
			t.Errorf("ids mismatch (-want +got):\n%s", diff)
		}
	}
	if got := rec.calls(); got != 2 {
		t.Errorf("backend calls = %d, want 2", got)
	}
}

func TestRequestCacheIsBounded(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	n := memo.MaxRequestEntries + 1
	for i := range n {
		if _, err := r.Check(ctx, ask("alice", fmt.Sprintf("t%d", i), "read")); err != nil {
			t.Fatal(err)
		}
	}
	// The first answer is remembered; the one past the bound is not.
	for _, id := range []string{"t0", fmt.Sprintf("t%d", n-1)} {
		if _, err := r.Check(ctx, ask("alice", id, "read")); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec.calls(); got != n+1 {
		t.Errorf("backend calls = %d, want %d", got, n+1)
	}
}

func TestMiddlewareGivesEachRequestItsOwnCache(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		for range 3 {
			if d, err := r.Check(req.Context(), ask("alice", "t1", "read")); err != nil || !d.Allowed() {
				http.Error(w, "denied", http.StatusForbidden)
				return
			}
		}
	})
	tests := []struct {
		name string
		h    http.Handler
	}{
		{"once", memo.Middleware(h)},
		{"nested", memo.Middleware(memo.Middleware(h))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := rec.calls()
			for range 2 {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
				if w.Code != http.StatusOK {
					t.Fatalf("status = %d, want 200", w.Code)
				}
			}
			if got := rec.calls() - before; got != 2 {
				t.Errorf("backend calls for two requests = %d, want 2", got)
			}
		})
	}
}

// TestZeroConfigIsTheDefault: a nil Config, the zero Config and a
// MaxInFlight below one all mean the documented default; none panics.
func TestZeroConfigIsTheDefault(t *testing.T) {
	t.Parallel()
	for _, cfg := range []*memo.Config{nil, {}, {MaxInFlight: -3}} {
		r := memo.New(newEngine(t), cfg)
		if _, err := r.Check(context.Background(), ask("alice", "t1", "read")); err != nil {
			t.Errorf("New(%+v).Check = %v", cfg, err)
		}
	}
}

func TestConcurrentIdenticalChecksShareOneCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, nil)
		const n = 5
		var wg sync.WaitGroup
		got := make([]result, n)
		for i := range n {
			// Separate requests, each with its own cache.
			wg.Go(func() {
				d, err := r.Check(memo.WithRequestCache(context.Background()), ask("alice", "t1", "read"))
				got[i] = result{d.String(), err}
			})
		}
		synctest.Wait()
		if calls, _, _ := eng.stats(); calls != 1 {
			t.Errorf("backend calls in flight for %d identical checks = %d, want 1", n, calls)
		}
		eng.release <- struct{}{}
		wg.Wait()
		want := make([]result, n)
		for i := range want {
			want[i] = result{"allowed", nil}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("results mismatch (-want +got):\n%s", diff)
		}
		if calls, _, _ := eng.stats(); calls != 1 {
			t.Errorf("backend calls = %d, want 1", calls)
		}
	})
}

func TestFullyConsistentChecksDoNotShareACall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, nil)
		q := with(ask("alice", "t1", "read"), authz.FullyConsistent())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := r.Check(context.Background(), q); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		if calls, _, _ := eng.stats(); calls != 2 {
			t.Errorf("backend calls = %d, want 2", calls)
		}
		eng.release <- struct{}{}
		eng.release <- struct{}{}
		wg.Wait()
	})
}

func TestCancelledLeaderDoesNotFailFollowers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, nil)
		q := ask("alice", "t1", "read")
		leaderCtx, cancel := context.WithCancel(context.Background())
		var leader, follower result
		var wg sync.WaitGroup
		wg.Go(func() {
			d, err := r.Check(leaderCtx, q)
			leader = result{d.String(), err}
		})
		synctest.Wait() // the leader's call is at the backend
		wg.Go(func() {
			d, err := r.Check(context.Background(), q)
			follower = result{d.String(), err}
		})
		synctest.Wait() // the follower waits for the shared call
		if calls, _, _ := eng.stats(); calls != 1 {
			t.Fatalf("backend calls before the cancel = %d, want 1", calls)
		}
		cancel()
		synctest.Wait() // the shared call failed; the follower asked again
		if calls, inFlight, _ := eng.stats(); calls != 2 || inFlight != 1 {
			t.Fatalf("after the leader's cancel: calls = %d, in flight = %d; want 2, 1", calls, inFlight)
		}
		eng.release <- struct{}{}
		wg.Wait()
		if leader.Decision != "denied" || !errors.Is(leader.Err, authz.ErrUnavailable) || !errors.Is(leader.Err, context.Canceled) {
			t.Errorf("leader = %+v, want denied with ErrUnavailable and context.Canceled", leader)
		}
		if diff := cmp.Diff(result{"allowed", nil}, follower); diff != "" {
			t.Errorf("follower mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestCallerReturnsWhenItsOwnContextEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, nil)
		q := ask("alice", "t1", "read")
		var leader, follower result
		var wg sync.WaitGroup
		wg.Go(func() {
			d, err := r.Check(context.Background(), q)
			leader = result{d.String(), err}
		})
		synctest.Wait()
		followerCtx, cancel := context.WithCancel(context.Background())
		wg.Go(func() {
			d, err := r.Check(followerCtx, q)
			follower = result{d.String(), err}
		})
		synctest.Wait()
		cancel()
		synctest.Wait()
		// The follower is gone while the leader's call is still at the
		// backend.
		if follower.Decision != "denied" || !errors.Is(follower.Err, authz.ErrUnavailable) || !errors.Is(follower.Err, context.Canceled) {
			t.Errorf("follower = %+v, want denied with ErrUnavailable and context.Canceled", follower)
		}
		if _, inFlight, _ := eng.stats(); inFlight != 1 {
			t.Errorf("calls in flight = %d, want 1", inFlight)
		}
		eng.release <- struct{}{}
		wg.Wait()
		if diff := cmp.Diff(result{"allowed", nil}, leader); diff != "" {
			t.Errorf("leader mismatch (-want +got):\n%s", diff)
		}
		if calls, _, _ := eng.stats(); calls != 1 {
			t.Errorf("backend calls = %d, want 1", calls)
		}
	})
}

func TestInFlightCallsAreBounded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, &memo.Config{MaxInFlight: 2})
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				if _, err := r.Check(ctx, ask("alice", fmt.Sprintf("t%d", i), "read")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			if _, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{ask("bob", "t1", "read")}}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := r.Lookup(ctx, authz.LookupRequest{Subject: user("alice"), ResourceType: "task", Permission: "read"}); err != nil {
				t.Error(err)
			}
		})
		synctest.Wait()
		if calls, inFlight, _ := eng.stats(); calls != 2 || inFlight != 2 {
			t.Errorf("with 5 calls wanted: calls = %d, in flight = %d; want 2, 2", calls, inFlight)
		}

		// A caller waiting for a slot gives up with its context, without
		// reaching the backend.
		waitCtx, cancel := context.WithCancel(ctx)
		var errs [3]error
		wg.Go(func() { _, errs[0] = r.Check(waitCtx, ask("carol", "t1", "read")) })
		wg.Go(func() {
			_, errs[1] = r.CheckMany(waitCtx, authz.CheckManyRequest{Items: []authz.CheckRequest{ask("carol", "t1", "read")}})
		})
		wg.Go(func() {
			_, errs[2] = r.Lookup(waitCtx, authz.LookupRequest{Subject: user("carol"), ResourceType: "task", Permission: "read"})
		})
		synctest.Wait()
		cancel()
		synctest.Wait()
		for i, err := range errs {
			if !errors.Is(err, authz.ErrUnavailable) || !errors.Is(err, context.Canceled) {
				t.Errorf("waiting caller %d = %v, want ErrUnavailable and context.Canceled", i, err)
			}
		}

		for range 5 {
			eng.release <- struct{}{}
		}
		wg.Wait()
		if calls, _, most := eng.stats(); calls != 5 || most != 2 {
			t.Errorf("calls = %d, most in flight = %d; want 5, 2", calls, most)
		}
	})
}

// TestWithoutSharingKeepsTheRequestCache: without sharing, concurrent
// identical checks of different requests each ask the engine, while one
// request still asks each question once.
func TestWithoutSharingKeepsTheRequestCache(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := newGated()
		r := memo.New(eng, &memo.Config{NoSharing: true})
		const n = 3
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ctx := memo.WithRequestCache(context.Background())
				for range 2 {
					if d, err := r.Check(ctx, ask("alice", "t1", "read")); err != nil || !d.Allowed() {
						t.Errorf("Check = %v, %v", d, err)
					}
				}
			})
		}
		synctest.Wait()
		if calls, _, _ := eng.stats(); calls != n {
			t.Errorf("backend calls in flight = %d, want %d (no sharing)", calls, n)
		}
		for range n {
			eng.release <- struct{}{}
		}
		wg.Wait()
		if calls, _, _ := eng.stats(); calls != n {
			t.Errorf("backend calls = %d, want %d (one per request)", calls, n)
		}
	})
}

// TestInvalidContextsAreNeverShared: every invalid context reads the
// same, so two different ones would share a key, a call in flight and a
// remembered answer; memo refuses them before keying, as the engine
// would, without asking it, for Check and for each item of CheckMany.
func TestInvalidContextsAreNeverShared(t *testing.T) {
	t.Parallel()
	rec := record(newEngine(t))
	r := memo.New(rec, nil)
	ctx := memo.WithRequestCache(context.Background())
	bad := []authz.Context{
		authz.NewContext(map[string]any{"x": math.NaN()}),
		authz.NewContext(map[string]any{"x": math.Inf(1)}),
	}
	for _, c := range bad {
		q := ask("alice", "t1", "read")
		q.Context = c
		if d, err := r.Check(ctx, q); !errors.Is(err, authz.ErrInvalidRequest) || d.Allowed() {
			t.Errorf("Check with an invalid context = %v, %v; want ErrInvalidRequest", d, err)
		}
	}
	items := []authz.CheckRequest{ask("alice", "t1", "read"), ask("alice", "t1", "read")}
	items[0].Context, items[1].Context = bad[0], bad[1]
	res, err := r.CheckMany(ctx, authz.CheckManyRequest{Items: items})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range res {
		if !errors.Is(got.Err, authz.ErrInvalidRequest) || got.Decision.Allowed() {
			t.Errorf("CheckMany item %d = %v, %v; want ErrInvalidRequest", i, got.Decision, got.Err)
		}
	}
	if got := rec.calls(); got != 0 {
		t.Errorf("backend calls = %d, want 0", got)
	}
}
