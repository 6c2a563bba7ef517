package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"github.com/fgac-go/fgac/enforce"
	fgacschema "github.com/fgac-go/fgac/schema"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/memo"
	"github.com/fgac-go/fgac/parent"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// spiceTasks is the size of the SpiceDB graph. serve-testing's in-memory
// store slows down as it grows; 1,000 tasks is the reference.
const spiceTasks = 1_000

// rpcCounter counts the permission calls that reach SpiceDB.
type rpcCounter struct {
	spicedbadapter.Client
	n atomic.Int64
}

func (c *rpcCounter) CheckPermission(ctx context.Context, in *v1.CheckPermissionRequest, opts ...grpc.CallOption) (*v1.CheckPermissionResponse, error) {
	c.n.Add(1)
	return c.Client.CheckPermission(ctx, in, opts...)
}

func (c *rpcCounter) CheckBulkPermissions(ctx context.Context, in *v1.CheckBulkPermissionsRequest, opts ...grpc.CallOption) (*v1.CheckBulkPermissionsResponse, error) {
	c.n.Add(1)
	return c.Client.CheckBulkPermissions(ctx, in, opts...)
}

func (c *rpcCounter) LookupResources(ctx context.Context, in *v1.LookupResourcesRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupResourcesResponse], error) {
	c.n.Add(1)
	return c.Client.LookupResources(ctx, in, opts...)
}

// spice is a fresh SpiceDB datastore holding checkGraph(spiceTasks), where
// additionally user "viewer" may view task 0.
type spice struct {
	client  *authzed.Client
	rpcs    *rpcCounter
	adapter *spicedbadapter.Adapter // counts its calls in rpcs
	ops     *authz.OperationMap
	tok     authz.Token
	c       authz.Consistency // at least as fresh as the data
}

func newSpice(tb testing.TB) *spice {
	tb.Helper()
	ctx := context.Background()
	client := spicedbtest.Client(tb)
	if _, err := spicedbadapter.WriteSchema(ctx, client, schema); err != nil {
		tb.Fatal(err)
	}
	rpcs := &rpcCounter{Client: client}
	adapter := spicedbadapter.New(rpcs, nil)
	rels := append(checkGraph(spiceTasks), authz.Relationship{Resource: authz.Resource{Type: "task", ID: taskID(0)}, Relation: "viewer", Subject: userSubject("viewer")})
	tok, err := writeAll(ctx, adapter, rels)
	if err != nil {
		tb.Fatal(err)
	}
	parsed, err := fgacschema.Parse(schema)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := authz.NewOperationMap(parsed, ops)
	if err != nil {
		tb.Fatal(err)
	}
	return &spice{client: client, rpcs: rpcs, adapter: adapter, ops: m, tok: tok, c: authz.AtLeastAsFresh(tok)}
}

// hundredChecks are 100 distinct questions, as a list page would ask: the
// owner of agent 0 reads every tenth task (10 allowed, 90 denied).
func (s *spice) hundredChecks() []authz.CheckRequest {
	reqs := make([]authz.CheckRequest, 100)
	for i := range reqs {
		reqs[i] = authz.CheckRequest{Subject: userSubject(ownerID(0)), Resource: authz.Resource{Type: "task", ID: taskID(i * 10)}, Permission: "read", Consistency: s.c}
	}
	return reqs
}

// concurrently runs check on every request, each in its own goroutine.
func concurrently(ctx context.Context, c authz.Checker, reqs []authz.CheckRequest) error {
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() { _, errs[i] = c.Check(ctx, req) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// BenchmarkSpiceDBChecks answers the same 100 checks against SpiceDB in one
// bulk call, one after another, all at once, and at most 16 or 8 at once
// (the bound of a memo.Reader), side by side. ns/op is per 100 checks.
func BenchmarkSpiceDBChecks(b *testing.B) {
	s := newSpice(b)
	reqs := s.hundredChecks()
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		check func() error
	}{
		{"bulk-100", func() error {
			res, err := s.adapter.CheckMany(ctx, authz.CheckManyRequest{Items: reqs, Consistency: s.c})
			if err != nil {
				return err
			}
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
			}
			return nil
		}},
		{"sequential-100", func() error {
			for _, req := range reqs {
				if _, err := s.adapter.Check(ctx, req); err != nil {
					return err
				}
			}
			return nil
		}},
		{"concurrent-100", func() error { return concurrently(ctx, s.adapter, reqs) }},
		{"concurrent-100-max-16", func() error {
			return concurrently(ctx, memo.New(s.adapter, &memo.Config{MaxInFlight: 16}), reqs)
		}},
		{"concurrent-100-max-8", func() error {
			return concurrently(ctx, memo.New(s.adapter, &memo.Config{MaxInFlight: 8}), reqs)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s.rpcs.n.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.check(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.rpcs.n.Load())/float64(b.N), "rpcs/op")
		})
	}
}

