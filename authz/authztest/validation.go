package authztest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// ValidationFile is a SpiceDB validation file, the YAML that `zed
// validate` reads: a schema, relationships (with caveats and expirations),
// assertions, and the expected relations of the validation section. A team
// keeps one such file that both zed and `go test` (through
// [RunValidationFile]) check.
type ValidationFile struct {
	// Schema is the schema text.
	Schema string
	// Relationships are the relationships to write, in file order.
	Relationships []authz.Relationship
	// Assertions are the assertTrue, assertFalse and assertCaveated
	// entries, in file order.
	Assertions []Assertion
	// Expected are the subjects the validation section lists, by
	// "resource#permission", in file order.
	Expected []Expected
	// Validated are the keys of the validation section, an empty one
	// included (it says that no subject has the permission), in the
	// order of Expected.
	Validated []ValidationKey
}

// ValidationKey is a key of the validation section: "document:d#view".
type ValidationKey struct {
	Resource   authz.Resource
	Permission string
}

// Assertion is one entry of a validation file's assertions.
type Assertion struct {
	// Want is "allowed" (assertTrue), "denied" (assertFalse) or
	// "conditional" (assertCaveated): the String of the expected
	// [authz.Decision].
	Want string
	// Check is the question, with the context of `with {...}`.
	Check authz.CheckRequest
	// Text is the entry as written.
	Text string
}

// Expected is one subject of the validation section: `[user:tom] is
// <document:d#viewer>` under "document:d#view".
type Expected struct {
	// Resource and Permission are the key of the section's entry.
	Resource   authz.Resource
	Permission string
	// Subject is the subject listed; a wildcard for [user:*].
	Subject authz.Subject
	// Conditional is set for a subject listed with [...] (caveated).
	Conditional bool
	// Excluded are the subjects a wildcard entry excludes
	// ([user:* - {user:banned}]), those written with [...] included.
	Excluded []authz.Subject
	// ConditionallyExcluded are those of Excluded written with [...]: the
	// wildcard excludes them only under a caveat ([user:* -
	// {user:kim[...]}]).
	ConditionallyExcluded []authz.Subject
	// Paths are the relations written after "is" (<document:d#viewer>,
	// separated by /): those that hold the subject directly.
	Paths []authz.Relationship
	// Text is the entry as written.
	Text string
}

// validationYAML is the file's shape.
type validationYAML struct {
	Schema        string              `yaml:"schema"`
	Relationships string              `yaml:"relationships"`
	Assertions    map[string][]string `yaml:"assertions"`
	Validation    map[string][]string `yaml:"validation"`
}

// ParseValidationFile parses a validation file. Errors name the entry that
// could not be read and match [authz.ErrInvalidRequest].
func ParseValidationFile(data []byte) (*ValidationFile, error) {
	var y validationYAML
	if err := yaml.Unmarshal(data, &y); err != nil {
		return nil, authz.Invalidf("authztest: validation file: %v", err)
	}
	f := &ValidationFile{Schema: y.Schema}
	for _, line := range strings.Split(y.Relationships, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		r, err := parseRelationship(line)
		if err != nil {
			return nil, err
		}
		f.Relationships = append(f.Relationships, r)
	}
	for _, kind := range []struct{ key, want string }{
		{"assertTrue", "allowed"}, {"assertFalse", "denied"}, {"assertCaveated", "conditional"},
	} {
		for _, text := range y.Assertions[kind.key] {
			req, err := parseAssertion(text)
			if err != nil {
				return nil, err
			}
			f.Assertions = append(f.Assertions, Assertion{Want: kind.want, Check: req, Text: text})
		}
	}
	for key := range y.Assertions {
		switch key {
		case "assertTrue", "assertFalse", "assertCaveated":
		default:
			return nil, authz.Invalidf("authztest: validation file: unknown assertion kind %q", key)
		}
	}
	keys := make([]string, 0, len(y.Validation))
	for k := range y.Validation {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		objPerm, err := parseObjectRelation(key)
		if err != nil {
			return nil, err
		}
		for _, text := range y.Validation[key] {
			exp, err := parseExpected(text)
			if err != nil {
				return nil, err
			}
			exp.Resource, exp.Permission = objPerm.Resource, objPerm.Relation
			f.Expected = append(f.Expected, exp)
		}
		f.Validated = append(f.Validated, ValidationKey{Resource: objPerm.Resource, Permission: objPerm.Relation})
	}
	return f, nil
}

