package authztest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// recorder is a testing.TB that records the failures it is told of.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

// TestRunValidationFileReportsAnIncompleteSection runs
// testdata/omitted.yaml, whose validation section leaves out a subject
// that holds a permission and a wildcard's exclusion (zed validate reports
// both), conditional_unlisted.yaml, which leaves out a caveated subject,
// wrong_path.yaml, whose `is <...>` names a relation that does not hold
// the subject, wildcard_exclusions_wrong.yaml, whose wildcards list the
// wrong exclusions (a caveated one told from another), and
// self_wrong_path.yaml, which lists a path self does not grant, and
// no_path.yaml, which lists subjects without a path, and
// checks that the runner reports exactly those, while the complete files
// pass.
func TestRunValidationFileReportsAnIncompleteSection(t *testing.T) {
	t.Parallel()
	newMem := func(schema string) authz.Authorizer {
		a, err := memadapter.New(schema)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		file string
		want []string
	}{
		{"complete.yaml", nil},
		{"omitted.yaml", []string{
			`validation document:d2#view: [user:*] is <document:d2#viewer>: the wildcard excludes [user:eve], not []`,
			"validation document:d1#view: group:ops#member has the permission but is not listed",
		}},
		{"conditional.yaml", nil},
		// zed validate: "missing expected subject `user:carol`".
		{"conditional_unlisted.yaml", []string{
			"validation doc:d#read: user:carol has the permission conditionally (missing [ok]) but is not listed as [user:carol[...]]",
		}},
		// zed validate: "found different relationships for subject
		// `user:bob`: Specified: `<doc:zzz#banned>`, Computed:
		// `<doc:d#viewer>`".
		{"wrong_path.yaml", []string{
			"validation doc:d#read: [user:bob] is <doc:zzz#banned>: <doc:zzz#banned> does not hold user:bob directly: no such relationship",
		}},
		{"wildcard_exclusions.yaml", nil},
		// zed validate: "found different relationships for subject
		// `org:o`: Specified: ``, Computed: `<org:o#view>`", and for
		// `user:gil`.
		{"no_path.yaml", []string{
			"validation org:o#view: [org:o]: no path: zed validate wants `is <object#relation>`",
			"validation org:o#view: [user:gil]: no path: zed validate wants `is <object#relation>`",
		}},
		// zed validate: "found different excluded subjects for subject
		// `user:*`: Specified: `<user:bob>`, Computed: `<user:kim>`", and
		// so on for each key.
		{"wildcard_exclusions_wrong.yaml", []string{
			"validation doc:x1#read: [user:*[...]] is <doc:x1#viewer>: the wildcard excludes [user:kim], not []",
			"validation doc:x2#read: [user:*[...] - {user:bob}] is <doc:x2#viewer>: the wildcard excludes [user:kim], not [user:bob]",
			"validation doc:x3#read: [user:*[...] - {user:kim[...]}] is <doc:x3#viewer>: the wildcard excludes [user:kim], not [user:kim[...]]",
			"validation doc:z1#read: [user:*] is <doc:z1#viewer>: the wildcard excludes [user:kim[...]], not []",
			"validation doc:z2#read: [user:* - {user:kim}] is <doc:z2#viewer>: the wildcard excludes [user:kim[...]], not [user:kim]",
			"validation doc:z3#read: [user:* - {user:kim[...], user:bob}] is <doc:z3#viewer>: the wildcard excludes [user:kim[...]], not [user:bob user:kim[...]]",
		}},
		// zed validate: "found different relationships for subject
		// `org:o`: Specified: `<org:o#member>`, Computed: `<org:o#view>`",
		// and for `team:t`: Specified: `<team:t#view>`, Computed:
		// `<team:t#edit>`.
		{"self_wrong_path.yaml", []string{
			"validation org:o#view: [org:o] is <org:o#member>: <org:o#member> does not hold org:o: its expression has no self, and no such relationship",
			"validation team:t#view: [team:t] is <team:t#view>: <team:t#view> does not hold team:t: its expression has no self, and no such relationship",
		}},
	} {
		data, err := os.ReadFile("testdata/" + tt.file)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{TB: t}
		n := runValidationFile(rec, data, newMem)
		if diff := cmp.Diff(tt.want, rec.errs); diff != "" {
			t.Errorf("%s: failures mismatch (-want +got):\n%s", tt.file, diff)
		}
		if n.SubjectLookups == 0 {
			t.Errorf("%s: no subject lookup: %s", tt.file, n)
		}
	}
}

// noSubjects is an authorizer without subject lookup.
type noSubjects struct{ authz.Authorizer }

// TestRunValidationFileNeedsSubjectLookup checks that a file with a
// validation section is not passed on an engine that cannot check it for
// completeness.
func TestRunValidationFileNeedsSubjectLookup(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/complete.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	runValidationFile(rec, data, func(schema string) authz.Authorizer {
		a, err := memadapter.New(schema)
		if err != nil {
			t.Fatal(err)
		}
		return noSubjects{a}
	})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "has no LookupSubjects") {
		t.Errorf("failures = %q, want one saying the engine has no LookupSubjects", rec.errs)
	}
}
