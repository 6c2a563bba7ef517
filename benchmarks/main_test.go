package benchmarks

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestMain runs one SpiceDB for the SpiceDB benchmarks (started only if
// one of them runs) and checks, once it is stopped, that no goroutine was
// left behind.
func TestMain(m *testing.M) {
	code := spicedbtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