// parseRelationship parses
// `res:id#rel@sub:id[#rel][caveat[:{ctx}]][expiration:RFC3339]`.
func parseRelationship(s string) (authz.Relationship, error) {
	body, conds, _ := strings.Cut(s, "[")
	r, err := parseObjectRelation(body)
	if err != nil {
		return authz.Relationship{}, err
	}
	if r.Subject == (authz.Subject{}) {
		return authz.Relationship{}, authz.Invalidf("authztest: relationship %q has no subject", s)
	}
	if conds == "" {
		return r, nil
	}
	rest := "[" + conds
	for rest != "" {
		if rest[0] != '[' {
			return authz.Relationship{}, authz.Invalidf("authztest: relationship %q: cannot read %q", s, rest)
		}
		end := strings.IndexAny(rest, ":]")
		if end < 0 {
			return authz.Relationship{}, authz.Invalidf("authztest: relationship %q: unterminated [", s)
		}
		name, arg := rest[1:end], ""
		if rest[end] == ']' {
			rest = rest[end+1:]
		} else {
			arg, rest, err = bracketArg(rest[end+1:])
			if err != nil {
				return authz.Relationship{}, authz.Invalidf("authztest: relationship %q: %v", s, err)
			}
		}
		if name == "expiration" {
			t, err := time.Parse(time.RFC3339Nano, arg)
			if err != nil {
				return authz.Relationship{}, authz.Invalidf("authztest: relationship %q: malformed expiration", s)
			}
			r.Expiration = t
			continue
		}
		var ctx map[string]any
		if arg != "" {
			if err := json.Unmarshal([]byte(arg), &ctx); err != nil {
				return authz.Relationship{}, authz.Invalidf("authztest: relationship %q: malformed caveat context: %v", s, err)
			}
		}
		r.Caveat = authz.Caveat{Name: name, Context: authz.NewContext(ctx)}
	}
	return r, nil
}

// bracketArg reads the argument of a [name:arg] suffix, up to the closing
// bracket: a JSON object (braces balanced, strings skipped) or plain text.
// It returns the argument and what follows the bracket.
func bracketArg(s string) (arg, rest string, err error) {
	if !strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", fmt.Errorf("unterminated [")
		}
		return s[:end], s[end+1:], nil
	}
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				if i+1 >= len(s) || s[i+1] != ']' {
					return "", "", fmt.Errorf("want ] after the context")
				}
				return s[:i+1], s[i+2:], nil
			}
		}
	}
	return "", "", fmt.Errorf("unterminated context")
}

// parseObjectRelation parses `res:id#rel@sub:id[#rel]`, or `res:id#rel`
// alone (then Subject is zero).
func parseObjectRelation(s string) (authz.Relationship, error) {
	left, subj, hasSubject := strings.Cut(strings.TrimSpace(s), "@")
	obj, rel, ok := strings.Cut(left, "#")
	typ, id, ok2 := strings.Cut(obj, ":")
	if !ok || !ok2 {
		return authz.Relationship{}, authz.Invalidf("authztest: cannot read %q as resource#relation@subject", s)
	}
	r := authz.Relationship{Resource: authz.Resource{Type: typ, ID: id}, Relation: rel}
	if hasSubject {
		sub, err := parseSubject(subj)
		if err != nil {
			return authz.Relationship{}, err
		}
		r.Subject = sub
	}
	return r, nil
}

// parseSubject parses `type:id`, `type:id#rel`, `type:id#...` or
// `type:*`.
func parseSubject(s string) (authz.Subject, error) {
	obj, rel, _ := strings.Cut(strings.TrimSpace(s), "#")
	if rel == "..." {
		rel = ""
	}
	typ, id, ok := strings.Cut(obj, ":")
	if !ok {
		return authz.Subject{}, authz.Invalidf("authztest: cannot read subject %q", s)
	}
	if id == authz.WildcardID && rel == "" {
		return authz.Wildcard(typ), nil
	}
	return authz.Subject{Type: typ, ID: id, Relation: rel}, nil
}

// parseAssertion parses `res:id#perm@sub:id` with an optional
// ` with {json}`.
func parseAssertion(s string) (authz.CheckRequest, error) {
	text, ctxText, hasCtx := strings.Cut(s, " with ")
	r, err := parseObjectRelation(text)
	if err != nil {
		return authz.CheckRequest{}, err
	}
	if r.Subject == (authz.Subject{}) {
		return authz.CheckRequest{}, authz.Invalidf("authztest: assertion %q has no subject", s)
	}
	req := authz.CheckRequest{Subject: r.Subject, Resource: r.Resource, Permission: r.Relation, Consistency: authz.FullyConsistent()}
	if hasCtx {
		var ctx map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(ctxText)), &ctx); err != nil {
			return authz.CheckRequest{}, authz.Invalidf("authztest: assertion %q: malformed context: %v", s, err)
		}
		req.Context = authz.NewContext(ctx)
	}
	return req, nil
}

