package collapse

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/fgac-go/fgac/authz"
)

// Filter is the id restriction a repository applies to a list query: either
// no restriction (an unscoped lookup, under a trusted bypass) or a set of
// ids, possibly empty. An empty set must yield an empty result, never an
// unfiltered one: check [Filter.Empty] before building the query. The zero
// Filter is an empty set.
type Filter struct {
	unfiltered bool
	ids        []string
}

// FilterOf builds the Filter of a lookup answer.
func FilterOf(r authz.LookupResult) Filter {
	if r.Unscoped() {
		return Filter{unfiltered: true}
	}
	return Filter{ids: r.IDs()}
}

// ListFilter looks up the ids of resourceType on which subject may perform
// op and returns them as a Filter. Errors are the guard's; a list is never
// widened on error.
func ListFilter(ctx context.Context, g *authz.Guard, subject authz.Subject, resourceType string, op authz.Operation, c authz.Consistency) (Filter, error) {
	r, err := g.Lookup(ctx, subject, resourceType, op, c)
	if err != nil {
		return Filter{}, err
	}
	return FilterOf(r), nil
}

// Unfiltered reports whether the repository should apply no id filter.
func (f Filter) Unfiltered() bool { return f.unfiltered }

// Empty reports whether the filter admits nothing: the list is empty and
// the repository need not be queried.
func (f Filter) Empty() bool { return !f.unfiltered && len(f.ids) == 0 }

// IDs returns the admitted ids (nil when unfiltered).
func (f Filter) IDs() []string { return f.ids }

// Allows reports whether the filter admits id.
func (f Filter) Allows(id string) bool { return f.unfiltered || slices.Contains(f.ids, id) }

// Narrow applies an explicit filter on one id that the caller asked for
// (such as ?task_id=t1): the result admits only id, and nothing at all if
// the caller may not see id. A list route therefore answers an explicit
// filter on an invisible parent with an empty list, never 403 or 404, and
// the same way whether the parent exists or not.
func (f Filter) Narrow(id string) Filter {
	if !authz.ValidID(id) || !f.Allows(id) {
		return Filter{}
	}
	return Filter{ids: []string{id}}
}

// Pages yields the ids of resourceType on which subject may perform op as
// a sequence of Filters of at most size ids each, asking the engine for one
// page at a time, so that no more than one page of ids is held at once: a
// repository queries its rows for each Filter in turn and stops when it has
// enough. Under an unscoped bypass it yields one unfiltered Filter. An
// error ends the sequence (yielded with a zero Filter); nothing already
// yielded is taken back, so a caller that must not show a partial list
// collects before it answers.
func Pages(ctx context.Context, g *authz.Guard, subject authz.Subject, resourceType string, op authz.Operation, c authz.Consistency, size int) iter.Seq2[Filter, error] {
	return func(yield func(Filter, error) bool) {
		if size <= 0 {
			yield(Filter{}, ErrBadPageRequest)
			return
		}
		cursor := ""
		for {
			r, err := g.LookupPage(ctx, subject, resourceType, op, c, size, cursor)
			if err != nil {
				yield(Filter{}, err)
				return
			}
			if len(r.IDs()) > 0 || r.Unscoped() {
				if !yield(FilterOf(r), nil) {
					return
				}
			}
			if r.Unscoped() || r.Cursor() == "" {
				return
			}
			cursor = r.Cursor()
		}
	}
}

// PageRequest describes a page of candidate rows to filter with bulk
// checks, for result sets too large to look up.
type PageRequest[T any] struct {
	// Subject, Operation and Consistency are the question asked of every
	// candidate.
	Subject     authz.Subject
	Operation   authz.Operation
	Consistency authz.Consistency
	// Size is the number of visible items wanted; it must be positive.
	Size int
	// Batch is the number of candidates fetched and checked per bulk call;
	// zero means Size.
	Batch int
	// MaxCalls bounds the bulk calls of one page; zero means 8. A page may
	// come back short when the bound is reached; its cursor continues after
	// the last candidate examined.
	MaxCalls int
	// Cursors seals the cursors handed out and opens Cursor. Required: a
	// repository cursor may name a row the subject may not see.
	Cursors *Cursors
	// Cursor continues a previous page: a cursor FilterPage returned for
	// the same Subject and Operation, or empty to start at the beginning.
	Cursor string
	// Fetch returns up to n candidates after cursor, in the repository's
	// order, and the cursor after the last of them ("" when exhausted).
	// Its cursors never reach the client unsealed.
	Fetch func(ctx context.Context, cursor string, n int) (items []T, next string, err error)
	// Resource returns the resource a candidate is checked as.
	Resource func(T) authz.Resource
	// CursorOf returns the cursor that continues after item.
	CursorOf func(T) string
}

// ErrBadPageRequest reports a [PageRequest] missing a required field. It
// matches [authz.ErrInvalidRequest].
var ErrBadPageRequest = fmt.Errorf("collapse: %w: page request needs Size > 0, Fetch, Resource, CursorOf and Cursors", authz.ErrInvalidRequest)

// FilterPage returns up to req.Size candidates that the subject may access,
// checking each fetched batch with one bulk call and fetching more batches
// until the page is full, the candidates run out or MaxCalls bulk calls
// were spent. It returns the cursor of the next page ("" when the
// candidates are exhausted). Candidates whose check is denied or invalid are
// dropped; a backend failure returns the error and no items, never a partial
// page presented as whole.
func FilterPage[T any](ctx context.Context, g *authz.Guard, req PageRequest[T]) ([]T, string, error) {
	if req.Size <= 0 || req.Fetch == nil || req.Resource == nil || req.CursorOf == nil || req.Cursors == nil {
		return nil, "", ErrBadPageRequest
	}
	start, err := req.Cursors.open(req.Cursor, req.Subject, req.Operation)
	if err != nil {
		return nil, "", err
	}
	items, next, err := filterPage(ctx, g, req, start)
	if err != nil {
		return nil, "", err
	}
	return items, req.Cursors.seal(next, req.Subject, req.Operation), nil
}

// filterPage is FilterPage over the repository's own cursors.
func filterPage[T any](ctx context.Context, g *authz.Guard, req PageRequest[T], start string) ([]T, string, error) {
	batch := req.Batch
	if batch <= 0 {
		batch = req.Size
	}
	maxCalls := req.MaxCalls
	if maxCalls <= 0 {
		maxCalls = 8
	}
	out := make([]T, 0, req.Size)
	cursor := start
	qs := make([]authz.Question, 0, batch)
	for calls := 0; calls < maxCalls; calls++ {
		items, next, err := req.Fetch(ctx, cursor, batch)
		if err != nil {
			return nil, "", err
		}
		if len(items) == 0 {
			return out, "", nil
		}
		qs = qs[:0]
		for _, it := range items {
			qs = append(qs, authz.Question{Subject: req.Subject, Resource: req.Resource(it), Operation: req.Operation, Consistency: req.Consistency})
		}
		res, err := g.CheckMany(ctx, qs, req.Consistency)
		if err != nil {
			return nil, "", err
		}
		for i, r := range res {
			if r.Err != nil {
				if errors.Is(r.Err, authz.ErrInvalidRequest) {
					continue
				}
				return nil, "", r.Err
			}
			if !r.Decision.Allowed() {
				continue
			}
			out = append(out, items[i])
			if len(out) == req.Size {
				if i == len(items)-1 {
					return out, next, nil
				}
				return out, req.CursorOf(items[i]), nil
			}
		}
		if next == "" {
			return out, "", nil
		}
		cursor = next
	}
	return out, cursor, nil
}
