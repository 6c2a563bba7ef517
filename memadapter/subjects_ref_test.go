package memadapter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// cyclicSchema has recursion through unions, intersections, both sides of
// exclusions and all-arrows, and wildcards on both sides of exclusions.
const cyclicSchema = `
definition user {}

definition group {
	relation member: user | user:* | group#member
	relation admin: user | group#member | group#admin
	relation banned: user | user:*
	relation parent: group
	permission both = member & admin
	permission view = (member + parent->view) - banned
	permission strict = (admin + parent->strict) & member
	permission every = parent.all(view)
	permission any = member + parent->any + admin
	permission fenced = member - parent->fenced
}
`

// randomCyclicGraph returns relationships among groups groups and users
// users of cyclicSchema, with cycles of every kind the schema allows.
func randomCyclicGraph(r *rand.Rand, groups, users int) []authz.Relationship {
	group := func() authz.Resource { return authz.Resource{Type: "group", ID: fmt.Sprintf("g%d", r.IntN(groups))} }
	user := func() authz.Subject {
		if r.IntN(12) == 0 {
			return authz.Wildcard("user")
		}
		return authz.Subject{Type: "user", ID: fmt.Sprintf("u%d", r.IntN(users))}
	}
	set := func(rel string) authz.Subject {
		return authz.Subject{Type: "group", ID: fmt.Sprintf("g%d", r.IntN(groups)), Relation: rel}
	}
	var rels []authz.Relationship
	for range groups * 4 {
		res := group()
		switch r.IntN(7) {
		case 0, 1:
			rels = append(rels, authz.Relationship{Resource: res, Relation: "member", Subject: user()})
		case 2:
			rels = append(rels, authz.Relationship{Resource: res, Relation: "member", Subject: set("member")})
		case 3:
			sub := user()
			if r.IntN(2) == 0 {
				sub = set([]string{"member", "admin"}[r.IntN(2)])
			}
			if sub.ID == authz.WildcardID {
				sub = authz.Subject{Type: "user", ID: "u0"}
			}
			rels = append(rels, authz.Relationship{Resource: res, Relation: "admin", Subject: sub})
		case 4:
			rels = append(rels, authz.Relationship{Resource: res, Relation: "banned", Subject: user()})
		default:
			rels = append(rels, authz.Relationship{Resource: res, Relation: "parent", Subject: set("")})
		}
	}
	seen := make(map[authz.Relationship]bool)
	return slices.DeleteFunc(rels, func(rel authz.Relationship) bool {
		dup := seen[rel]
		seen[rel] = true
		return dup
	})
}

// TestSubjectsMatchTheRoundsOnRandomCyclicGraphs compares every subject
// lookup of random cyclic graphs with the rounds the first implementation
// computed (refSubjectsOf below): the same subjects, wildcards and
// exclusions, without errors, for every permission but fenced, which
// excludes what it derives from itself. For fenced, the rounds returned
// whichever fixpoint their order of evaluation reached, or failed when it
// did not settle; the components return the well-founded value or fail
// when some subject is neither in nor out. Where both answer, the answers
// are the same; where only one does, the test counts it.
func TestSubjectsMatchTheRoundsOnRandomCyclicGraphs(t *testing.T) {
	perms := []string{"member", "admin", "banned", "both", "view", "strict", "every", "any", "fenced"}
	var lookups, bothFail, onlyRoundsFail, onlyComponentsFail int
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 15))
		groups := 2 + r.IntN(7)
		a, err := New(cyclicSchema)
		if err != nil {
			t.Fatal(err)
		}
		rels := randomCyclicGraph(r, groups, 1+r.IntN(5))
		if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: rels}); err != nil {
			t.Fatalf("seed %d: Write: %v", seed, err)
		}
		for g := range groups {
			id := fmt.Sprintf("g%d", g)
			for _, perm := range perms {
				for _, sub := range []authz.Subject{{Type: "user"}, {Type: "group", Relation: "member"}, {Type: "group", Relation: "admin"}} {
					n := a.defs["group"].nodes[perm]
					rd := a.read()
					got, gotErr := rd.subjectsOf(t.Context(), n, id, sub.Type, sub.Relation)
					want, wantErr := refSubjectsOf(t.Context(), rd, n, id, sub.Type, sub.Relation)
					lookups++
					if gotErr != nil && !errors.Is(gotErr, authz.ErrInvalidRequest) {
						t.Errorf("seed %d: group:%s#%s for %s: error %v, want %v", seed, id, perm, sub, gotErr, authz.ErrInvalidRequest)
					}
					switch {
					case perm != "fenced" && (gotErr != nil || wantErr != nil):
						t.Errorf("seed %d: group:%s#%s for %s: error %v, rounds %v; want none", seed, id, perm, sub, gotErr, wantErr)
						continue
					case gotErr != nil && wantErr != nil:
						bothFail++
						continue
					case gotErr != nil:
						onlyComponentsFail++
						continue
					case wantErr != nil:
						onlyRoundsFail++
						continue
					}
					if diff := cmp.Diff(describe(want), describe(got)); diff != "" {
						t.Errorf("seed %d: group:%s#%s for %s mismatch (-rounds +components):\n%s\nrelationships: %v", seed, id, perm, sub, diff, rels)
					}
				}
			}
		}
	}
	t.Logf("%d lookups; of fenced, %d failed both ways, %d only in rounds, %d only by components", lookups, bothFail, onlyRoundsFail, onlyComponentsFail)
	if bothFail == 0 {
		t.Error("no lookup met a cycle through an exclusion that does not settle")
	}
}