// expectedRe finds the subject of an expected entry: what lies between the
// first [ and the last ], which is where zed validate reads it.
var expectedRe = regexp.MustCompile(`\[(.*)\]`)

// expectedSubjectRe reads that subject in the grammar zed validate
// accepts: the subject (no ] or space), then [...] if it is caveated,
// then a wildcard's exclusions in braces: `user:*[...] - {user:kim}`. The
// caveat mark comes before the exclusions; zed reports
// `user:* - {user:kim}[...]` as an invalid subject, and so does this.
// Groups: 1 the subject, 2 the caveat mark, 3 the exclusions.
var expectedSubjectRe = regexp.MustCompile(`^([^\]\s]+)(\[\.\.\.\])?(?:\s+-\s+\{([^}]+)\})?$`)

// pathRe matches one `<object#relation>` of an expected entry, anywhere
// in it.
var pathRe = regexp.MustCompile(`<([^>]+)>`)

// parseExpected parses one subject of the validation section as SpiceDB
// v1.56.2 does.
func parseExpected(s string) (Expected, error) {
	m := expectedRe.FindStringSubmatch(s)
	if m == nil {
		return Expected{}, authz.Invalidf("authztest: cannot read expected subject %q", s)
	}
	g := expectedSubjectRe.FindStringSubmatch(strings.TrimSpace(m[1]))
	if g == nil {
		return Expected{}, authz.Invalidf("authztest: cannot read expected subject %q: want [subject], [subject[...]] or [type:*[...] - {excluded[...], ...}]", s)
	}
	exp := Expected{Conditional: g[2] != "", Text: s}
	for _, pm := range pathRe.FindAllStringSubmatch(s, -1) {
		onr, err := parseObjectRelation(pm[1])
		if err != nil {
			return Expected{}, err
		}
		exp.Paths = append(exp.Paths, onr)
	}
	sub, err := parseSubject(g[1])
	if err != nil {
		return Expected{}, err
	}
	exp.Subject = sub
	if excluded := strings.TrimSpace(g[3]); excluded != "" {
		for x := range strings.SplitSeq(excluded, ",") {
			// As SpiceDB: the [...] mark is cut before the space is.
			x, caveated := strings.CutSuffix(x, "[...]")
			xs, err := parseSubject(x)
			if err != nil {
				return Expected{}, err
			}
			exp.Excluded = append(exp.Excluded, xs)
			if caveated {
				exp.ConditionallyExcluded = append(exp.ConditionallyExcluded, xs)
			}
		}
	}
	return exp, nil
}

// ValidationCounts are what [RunValidationFile] checked.
type ValidationCounts struct {
	// Relationships written, assertions checked, and expected subjects of
	// the validation section checked.
	Relationships, Assertions, Expected int
	// SubjectLookups are the subject lookups that checked the validation
	// section for completeness.
	SubjectLookups int
}

// RunValidationFile writes the file's schema (through newAuthorizer) and
// relationships, and checks every assertion: assertTrue must allow,
// assertFalse must deny (and not be conditional), assertCaveated must be
// conditional. The validation section is read as SpiceDB v1.56.2 reads it
// ([subject], [subject[...]], [type:*[...] - {excluded, excluded[...]}]).
// Each subject listed there must have the permission (conditionally for
// [subject[...]]); for a wildcard a subject id written nowhere must, and
// the wildcard must exclude exactly the subjects listed, a caveated
// exclusion (excluded[...]) told from another as zed tells them, by checks
// of every subject of its type the file names. Each entry must have a
// path, and each `is <object#relation>` path must be a relationship that
// holds the subject or, for self, a permission of the subject's own object
// whose expression names self. And, as `zed validate` checks, the section
// must be complete: every subject that has the permission must be listed.
// That is asked of the engine's subject lookup ([authz.SubjectLookuper],
// which the authorizer must implement if the file has a validation
// section), for every kind of subject the file's relationships name (user,
// group#member, a wildcard's type) and the resource's own type (self);
// subjects a lookup leaves out as conditional are checked one by one.
// Failures are reported on t with the entry as written.
func RunValidationFile(t *testing.T, data []byte, newAuthorizer func(t *testing.T, schema string) authz.Authorizer) ValidationCounts {
	t.Helper()
	return runValidationFile(t, data, func(schema string) authz.Authorizer { return newAuthorizer(t, schema) })
}

