package authztest_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz/authztest"
)

// TestCasesAreWellFormed keeps the suite readable: every case has a unique
// name, a one-sentence rule and a schema.
func TestCasesAreWellFormed(t *testing.T) {
	cases := authztest.Cases()
	if len(cases) < 70 {
		t.Errorf("the suite has %d cases, want at least 70", len(cases))
	}
	name := regexp.MustCompile(`^[a-z-]+/[a-z0-9-]+$`)
	seen := map[string]bool{}
	for _, c := range cases {
		if !name.MatchString(c.Name) {
			t.Errorf("case name %q is not area/what", c.Name)
		}
		if seen[c.Name] {
			t.Errorf("case name %q is used twice", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasSuffix(c.Rule, ".") || strings.Contains(c.Rule, ". ") {
			t.Errorf("case %s: rule %q is not one sentence", c.Name, c.Rule)
		}
		if !strings.Contains(c.Schema, "definition ") {
			t.Errorf("case %s has no schema", c.Name)
		}
	}
}

// TestCasesAreFresh checks that Cases returns a new slice each time, so a
// caller cannot change the suite.
func TestCasesAreFresh(t *testing.T) {
	a := authztest.Cases()
	a[0].Name = "changed"
	if b := authztest.Cases(); b[0].Name == "changed" {
		t.Error("Cases returned a shared slice")
	}
}
