// Command metrics shows how to turn fgac's hooks into Prometheus metrics:
// decision counts and latencies per outcome and mode from audit events, and
// dual-write compensations and reconciler findings from dualwrite events.
// fgac itself depends on no metrics library; this wiring lives in the
// service (here, its own module).
//
// It runs a few decisions and dual writes against memadapter, then serves
// the metrics on -addr (default 127.0.0.1:9464) until interrupted, or
// prints them once with -print.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/dualwrite"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Metrics is the service's own metric set, fed by fgac's hooks.
type Metrics struct {
	decisions *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	dualWrite *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fgac_decisions_total", Help: "Authorization decisions by outcome, mode and resource type.",
		}, []string{"outcome", "mode", "resource_type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fgac_decision_seconds", Help: "Time to decide, backend calls included.",
			Buckets: prometheus.ExponentialBuckets(0.000001, 4, 12),
		}, []string{"outcome"}),
		dualWrite: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fgac_dualwrite_events_total", Help: "Dual-write steps: compensations, failed deregisters, orphans found and removed.",
		}, []string{"kind", "resource_type"}),
	}
	reg.MustRegister(m.decisions, m.latency, m.dualWrite)
	return m
}

// Decisions is the audit.Hook that counts decisions. Labels use the
// resource type, never ids or subjects, so cardinality stays bounded.
func (m *Metrics) Decisions() audit.Hook {
	return audit.HookFunc(func(_ context.Context, e audit.Event) {
		m.decisions.WithLabelValues(e.Outcome.String(), e.Mode, e.Requested.Type).Inc()
		m.latency.WithLabelValues(e.Outcome.String()).Observe(e.Latency.Seconds())
	})
}

// DualWrites is the dualwrite.Hook that counts dual-write steps.
func (m *Metrics) DualWrites() dualwrite.Hook {
	return dualwrite.HookFunc(func(_ context.Context, e dualwrite.Event) {
		m.dualWrite.WithLabelValues(e.Kind.String(), e.Resource.Type).Inc()
	})
}

const schema = `
definition user {}
definition task {
	relation owner: user
	relation viewer: user
	permission read = owner + viewer
	permission cancel = owner
}
`

func main() {
	addr := flag.String("addr", "127.0.0.1:9464", "where to serve /metrics")
	printOnce := flag.Bool("print", false, "print the metrics once and exit instead of serving them")
	flag.Parse()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	if err := exercise(context.Background(), m); err != nil {
		log.Fatal(err)
	}
	if *printOnce {
		families, err := reg.Gather()
		if err != nil {
			log.Fatal(err)
		}
		for _, f := range families {
			if strings.HasPrefix(f.GetName(), "fgac_") {
				expfmt.MetricFamilyToText(os.Stdout, f)
			}
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv := &http.Server{Addr: *addr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	fmt.Printf("serving metrics on http://%s/metrics\n", *addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// exercise produces a few decisions and dual writes of every kind.
func exercise(ctx context.Context, m *Metrics) error {
	engine, err := memadapter.New(schema)
	if err != nil {
		return err
	}
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpCancel: "cancel"},
	})
	if err != nil {
		return err
	}
	w := dualwrite.Writer{Registrar: engine, Hook: m.DualWrites()}
	alice := authz.Subject{Type: "user", ID: "alice"}
	var tok authz.Token
	for i, fail := range []bool{false, false, true} {
		req := dualwrite.CreateRequest{
			Register: authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("t%d", i)}, Owner: alice},
			Persist: func(context.Context) error {
				if fail {
					return errors.New("unique constraint violated")
				}
				return nil
			},
		}
		if t, err := w.Create(ctx, req); err == nil {
			tok = t
		}
	}
	e := enforce.Enforcer{Guard: authz.NewGuard(engine, ops), Hook: m.Decisions()}
	for _, q := range []enforce.Request{
		{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t0"}, Operation: authz.OpRead},
		{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t2"}, Operation: authz.OpRead},
		{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpCancel},
	} {
		q.Consistency = authz.AtLeastAsFresh(tok)
		e.Authorize(ctx, q)
	}
	return nil
}
