package grpcauthz_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestMain runs the tests with a real SpiceDB at hand (spicedbtest) and
// then checks that no goroutine outlives them: the interceptors start
// none, and the tests' servers and clients stop theirs.
func TestMain(m *testing.M) {
	code := spicedbtest.Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