// runValidationFile is [RunValidationFile], reporting on any testing.TB.
func runValidationFile(t testing.TB, data []byte, newAuthorizer func(schema string) authz.Authorizer) ValidationCounts {
	t.Helper()
	f, err := ParseValidationFile(data)
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthorizer(f.Schema)
	// SpiceDB refuses a write of more than 1,000 updates; write in chunks
	// of that size.
	var tok authz.Token
	for rels := range slices.Chunk(f.Relationships, 1000) {
		tok, err = a.Write(t.Context(), authz.WriteRequest{Touch: rels})
		if err != nil {
			t.Fatalf("write relationships: %v", err)
		}
	}
	c := authz.AtLeastAsFresh(tok)
	// The schema tells which permission self grants through (checkPaths);
	// one that fgac's parser cannot read leaves that to Check.
	sch, err := schema.Parse(f.Schema)
	if err != nil {
		sch = nil
	}
	for _, as := range f.Assertions {
		req := as.Check
		req.Consistency = c
		d, err := a.Check(t.Context(), req)
		switch {
		case err != nil:
			t.Errorf("%s (want %s): %v", as.Text, as.Want, err)
		case d.String() != as.Want:
			t.Errorf("%s = %s (missing %v), want %s", as.Text, d, d.Missing(), as.Want)
		}
	}
	for _, exp := range f.Expected {
		sub := exp.Subject
		if sub.IsWildcard() {
			sub = authz.Subject{Type: sub.Type, ID: "authztest-subject-written-nowhere"}
		}
		want := "allowed"
		if exp.Conditional {
			want = "conditional"
		}
		d, err := a.Check(t.Context(), authz.CheckRequest{Subject: sub, Resource: exp.Resource, Permission: exp.Permission, Consistency: c})
		switch {
		case err != nil:
			t.Errorf("validation %s#%s: %s: %v", exp.Resource, exp.Permission, exp.Text, err)
		case d.String() != want:
			t.Errorf("validation %s#%s: %s: %s is %s, want %s", exp.Resource, exp.Permission, exp.Text, sub, d, want)
		}
		if exp.Subject.IsWildcard() && err == nil {
			checkExclusions(t, f, a, c, exp, d)
		} else if len(exp.Excluded) > 0 {
			t.Errorf("validation %s#%s: %s: only a wildcard has exclusions", exp.Resource, exp.Permission, exp.Text)
		}
		checkPaths(t, f, sch, a, c, exp)
	}
	n := ValidationCounts{Relationships: len(f.Relationships), Assertions: len(f.Assertions), Expected: len(f.Expected)}
	if len(f.Validated) == 0 {
		return n
	}
	l, ok := a.(authz.SubjectLookuper)
	if !ok {
		t.Errorf("validation: %T has no LookupSubjects, so the validation section cannot be checked for completeness", a)
		return n
	}
	n.SubjectLookups = checkComplete(t, f, l, c)
	checkConditionalListed(t, f, a, c)
	return n
}

