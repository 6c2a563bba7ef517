package memadapter_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// BenchmarkWrite measures a grant (one relationship, one write) on the
// in-memory engine and on the durable engine with 1, 16 and 64 concurrent
// writers. ns/op is wall-clock time per write, so the durable rows compare
// as throughputs: durable/1 over durable/16 is the speed-up of group
// commit, durable/1 over memory the cost of durability.
func BenchmarkWrite(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		a, err := memadapter.New(benchSchema)
		if err != nil {
			b.Fatal(err)
		}
		benchWrites(b, a, 1)
	})
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("durable/writers=%d", writers), func(b *testing.B) {
			a, err := memadapter.Open(filepath.Join(b.TempDir(), "graph.db"), benchSchema, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			benchWrites(b, a, writers)
		})
	}
}

// benchWrites makes b.N grants from writers goroutines.
func benchWrites(b *testing.B, a *memadapter.Authorizer, writers int) {
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				rel := authz.Relationship{
					Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("t%d", i)},
					Relation: "viewer",
					Subject:  authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", i%1000)},
				}
				if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: rel}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkOpen measures loading the 100,000-task graph (200,100
// relationships): from a file with Open, and into memory with one Write per
// agent. It reports relationships per second.
func BenchmarkOpen(b *testing.B) {
	src := benchAuthorizer(b)
	rels := allRelationships(b, src)
	path := filepath.Join(b.TempDir(), "graph.db")
	a, err := memadapter.Open(path, benchSchema, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(rels); i += 10_000 {
		if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: rels[i:min(i+10_000, len(rels))]}); err != nil {
			b.Fatal(err)
		}
	}
	a.Close()
	b.Run("file", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			a, err := memadapter.Open(path, benchSchema, nil)
			if err != nil {
				b.Fatal(err)
			}
			a.Close()
		}
		b.ReportMetric(float64(len(rels)*b.N)/time.Since(start).Seconds(), "rels/s")
	})
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			a, err := memadapter.New(benchSchema)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(rels); i += 10_000 {
				if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: rels[i:min(i+10_000, len(rels))]}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(rels)*b.N)/time.Since(start).Seconds(), "rels/s")
	})
}

// allRelationships returns every relationship of a.
func allRelationships(tb testing.TB, a *memadapter.Authorizer) []authz.Relationship {
	tb.Helper()
	ctx := context.Background()
	var out []authz.Relationship
	for _, d := range a.Schema().Definitions {
		cursor := ""
		for {
			page, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: d.Name, Cursor: cursor})
			if err != nil {
				tb.Fatal(err)
			}
			for _, id := range page.IDs {
				rels, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: authz.Resource{Type: d.Name, ID: id}})
				if err != nil {
					tb.Fatal(err)
				}
				out = append(out, rels...)
			}
			if page.Cursor == "" {
				break
			}
			cursor = page.Cursor
		}
	}
	return out
}
