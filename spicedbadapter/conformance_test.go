package spicedbadapter_test

import (
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

// newAdapter returns an adapter over a fresh, empty SpiceDB datastore that
// holds schema.
func newAdapter(t testing.TB, schema string, cfg ...spicedbadapter.Config) *spicedbadapter.Adapter {
	t.Helper()
	c := spicedbtest.Client(t)
	if _, err := spicedbadapter.WriteSchema(t.Context(), c, schema); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	var conf *spicedbadapter.Config
	if len(cfg) > 0 {
		conf = &cfg[0]
	}
	return spicedbadapter.New(c, conf)
}

func TestConformance(t *testing.T) {
	authztest.Run(t, func(t *testing.T, schema string) authz.Authorizer {
		return newAdapter(t, schema)
	})
}
