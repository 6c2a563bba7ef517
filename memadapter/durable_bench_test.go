package memadapter_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
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
// relationships): from a file with Open, and into memory with writes of
// 10,000. It reports relationships per second of wall-clock and of CPU
// time.
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
		start, cpu := time.Now(), cpuTime()
		for b.Loop() {
			a, err := memadapter.Open(path, benchSchema, nil)
			if err != nil {
				b.Fatal(err)
			}
			a.Close()
		}
		b.ReportMetric(float64(len(rels)*b.N)/time.Since(start).Seconds(), "rels/s")
		b.ReportMetric(float64(len(rels)*b.N)/(cpuTime()-cpu).Seconds(), "rels/cpu-s")
	})
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		start, cpu := time.Now(), cpuTime()
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
		b.ReportMetric(float64(len(rels)*b.N)/(cpuTime()-cpu).Seconds(), "rels/cpu-s")
	})
}

// cpuTime returns the CPU time the process has used, all threads (the
// garbage collector's included). On a shared machine it measures the work
// where wall-clock time measures the neighbours too.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkCheckUnderWriter measures BenchmarkCheckDirect's check on the
// 100,000-task graph, in memory and on a durable engine holding the same
// graph: alone, and with one goroutine writing continuously, one
// relationship at a time or 1,000 at a time (a write and then its
// deletion). The writer/alone ratio of each engine is the cost readers pay
// for a writer. The writer-elsewhere rows are the control: the same writer
// writes to another engine of the same kind holding the same graph, so
// that the checks share the CPU (and the collector) with it but never its
// lock; writer-of-1000 over writer-elsewhere is what the lock costs.
func BenchmarkCheckUnderWriter(b *testing.B) {
	req := authz.CheckRequest{
		Subject:    authz.Subject{Type: "user", ID: "task-owner-042-0421"},
		Resource:   authz.Resource{Type: "task", ID: "t042-0421"},
		Permission: "read",
	}
	mem := benchAuthorizer(b)
	rels := allRelationships(b, mem)
	load := func(a *memadapter.Authorizer) *memadapter.Authorizer {
		for i := 0; i < len(rels); i += 10_000 {
			if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: rels[i:min(i+10_000, len(rels))]}); err != nil {
				b.Fatal(err)
			}
		}
		return a
	}
	open := func(name string) *memadapter.Authorizer {
		a, err := memadapter.Open(filepath.Join(b.TempDir(), name), benchSchema, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		return load(a)
	}
	durable, otherDurable := open("graph.db"), open("other.db")
	otherMem, err := memadapter.New(benchSchema)
	if err != nil {
		b.Fatal(err)
	}
	load(otherMem)
	for _, engine := range []struct {
		name     string
		a, other *memadapter.Authorizer
	}{{"memory", mem, otherMem}, {"durable", durable, otherDurable}} {
		for _, batch := range []int{0, 1, 1000, -1000} {
			name := engine.name + "/alone"
			switch {
			case batch > 0:
				name = fmt.Sprintf("%s/writer-of-%d", engine.name, batch)
			case batch < 0:
				name = fmt.Sprintf("%s/writer-of-%d-elsewhere", engine.name, -batch)
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				stop := make(chan struct{})
				var wg sync.WaitGroup
				var writes int
				switch {
				case batch > 0:
					wg.Go(func() { writes = writeContinuously(ctx, b, engine.a, batch, stop) })
				case batch < 0:
					wg.Go(func() { writes = writeContinuously(ctx, b, engine.other, -batch, stop) })
				}
				b.ReportAllocs()
				start := time.Now()
				for b.Loop() {
					if d, _ := engine.a.Check(ctx, req); !d.Allowed() {
						b.Fatal("denied")
					}
				}
				elapsed := time.Since(start)
				close(stop)
				wg.Wait()
				if batch != 0 {
					b.ReportMetric(float64(writes)/elapsed.Seconds(), "writes/s")
				}
			})
		}
	}
}

// writeContinuously writes batch viewers in one write and deletes them in
// another, until stop is closed, and returns the number of writes.
func writeContinuously(ctx context.Context, b *testing.B, a *memadapter.Authorizer, batch int, stop chan struct{}) (writes int) {
	rels := make([]authz.Relationship, batch)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return 2 * i
		default:
		}
		for j := range rels {
			k := i*batch + j
			rels[j] = authz.Relationship{
				Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("t%03d-%04d", k%benchAgents, k%benchTasksPerAgent)},
				Relation: "viewer",
				Subject:  authz.Subject{Type: "user", ID: "writer"},
			}
		}
		if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
			b.Error(err)
			return 2 * i
		}
		if _, err := a.Write(ctx, authz.WriteRequest{Delete: rels}); err != nil {
			b.Error(err)
			return 2 * i
		}
	}
}

// heapMax caps the sizes BenchmarkHeapPerRelationship builds; pass
// -heap.max=10000000 for the 3M and 10M rows (several GB of memory).
var heapMax = flag.Int("heap.max", 1_000_000, "largest graph, in relationships, that BenchmarkHeapPerRelationship builds")

// heapBatch is the number of relationships per write of
// BenchmarkHeapPerRelationship's loads.
var heapBatch = flag.Int("heap.batch", 3_000, "relationships per write in BenchmarkHeapPerRelationship")

// BenchmarkHeapPerRelationship loads graphs of tasks with a parent, an
// owner and a viewer each (users and agents drawn from pools of 10,000 and
// 1,000) into the in-memory engine and reports the live heap per
// relationship after a GC, and the load rate (the time of the writes,
// without making the relationships).
func BenchmarkHeapPerRelationship(b *testing.B) {
	for _, n := range []int{300_000, 1_000_000, 3_000_000, 10_000_000} {
		if n > *heapMax {
			continue
		}
		b.Run(fmt.Sprintf("rels=%d", n), func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				a, err := memadapter.New(benchSchema)
				if err != nil {
					b.Fatal(err)
				}
				var elapsed time.Duration
				cpu := cpuTime()
				batch := make([]authz.Relationship, 0, *heapBatch)
				for i := range n / 3 {
					task := authz.Resource{Type: "task", ID: fmt.Sprintf("task-%08d", i)}
					batch = append(batch,
						authz.Relationship{Resource: task, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: fmt.Sprintf("agent-%04d", i%1000)}},
						authz.Relationship{Resource: task, Relation: "owner", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("user-%05d", i%10_000)}},
						authz.Relationship{Resource: task, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("user-%05d", (i*7)%10_000)}},
					)
					if len(batch) == cap(batch) || i == n/3-1 {
						start := time.Now()
						if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: batch}); err != nil {
							b.Fatal(err)
						}
						elapsed += time.Since(start)
						batch = batch[:0]
					}
				}
				cpu = cpuTime() - cpu
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/rel")
				b.ReportMetric(float64(n)/elapsed.Seconds(), "rels/s")
				b.ReportMetric(float64(n)/cpu.Seconds(), "rels/cpu-s")
				runtime.KeepAlive(a)
			}
		})
	}
}
