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
