package spicedbadapter_test

import (
	"fmt"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// benchItems returns n checks of alice on tasks of which she owns every
// other one, after writing those relationships; the checks read at least
// the snapshot of that write.
func benchItems(b *testing.B, a *spicedbadapter.Adapter, n int) []authz.CheckRequest {
	b.Helper()
	var rels []authz.Relationship
	items := make([]authz.CheckRequest, n)
	for i := range items {
		if i%2 == 0 {
			rels = append(rels, rel(task(fmt.Sprintf("t%03d", i)), "owner", user("alice")))
		}
	}
	tok := mustWrite(b, a, rels...)
	for i := range items {
		items[i] = authz.CheckRequest{Subject: user("alice"), Resource: task(fmt.Sprintf("t%03d", i)), Permission: "read", Consistency: authz.AtLeastAsFresh(tok)}
	}
	return items
}

// BenchmarkCheck100 compares answering 100 questions with one bulk call
// against 100 sequential checks, per 100 questions.
func BenchmarkCheck100(b *testing.B) {
	a := newAdapter(b, schema)
	items := benchItems(b, a, 100)
	ctx := b.Context()
	b.Run("bulk", func(b *testing.B) {
		for b.Loop() {
			results, err := a.CheckMany(ctx, authz.CheckManyRequest{Items: items, Consistency: items[0].Consistency})
			if err != nil || !results[0].Decision.Allowed() {
				b.Fatalf("CheckMany = %v, %v", results[0], err)
			}
		}
	})
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			for _, item := range items {
				if _, err := a.Check(ctx, item); err != nil {
					b.Fatalf("Check: %v", err)
				}
			}
		}
	})
}

// BenchmarkCheckOverhead measures the adapter's Check against a raw
// authzed-go CheckPermission of the same question, interleaved in pairs
// so that both see the same server and machine load. It reports the mean
// of each and their difference.
func BenchmarkCheckOverhead(b *testing.B) {
	c := spicedbtest.Client(b)
	if _, err := spicedbadapter.WriteSchema(b.Context(), c, schema); err != nil {
		b.Fatalf("WriteSchema: %v", err)
	}
	a := spicedbadapter.New(c, nil)
	tok := mustWrite(b, a, rel(task("t1"), "owner", user("alice")))
	ctx := b.Context()
	req := authz.CheckRequest{Subject: user("alice"), Resource: task("t1"), Permission: "read", Consistency: authz.AtLeastAsFresh(tok)}
	raw := &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: &v1.ZedToken{Token: tok.Value()}}},
		Resource:    &v1.ObjectReference{ObjectType: "task", ObjectId: "t1"},
		Permission:  "read",
		Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "alice"}},
	}
	var adapterTime, rawTime time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		d, err := a.Check(ctx, req)
		adapterTime += time.Since(start)
		if err != nil || !d.Allowed() {
			b.Fatalf("Check = %v, %v", d, err)
		}
		start = time.Now()
		resp, err := c.CheckPermission(ctx, raw)
		rawTime += time.Since(start)
		if err != nil || resp.GetPermissionship() != v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
			b.Fatalf("CheckPermission = %v, %v", resp, err)
		}
		n++
	}
	b.ReportMetric(float64(adapterTime.Nanoseconds())/float64(n), "adapter-ns/check")
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(n), "raw-ns/check")
	b.ReportMetric(float64((adapterTime-rawTime).Nanoseconds())/float64(n), "overhead-ns/check")
}
