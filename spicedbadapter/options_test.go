package spicedbadapter

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConfigZeroValuesAreTheDefaults: a nil and a zero Config give every
// default; values beyond SpiceDB's limits are held to them; nonsense
// (negative numbers, a limit below the base) never disables anything.
func TestConfigZeroValuesAreTheDefaults(t *testing.T) {
	defaults := options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffMax, minAttempt: DefaultMinAttemptTimeout}, pageSize: DefaultPageSize}
	for _, tc := range []struct {
		name string
		cfg  *Config
		want options
	}{
		{"nil", nil, defaults},
		{"zero", &Config{}, defaults},
		{"negative", &Config{BulkChunkSize: -1, MaxAttempts: -1, BackoffBase: -time.Second, BackoffMax: -time.Second, PageSize: -1, MinAttemptTimeout: -time.Second},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: 1, base: DefaultBackoffBase, max: DefaultBackoffMax, minAttempt: DefaultMinAttemptTimeout}, pageSize: DefaultPageSize}},
		{"beyond SpiceDB's limits", &Config{BulkChunkSize: 1 << 40, PageSize: 1 << 40},
			options{chunk: maxBulkItems, retry: defaults.retry, pageSize: maxPageSize}},
		{"limit below base", &Config{BackoffBase: time.Second, BackoffMax: time.Millisecond},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: time.Second, max: time.Second, minAttempt: DefaultMinAttemptTimeout}, pageSize: DefaultPageSize}},
		{"only a limit", &Config{BackoffMax: time.Millisecond},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffBase, minAttempt: DefaultMinAttemptTimeout}, pageSize: DefaultPageSize}},
		{"set", &Config{BulkChunkSize: 7, MaxAttempts: 5, BackoffBase: time.Millisecond, BackoffMax: time.Second, PageSize: 9, UnverifiedLookups: true, MinAttemptTimeout: 3 * time.Second},
			options{chunk: 7, retry: retryPolicy{attempts: 5, base: time.Millisecond, max: time.Second, minAttempt: 3 * time.Second}, pageSize: 9, noVerify: true}},
	} {
		if diff := cmp.Diff(tc.want, tc.cfg.resolve(), cmp.AllowUnexported(options{}, retryPolicy{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestReadAttemptsGetAShareOfTheDeadline: each read attempt but the last
// gets the time left divided by the attempts left, at least the floor; the last, every write
// attempt and every attempt without a deadline get all of it.
func TestReadAttemptsGetAShareOfTheDeadline(t *testing.T) {
	p := (*Config)(nil).resolve().retry
	withDeadline := func(d time.Duration) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		kind    callKind
		attempt int
		limited bool
		least   time.Duration // the timeout is within (least-100ms, least]
	}{
		{"read, first of 3, 6s left", withDeadline(6 * time.Second), readCall, 1, true, 2 * time.Second},
		{"read, second of 3, 6s left", withDeadline(6 * time.Second), readCall, 2, true, 3 * time.Second},
		{"read, first of 3, 1.5s left: the floor", withDeadline(1500 * time.Millisecond), readCall, 1, true, time.Second},
		{"read, less than the floor left", withDeadline(800 * time.Millisecond), readCall, 1, false, 0},
		{"read, the last attempt", withDeadline(5 * time.Second), readCall, 3, false, 0},
		{"read without a deadline", context.Background(), readCall, 1, false, 0},
		{"write", withDeadline(5 * time.Second), writeCall, 1, false, 0},
	} {
		d, limited := p.attemptTimeout(tc.ctx, tc.kind, tc.attempt)
		if limited != tc.limited || limited && (d > tc.least || d <= tc.least-100*time.Millisecond) {
			t.Errorf("%s: attemptTimeout = %v, %v; want %v, about %v", tc.name, d, limited, tc.limited, tc.least)
		}
	}
}
