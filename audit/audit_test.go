package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/testfixture"
)

// TestOutcomeString: every outcome has its snake_case name, and every
// other value, the zero value included, reads "unknown" rather than
// passing for an outcome.
func TestOutcomeString(t *testing.T) {
	want := map[audit.Outcome]string{
		audit.Allowed: "allowed", audit.Denied: "denied", audit.NotFound: "not_found", audit.Bypassed: "bypassed",
		audit.ShadowDenied: "shadow_denied", audit.Error: "error", audit.Unchecked: "unchecked",
	}
	for v := range 256 {
		o := audit.Outcome(v)
		w, ok := want[o]
		if !ok {
			w = "unknown"
		}
		if got := o.String(); got != w {
			t.Errorf("Outcome(%d).String() = %q, want %q", v, got, w)
		}
	}
}

// records is a slog.Handler that keeps every record it handles.
type records struct {
	level slog.Level // the lowest level enabled

	mu  sync.Mutex // guards got
	got []slog.Record
}

func (h *records) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.got = append(h.got, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h *records) WithAttrs([]slog.Attr) slog.Handler { panic("not used by audit.Slog") }
func (h *records) WithGroup(string) slog.Handler      { panic("not used by audit.Slog") }

// take returns the records handled since the last take and forgets them.
func (h *records) take() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got
	h.got = nil
	return got
}

// attrs returns a record's attributes as strings.
func attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	return m
}

// TestSlogLevels: allowed, bypassed and unchecked decisions are logged at
// Level, every other outcome (an unknown one included, so that it is
// noticed) at Level+4; a level the logger does not enable logs nothing.
func TestSlogLevels(t *testing.T) {
	quiet := map[audit.Outcome]bool{audit.Allowed: true, audit.Bypassed: true, audit.Unchecked: true}
	for _, base := range []slog.Level{slog.LevelInfo, slog.LevelDebug, slog.LevelError} {
		h := &records{level: slog.LevelDebug}
		s := audit.Slog{Logger: slog.New(h), Level: base}
		for v := range 10 {
			o := audit.Outcome(v)
			s.Observe(context.Background(), audit.Event{Outcome: o})
			got := h.take()
			if len(got) != 1 {
				t.Fatalf("level %s, %s: %d records, want 1", base, o, len(got))
			}
			want := base + 4
			if quiet[o] {
				want = base
			}
			if got[0].Level != want {
				t.Errorf("level %s, %s (%d): logged at %s, want %s", base, o, v, got[0].Level, want)
			}
			if got[0].Message != "fgac decision" {
				t.Errorf("message %q", got[0].Message)
			}
		}
	}
	// A logger at Warn drops the Info records and keeps the Warn ones.
	h := &records{level: slog.LevelWarn}
	s := audit.Slog{Logger: slog.New(h)}
	for _, o := range []audit.Outcome{audit.Allowed, audit.Bypassed, audit.Unchecked, audit.Denied, audit.NotFound, audit.ShadowDenied, audit.Error} {
		s.Observe(context.Background(), audit.Event{Outcome: o})
	}
	var kept []string
	for _, r := range h.take() {
		kept = append(kept, attrs(r)["outcome"])
	}
	if diff := cmp.Diff([]string{"denied", "not_found", "shadow_denied", "error"}, kept); diff != "" {
		t.Errorf("records kept at Warn mismatch (-want +got):\n%s", diff)
	}
}

