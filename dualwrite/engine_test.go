package dualwrite

import (
	"testing"

	"github.com/fgac-go/fgac/internal/testfixture"
)

// newTestEngine returns the engine the tests run against: memadapter on
// the shared agent/task schema (tasks owned by users, with an agent parent
// whose readers may read them).
func newTestEngine(t testing.TB) engine {
	t.Helper()
	return testfixture.Engine(t)
}