// checkPaths reports, as zed validate does, an expected subject whose
// `is <object#relation>` paths name a relation that does not hold the
// subject directly: every path must be a relationship of the file (that
// has not expired) from that relation to exactly the listed subject, or
// (self) a permission of the subject's own object whose expression names
// self and that the object has: zed's path for a subject granted by self
// is the permission whose expression holds self (<org:o#view> for view =
// self + member, not <org:o#member>; <org:o#edit> for edit = self, view =
// edit + member).
// (zed also requires every such relation that the expansion meets to be
// listed; the port has no expansion, so a path left out is not found.)
func checkPaths(t testing.TB, f *ValidationFile, sch *schema.Schema, a authz.Authorizer, c authz.Consistency, exp Expected) {
	t.Helper()
	if len(exp.Paths) == 0 {
		// zed computes at least one path for every subject it finds, so
		// an entry without one never passes it.
		t.Errorf("validation %s#%s: %s: no path: zed validate wants `is <object#relation>`", exp.Resource, exp.Permission, exp.Text)
	}
	now := time.Now()
	for _, p := range exp.Paths {
		held := slices.ContainsFunc(f.Relationships, func(r authz.Relationship) bool {
			return r.Resource == p.Resource && r.Relation == p.Relation && r.Subject == exp.Subject &&
				(r.Expiration.IsZero() || r.Expiration.After(now))
		})
		if held {
			continue
		}
		if exp.Subject.Relation == "" && p.Resource == (authz.Resource{Type: exp.Subject.Type, ID: exp.Subject.ID}) {
			// self: the relation must be a permission whose expression
			// holds self, and the object must have it.
			if !holdsSelf(sch, p.Resource.Type, p.Relation) {
				t.Errorf("validation %s#%s: %s: <%s#%s> does not hold %s: its expression has no self, and no such relationship", exp.Resource, exp.Permission, exp.Text, p.Resource, p.Relation, exp.Subject)
				continue
			}
			d, err := a.Check(t.Context(), authz.CheckRequest{Subject: exp.Subject, Resource: p.Resource, Permission: p.Relation, Consistency: c})
			if err != nil || (!d.Allowed() && !d.Conditional()) {
				t.Errorf("validation %s#%s: %s: <%s#%s> does not hold %s by self: %s is %s (%v)", exp.Resource, exp.Permission, exp.Text, p.Resource, p.Relation, exp.Subject, exp.Subject, d, err)
			}
			continue
		}
		t.Errorf("validation %s#%s: %s: <%s#%s> does not hold %s directly: no such relationship", exp.Resource, exp.Permission, exp.Text, p.Resource, p.Relation, exp.Subject)
	}
}

// holdsSelf reports whether permission rel of type typ names self in its
// own expression (not through another permission it names): zed's path for
// a subject that self grants. It reports true if the schema could not be
// parsed (then the engine's Check alone decides).
func holdsSelf(sch *schema.Schema, typ, rel string) bool {
	if sch == nil {
		return true
	}
	def := sch.Definition(typ)
	if def == nil {
		return false
	}
	perm := def.Permission(rel)
	if perm == nil {
		return false
	}
	found := false
	schema.Walk(perm.Expr, func(e schema.Expr) {
		if _, ok := e.(*schema.Self); ok {
			found = true
		}
	})
	return found
}