// TestSlogAttributes: a record carries every field of its event under a
// fixed key, each optional one (checked, route, bypass, error) only when
// it says something.
func TestSlogAttributes(t *testing.T) {
	base := audit.Event{
		Subject:     authz.Subject{Type: "user", ID: "alice"},
		Requested:   authz.Resource{Type: "message", ID: "m1"},
		Checked:     authz.Resource{Type: "task", ID: "t1"},
		Operation:   authz.OpCancel,
		Route:       "POST /messages/{message_id}/cancel",
		Outcome:     audit.Allowed,
		Mode:        "shadow",
		Latency:     1500 * time.Microsecond,
		Consistency: authz.AtLeastAsFreshMode,
	}
	always := map[string]string{
		"outcome": "allowed", "mode": "shadow", "subject": "user:alice", "resource": "message:m1",
		"operation": "cancel", "latency": "1.5ms", "consistency": "at_least_as_fresh",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range always {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		change func(*audit.Event)
		want   map[string]string
	}{
		{"every field", func(*audit.Event) {}, with(map[string]string{"checked": "task:t1", "route": "POST /messages/{message_id}/cancel"})},
		{"checked is the requested resource", func(e *audit.Event) { e.Checked = e.Requested }, with(map[string]string{"route": "POST /messages/{message_id}/cancel"})},
		{"nothing checked, no route", func(e *audit.Event) { e.Checked, e.Route = authz.Resource{}, "" }, with(nil)},
		{
			"bypassed",
			func(e *audit.Event) {
				e.Outcome, e.Bypass, e.Checked, e.Route = audit.Bypassed, authz.Subject{Type: "service", ID: "cron"}, authz.Resource{}, ""
			},
			with(map[string]string{"outcome": "bypassed", "bypass": "service:cron"}),
		},
		{
			"a bypass identity on another outcome is not logged",
			func(e *audit.Event) {
				e.Bypass, e.Checked, e.Route = authz.Subject{Type: "service", ID: "cron"}, authz.Resource{}, ""
			},
			with(nil),
		},
		{
			"error",
			func(e *audit.Event) {
				e.Outcome, e.Err, e.Checked, e.Route = audit.Error, fmt.Errorf("enforce: %w: Enforcer.Rows panicked", authz.ErrInternal), authz.Resource{}, ""
			},
			with(map[string]string{"outcome": "error", "error": "enforce: authz: internal error: Enforcer.Rows panicked"}),
		},
		{
			"malformed input: requested without an id",
			func(e *audit.Event) {
				e.Outcome, e.Requested, e.Checked, e.Route = audit.NotFound, authz.Resource{Type: "task"}, authz.Resource{}, ""
			},
			with(map[string]string{"outcome": "not_found", "resource": "task:"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &records{level: slog.LevelDebug}
			e := base
			tc.change(&e)
			audit.Slog{Logger: slog.New(h)}.Observe(context.Background(), e)
			got := h.take()
			if len(got) != 1 {
				t.Fatalf("%d records, want 1", len(got))
			}
			if diff := cmp.Diff(tc.want, attrs(got[0])); diff != "" {
				t.Errorf("attributes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// principalKey is where the service's authentication keeps its principal.
type principalKey struct{}

// TestSlogRevealsNothingMore: a decision made through an Enforcer is
// logged with the subject as type:id and nothing else of the principal,
// no consistency token, and no part of a malformed id (the requested
// resource is logged without it).
func TestSlogRevealsNothingMore(t *testing.T) {
	const (
		secret    = "Bearer eyJhbGciOi-SECRET"
		zedToken  = "GhUKEzE3MzI4NjQ5-ZEDTOKEN"
		malformed = "t1' OR '1'='1"
	)
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	var out bytes.Buffer
	e := &enforce.Enforcer{Guard: r.Guard, Hook: audit.Slog{Logger: slog.New(slog.NewTextHandler(&out, nil))}}
	ctx := context.WithValue(context.Background(), principalKey{}, map[string]string{"user": "alice", "authorization": secret, "email": "alice@example.com"})
	c := authz.AtLeastAsFresh(authz.NewToken(zedToken))
	for _, id := range []string{"t1", "t2", malformed} {
		e.Authorize(ctx, enforce.Request{Subject: testfixture.User("alice"), Resource: testfixture.Task(id), Operation: authz.OpCancel, Consistency: c})
	}
	log := out.String()
	if n := strings.Count(log, "fgac decision"); n != 3 {
		t.Fatalf("%d records, want 3:\n%s", n, log)
	}
	for _, leak := range []string{secret, "SECRET", zedToken, "ZEDTOKEN", "example.com", "OR '1'", malformed} {
		if strings.Contains(log, leak) {
			t.Errorf("log contains %q:\n%s", leak, log)
		}
	}
	for _, want := range []string{"subject=user:alice resource=task:t1 ", "subject=user:alice resource=task:t2 ", "subject=user:alice resource=task: ", "consistency=at_least_as_fresh"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestSlogZeroValueLogsToDefault: the zero Slog writes to slog.Default.
func TestSlogZeroValueLogsToDefault(t *testing.T) {
	h := &records{level: slog.LevelInfo}
	prev := slog.Default()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(prev) })
	audit.Slog{}.Observe(context.Background(), audit.Event{Outcome: audit.Denied, Mode: "enforce"})
	got := h.take()
	if len(got) != 1 || got[0].Level != slog.LevelWarn || attrs(got[0])["outcome"] != "denied" {
		t.Errorf("records %v, want one denied at Warn", got)
	}
}

// TestMulti: every hook gets every event, in the order given, with the
// context it was observed under; nil hooks are left out, and Multi of no
// hook observes nothing.
func TestMulti(t *testing.T) {
	type key struct{}
	var calls []string
	hook := func(name string) audit.Hook {
		return audit.HookFunc(func(ctx context.Context, e audit.Event) {
			calls = append(calls, fmt.Sprintf("%s %s %v", name, e.Outcome, ctx.Value(key{})))
		})
	}
	m := audit.Multi(hook("a"), nil, hook("b"), audit.Multi(hook("c"), hook("d")), hook("e"))
	ctx := context.WithValue(context.Background(), key{}, "req-1")
	m.Observe(ctx, audit.Event{Outcome: audit.Denied})
	m.Observe(ctx, audit.Event{Outcome: audit.Allowed})
	want := []string{
		"a denied req-1", "b denied req-1", "c denied req-1", "d denied req-1", "e denied req-1",
		"a allowed req-1", "b allowed req-1", "c allowed req-1", "d allowed req-1", "e allowed req-1",
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	audit.Multi().Observe(ctx, audit.Event{})
	audit.Multi(nil, nil).Observe(ctx, audit.Event{})
}

// TestHookFunc: a HookFunc receives the context and the event unchanged.
func TestHookFunc(t *testing.T) {
	type key struct{}
	want := audit.Event{
		Subject: testfixture.User("alice"), Requested: testfixture.Task("t1"), Checked: testfixture.Task("t1"),
		Operation: authz.OpRead, Route: "GET /tasks/{task_id}", Outcome: audit.Error, Mode: "enforce",
		Latency: time.Millisecond, Consistency: authz.FullyConsistentMode, Err: authz.ErrUnavailable,
	}
	var got audit.Event
	var gotCtx any
	var h audit.Hook = audit.HookFunc(func(ctx context.Context, e audit.Event) { got, gotCtx = e, ctx.Value(key{}) })
	h.Observe(context.WithValue(context.Background(), key{}, 42), want)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
		t.Errorf("event mismatch (-want +got):\n%s", diff)
	}
	if gotCtx != 42 {
		t.Errorf("context value %v, want 42", gotCtx)
	}
}
