package benchmarks

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/clustertest"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// clusterTasks is the size of the graph of the scale-out comparison.
const clusterTasks = 100_000

// BenchmarkScaleOutCheck compares one allowed check through a parent arrow
// at 100,000 tasks on three engines, side by side in one run: memadapter,
// the tests' `spicedb serve-testing` (in-memory datastore, one process)
// and a 3-node `spicedb serve` cluster over PostgreSQL (package
// clustertest, client balanced over the nodes by spicedbadapter.Dial). Each
// reports its median and 99th-percentile latency (p50-us, p99-us). The
// cluster sub-benchmarks also compare a bulk of 100 checks with the same
// 100 made one after another. Reads are at least as fresh as the graph's
// last write. The cluster runs only with $FGAC_POSTGRES set, as in the
// tests:
//
//	FGAC_POSTGRES=1 go test -run x -bench ScaleOut -benchmem ./benchmarks/
func BenchmarkScaleOutCheck(b *testing.B) {
	ctx := context.Background()
	rels := checkGraph(clusterTasks)
	rng := rand.New(rand.NewPCG(1, 2))
	question := func() authz.CheckRequest {
		i := rng.IntN(clusterTasks)
		return authz.CheckRequest{
			Subject:    userSubject(ownerID(i / tasksPerAgent)),
			Resource:   authz.Resource{Type: "task", ID: taskID(i)},
			Permission: "read",
		}
	}
	measure := func(b *testing.B, e authz.Checker, c authz.Consistency) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for b.Loop() {
			q := question()
			q.Consistency = c
			began := time.Now()
			d, err := e.Check(ctx, q)
			lat = append(lat, time.Since(began))
			if err != nil || !d.Allowed() {
				b.Fatalf("check %s: %v, %v; want allowed", q.Resource, d, err)
			}
		}
		b.StopTimer()
		reportPercentiles(b, lat)
	}

	b.Run("memadapter", func(b *testing.B) {
		e, err := memEngine(rels)
		if err != nil {
			b.Fatal(err)
		}
		measure(b, e, authz.Consistency{})
	})
	b.Run("serve-testing", func(b *testing.B) {
		client := spicedbtest.Client(b)
		if _, err := spicedbadapter.WriteSchema(ctx, client, schema); err != nil {
			b.Fatal(err)
		}
		a := spicedbadapter.New(client, nil)
		tok, err := writeAll(ctx, a, rels)
		if err != nil {
			b.Fatal(err)
		}
		measure(b, a, authz.AtLeastAsFresh(tok))
	})

	// The cluster sub-benchmarks share one cluster, loaded here and stopped
	// when BenchmarkScaleOutCheck ends; without $FGAC_POSTGRES they skip.
	var clusterA *spicedbadapter.Adapter
	var clusterC authz.Consistency
	if os.Getenv(clustertest.EnvPostgres) != "" {
		cluster := clustertest.Start(b, clustertest.Options{})
		client, err := spicedbadapter.Dial(cluster.Endpoints(), cluster.DialOptions()...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = client.Close() })
		if _, err := spicedbadapter.WriteSchema(ctx, client, schema); err != nil {
			b.Fatal(err)
		}
		clusterA = spicedbadapter.New(client, nil)
		tok, err := writeAll(ctx, clusterA, rels)
		if err != nil {
			b.Fatal(err)
		}
		clusterC = authz.AtLeastAsFresh(tok)
	}
	clusterAdapter := func(b *testing.B) (*spicedbadapter.Adapter, authz.Consistency) {
		clustertest.Required(b)
		return clusterA, clusterC
	}
	b.Run("cluster", func(b *testing.B) {
		a, c := clusterAdapter(b)
		measure(b, a, c)
	})
	hundred := func() []authz.CheckRequest {
		reqs := make([]authz.CheckRequest, 100)
		for i := range reqs {
			reqs[i] = question()
		}
		return reqs
	}
	b.Run("cluster/bulk-100", func(b *testing.B) {
		a, c := clusterAdapter(b)
		reqs := hundred()
		for b.Loop() {
			res, err := a.CheckMany(ctx, authz.CheckManyRequest{Items: reqs, Consistency: c})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil || !r.Decision.Allowed() {
					b.Fatalf("bulk item: %v, %v; want allowed", r.Decision, r.Err)
				}
			}
		}
	})
	b.Run("cluster/sequential-100", func(b *testing.B) {
		a, c := clusterAdapter(b)
		reqs := hundred()
		for b.Loop() {
			for _, q := range reqs {
				q.Consistency = c
				if d, err := a.Check(ctx, q); err != nil || !d.Allowed() {
					b.Fatalf("check %s: %v, %v; want allowed", q.Resource, d, err)
				}
			}
		}
	})
}

// reportPercentiles reports the median and 99th percentile of lat in
// microseconds.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.50), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
}