// checkExclusions reports, as zed validate does, a listed wildcard whose
// exclusions differ from those the engine answers, a caveated exclusion
// (written x[...]) told from an unconditional one. wildcard is the
// decision for a subject of the wildcard's type written nowhere. Each
// subject of that type the file names (and each listed exclusion) is
// checked: under an unconditional wildcard, one denied is excluded and one
// conditional is excluded under a caveat; under a conditional wildcard,
// one denied is excluded, one allowed is not, and one conditional may be
// either not excluded or excluded under a caveat (Check cannot tell the
// two apart), so it is accepted listed as x[...] or not listed, never as
// an unconditional exclusion.
func checkExclusions(t testing.TB, f *ValidationFile, a authz.Authorizer, c authz.Consistency, exp Expected, wildcard authz.Decision) {
	t.Helper()
	if !wildcard.Allowed() && !wildcard.Conditional() {
		return // reported: the wildcard does not hold
	}
	typ := exp.Subject.Type
	var candidates []authz.Subject
	add := func(s authz.Subject) {
		if s.Type == typ && s.Relation == "" && !s.IsWildcard() && !slices.Contains(candidates, s) {
			candidates = append(candidates, s)
		}
	}
	for _, r := range f.Relationships {
		add(r.Subject)
		add(authz.Subject{Type: r.Resource.Type, ID: r.Resource.ID})
	}
	add(authz.Subject{Type: exp.Resource.Type, ID: exp.Resource.ID})
	for _, x := range exp.Excluded {
		add(x)
	}
	mark := func(x authz.Subject, caveated bool) string {
		if caveated {
			return x.String() + "[...]"
		}
		return x.String()
	}
	var want, got []string // listed and found, in zed's notation
	for _, x := range exp.Excluded {
		want = append(want, mark(x, slices.Contains(exp.ConditionallyExcluded, x)))
	}
	for _, x := range candidates {
		d, err := a.Check(t.Context(), authz.CheckRequest{Subject: x, Resource: exp.Resource, Permission: exp.Permission, Consistency: c})
		switch {
		case err != nil:
			t.Errorf("validation %s#%s: %s: %s: %v", exp.Resource, exp.Permission, exp.Text, x, err)
			return
		case d.Allowed():
		case !d.Conditional():
			got = append(got, mark(x, false))
		case wildcard.Allowed():
			got = append(got, mark(x, true))
		case slices.Contains(exp.ConditionallyExcluded, x):
			// Under a conditional wildcard a conditional subject may be
			// excluded under a caveat: take the listing.
			got = append(got, mark(x, true))
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("validation %s#%s: %s: the wildcard excludes [%s], not [%s]", exp.Resource, exp.Permission, exp.Text, strings.Join(got, " "), strings.Join(want, " "))
	}
}

// checkConditionalListed reports, as zed validate does, a subject that has
// a permission of the validation section conditionally (its caveats lack
// parameters) but is not listed (as [subject[...]]): subject lookups
// leave such subjects out, so every subject the file's relationships name
// (and every resource of the key's type, for self) is checked, unless a
// wildcard of its type is listed: then the subject may hold only through
// that wildcard, conditional itself or excluding the subject under a
// caveat (user:* - {user:kim[...]}), which zed lists alone and
// checkExclusions checks.
func checkConditionalListed(t testing.TB, f *ValidationFile, a authz.Authorizer, c authz.Consistency) {
	t.Helper()
	var candidates []authz.Subject
	add := func(s authz.Subject) {
		if !s.IsWildcard() && !slices.Contains(candidates, s) {
			candidates = append(candidates, s)
		}
	}
	for _, r := range f.Relationships {
		add(r.Subject)
		add(authz.Subject{Type: r.Resource.Type, ID: r.Resource.ID})
	}
	for _, key := range f.Validated {
		listed := map[authz.Subject]bool{}
		wildcard := map[string]bool{}
		for _, e := range f.Expected {
			if e.Resource == key.Resource && e.Permission == key.Permission {
				listed[e.Subject] = true
				if e.Subject.IsWildcard() {
					wildcard[e.Subject.Type] = true
				}
			}
		}
		for _, s := range candidates {
			if listed[s] || wildcard[s.Type] {
				continue
			}
			d, err := a.Check(t.Context(), authz.CheckRequest{Subject: s, Resource: key.Resource, Permission: key.Permission, Consistency: c})
			if err == nil && d.Conditional() {
				t.Errorf("validation %s#%s: %s has the permission conditionally (missing %v) but is not listed as [%s[...]]", key.Resource, key.Permission, s, d.Missing(), s)
			}
		}
	}
}

// checkComplete reports every subject that has a permission of the
// validation section but is not listed under it, and every subject a
// found wildcard excludes that the listed wildcard does not (or the
// other way round). It returns the number of subject lookups made.
func checkComplete(t testing.TB, f *ValidationFile, l authz.SubjectLookuper, c authz.Consistency) int {
	t.Helper()
	type kind struct{ typ, rel string }
	var kinds []kind
	add := func(k kind) {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	for _, r := range f.Relationships {
		add(kind{r.Subject.Type, r.Subject.Relation})
		add(kind{r.Resource.Type, ""}) // self
	}
	for _, e := range f.Expected {
		add(kind{e.Subject.Type, e.Subject.Relation})
	}
	for _, key := range f.Validated {
		add(kind{key.Resource.Type, ""}) // self
	}
	lookups := 0
	for _, key := range f.Validated {
		listed := map[authz.Subject]bool{}
		for _, e := range f.Expected {
			if e.Resource == key.Resource && e.Permission == key.Permission {
				listed[e.Subject] = true
			}
		}
		for _, k := range kinds {
			req := authz.SubjectLookupRequest{Resource: key.Resource, Permission: key.Permission, SubjectType: k.typ, SubjectRelation: k.rel, Consistency: c}
			lookups++
			for found, err := range authz.AllSubjects(t.Context(), l, req) {
				if err != nil {
					t.Errorf("validation %s#%s: subjects of type %s: %v", key.Resource, key.Permission, subjectKind(k.typ, k.rel), err)
					break
				}
				// A listed wildcard's exclusions are checked by
				// checkExclusions, which tells a caveated exclusion from
				// another as zed does.
				if _, ok := listed[found.Subject]; !ok {
					t.Errorf("validation %s#%s: %s has the permission but is not listed", key.Resource, key.Permission, found)
				}
			}
		}
	}
	return lookups
}

// subjectKind names a kind of subject: user, group#member.
func subjectKind(typ, rel string) string {
	if rel == "" {
		return typ
	}
	return typ + "#" + rel
}

// String returns the counts for a log line.
func (c ValidationCounts) String() string {
	return fmt.Sprintf("%d relationships, %d assertions, %d expected subjects, %d subject lookups", c.Relationships, c.Assertions, c.Expected, c.SubjectLookups)
}
