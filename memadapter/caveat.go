package memadapter

import (
	"slices"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/schema"
)

// The states of a result: SpiceDB's NO_PERMISSION, CONDITIONAL_PERMISSION
// and HAS_PERMISSION.
const (
	stateNo uint8 = iota
	stateCond
	stateHas
)

// res is what an evaluation found: no, has, or conditional on the caveat
// parameters named in missing. Results without caveats never carry a
// slice, so checks without caveats allocate nothing.
type res struct {
	state   uint8
	missing []string
}

// resHas is an unconditional allow.
var resHas = res{state: stateHas}

// has reports whether r allows unconditionally.
func (r res) has() bool { return r.state == stateHas }

// or combines the results of two branches of a union: HAS wins, then
// CONDITIONAL (needing the parameters of both conditional branches).
func (r res) or(o res) res {
	switch {
	case r.state == stateHas || o.state == stateNo:
		return r
	case o.state == stateHas || r.state == stateNo:
		return o
	}
	return res{state: stateCond, missing: mergeMissing(r.missing, o.missing)}
}

// and combines the results of an intersection: NO wins, then CONDITIONAL.
func (r res) and(o res) res {
	switch {
	case r.state == stateNo || o.state == stateHas:
		return r
	case o.state == stateNo || r.state == stateHas:
		return o
	}
	return res{state: stateCond, missing: mergeMissing(r.missing, o.missing)}
}

// andNot is r minus o: HAS − COND is COND, COND − HAS is NO, COND − COND
// is COND needing both.
func (r res) andNot(o res) res {
	switch o.state {
	case stateHas:
		return res{}
	case stateNo:
		return r
	}
	if r.state == stateNo {
		return r
	}
	return res{state: stateCond, missing: mergeMissing(r.missing, o.missing)}
}

// mergeMissing returns the sorted union of two sorted name lists, sharing
// one of them when it holds the other.
func mergeMissing(a, b []string) []string {
	switch {
	case len(b) == 0 || slices.Equal(a, b):
		return a
	case len(a) == 0:
		return b
	}
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// decision turns a result into the port's decision.
func (r res) decision() authz.Decision {
	switch r.state {
	case stateHas:
		return authz.Allow()
	case stateCond:
		return authz.Conditional(r.missing...)
	}
	return authz.Deny()
}

// edge is what is stored with a relationship besides its identity.
type edge struct {
	// caveat is the relationship's caveat, or nil.
	caveat *storedCaveat
	// expires is the relationship's expiration in Unix nanoseconds, or 0
	// if it never expires.
	expires int64
}

// storedCaveat is a caveat of a relationship with its stored context.
type storedCaveat struct {
	def *schema.Caveat
	ctx authz.Context
}