// BenchmarkSpiceDBAdapterOverhead compares the adapter's Check with the
// raw authzed-go CheckPermission a user would write, paired and
// interleaved: every iteration makes one call of each, alternating which
// goes first, and the reported figures are the medians of each kind.
// overhead-% is (adapter - raw) / raw.
func BenchmarkSpiceDBAdapterOverhead(b *testing.B) {
	s := newSpice(b)
	adapter := spicedbadapter.New(s.client, nil)
	ctx := context.Background()
	owner, _, task := checkCase(spiceTasks, true)
	raw := func() error {
		resp, err := s.client.CheckPermission(ctx, &v1.CheckPermissionRequest{
			Consistency: &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: s.tok.Value()}}},
			Resource:    &v1.ObjectReference{ObjectType: "task", ObjectId: task},
			Permission:  "read",
			Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: owner}},
		})
		if err != nil {
			return err
		}
		if resp.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
			return errors.New("raw check denied")
		}
		return nil
	}
	req := authz.CheckRequest{Subject: userSubject(owner), Resource: authz.Resource{Type: "task", ID: task}, Permission: "read", Consistency: s.c}
	viaAdapter := func() error {
		d, err := adapter.Check(ctx, req)
		if err == nil && !d.Allowed() {
			err = errors.New("adapter check denied")
		}
		return err
	}
	var raws, adapters []time.Duration
	timed := func(f func() error, into *[]time.Duration) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(start))
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			timed(raw, &raws)
			timed(viaAdapter, &adapters)
		} else {
			timed(viaAdapter, &adapters)
			timed(raw, &raws)
		}
		i++
	}
	r, a := median(raws), median(adapters)
	b.ReportMetric(float64(r.Microseconds()), "raw-us/check")
	b.ReportMetric(float64(a.Microseconds()), "adapter-us/check")
	b.ReportMetric(100*float64(a-r)/float64(r), "overhead-%")
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// BenchmarkSpiceDBDeniedUpdate decides an update of task 0 that is denied,
// under the collapse rule: a viewer (who may read it) gets 403, a stranger
// gets 404. collapse sends the update and its read probe in one bulk call;
// the naive way checks the update, then the read. rpcs/op counts the round
// trips to SpiceDB.
func BenchmarkSpiceDBDeniedUpdate(b *testing.B) {
	s := newSpice(b)
	guard := authz.NewGuard(s.adapter, s.ops)
	ctx := context.Background()
	q := func(who string) authz.Question {
		return authz.Question{Subject: userSubject(who), Resource: authz.Resource{Type: "task", ID: taskID(0)}, Operation: authz.OpUpdate, Consistency: s.c}
	}
	naive := func(ctx context.Context, g *authz.Guard, q authz.Question) error {
		denied := g.Authorize(ctx, q)
		if !errors.Is(denied, authz.ErrDenied) {
			return denied
		}
		read := q
		read.Operation = authz.OpRead
		switch err := g.Authorize(ctx, read); {
		case errors.Is(err, authz.ErrDenied):
			return authz.ErrNotFound
		case err != nil:
			return err
		}
		return denied
	}
	for _, tc := range []struct {
		name   string
		decide func(context.Context, *authz.Guard, authz.Question) error
		who    string
		want   error
	}{
		{"collapse-403", collapse.CheckOrNotFound, "viewer", authz.ErrDenied},
		{"collapse-404", collapse.CheckOrNotFound, "stranger", authz.ErrNotFound},
		{"naive-403", naive, "viewer", authz.ErrDenied},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s.rpcs.n.Store(0)
			for b.Loop() {
				if err := tc.decide(ctx, guard, q(tc.who)); !errors.Is(err, tc.want) {
					b.Fatalf("decision = %v, want %v", err, tc.want)
				}
			}
			b.ReportMetric(float64(s.rpcs.n.Load())/float64(b.N), "rpcs/op")
		})
	}
}

