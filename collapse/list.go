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
	// Size is the number of visible items wanted: 1 to [MaxPageSize].
	Size int
	// Batch is the number of candidates fetched and checked per bulk call:
	// 0 (meaning Size) to [MaxPageSize].
	Batch int
	// MaxCalls bounds the bulk calls of one page: 0 (meaning 8) to
	// [MaxPageCalls]. A page may come back short when the bound is
	// reached; its cursor continues after the last candidate examined.
	MaxCalls int
	// List names the listing (the route, say): a cursor is good only for
	// the list it was issued for, so one list's cursor cannot be replayed
	// into another's Fetch.
	List string
	// Cursors seals the cursors handed out and opens Cursor. Required: a
	// repository cursor may name a row the subject may not see.
	Cursors *Cursors
	// Cursor continues a previous page: a cursor FilterPage returned for
	// the same Subject and Operation, or empty to start at the beginning.
	Cursor string
	// Fetch returns up to n candidates after cursor, in the repository's
	// order, and the cursor after the last of them ("" when exhausted). It
	// may return no candidates with a non-empty cursor (a stretch it
	// skipped); more than n is an error. Its cursors never reach the client
	// unsealed.
	Fetch func(ctx context.Context, cursor string, n int) (items []T, next string, err error)
	// Resource returns the resource a candidate is checked as.
	Resource func(T) authz.Resource
	// CursorOf returns the cursor that continues after item.
	CursorOf func(T) string
}

// ErrBadPageRequest reports a [PageRequest] missing a required field or
// out of its bounds (see [MaxPageSize]), and [Pages] asked for pages of no
// size. It matches [authz.ErrInvalidRequest].
var ErrBadPageRequest = fmt.Errorf("collapse: %w: page request needs Fetch, Resource, CursorOf, Cursors and sizes within bounds", authz.ErrInvalidRequest)

// FilterPage returns up to req.Size candidates that the subject may access,
// checking each fetched batch with one bulk call and fetching more batches
// until the page is full, the candidates run out or MaxCalls bulk calls
// were spent. It returns the cursor of the next page ("" when the
// candidates are exhausted). Candidates whose check is denied or invalid are
// dropped; a backend failure returns the error and no items, never a partial
// page presented as whole.
func FilterPage[T any](ctx context.Context, g *authz.Guard, req PageRequest[T]) ([]T, string, error) {
	switch {
	case req.Fetch == nil || req.Resource == nil || req.CursorOf == nil || req.Cursors == nil:
		return nil, "", ErrBadPageRequest
	case req.Size <= 0 || req.Size > MaxPageSize || req.Batch < 0 || req.Batch > MaxPageSize || req.MaxCalls < 0 || req.MaxCalls > MaxPageCalls:
		// A size from a client's ?limit= must not decide an allocation.
		return nil, "", ErrBadPageRequest
	}
	start, err := req.Cursors.open(req.Cursor, req.Subject, req.Operation, req.List)
	if err != nil {
		return nil, "", err
	}
	items, next, err := filterPage(ctx, g, req, start)
	if err != nil {
		return nil, "", err
	}
	cursor, err := req.Cursors.seal(next, req.Subject, req.Operation, req.List)
	if err != nil {
		return nil, "", err
	}
	return items, cursor, nil
}

// The bounds of a [PageRequest].
const (
	// MaxPageSize bounds Size and Batch.
	MaxPageSize = 10_000
	// MaxPageCalls bounds MaxCalls.
	MaxPageCalls = 1_000
)

// errFetchTooMany is the error of a Fetch that returned more candidates
// than it was asked for.
var errFetchTooMany = fmt.Errorf("collapse: %w: Fetch returned more candidates than asked for", authz.ErrInternal)

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
	out := make([]T, 0, min(req.Size, 64))
	cursor := start
	var qs []authz.Question
	for calls := 0; calls < maxCalls; calls++ {
		items, next, err := req.Fetch(ctx, cursor, batch)
		switch {
		case err != nil:
			return nil, "", err
		case len(items) > batch:
			return nil, "", errFetchTooMany
		case len(items) == 0 && next == "":
			return out, "", nil
		case len(items) == 0:
			cursor = next // a stretch without candidates: go on after it
			continue
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
