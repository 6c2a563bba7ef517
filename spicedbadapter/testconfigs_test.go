package spicedbadapter_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestSpiceDBValidationFiles runs every validation file of the pinned
// SpiceDB's own integration suite, read from the module cache, through the
// adapter against the real server: the runner agrees with SpiceDB on
// SpiceDB's own corpus, as memadapter's test of the same files requires of
// memadapter.
func TestSpiceDBValidationFiles(t *testing.T) {
	files := spicedbtest.TestConfigs(t)
	var assertions atomic.Int64
	t.Run("files", func(t *testing.T) {
		for _, path := range files {
			t.Run(filepath.Base(path), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				n := authztest.RunValidationFile(t, data, func(t *testing.T, schema string) authz.Authorizer {
					return newAdapter(t, schema)
				})
				assertions.Add(int64(n.Assertions))
			})
		}
	})
	t.Logf("%d validation files, %d assertions", len(files), assertions.Load())
}

// TestCompleteValidationFile runs authztest's complete validation file
// (users, nested groups, a wildcard with an exclusion, self, a caveat, an
// expired relationship; zed validate passes it) through the adapter: the
// runner's completeness check, which uses subject lookup, agrees with the
// real server.
func TestCompleteValidationFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../authz/authztest/testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := authztest.RunValidationFile(t, data, func(t *testing.T, schema string) authz.Authorizer {
		return newAdapter(t, schema)
	})
	if n.SubjectLookups == 0 || n.Expected == 0 {
		t.Errorf("counts = %s", n)
	}
	t.Log(n)
}
