package authz

import (
	"context"
	"iter"
)

// SubjectLookupRequest asks which subjects of one type hold a permission
// (or relation) on one resource: the reverse of a [LookupRequest].
type SubjectLookupRequest struct {
	// Resource is the resource asked about.
	Resource Resource
	// Permission is a relation or permission of Resource.Type's definition.
	Permission string
	// SubjectType is the definition of the subjects wanted, such as "user".
	SubjectType string
	// SubjectRelation, if set, asks for subject sets of SubjectType through
	// that relation (group#member answers "which groups' members"); empty
	// asks for plain objects.
	SubjectRelation string
	// Consistency is the freshness requirement.
	Consistency Consistency
	// Limit, if positive, caps the subjects of one answer (a wildcard counts
	// as one); the answer's Cursor then continues the listing. Zero means
	// all subjects.
	Limit int
	// Cursor continues a previous limited lookup; empty starts at the
	// beginning. Cursors are opaque and engine-specific.
	Cursor string
}

// Validate reports whether the request is well formed, matching
// [ErrInvalidRequest] if not. It does not consult a schema: engines report
// unknown types, permissions and subject relations themselves.
func (r SubjectLookupRequest) Validate() error {
	if err := r.Resource.Validate(); err != nil {
		return err
	}
	if err := ValidateName(r.Permission); err != nil {
		return err
	}
	if err := ValidateType(r.SubjectType); err != nil {
		return err
	}
	if r.SubjectRelation != "" {
		if err := ValidateName(r.SubjectRelation); err != nil {
			return err
		}
	}
	if r.Limit < 0 {
		return invalidf("negative subject lookup limit")
	}
	return nil
}

// FoundSubject is one answer of a subject lookup: a subject that holds the
// permission, or a wildcard that stands for every subject of its type
// except those in Excluded.
//
// Once relationships can carry caveats, a field will mark subjects whose
// access depends on a condition; until then every found subject holds the
// permission unconditionally.
type FoundSubject struct {
	// Subject is the subject: an object (user:alice), a subject set
	// (group:eng#member) or a wildcard ([Subject.IsWildcard], made only by
	// [Wildcard]).
	Subject Subject
	// Excluded are, for a wildcard, the subjects of its type it does not
	// cover (user:* minus the banned), in ascending order of id. It is
	// empty for every other subject.
	Excluded []Subject
}

// Covers reports whether the found subject grants s: s is the subject
// itself, or s is a plain object of a wildcard's type that the wildcard does
// not exclude.
func (f FoundSubject) Covers(s Subject) bool {
	if !f.Subject.IsWildcard() {
		return f.Subject == s
	}
	if s.IsWildcard() || s.Type != f.Subject.Type || s.Relation != "" {
		return false
	}
	for _, x := range f.Excluded {
		if x.ID == s.ID {
			return false
		}
	}
	return true
}

// String returns the subject in SpiceDB notation, a wildcard with its
// exclusions as "user:* - {user:bob, user:eve}".
func (f FoundSubject) String() string {
	if len(f.Excluded) == 0 {
		return f.Subject.String()
	}
	s := f.Subject.String() + " - {"
	for i, x := range f.Excluded {
		if i > 0 {
			s += ", "
		}
		s += x.String()
	}
	return s + "}"
}

// SubjectLookupResult is one page of a subject lookup.
type SubjectLookupResult struct {
	// Subjects are the subjects found, each once, a wildcard first. A
	// paged lookup (a positive Limit or a Cursor) returns them in ascending
	// order of id (the wildcard's is "*"); an unlimited one may return the
	// others in any order, as [LookupResult] does.
	Subjects []FoundSubject
	// Cursor continues a limited lookup; empty when the listing is
	// complete.
	Cursor string
}

// SubjectLookuper answers "who holds this permission on this resource?".
// It is optional: engines that implement it say so in their documentation.
type SubjectLookuper interface {
	// LookupSubjects returns the subjects of req.SubjectType (through
	// req.SubjectRelation, if set) that hold req.Permission on
	// req.Resource. A wildcard relationship is reported as a wildcard, not
	// expanded, with the subjects excluded from it. A malformed request is
	// an error matching [ErrInvalidRequest] before any backend call, and so
	// are, on an engine that knows the schema, an unknown type, permission
	// or subject relation (others report them as the backend does, also
	// matching [ErrInvalidRequest]). An engine never returns a partial
	// page as if it were whole: when it cannot finish it returns an error.
	LookupSubjects(ctx context.Context, req SubjectLookupRequest) (SubjectLookupResult, error)
}

// AllSubjects returns an iterator over every subject of req, fetching
// pages of req.Limit subjects (all at once if zero) from l as the loop
// advances, starting at req.Cursor. An error ends the iteration: it is
// yielded once, with a zero FoundSubject, and nothing follows.
func AllSubjects(ctx context.Context, l SubjectLookuper, req SubjectLookupRequest) iter.Seq2[FoundSubject, error] {
	return func(yield func(FoundSubject, error) bool) {
		for {
			page, err := l.LookupSubjects(ctx, req)
			if err != nil {
				yield(FoundSubject{}, err)
				return
			}
			for _, s := range page.Subjects {
				if !yield(s, nil) {
					return
				}
			}
			if page.Cursor == "" {
				return
			}
			if page.Cursor == req.Cursor {
				yield(FoundSubject{}, invalidf("subject lookup cursor did not advance"))
				return
			}
			req.Cursor = page.Cursor
		}
	}
}

// SubjectsQuestion is an operation-level subject lookup: who of
// SubjectType may perform Operation on Resource?
type SubjectsQuestion struct {
	// Resource is what the operation acts on.
	Resource Resource
	// Operation is mapped to a permission by the Guard's [OperationMap].
	Operation Operation
	// SubjectType is the type of the subjects wanted, such as "user".
	SubjectType string
	// SubjectRelation, if set, asks for subject sets (group#member).
	SubjectRelation string
	// Consistency is the freshness requirement.
	Consistency Consistency
	// Limit, if positive, asks for one page of at most Limit subjects.
	Limit int
	// Cursor continues a previous page.
	Cursor string
}

// Subjects returns the subjects of q.SubjectType that may perform
// q.Operation on q.Resource, one page of them if q.Limit is positive. It
// reports facts about the graph, not about the caller: a [Bypass] in ctx
// changes nothing, and whoever may see the answer is the service's
// decision (typically the resource's owner only). Errors match
// [ErrInvalidRequest] for an unmapped operation, a malformed question or an
// engine without subject lookup ([SubjectLookuper]), before any engine
// call, or are the engine's.
func (g *Guard) Subjects(ctx context.Context, q SubjectsQuestion) (SubjectLookupResult, error) {
	perm, err := g.ops.Permission(q.Resource.Type, q.Operation)
	if err != nil {
		return SubjectLookupResult{}, err
	}
	req := SubjectLookupRequest{
		Resource:        q.Resource,
		Permission:      perm,
		SubjectType:     q.SubjectType,
		SubjectRelation: q.SubjectRelation,
		Consistency:     q.Consistency,
		Limit:           q.Limit,
		Cursor:          q.Cursor,
	}
	if err := req.Validate(); err != nil {
		return SubjectLookupResult{}, err
	}
	l, ok := g.engine.(SubjectLookuper)
	if !ok {
		return SubjectLookupResult{}, invalidf("the guard's engine cannot look up subjects")
	}
	return l.LookupSubjects(ctx, req)
}
