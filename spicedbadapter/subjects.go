package spicedbadapter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"

	"github.com/fgac-go/fgac/authz"
)

// SubjectsClient is the part of SpiceDB's PermissionsService that
// [Adapter.LookupSubjects] calls. The generated v1.PermissionsServiceClient
// and *authzed.Client implement it; a [Client] that does not makes
// LookupSubjects fail with [authz.ErrInvalidRequest] before any call.
type SubjectsClient interface {
	// LookupSubjects answers [Adapter.LookupSubjects].
	LookupSubjects(ctx context.Context, in *v1.LookupSubjectsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[v1.LookupSubjectsResponse], error)
}

var _ authz.SubjectLookuper = (*Adapter)(nil)

// errNoSnapshot is the error of a limited subject lookup whose stream named
// no revision, so that its next page could not be read at the same one.
var errNoSnapshot = fmt.Errorf("%w: spicedbadapter: spicedb did not name the revision of its subject lookup", authz.ErrUnavailable)

// LookupSubjects streams SpiceDB's LookupSubjects and returns each subject
// once, a wildcard first, the others in SpiceDB's order, or in ascending
// order of id when paged (a limit or a cursor). SpiceDB sends a
// subject once per path that reaches it, and a wildcard with the exclusions
// of each path; the adapter unites them as SpiceDB unites subject sets: a
// wildcard excludes what every path's wildcard excludes and no subject
// found on its own. Conditional results (a caveat needing context the
// adapter does not send) are left out, and a conditional exclusion is kept,
// so the answer is never wider than what holds. Unless
// [Config].UnverifiedLookups is set, every subject listed and every subject
// a wildcard excludes is then confirmed with CheckBulkPermissions (see
// verifySubjects: SpiceDB's LookupSubjects disagrees with its own check on
// all-arrows); that costs one bulk check per 1,000 subjects. If the stream
// fails part-way, the whole call is repeated under the retry budget, and
// then fails: no partial list is returned.
//
// SpiceDB's LookupSubjects has no cursors or limits (it refuses a limit
// since v1.40), so a lookup with a limit reads the whole set, returns up to
// req.Limit subjects with a cursor that names the snapshot read and the
// last id returned, and each continuation reads the set again at that exact
// snapshot (confirmed as fresh as the caller asks then, so that what was
// revoked since drops out). A cursor continues only the lookup it came
// from. A malformed request or cursor fails with
// [authz.ErrInvalidRequest] before any call; an unknown type, permission or
// subject relation is SpiceDB's error, translated to the same, and so is a
// cursor whose snapshot SpiceDB has garbage-collected.
func (a *Adapter) LookupSubjects(ctx context.Context, req authz.SubjectLookupRequest) (authz.SubjectLookupResult, error) {
	if err := req.Validate(); err != nil {
		return authz.SubjectLookupResult{}, err
	}
	c, after := consistency(req.Consistency), ""
	if req.Cursor != "" {
		var err error
		if c, after, err = decodeSubjectsCursor(req, req.Cursor); err != nil {
			return authz.SubjectLookupResult{}, err
		}
	}
	sc, ok := a.client.(SubjectsClient)
	if !ok {
		return authz.SubjectLookupResult{}, authz.Invalidf("spicedbadapter: the client has no LookupSubjects")
	}
	var set subjectSet
	err := a.read(ctx, c, func(ctx context.Context, c *v1.Consistency) error {
		set = subjectSet{}
		ctx, cancel := context.WithCancel(ctx) // ends the stream on an early return
		defer cancel()
		stream, err := sc.LookupSubjects(ctx, lookupSubjectsRequest(req, c))
		if err != nil {
			return err
		}
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			set.snapshot = cmp.Or(set.snapshot, resp.GetLookedUpAt().GetToken())
			set.add(subjectFrom(resp))
		}
	})
	if err != nil {
		return authz.SubjectLookupResult{}, err
	}
	if !a.opts.noVerify {
		confirm := authz.AtLeastAsFresh(authz.NewToken(set.snapshot))
		if req.Cursor != "" {
			// A continued lookup: confirm as fresh as the caller asks
			// now, so that what was revoked since drops out.
			confirm = req.Consistency
		}
		if err := a.verifySubjects(ctx, req, &set, confirm); err != nil {
			return authz.SubjectLookupResult{}, err
		}
	}
	return set.page(req, after)
}

