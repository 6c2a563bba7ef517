package authztest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/memadapter"
)

const validationFile = `---
schema: |+
  use expiration

  caveat has_tags(tags map<list<string>>, want string) {
    want in tags["k"]
  }

  definition user {}

  definition document {
    relation viewer: user | user:* | user with has_tags | user with expiration
    relation banned: user
    permission view = viewer - banned
  }

relationships: >-
  document:d1#viewer@user:*

  document:d1#banned@user:mallory

  document:d2#viewer@user:tom[has_tags:{"tags":{"k":["a","b]"]}}]

  document:d3#viewer@user:ann[expiration:2001-01-01T00:00:00Z]
assertions:
  assertTrue:
    - 'document:d2#view@user:tom with {"want": "b]"}'
    - "document:d1#view@user:anyone"
  assertFalse:
    - 'document:d2#view@user:tom with {"want": "c"}'
    - "document:d3#view@user:ann"
  assertCaveated:
    - "document:d2#view@user:tom"
validation:
  document:d1#view:
    - "[user:* - {user:mallory}] is <document:d1#viewer>"
  document:d2#view:
    - "[user:tom[...]] is <document:d2#viewer>"
`

func TestParseValidationFile(t *testing.T) {
	t.Parallel()
	f, err := authztest.ParseValidationFile([]byte(validationFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Relationships) != 4 || len(f.Assertions) != 5 || len(f.Expected) != 2 {
		t.Fatalf("parsed %d relationships, %d assertions, %d expected; want 4, 5, 2", len(f.Relationships), len(f.Assertions), len(f.Expected))
	}
	tom := f.Relationships[2]
	if tom.Caveat.Name != "has_tags" || tom.Caveat.Context.String() != `{"tags":{"k":["a","b]"]}}` {
		t.Errorf("caveated relationship = %s%s", tom, tom.Conditions())
	}
	if ann := f.Relationships[3]; !ann.Expiration.Equal(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expiring relationship = %s%s", ann, ann.Conditions())
	}
	if !f.Relationships[0].Subject.IsWildcard() {
		t.Errorf("user:* did not parse as a wildcard")
	}
	exp := f.Expected[0]
	if !exp.Subject.IsWildcard() || len(exp.Excluded) != 1 || exp.Excluded[0] != (authz.Subject{Type: "user", ID: "mallory"}) {
		t.Errorf("expected wildcard entry = %+v", exp)
	}
	if !f.Expected[1].Conditional {
		t.Errorf("[user:tom[...]] is not conditional")
	}
	var wants []string
	for _, a := range f.Assertions {
		wants = append(wants, a.Want)
	}
	if diff := cmp.Diff([]string{"allowed", "allowed", "denied", "denied", "conditional"}, wants); diff != "" {
		t.Errorf("assertion kinds mismatch (-want +got):\n%s", diff)
	}
}

func TestRunValidationFileOnMemadapter(t *testing.T) {
	t.Parallel()
	n := authztest.RunValidationFile(t, []byte(validationFile), func(t *testing.T, schema string) authz.Authorizer {
		a, err := memadapter.New(schema)
		if err != nil {
			t.Fatal(err)
		}
		return a
	})
	if n.Assertions != 5 || n.Expected != 2 {
		t.Errorf("counts = %s", n)
	}
}

// TestParseValidationFileReadsWildcardsAsSpiceDB checks that an expected
// wildcard is read as SpiceDB v1.56.2 reads it
// (vsSubjectWithExceptionsOrCaveatRegex): the caveat mark before the
// exclusions, each exclusion with its own mark.
func TestParseValidationFileReadsWildcardsAsSpiceDB(t *testing.T) {
	t.Parallel()
	kim, lee := authz.Subject{Type: "user", ID: "kim"}, authz.Subject{Type: "user", ID: "lee"}
	for _, tt := range []struct {
		text        string
		conditional bool
		excluded    []authz.Subject
		caveated    []authz.Subject
	}{
		{"[user:*[...] - {user:kim}] is <doc:x#viewer>", true, []authz.Subject{kim}, nil},
		{"[user:* - {user:kim[...]}] is <doc:x#viewer>", false, []authz.Subject{kim}, []authz.Subject{kim}},
		{"[user:*[...] - {user:kim, user:lee[...]}] is <doc:x#viewer>", true, []authz.Subject{kim, lee}, []authz.Subject{lee}},
		{"[user:*   -   {user:kim}]", false, []authz.Subject{kim}, nil},
	} {
		f, err := authztest.ParseValidationFile([]byte("schema: x\nvalidation:\n  doc:x#read:\n    - '" + tt.text + "'\n"))
		if err != nil {
			t.Errorf("%s: %v", tt.text, err)
			continue
		}
		exp := f.Expected[0]
		if !exp.Subject.IsWildcard() || exp.Conditional != tt.conditional {
			t.Errorf("%s: subject %s, conditional %t; want user:*, %t", tt.text, exp.Subject, exp.Conditional, tt.conditional)
		}
		if diff := cmp.Diff(tt.excluded, exp.Excluded); diff != "" {
			t.Errorf("%s: excluded mismatch (-want +got):\n%s", tt.text, diff)
		}
		if diff := cmp.Diff(tt.caveated, exp.ConditionallyExcluded); diff != "" {
			t.Errorf("%s: conditionally excluded mismatch (-want +got):\n%s", tt.text, diff)
		}
	}
}

func TestParseValidationFileRejectsMalformedEntries(t *testing.T) {
	t.Parallel()
	for name, file := range map[string]string{
		"unknown assertion kind":  "schema: x\nassertions:\n  assertMaybe:\n    - \"a:b#c@d:e\"\n",
		"relationship without @":  "schema: x\nrelationships: a:b#c\n",
		"malformed caveat json":   "schema: x\nrelationships: 'a:b#c@d:e[cav:{nope}]'\n",
		"malformed expiration":    "schema: x\nrelationships: 'a:b#c@d:e[expiration:tomorrow]'\n",
		"unterminated bracket":    "schema: x\nrelationships: 'a:b#c@d:e[cav'\n",
		"malformed context":       "schema: x\nassertions:\n  assertTrue:\n    - 'a:b#c@d:e with {'\n",
		"expected without braces": "schema: x\nvalidation:\n  a:b#c:\n    - 'user:tom'\n",
		// SpiceDB reads the caveat mark only before the exclusions.
		"caveat mark after exclusions": "schema: x\nvalidation:\n  a:b#c:\n    - '[user:* - {user:kim}[...]]'\n",
		"exclusions without braces":    "schema: x\nvalidation:\n  a:b#c:\n    - '[user:* - user:kim]'\n",
		"space in the subject":         "schema: x\nvalidation:\n  a:b#c:\n    - '[user: tom]'\n",
	} {
		if _, err := authztest.ParseValidationFile([]byte(file)); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("%s: ParseValidationFile = %v, want ErrInvalidRequest", name, err)
		}
	}
}
