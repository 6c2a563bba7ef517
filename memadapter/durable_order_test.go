package memadapter_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// viewers returns n viewer relationships on tasks named after prefix,
// four per task, in key order when sorted is true and shuffled otherwise.
func viewers(prefix string, n int, sorted bool, rng *rand.Rand) []authz.Relationship {
	rels := make([]authz.Relationship, n)
	for i := range rels {
		rels[i] = authz.Relationship{
			Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("%s%07d", prefix, i/4)},
			Relation: "viewer",
			Subject:  authz.Subject{Type: "user", ID: fmt.Sprintf("u%07d", i)},
		}
	}
	if !sorted {
		rng.Shuffle(len(rels), func(i, j int) { rels[i], rels[j] = rels[j], rels[i] })
	}
	return rels
}

// TestALargeShuffledWriteIsCommitted writes 200,000 relationships in
// random key order in one Write on the durable engine (bbolt, given them
// in that order in one transaction, took over a minute: each put was a slice
// insertion into an ever larger in-memory leaf) and checks that all of
// them, and nothing else, are there after reopening. It takes a few
// seconds since the commit puts keys in order
// ([TestTxWritesFlushesInKeyOrder] checks the order itself).
func TestALargeShuffledWriteIsCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("a write of 200,000 relationships")
	}
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, benchSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	rels := viewers("t", n, false, rand.New(rand.NewPCG(1, 2)))
	if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openDurable(t, path, benchSchema)
	got := allRelationships(t, b)
	if len(got) != n {
		t.Fatalf("%d relationships after reopening, want %d", len(got), n)
	}
	want := make(map[authz.Relationship]bool, n)
	for _, r := range rels {
		want[r] = true
	}
	for _, r := range got {
		if !want[r] {
			t.Fatalf("unexpected relationship %v", r)
		}
	}
}

// TestOperationsOnOneKeyInOneBatchKeepTheirOrder makes concurrent writers
// grant and revoke the same relationships, and register and deregister
// the same resources, so that group commit puts several operations on one
// key into one transaction: the file must hold what memory holds, which
// applies them one by one.
func TestOperationsOnOneKeyInOneBatchKeepTheirOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := authz.Subject{Type: "user", ID: "alice"}
	const writers, rounds = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			grant := authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", w%2)}}
			own := authz.Resource{Type: "task", ID: fmt.Sprintf("own%d", w%2)}
			for i := range rounds {
				var err error
				switch (w + i) % 4 {
				case 0:
					_, err = a.Grant(ctx, authz.GrantRequest{Relationship: grant})
				case 1:
					_, err = a.Revoke(ctx, authz.GrantRequest{Relationship: grant})
				case 2:
					_, err = a.Register(ctx, authz.RegisterRequest{Resource: own, Owner: alice})
				default:
					_, err = a.Deregister(ctx, authz.DeregisterRequest{Resource: own})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	inMemory := dump(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk := dump(t, openDurable(t, path, writeSchema))
	if !slices.Equal(inMemory, onDisk) {
		t.Fatalf("the file holds\n%s\nmemory held\n%s", strings.Join(onDisk, "\n"), strings.Join(inMemory, "\n"))
	}
}

// durableWriteSize is the number of relationships of a write of
// [BenchmarkDurableWriteSorted].
var durableWriteSize = flag.Int("durablewrite.n", 20_000, "relationships per write of BenchmarkDurableWrite{Sorted,Unsorted}")

// BenchmarkDurableWriteSorted and [BenchmarkDurableWriteUnsorted]
// measure one Write of -durablewrite.n relationships (20,000) on the durable engine, given
// in key order and in random order; their ratio is what the order costs a
// commit.
func BenchmarkDurableWriteSorted(b *testing.B) { benchDurableWrite(b, true) }

// BenchmarkDurableWriteUnsorted is [BenchmarkDurableWriteSorted] with the
// relationships shuffled.
func BenchmarkDurableWriteUnsorted(b *testing.B) { benchDurableWrite(b, false) }

func benchDurableWrite(b *testing.B, sorted bool) {
	a, err := memadapter.Open(filepath.Join(b.TempDir(), "graph.db"), benchSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		rels := viewers(fmt.Sprintf("w%d-", i), *durableWriteSize, sorted, rng)
		b.StartTimer()
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
			b.Fatal(err)
		}
	}
}
