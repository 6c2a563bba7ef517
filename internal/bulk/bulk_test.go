package bulk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one item of a plan: answered here with local, or asked with key.
type step struct {
	local string // answered here with this value when not empty
	key   string
}

func TestPlanScattersInItemOrder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		steps     []step
		wantAsked int
		got       []string // the next layer's answers, in ask order
		want      []string
	}{
		{"nothing", nil, 0, nil, nil},
		{"all asked", []step{{}, {}, {}}, 3, []string{"a", "b", "c"}, []string{"a", "b", "c"}},
		{"all local", []step{{local: "x"}, {local: "y"}}, 0, nil, []string{"x", "y"}},
		{"local first", []step{{local: "x"}, {}, {}}, 2, []string{"a", "b"}, []string{"x", "a", "b"}},
		{"local between", []step{{}, {local: "x"}, {}}, 2, []string{"a", "b"}, []string{"a", "x", "b"}},
		{"local last", []step{{}, {}, {local: "x"}}, 2, []string{"a", "b"}, []string{"a", "b", "x"}},
		{"repeat shares", []step{{key: "k"}, {key: "j"}, {key: "k"}, {local: "x"}, {key: "j"}}, 2, []string{"a", "b"}, []string{"a", "b", "a", "x", "b"}},
		{"empty keys never share", []step{{}, {}}, 2, []string{"a", "b"}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan[string](len(tc.steps))
			asked := 0
			for _, s := range tc.steps {
				if s.local != "" {
					p.Answer(s.local)
					continue
				}
				if p.Ask(s.key) {
					asked++
				}
			}
			if asked != tc.wantAsked || p.Asked() != tc.wantAsked {
				t.Fatalf("asked %d (Asked() %d), want %d", asked, p.Asked(), tc.wantAsked)
			}
			res, ok := p.Scatter(tc.got)
			if !ok {
				t.Fatal("Scatter refused a full answer")
			}
			if diff := cmp.Diff(tc.want, res); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPlanRefusesAWrongCount: an answer with one item too few or too many
// is refused whole.
func TestPlanRefusesAWrongCount(t *testing.T) {
	for _, got := range [][]string{nil, {"a"}, {"a", "b", "c"}} {
		p := NewPlan[string](3)
		p.Ask("")
		p.Answer("x")
		p.Ask("")
		if res, ok := p.Scatter(got); ok || res != nil {
			t.Errorf("Scatter(%q) = %q, %v; want nil, false", got, res, ok)
		}
	}
}

// TestPlanInOrderAllocatesNothing: the common case (every item asked, in
// order) costs no allocation and hands the answers back as they are.
func TestPlanInOrderAllocatesNothing(t *testing.T) {
	got := []string{"a", "b"}
	allocs := testing.AllocsPerRun(100, func() {
		p := NewPlan[string](2)
		p.Ask("")
		p.Ask("")
		res, ok := p.Scatter(got)
		if !ok || &res[0] != &got[0] {
			t.Fatal("in-order answers were not handed back as they are")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations, want 0", allocs)
	}
}