// describe returns s in a form cmp can compare.
func describe(s *foundSet) []string {
	if s.empty() {
		return nil
	}
	out := slices.Clone(s.concrete)
	if s.wildcard {
		out = append(out, fmt.Sprintf("* - %v", s.excluded))
	}
	return out
}

// refSubjectsOf computes, as the rounds of the first implementation did, the subjects of n on object id; the caller holds the
// read lock.
//
// A cycle is computed by rounds: within a round, a node met again while it
// is being computed contributes its value of the previous round (nothing in
// the first), and the rounds repeat until those values are the ones the
// round computed. Every operation but an exclusion's right side is
// monotone, so from nothing this reaches the least fixpoint. Graphs without
// cycles take one round.
func refSubjectsOf(ctx context.Context, a reader, n *node, id, typ, rel string) (*foundSet, error) {
	ev := refEval{a: a, ctx: ctx, typ: typ, rel: rel}
	if a.g.expiring > 0 {
		ev.now = a.now()
	}
	for range maxSubjectRounds {
		ev.done = make(map[objRel]*foundSet)
		ev.active = make(map[objRel]bool)
		ev.used = nil
		set := ev.node(n, id)
		if ev.err != nil {
			return nil, ev.err
		}
		settled := true
		for key := range ev.used {
			if !ev.done[key].equal(ev.prev[key]) {
				settled = false
			}
		}
		if settled {
			return set, nil
		}
		next := make(map[objRel]*foundSet, len(ev.used))
		for key := range ev.used {
			next[key] = ev.done[key]
		}
		ev.prev = next
	}
	return nil, invalidf("subject lookup of %s#%s does not settle (a cycle through an exclusion)", n.def.name, n.name)
}

// refEval computes the subjects of one type and subject relation;
// the caller holds the read lock.
type refEval struct {
	a        reader
	ctx      context.Context
	typ, rel string
	visits   int
	err      error
	// now is the instant expirations are compared with; neg counts the
	// exclusions' right sides the computation is under (see edge).
	now int64
	neg int

	// done holds the nodes computed in this round, active those being
	// computed, used those met while active, and prev the values of the
	// previous round for the nodes it met while active.
	done   map[objRel]*foundSet
	active map[objRel]bool
	used   map[objRel]bool
	prev   map[objRel]*foundSet
}

// node returns the subjects of n on object id.
func (ev *refEval) node(n *node, id string) *foundSet {
	key := objRel{typ: n.def.name, id: id, rel: n.name}
	if ev.neg%2 == 1 && ev.a.g.hasEdges() {
		// Under an exclusion's right side caveated relationships count
		// (see edge), so the node has another value there.
		key.rel += "\x00-"
	}
	if set, ok := ev.done[key]; ok {
		return set
	}
	if ev.active[key] {
		if ev.used == nil {
			ev.used = make(map[objRel]bool)
		}
		ev.used[key] = true
		return ev.prev[key]
	}
	if ev.visits++; ev.visits%1024 == 0 && ev.err == nil {
		ev.err = contextErr(ev.ctx)
	}
	if ev.err != nil {
		return nil
	}
	ev.active[key] = true
	var set *foundSet
	if n.expr != nil {
		set = ev.expr(n.expr, n.def, id)
	} else {
		set = ev.relation(n, id)
	}
	if ev.rel != "" && ev.rel == n.name && ev.typ == n.def.name {
		// A subject set is a member of itself.
		set = set.union(concrete(id))
	}
	delete(ev.active, key)
	ev.done[key] = set
	return set
}