// verifySubjects confirms set with CheckBulkPermissions at consistency c,
// as [Adapter.Lookup] confirms its ids: SpiceDB v1.56.2's LookupSubjects
// disagrees with its own CheckPermission on permissions with an all-arrow
// (rel.all(perm)) over objects that lack perm, listing subjects the check
// denies and excluding from a wildcard subjects the check allows (found by
// fgac's outside review). A listed subject the check denies is dropped; an
// excluded subject the check allows is no longer excluded. Any item error
// fails the lookup: the answer is never wider than the checks allow.
func (a *Adapter) verifySubjects(ctx context.Context, req authz.SubjectLookupRequest, set *subjectSet, c authz.Consistency) error {
	ids := distinctIDs(slices.Clone(set.concrete))
	excluded := slices.Sorted(maps.Keys(set.excluded))
	all := append(slices.Clip(ids), excluded...)
	if len(all) == 0 {
		return nil
	}
	allowed := make(map[string]bool, len(all))
	const batch = maxPageSize
	items := make([]authz.CheckRequest, 0, min(len(all), batch))
	for start := 0; start < len(all); start += batch {
		items = items[:0]
		for _, id := range all[start:min(start+batch, len(all))] {
			items = append(items, authz.CheckRequest{Subject: authz.Subject{Type: req.SubjectType, ID: id, Relation: req.SubjectRelation}, Resource: req.Resource, Permission: req.Permission})
		}
		res, err := a.checkMany(ctx, authz.CheckManyRequest{Items: items, Consistency: c}, batch)
		if err != nil {
			return err
		}
		for i, r := range res {
			if r.Err != nil {
				return r.Err
			}
			if r.Decision.Allowed() {
				allowed[items[i].Subject.ID] = true
			}
		}
	}
	set.concrete = slices.DeleteFunc(ids, func(id string) bool { return !allowed[id] })
	maps.DeleteFunc(set.excluded, func(id string, _ bool) bool { return allowed[id] })
	return nil
}

// subjectSet gathers the results of one LookupSubjects stream.
type subjectSet struct {
	concrete []string // as received, repeats included
	wildcard bool
	// excluded is what every wildcard received excludes; nil until the
	// first wildcard.
	excluded map[string]bool
	snapshot string
}

// add unites one result with the set.
func (s *subjectSet) add(id string, allowed bool, excluded []string) {
	switch {
	case !allowed:
	case id != authz.WildcardID:
		s.concrete = append(s.concrete, id)
	case !s.wildcard:
		s.wildcard = true
		s.excluded = make(map[string]bool, len(excluded))
		for _, x := range excluded {
			s.excluded[x] = true
		}
	default:
		keep := make(map[string]bool, len(excluded))
		for _, x := range excluded {
			keep[x] = true
		}
		maps.DeleteFunc(s.excluded, func(x string, _ bool) bool { return !keep[x] })
	}
}

// page returns the subjects after after, up to req.Limit of them if it is
// positive. An unlimited first page keeps SpiceDB's order, the wildcard
// first; a paged lookup sorts.
func (s *subjectSet) page(req authz.SubjectLookupRequest, after string) (authz.SubjectLookupResult, error) {
	paged := req.Limit > 0 || after != ""
	ids := s.concrete
	if paged {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		start, found := slices.BinarySearch(ids, after)
		if found {
			start++
		}
		ids = ids[start:]
	} else {
		ids = distinctIDs(ids)
	}
	wildcard := s.wildcard && after == ""
	n := len(ids)
	if wildcard {
		n++
	}
	more := req.Limit > 0 && n > req.Limit
	if more {
		n = req.Limit
	}
	out := make([]authz.FoundSubject, 0, n)
	if wildcard {
		w := authz.FoundSubject{Subject: authz.Wildcard(req.SubjectType)}
		found := make(map[string]bool, len(s.excluded))
		for x := range s.excluded {
			found[x] = false
		}
		for _, id := range s.concrete {
			if _, ok := found[id]; ok {
				found[id] = true // found on its own: not excluded
			}
		}
		for _, x := range slices.Sorted(maps.Keys(s.excluded)) {
			if !found[x] {
				w.Excluded = append(w.Excluded, authz.Subject{Type: req.SubjectType, ID: x})
			}
		}
		out = append(out, w)
	}
	for _, id := range ids[:n-len(out)] {
		out = append(out, authz.FoundSubject{Subject: authz.Subject{Type: req.SubjectType, ID: id, Relation: req.SubjectRelation}})
	}
	res := authz.SubjectLookupResult{Subjects: out}
	if more {
		if s.snapshot == "" {
			return authz.SubjectLookupResult{}, errNoSnapshot
		}
		res.Cursor = encodeSubjectsCursor(req, s.snapshot, out[len(out)-1].Subject.ID)
	}
	return res, nil
}

// distinctIDs returns ids without repeats, in their order.
func distinctIDs(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}
