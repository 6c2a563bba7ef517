package dualwrite

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

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
	eng := spicedbadapter.New(client, nil)

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
