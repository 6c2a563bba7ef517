package dualwrite

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/clustertest"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// TestRandomizedSchedulesOnCluster runs a subset of the randomized fault
// schedules on a SpiceDB cluster over PostgreSQL (package clustertest),
// through a client balanced over its nodes, while a background loop kills a
// node with SIGKILL and starts it again, one node after another. The
// invariants are those of TestRandomizedSchedules; each schedule starts
// from an empty datastore. It runs when $FGAC_POSTGRES is set and skips,
// saying so, otherwise.
//
// The callers' writes and reads take turns (see exclusiveWrites): SpiceDB's
// fully consistent reads are not read-your-writes while other fully
// consistent requests are in flight, and the schedules check each
// operation's outcome with such reads.
func TestRandomizedSchedulesOnCluster(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	client, err := spicedbadapter.Dial(c.Endpoints(), c.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if _, err := spicedbadapter.WriteSchema(t.Context(), client, testfixture.Schema); err != nil {
		t.Fatal(err)
	}
	eng := &exclusiveWrites{engine: spicedbadapter.New(client, nil)}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	kills := 0
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			n := c.Nodes[i%len(c.Nodes)]
			if err := n.Kill(); err != nil {
				t.Error(err)
				return
			}
			kills++
			time.Sleep(500 * time.Millisecond)
			if err := n.Start(context.WithoutCancel(ctx)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer func() { stop(); wg.Wait() }()

	seed := firstSeed(t)
	const schedules = 60
	for i := range schedules {
		s := seed + int64(i)
		if err := emptyDatastore(t.Context(), client); err != nil {
			t.Fatal(err)
		}
		if _, err := runScheduleOn(t, eng, s, correct, true); err != nil {
			t.Fatalf("schedule %d of %d failed on the cluster: %v\nreplay: FGAC_POSTGRES=1 go test ./dualwrite -run 'TestRandomizedSchedulesOnCluster$' -dualwrite.seed=%d -v", i, schedules, err, s)
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d schedules passed on the cluster (seeds %d..%d) through %d node kills", schedules, seed, seed+schedules-1, kills)
}

// emptyDatastore deletes every relationship of the test schema's types.
func emptyDatastore(ctx context.Context, client v1.PermissionsServiceClient) error {
	for _, typ := range []string{"task", "agent"} {
		if _, err := client.DeleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
			RelationshipFilter: &v1.RelationshipFilter{ResourceType: typ},
		}); err != nil {
			return err
		}
	}
	return nil
}

// exclusiveWrites runs no read while a write runs: reads share a lock that
// each write holds alone. A fully consistent read then never joins a
// SpiceDB HeadRevision query that began before a write it follows had
// committed, so it sees that write (see spicedbadapter's
// TestFullyConsistentIsNotReadYourWrites), and the schedules' checks read
// what the operation before them did.
type exclusiveWrites struct {
	engine
	mu sync.RWMutex
}

func (e *exclusiveWrites) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.engine.Register(ctx, req)
}

func (e *exclusiveWrites) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.engine.Deregister(ctx, req)
}

func (e *exclusiveWrites) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.engine.Write(ctx, req)
}

func (e *exclusiveWrites) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.engine.Grant(ctx, req)
}

func (e *exclusiveWrites) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.engine.Revoke(ctx, req)
}

func (e *exclusiveWrites) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.engine.Check(ctx, req)
}

func (e *exclusiveWrites) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.engine.ReadRelationships(ctx, req)
}

func (e *exclusiveWrites) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.engine.Enumerate(ctx, req)
}
