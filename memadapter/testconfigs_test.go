package memadapter_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/memadapter"
)

// TestSpiceDBValidationFiles runs every validation file of the pinned
// SpiceDB's own integration suite, read from the module cache, on
// memadapter.
func TestSpiceDBValidationFiles(t *testing.T) {
	files := spicedbtest.TestConfigs(t)
	var assertions, expected atomic.Int64
	t.Run("files", func(t *testing.T) {
		for _, path := range files {
			t.Run(filepath.Base(path), func(t *testing.T) {
				t.Parallel()
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				n := authztest.RunValidationFile(t, data, func(t *testing.T, schema string) authz.Authorizer {
					a, err := memadapter.New(schema)
					if err != nil {
						t.Fatal(err)
					}
					return a
				})
				assertions.Add(int64(n.Assertions))
				expected.Add(int64(n.Expected))
			})
		}
	})
	t.Logf("%d validation files, %d assertions, %d expected subjects", len(files), assertions.Load(), expected.Load())
}
