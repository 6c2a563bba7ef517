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
	var assertions, expected, lookups atomic.Int64
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
				lookups.Add(int64(n.SubjectLookups))
			})
		}
	})
	t.Logf("%d validation files, %d assertions, %d expected subjects, %d subject lookups", len(files), assertions.Load(), expected.Load(), lookups.Load())
}

// TestCompleteValidationFile runs authztest's complete validation file
// (zed validate passes it) on memadapter, the durable engine included.
func TestCompleteValidationFile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../authz/authztest/testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(t *testing.T, schema string) authz.Authorizer{
		"memory": func(t *testing.T, schema string) authz.Authorizer {
			a, err := memadapter.New(schema)
			if err != nil {
				t.Fatal(err)
			}
			return a
		},
		"durable": func(t *testing.T, schema string) authz.Authorizer {
			a, err := memadapter.Open(filepath.Join(t.TempDir(), "v.db"), schema, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			return a
		},
	} {
		t.Run(name, func(t *testing.T) {
			if n := authztest.RunValidationFile(t, data, open); n.SubjectLookups == 0 || n.Expected == 0 {
				t.Errorf("counts = %s", n)
			}
		})
	}
}
