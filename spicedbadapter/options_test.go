package spicedbadapter

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestConfigZeroValuesAreTheDefaults: a nil and a zero Config give every
// default; values beyond SpiceDB's limits are held to them; nonsense
// (negative numbers, a limit below the base) never disables anything.
func TestConfigZeroValuesAreTheDefaults(t *testing.T) {
	defaults := options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffMax}, pageSize: DefaultPageSize}
	for _, tc := range []struct {
		name string
		cfg  *Config
		want options
	}{
		{"nil", nil, defaults},
		{"zero", &Config{}, defaults},
		{"negative", &Config{BulkChunkSize: -1, MaxAttempts: -1, BackoffBase: -time.Second, BackoffMax: -time.Second, PageSize: -1},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: 1, base: DefaultBackoffBase, max: DefaultBackoffMax}, pageSize: DefaultPageSize}},
		{"beyond SpiceDB's limits", &Config{BulkChunkSize: 1 << 40, PageSize: 1 << 40},
			options{chunk: maxBulkItems, retry: defaults.retry, pageSize: maxPageSize}},
		{"limit below base", &Config{BackoffBase: time.Second, BackoffMax: time.Millisecond},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: time.Second, max: time.Second}, pageSize: DefaultPageSize}},
		{"only a limit", &Config{BackoffMax: time.Millisecond},
			options{chunk: DefaultBulkChunkSize, retry: retryPolicy{attempts: DefaultMaxAttempts, base: DefaultBackoffBase, max: DefaultBackoffBase}, pageSize: DefaultPageSize}},
		{"set", &Config{BulkChunkSize: 7, MaxAttempts: 5, BackoffBase: time.Millisecond, BackoffMax: time.Second, PageSize: 9, UnverifiedLookups: true},
			options{chunk: 7, retry: retryPolicy{attempts: 5, base: time.Millisecond, max: time.Second}, pageSize: 9, noVerify: true}},
	} {
		if diff := cmp.Diff(tc.want, tc.cfg.resolve(), cmp.AllowUnexported(options{}, retryPolicy{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
