package collapse

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/fgac-go/fgac/authz"
)

// Pages yields the resources of q.ResourceType on which q.Subject may
// perform q.Operation as a sequence of [authz.Filter]s of at most q.Limit
// ids each (q.Limit must be positive), asking the engine for one page at a
// time, so that no more than one page of ids is held at once: a repository
// queries its rows for each Filter in turn and stops when it has enough.
// Under a bypass without a Scope it yields one unrestricted Filter. An
// error ends the sequence (yielded with a zero Filter); nothing already
// yielded is taken back, so a caller that must not show a partial list
// collects before it answers.
func Pages(ctx context.Context, g *authz.Guard, q authz.ListQuestion) iter.Seq2[authz.Filter, error] {
	return func(yield func(authz.Filter, error) bool) {
		if q.Limit <= 0 {
			yield(authz.Filter{}, ErrBadPageRequest)
			return
		}
		for {
			f, err := g.Lookup(ctx, q)
			if err != nil {
				yield(authz.Filter{}, err)
				return
			}
			if !f.Empty() {
				if !yield(f, nil) {
					return
				}
			}
			if f.All() || f.Cursor() == "" {
				return
			}
			q.Cursor = f.Cursor()
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
		res, err := g.DecideMany(ctx, qs)
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
