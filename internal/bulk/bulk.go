// Package bulk is the one gather-and-scatter of fgac's bulk checks: the
// Guard, memo and the SpiceDB adapter each answer some items of a bulk
// check themselves (a bypass, a cached decision, a malformed item), send
// the others to the next layer in one call (deduplicated where identical
// items may share an answer) and put the answers back in item order.
package bulk

// Plan records, item by item in order, which items are answered here and
// which are asked of the next layer, then scatters that layer's answers
// back into item order. Make one with [NewPlan]. While every item is
// asked, in order and without repeats, a plan allocates nothing and
// [Plan.Scatter] returns the next layer's answers as they are.
type Plan[R any] struct {
	size    int            // items in all
	n       int            // items recorded
	asked   int            // distinct items asked
	results []R            // the items' results; nil while every item is asked in order
	from    []int          // item -> index of its ask, -1 for an item answered here; nil likewise
	seen    map[string]int // ask key -> index of its ask
}

// NewPlan returns the plan of a bulk check of size items.
func NewPlan[R any](size int) Plan[R] { return Plan[R]{size: size} }

// Answer records the next item as answered here with r.
func (p *Plan[R]) Answer(r R) {
	p.detach()
	p.results[p.n] = r
	p.from[p.n] = -1
	p.n++
}

// Ask records the next item as asked of the next layer and returns whether
// the caller must add it to its request (first): an item whose key is not
// empty and equals an earlier asked item's shares that item's answer. The
// caller's request then holds exactly the items for which Ask returned
// true, in order.
func (p *Plan[R]) Ask(key string) (first bool) {
	if key != "" {
		if j, ok := p.seen[key]; ok {
			p.detach()
			p.from[p.n] = j
			p.n++
			return false
		}
		if p.seen == nil {
			p.seen = make(map[string]int, p.size)
		}
		p.seen[key] = p.asked
	}
	if p.from != nil {
		p.from[p.n] = p.asked
	}
	p.n++
	p.asked++
	return true
}

// Asked returns how many items the caller's request holds.
func (p *Plan[R]) Asked() int { return p.asked }

// detach leaves the in-order form: from now on every item's source is
// recorded.
func (p *Plan[R]) detach() {
	if p.from != nil {
		return
	}
	p.results = make([]R, p.size)
	p.from = make([]int, p.size)
	for i := range p.n {
		p.from[i] = i
	}
}

// Scatter returns one result per recorded item, in item order, given got,
// the next layer's answers to the asked items in the order they were
// asked (nil if nothing was asked). It returns false, and nothing, when
// got does not hold one answer per asked item: what such an answer means
// is unknowable, so none of it may be used (callers answer with an error
// matching authz.ErrUnavailable).
func (p *Plan[R]) Scatter(got []R) ([]R, bool) {
	if len(got) != p.asked {
		return nil, false
	}
	if p.from == nil {
		return got, true
	}
	res := p.results[:p.n]
	for i, j := range p.from[:p.n] {
		if j >= 0 {
			res[i] = got[j]
		}
	}
	return res, true
}