// TestDeniedUpdateIsOneRoundTrip pins what BenchmarkSpiceDBDeniedUpdate
// reports: every collapse decision on an update, 403 and 404 included,
// costs exactly one call to SpiceDB.
func TestDeniedUpdateIsOneRoundTrip(t *testing.T) {
	s := newSpice(t)
	guard := authz.NewGuard(s.adapter, s.ops)
	owner, _, _ := checkCase(spiceTasks, true)
	tests := []struct {
		name string
		who  string
		want error
	}{
		{"allowed", ownerID(0), nil},
		{"denied but readable", "viewer", authz.ErrDenied},
		{"unreadable", "stranger", authz.ErrNotFound},
		{"owner of another agent", owner, authz.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.rpcs.n.Load()
			q := authz.Question{Subject: userSubject(tc.who), Resource: authz.Resource{Type: "task", ID: taskID(0)}, Operation: authz.OpUpdate, Consistency: s.c}
			err := collapse.CheckOrNotFound(t.Context(), guard, q)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CheckOrNotFound = %v, want %v", err, tc.want)
			}
			if got := s.rpcs.n.Load() - before; got != 1 {
				t.Errorf("calls to SpiceDB = %d, want 1", got)
			}
		})
	}
}

// BenchmarkSpiceDBRepeatedParentChecks serves, against SpiceDB, a route
// whose middleware checks task 0 and whose handler authorizes five
// messages of task 0, each checked as its parent: six identical questions
// per request. Without memo that is six calls; with memo, one. rpcs/op
// counts them.
func BenchmarkSpiceDBRepeatedParentChecks(b *testing.B) {
	s := newSpice(b)
	for _, tc := range []struct {
		name     string
		memoised bool
	}{
		{"unmemoised", false},
		{"memoised", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := parentRoute(s.adapter, s.ops, s.c, tc.memoised)
			req := httptest.NewRequest("GET", "/tasks/"+taskID(0)+"/messages", nil)
			w := &statusWriter{h: http.Header{}}
			s.rpcs.n.Store(0)
			b.ReportAllocs()
			for b.Loop() {
				w.code = http.StatusOK
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status = %d, want 200", w.code)
				}
			}
			b.ReportMetric(float64(s.rpcs.n.Load())/float64(b.N), "rpcs/op")
		})
	}
}

// parentRoute returns GET /tasks/{task_id}/messages for the owner of agent
// 0: the middleware checks the task, then the handler authorizes messages
// m1..m5, whose parent is task 0. If memoised, engine is wrapped in a
// memo.Reader and the mux in memo.Middleware.
func parentRoute(engine authz.Reader, m *authz.OperationMap, c authz.Consistency, memoised bool) http.Handler {
	if memoised {
		engine = memo.New(engine, nil)
	}
	guard := authz.NewGuard(engine, m)
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return taskID(0), nil }))
	alice := userSubject(ownerID(0))
	mw := httpauthz.New(httpauthz.Config{
		Guard: guard, Parents: parents, Consistency: c,
		Subject: func(*http.Request) (authz.Subject, bool) { return alice, true },
	})
	enforcer := &enforce.Enforcer{Guard: guard, Parents: parents}
	list := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			req := enforce.Request{Subject: alice, Resource: authz.Resource{Type: "message", ID: fmt.Sprintf("m%d", i+1)}, Operation: authz.OpRead, Consistency: c}
			if _, err := enforcer.Authorize(r.Context(), req); err != nil {
				httpauthz.WriteJSONError(w, r, httpauthz.ProblemFor(err))
				return
			}
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /tasks/{task_id}/messages", mw.Require("task", authz.OpRead, httpauthz.PathValue("task_id"))(list))
	if memoised {
		return memo.Middleware(mux)
	}
	return mux
}
