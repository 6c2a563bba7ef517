package memadapter_test

import (
	"context"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// checkShapes are checks through each kind of step the evaluator takes,
// on the schema of the property tests: those of the performance targets
// (BenchmarkCheckDirect and its siblings) cover only unions, relations and
// an arrow.
var checkShapes = []struct {
	name  string
	check string
	want  bool
}{
	{"nested subject sets", "doc:d1#view@user:u3", true},
	{"subject sets, denied", "doc:d1#view@user:u4", false},
	{"wildcard through an arrow", "doc:d2#view@user:u4", true},
	{"exclusion", "doc:d3#view@user:u0", false},
	{"intersection", "doc:d2#edit@user:u0", true},
	{"all-arrow", "doc:d1#approve@user:u1", true},
	{"alias", "doc:d2#read@user:u0", true},
	{"subject set as subject", "doc:d1#viewer@group:g1#member", true},
}

var shapesRels = []string{
	"doc:d1#viewer@group:g1#member",
	"group:g1#member@group:g2#member",
	"group:g2#member@group:g3#member",
	"group:g3#member@user:u3",
	"doc:d2#parent@folder:f1",
	"doc:d2#owner@user:u0",
	"folder:f1#parent@folder:f0",
	"folder:f0#viewer@user:*",
	"folder:f1#editor@user:u0",
	"doc:d3#owner@user:u0",
	"doc:d3#banned@group:g0#member",
	"group:g0#member@user:u0",
	"doc:d1#reviewer@group:g0",
	"doc:d1#reviewer@group:g1",
	"group:g0#manager@user:u1",
	"group:g1#manager@user:u1",
}

func shapesAuthorizer(tb testing.TB) *memadapter.Authorizer {
	tb.Helper()
	return newAuthorizer(tb, propertySchema, shapesRels...)
}

// TestChecksDoNotAllocate checks that a check records no explanation: its
// evaluation, Explain's with the trace switched off, allocates nothing.
func TestChecksDoNotAllocate(t *testing.T) {
	a := shapesAuthorizer(t)
	ctx := context.Background()
	for _, tt := range checkShapes {
		t.Run(tt.name, func(t *testing.T) {
			req := parseCheck(t, tt.check)
			d, err := a.Check(ctx, req)
			if err != nil || d.Allowed() != tt.want {
				t.Fatalf("Check(%s) = %v, %v; want allowed %v", tt.check, d, err, tt.want)
			}
			e, err := a.Explain(ctx, req)
			if err != nil || e.Result != tt.want {
				t.Fatalf("Explain(%s) = %v, %v; want Result %v:\n%s", tt.check, e.Result, err, tt.want, e)
			}
			var d2 authz.Decision
			if n := testing.AllocsPerRun(100, func() { d2, _ = a.Check(ctx, req) }); n != 0 {
				t.Errorf("Check(%s) allocates %v times, want 0", tt.check, n)
			}
			if d2.Allowed() != tt.want {
				t.Errorf("Check(%s) changed its answer", tt.check)
			}
		})
	}
}

// BenchmarkCheckShapes times the checks of TestChecksDoNotAllocate.
func BenchmarkCheckShapes(b *testing.B) {
	a := shapesAuthorizer(b)
	ctx := context.Background()
	for _, tt := range checkShapes {
		b.Run(tt.name, func(b *testing.B) {
			req := parseCheck(b, tt.check)
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := a.Check(ctx, req); d.Allowed() != tt.want {
					b.Fatalf("Check(%s) = %v, want allowed %v", tt.check, d, tt.want)
				}
			}
		})
	}
}
