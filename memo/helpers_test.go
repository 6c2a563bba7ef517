package memo_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/memadapter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newEngine returns a memadapter engine in which alice owns task t1 and
// bob views it.
func newEngine(t testing.TB) *memadapter.Authorizer {
	t.Helper()
	a := testfixture.Engine(t)
	t1 := authz.Resource{Type: "task", ID: "t1"}
	_, err := a.Write(context.Background(), authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: t1, Relation: "owner", Subject: user("alice")},
		{Resource: t1, Relation: "viewer", Subject: user("bob")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func user(id string) authz.Subject { return authz.Subject{Type: "user", ID: id} }

func task(id string) authz.Resource { return authz.Resource{Type: "task", ID: id} }

// ask is a check of task id for a user.
func ask(who, id, perm string) authz.CheckRequest {
	return authz.CheckRequest{Subject: user(who), Resource: task(id), Permission: perm}
}

// recorder wraps an engine and records what it is asked. checkErr, if set,
// is returned (and the engine not asked) by the next check or bulk check,
// once.
type recorder struct {
	next authz.Reader

	mu       sync.Mutex // guards the fields below
	checks   []authz.CheckRequest
	bulks    [][]authz.CheckRequest
	lookups  int
	checkErr error
}

func record(next authz.Reader) *recorder { return &recorder{next: next} }

func (r *recorder) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	r.mu.Lock()
	r.checks = append(r.checks, req)
	err := r.checkErr
	r.checkErr = nil
	r.mu.Unlock()
	if err != nil {
		return authz.Deny(), err
	}
	return r.next.Check(ctx, req)
}

func (r *recorder) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	r.mu.Lock()
	r.bulks = append(r.bulks, append([]authz.CheckRequest(nil), req.Items...))
	err := r.checkErr
	r.checkErr = nil
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return r.next.CheckMany(ctx, req)
}

func (r *recorder) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	r.mu.Lock()
	r.lookups++
	r.mu.Unlock()
	return r.next.Lookup(ctx, req)
}

// calls returns the number of calls of every kind.
func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.checks) + len(r.bulks) + r.lookups
}

// bulkCalls returns the items of each bulk call, described.
func (r *recorder) bulkCalls() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]string, len(r.bulks))
	for i, items := range r.bulks {
		out[i] = describe(items...)
	}
	return out
}

// describe returns the questions in a comparable form.
func describe(reqs ...authz.CheckRequest) []string {
	out := make([]string, len(reqs))
	for i, q := range reqs {
		out[i] = fmt.Sprintf("%s#%s@%s (%s)", q.Resource, q.Permission, q.Subject, q.Consistency)
	}
	return out
}

func (r *recorder) failNext(err error) {
	r.mu.Lock()
	r.checkErr = err
	r.mu.Unlock()
}

// gated is an engine whose every call waits until the test releases it
// (then allows) or its context ends (then fails), for tests that need
// calls in flight. Use it inside a synctest bubble.
type gated struct {
	release chan struct{}

	mu          sync.Mutex // guards the fields below
	calls       int
	inFlight    int
	maxInFlight int
}

func newGated() *gated { return &gated{release: make(chan struct{})} }

func (g *gated) wait(ctx context.Context) error {
	g.mu.Lock()
	g.calls++
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gated: %w: %w", authz.ErrUnavailable, ctx.Err())
	}
}

func (g *gated) Check(ctx context.Context, _ authz.CheckRequest) (authz.Decision, error) {
	if err := g.wait(ctx); err != nil {
		return authz.Deny(), err
	}
	return authz.Allow(), nil
}

func (g *gated) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	if err := g.wait(ctx); err != nil {
		return nil, err
	}
	res := make([]authz.CheckResult, len(req.Items))
	for i := range res {
		res[i].Decision = authz.Allow()
	}
	return res, nil
}

func (g *gated) Lookup(ctx context.Context, _ authz.LookupRequest) (authz.LookupResult, error) {
	if err := g.wait(ctx); err != nil {
		return authz.LookupResult{}, err
	}
	return authz.IDs([]string{"t1"}, ""), nil
}

// stats returns the calls made, the calls in flight and the most ever in
// flight at once.
func (g *gated) stats() (calls, inFlight, maxInFlight int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls, g.inFlight, g.maxInFlight
}
