package benchmarks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/collapse"
)

// Listing parameters: a page of 50 out of 1,000 visible tasks, checked in
// bulk batches of 1,000 candidates.
const (
	visibleTasks = 1_000
	pageSize     = 50
	listBatch    = 1_000
)

// listWorld is n candidate rows (task ids in the repository's order) of
// which visibleTasks, spread evenly, belong to the agent that user
// "lister" owns; the others belong to agents of other owners.
type listWorld struct {
	rows   []string
	engine authz.Reader
	guard  *authz.Guard
}

func newListWorld(n int) (*listWorld, error) {
	every := n / visibleTasks
	rels := []authz.Relationship{{Resource: authz.Resource{Type: "agent", ID: "mine"}, Relation: "owner", Subject: userSubject("lister")}}
	rows := make([]string, n)
	for i := range n {
		rows[i] = taskID(i)
		agent := agentID(i % 97)
		if i%every == 0 {
			agent = "mine"
		}
		rels = append(rels, authz.Relationship{Resource: authz.Resource{Type: "task", ID: rows[i]}, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: agent}})
	}
	for a := range 97 {
		rels = append(rels, authz.Relationship{Resource: authz.Resource{Type: "agent", ID: agentID(a)}, Relation: "owner", Subject: userSubject(ownerID(a))})
	}
	engine, err := memEngine(rels)
	if err != nil {
		return nil, err
	}
	m, err := authz.NewOperationMap(engine, ops)
	if err != nil {
		return nil, err
	}
	return &listWorld{rows: rows, engine: engine, guard: authz.NewGuard(engine, m)}, nil
}

// fetch is the repository: up to n rows after cursor, in order.
func (w *listWorld) fetch(_ context.Context, cursor string, n int) ([]string, string, error) {
	start := 0
	if cursor != "" {
		start = sort.SearchStrings(w.rows, cursor)
		if start < len(w.rows) && w.rows[start] == cursor {
			start++
		}
	}
	end := min(start+n, len(w.rows))
	if end == len(w.rows) {
		return w.rows[start:end], "", nil
	}
	return w.rows[start:end], w.rows[end-1], nil
}

// BenchmarkFirstPage lists the first page of the tasks a user may read
// when 1,000 of 1,000 / 10,000 / 100,000 candidate rows are visible, three
// ways side by side:
//
//   - lookup-page: a Lookup with Limit = page size, then the page's rows;
//   - lookup-filter: the lookup the list middleware does
//     (Guard.Lookup, every visible id), then the first page's rows;
//   - page-then-bulk: collapse.FilterPage, bulk-checking batches of
//     candidate rows until the page is full.
//
// items/op is the page length (a full page is 50); B/op shows whether
// memory follows the candidates or the page.
func BenchmarkFirstPage(b *testing.B) {
	subject := userSubject("lister")
	for _, n := range []int{1_000, 10_000, 100_000} {
		w, err := newListWorld(n)
		if err != nil {
			b.Fatal(err)
		}
		run := func(name string, page func(ctx context.Context) ([]string, error)) {
			b.Run(fmt.Sprintf("candidates=%d/%s", n, name), func(b *testing.B) {
				ctx := context.Background()
				var got int
				b.ReportAllocs()
				for b.Loop() {
					items, err := page(ctx)
					if err != nil {
						b.Fatal(err)
					}
					got = len(items)
				}
				if got != pageSize {
					b.Fatalf("page has %d items, want %d", got, pageSize)
				}
				b.ReportMetric(float64(got), "items/op")
			})
		}
		run("lookup-page", func(ctx context.Context) ([]string, error) {
			res, err := w.engine.Lookup(ctx, authz.LookupRequest{Subject: subject, ResourceType: "task", Permission: "read", Limit: pageSize})
			if err != nil {
				return nil, err
			}
			return res.IDs(), nil
		})
		run("lookup-filter", func(ctx context.Context) ([]string, error) {
			f, err := w.guard.Lookup(ctx, authz.ListQuestion{Subject: subject, ResourceType: "task", Operation: authz.OpRead})
			if err != nil {
				return nil, err
			}
			// The repository's query: WHERE id IN (filter) ORDER BY id
			// LIMIT page size.
			ids := slices.Clone(f.IDs())
			slices.Sort(ids)
			return ids[:min(pageSize, len(ids))], nil
		})
		cursors := collapse.RandomCursors()
		run("page-then-bulk", func(ctx context.Context) ([]string, error) {
			items, _, err := collapse.FilterPage(ctx, w.guard, collapse.PageRequest[string]{
				Subject:   subject,
				Operation: authz.OpRead,
				Size:      pageSize,
				Batch:     listBatch,
				Fetch:     w.fetch,
				Resource:  func(id string) authz.Resource { return authz.Resource{Type: "task", ID: id} },
				CursorOf:  func(id string) string { return id },
				Cursors:   cursors,
			})
			return items, err
		})
	}
}
