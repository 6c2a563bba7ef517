package spicedbadapter_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fgac-go/fgac/authz"
)

// The differential test's graphs carry conditions: every schema declares
// two caveats of random parameter types (and uses expiration and self);
// some subject types of resource relations are caveated, expiring or both;
// caveated relationships store a random part of their context, expiring
// ones expire long ago or far in the future; and every check and lookup
// brings a random context (none, part, or all of the parameters). Half of
// the graphs let groups contain any group (cycles included).

// diffParamTypes are the caveat parameter types the graphs use, each with
// CEL over a parameter x of the type and a value that makes it true and one
// that makes it false. The numeric types have more such values at the
// edges of SpiceDB's conversion (big.ParseFloat): infinities, exponents
// beyond float64, integers beyond int64 (which saturate), each picked as
// often as yes or no. (Strings SpiceDB refuses, such as "NaN", are refused
// by memadapter before any data is read; TestCaveatNumbersConvertAsSpiceDB
// in schema and TestRefusedNumbersAreInvalidForEveryResource in memadapter
// cover them.)
var diffParamTypes = []struct {
	typ, expr        string
	yes, no          any
	moreYes, moreNo  []any
	alwaysComparable bool
}{
	{typ: "int", expr: "x > 5", yes: 7, no: 3, moreYes: []any{"1e300", "99999999999999999999", 1e300, "6.", "1p3"}, moreNo: []any{"-1e300", -1e300, "-99999999999999999999"}},
	{typ: "uint", expr: "x >= 3", yes: "4", no: 1, moreYes: []any{"1e30", 1e300, "+4"}, moreNo: []any{"-0", "0e5"}},
	{typ: "double", expr: "x < 2.5", yes: 1.5, no: "3.5", moreYes: []any{"-Inf", "-inf", "1e-999", "-1e999"}, moreNo: []any{"Inf", "+inf", "1e999", 1e300}},
	{typ: "bool", expr: "x", yes: true, no: false},
	{typ: "string", expr: `x.startsWith("a")`, yes: "abc", no: "xyz"},
	{typ: "bytes", expr: `x == b"ab"`, yes: "YWI=", no: "YWM="},
	{typ: "duration", expr: `x > duration("1h")`, yes: "90m", no: "30m"},
	{typ: "timestamp", expr: `x < timestamp("2030-01-01T00:00:00Z")`, yes: "2024-05-01T10:00:00Z", no: "2031-01-01T00:00:00Z"},
	{typ: "list<int>", expr: "3 in x", yes: []any{1, 3}, no: []any{"4"}},
	{typ: "map<bool>", expr: `"k" in x && x["k"]`, yes: map[string]any{"k": true}, no: map[string]any{"j": true}},
	{typ: "ipaddress", expr: `x.in_cidr("10.0.0.0/8")`, yes: "10.1.2.3", no: "192.168.1.1"},
	{typ: "any", expr: "x == 1", yes: 1, no: "one"},
}

// diffCaveat is a caveat of a graph: two parameters and an expression.
type diffCaveat struct {
	name   string
	params []diffParam
	expr   string
}

type diffParam struct {
	name string
	kind int // index into diffParamTypes
}

// genCaveats gives g two caveats, cav0 and cav1, of random parameter types
// combined with && or ||.
func (g *diffGraph) genCaveats() {
	for i := range 2 {
		c := diffCaveat{name: fmt.Sprintf("cav%d", i)}
		var parts []string
		for j := range 2 {
			p := diffParam{name: fmt.Sprintf("c%d_%c", i, 'a'+j), kind: g.rng.IntN(len(diffParamTypes))}
			c.params = append(c.params, p)
			parts = append(parts, "("+strings.ReplaceAll(diffParamTypes[p.kind].expr, "x", p.name)+")")
		}
		c.expr = strings.Join(parts, []string{" && ", " || "}[g.rng.IntN(2)])
		g.caveats = append(g.caveats, c)
	}
}

// caveatSchema returns the use flags and caveat definitions of g.
func (g *diffGraph) caveatSchema() string {
	var b strings.Builder
	b.WriteString("use expiration\nuse self\n\n")
	for _, c := range g.caveats {
		params := make([]string, len(c.params))
		for i, p := range c.params {
			params[i] = p.name + " " + diffParamTypes[p.kind].typ
		}
		fmt.Fprintf(&b, "caveat %s(%s) {\n\t%s\n}\n\n", c.name, strings.Join(params, ", "), c.expr)
	}
	return b.String()
}

// condition makes some of the subject types of a resource relation
// caveated, expiring or both. An expiring type is never given where the
// relation allows the same subject type in another form, nor a caveated
// one where it also allows the type as a subject set or plain: there
// SpiceDB v1.56.2 answers a check whose subject is exactly the
// relationship's subject inconsistently with its other answers (an expired
// relationship counts; a caveated one never does), which is SpiceDB's
// inconsistency, not memadapter's. The graphs leave those forms out.
func (g *diffGraph) condition(types []diffSubjectType) []diffSubjectType {
	out := slices.Clone(types)
	for i := range out {
		switch r := g.rng.IntN(12); {
		case r < 3:
			out[i].caveat = g.caveats[g.rng.IntN(len(g.caveats))].name
		case r < 5 && !out[i].wildcard:
			out[i].expiration = true
		case r < 6 && !out[i].wildcard:
			out[i].caveat = g.caveats[g.rng.IntN(len(g.caveats))].name
			out[i].expiration = true
		}
	}
	for i := range out {
		for j := range out {
			if i == j || out[j].typ != out[i].typ {
				continue
			}
			out[i].expiration = false
			if out[j].rel != out[i].rel && g.rng.IntN(2) == 0 {
				// SpiceDB v1.56.2 ignores a caveated group:g2
				// relationship when the relation also allows
				// group#member (a check of group:g2 is NO whatever the
				// context): not a rule memadapter copies. Half of such
				// relations keep the caveat, and the answers that follow
				// SpiceDB's rule are counted apart (see twoFormsHidden).
				out[i].caveat = ""
			}
		}
	}
	// Drop repeats, keeping the first.
	var dedup []diffSubjectType
	for _, o := range out {
		if !slices.Contains(dedup, o) {
			dedup = append(dedup, o)
		}
	}
	return dedup
}