// relation returns the subjects of relation n on object id: those of its
// relationships whose subject has the type and relation asked for, and
// those of its subject sets.
func (ev *refEval) relation(n *node, id string) *foundSet {
	o := ev.a.g.lookup(n.def, id)
	if o == 0 {
		return nil
	}
	s := ev.a.g.out(keyOf(o, n.id))
	if s.size() == 0 {
		return nil
	}
	direct := &foundSet{concrete: make([]string, 0, s.size())}
	sets := []*foundSet{direct}
	for it := s.iter(); it.next(); {
		t := unpackTarget(it.member())
		if !ev.edge(keyOf(o, n.id), t) {
			continue
		}
		sub := ev.a.subjectOf(t)
		switch {
		case sub.typ != ev.typ || sub.rel != ev.rel:
		case sub.id == authz.WildcardID && sub.rel == "":
			direct.wildcard = true
		default:
			direct.concrete = append(direct.concrete, sub.id)
		}
		if t.rel != 0 { // a subject set: its members too
			sets = append(sets, ev.node(ev.a.byID[t.rel], sub.id))
		}
	}
	slices.Sort(direct.concrete)
	return unionAll(sets)
}

// expr returns the subjects of permission expression e on object id of d.
func (ev *refEval) expr(e *expr, d *definition, id string) *foundSet {
	switch e.kind {
	case exprRef:
		return ev.node(e.ref, id)
	case exprNil:
		return nil
	case exprSelf:
		if ev.rel == "" && ev.typ == d.name {
			return concrete(id)
		}
		return nil
	case exprUnion:
		sets := make([]*foundSet, len(e.children))
		for i, c := range e.children {
			sets[i] = ev.expr(c, d, id)
		}
		return unionAll(sets)
	case exprIntersection:
		set := ev.expr(e.children[0], d, id)
		for _, c := range e.children[1:] {
			if set.empty() {
				return nil
			}
			set = set.intersect(ev.expr(c, d, id))
		}
		return set
	case exprExclusion:
		base := ev.expr(e.children[0], d, id)
		if base.empty() {
			return nil
		}
		ev.neg++
		excluded := ev.expr(e.children[1], d, id)
		ev.neg--
		return base.subtract(excluded)
	}
	return ev.arrow(e, d, id)
}

// arrow returns the subjects of an arrow or all-arrow e on object id of d.
func (ev *refEval) arrow(e *expr, d *definition, id string) *foundSet {
	o := ev.a.g.lookup(d, id)
	if o == 0 {
		return nil
	}
	s := ev.a.g.out(keyOf(o, e.via.id))
	if s.size() == 0 {
		return nil
	}
	var set *foundSet
	var sets []*foundSet // of an any-arrow
	first := true
	for it := s.iter(); it.next(); {
		at := unpackTarget(it.member())
		if !ev.edge(keyOf(o, e.via.id), at) {
			if e.kind == exprArrowAll && !ev.expired(keyOf(o, e.via.id), at) {
				// Every relationship of an all-arrow must hold: one
				// whose caveat does not empties it, as Check decides.
				return nil
			}
			continue
		}
		obj := ev.a.subjectOf(at)
		target := e.targets[obj.typ]
		switch {
		case target == nil && e.kind == exprArrowAll:
			return nil // as Check decides: not every object has the target
		case target == nil:
		case e.kind == exprArrow:
			sets = append(sets, ev.node(target, obj.id))
		case first:
			set, first = ev.node(target, obj.id), false
		default:
			set = set.intersect(ev.node(target, obj.id))
		}
	}
	if e.kind == exprArrow {
		return unionAll(sets)
	}
	return set
}

// expired reports whether the relationship of key k to t has expired.
func (ev *refEval) expired(k edgeKey, t target) bool {
	e := ev.a.g.edgeOf(k, t)
	return e.expires != 0 && ev.now >= e.expires
}

// edge reports whether the relationship of key k to t counts, as the
// rounds decided it: it has not expired, and its caveat holds on its
// stored context, a caveat that needs parameters counting only under an
// odd number of exclusions' right sides.
func (ev *refEval) edge(k edgeKey, t target) bool {
	if !ev.a.g.hasEdges() {
		return true
	}
	e := ev.a.g.edgeOf(k, t)
	if e.expires != 0 && ev.now >= e.expires {
		return false
	}
	if e.caveat == nil {
		return true
	}
	r, err := e.caveat.def.Eval(e.caveat.ctx, authz.Context{})
	if err != nil || r.Conditional() {
		return ev.neg%2 == 1
	}
	return r.Value
}
