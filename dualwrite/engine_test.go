package dualwrite

import (
	"testing"

	"github.com/fgac-go/fgac/memadapter"
)

// testSchema is the schema of the tests: tasks owned by users, with an
// agent parent whose readers may read them.
const testSchema = `
definition user {}

definition agent {
	relation owner: user
	permission read = owner
}

definition task {
	relation owner: user
	relation parent: agent
	relation viewer: user
	permission read = owner + viewer + parent->read
}
`

// newTestEngine returns the engine the tests run against: memadapter.
func newTestEngine(t testing.TB) engine {
	t.Helper()
	a, err := memadapter.New(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