// conditions gives a relationship of subject type st its caveat (with a
// random part of its context stored) and its expiration (long past or far
// future).
func (g *diffGraph) conditions(r *authz.Relationship, st diffSubjectType) {
	if st.caveat != "" {
		r.Caveat = authz.Caveat{Name: st.caveat, Context: g.context(g.caveat(st.caveat).params, 3)}
	}
	if st.expiration {
		r.Expiration = []time.Time{
			time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC),
			time.Date(2200, 2, 3, 4, 5, 6, 0, time.UTC),
		}[g.rng.IntN(2)]
	}
}

func (g *diffGraph) caveat(name string) diffCaveat {
	for _, c := range g.caveats {
		if c.name == name {
			return c
		}
	}
	panic("differential: unknown caveat " + name)
}

// requestContext returns a random request context over every parameter of
// the graph's caveats: none, some or all of them, each true or false.
func (g *diffGraph) requestContext() authz.Context {
	var params []diffParam
	for _, c := range g.caveats {
		params = append(params, c.params...)
	}
	return g.context(params, 2)
}

// context returns a context for params: with probability 1/(sparsity+1)
// none at all, otherwise each parameter present with probability 2/3, its
// value making its part of the expression true or false.
func (g *diffGraph) context(params []diffParam, sparsity int) authz.Context {
	if g.rng.IntN(sparsity+1) == 0 {
		return authz.Context{}
	}
	m := map[string]any{}
	for _, p := range params {
		if g.rng.IntN(3) == 0 {
			continue
		}
		pt := diffParamTypes[p.kind]
		yes, no := pt.yes, pt.no
		if len(pt.moreYes) > 0 && g.rng.IntN(2) == 0 {
			yes = pt.moreYes[g.rng.IntN(len(pt.moreYes))]
			no = pt.moreNo[g.rng.IntN(len(pt.moreNo))]
		}
		m[p.name] = no
		if g.rng.IntN(2) == 0 {
			m[p.name] = yes
		}
	}
	return authz.NewContext(m)
}

// flattened returns the current relationships with group membership
// unrolled: every group gets its transitive members (users) directly, and
// no group is a member of a group. On a graph with membership cycles this
// is the acyclic data whose SpiceDB answers memadapter must give.
func (g *diffGraph) flattened() []authz.Relationship {
	direct := map[string][]authz.Subject{}   // group -> users (member)
	managers := map[string][]authz.Subject{} // group -> users (manager)
	sets := map[string][]authz.Subject{}     // group -> group#member, group#everyone
	var out []authz.Relationship
	for _, r := range g.relationshipList() {
		if r.Resource.Type != "group" {
			out = append(out, r)
			continue
		}
		switch {
		case r.Relation == "manager":
			managers[r.Resource.ID] = append(managers[r.Resource.ID], r.Subject)
			out = append(out, r)
		case r.Subject.Type == "group":
			sets[r.Resource.ID] = append(sets[r.Resource.ID], r.Subject)
		default:
			direct[r.Resource.ID] = append(direct[r.Resource.ID], r.Subject)
		}
	}
	for _, gid := range g.byName["group"].ids {
		users := map[authz.Subject]bool{}
		seen := map[string]bool{}
		var walk func(id string)
		walk = func(id string) {
			if seen[id] {
				return
			}
			seen[id] = true
			for _, u := range direct[id] {
				users[u] = true
			}
			for _, s := range sets[id] {
				if s.Relation == "everyone" {
					for _, u := range managers[s.ID] {
						users[u] = true
					}
				}
				walk(s.ID)
			}
		}
		walk(gid)
		for u := range users {
			out = append(out, authz.Relationship{Resource: authz.Resource{Type: "group", ID: gid}, Relation: "member", Subject: u})
		}
	}
	return out
}

// twoFormsHidden returns the relationships SpiceDB v1.56.2 ignores: a
// caveated relationship to an object (group:g2, no relation) in a relation
// that also allows a subject set of the object's type (group#member).
// memadapter counts them, as their caveat says; an answer of SpiceDB's
// that differs from memadapter's but equals memadapter's on the graph
// without them is counted as this known contradiction, not a difference
// (TestTwoFormsCaveatIsIgnoredBySpiceDB shows the rule on its own).
func (g *diffGraph) twoFormsHidden() []authz.Relationship {
	var out []authz.Relationship
	for _, r := range g.relationshipList() {
		if r.Caveat.Name == "" || r.Subject.Relation != "" || r.Subject.IsWildcard() {
			continue
		}
		rel := g.byName[r.Resource.Type].relation(r.Relation)
		if slices.ContainsFunc(rel.types, func(st diffSubjectType) bool { return st.typ == r.Subject.Type && st.rel != "" }) {
			out = append(out, r)
		}
	}
	return out
}
