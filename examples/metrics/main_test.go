package main

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestHooksFeedMetrics: the hooks turn fgac's events into the counts a
// dashboard needs.
func TestHooksFeedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if err := exercise(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c      prometheus.Collector
		labels []string
		want   float64
	}{
		{m.decisions, []string{"allowed", "enforce", "task"}, 1},
		{m.decisions, []string{"not_found", "enforce", "task"}, 2},
		{m.dualWrite, []string{"registered", "task"}, 3},
		{m.dualWrite, []string{"compensated", "task"}, 1},
	} {
		var got float64
		switch v := tc.c.(type) {
		case *prometheus.CounterVec:
			got = testutil.ToFloat64(v.WithLabelValues(tc.labels...))
		}
		if got != tc.want {
			t.Errorf("%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
}
