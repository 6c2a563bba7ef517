package authz_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// subjectEngine is a countingEngine that also looks up subjects: it
// answers from pages, one per cursor ("" for the first), and records every
// request.
type subjectEngine struct {
	countingEngine
	pages map[string]authz.SubjectLookupResult
	err   error
	reqs  []authz.SubjectLookupRequest
}

func (f *subjectEngine) LookupSubjects(_ context.Context, req authz.SubjectLookupRequest) (authz.SubjectLookupResult, error) {
	f.calls.Add(1)
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return authz.SubjectLookupResult{}, f.err
	}
	return f.pages[req.Cursor], nil
}

func found(subjects ...authz.Subject) []authz.FoundSubject {
	out := make([]authz.FoundSubject, len(subjects))
	for i, s := range subjects {
		out[i] = authz.FoundSubject{Subject: s}
	}
	return out
}

func TestGuardSubjectsMapsTheOperation(t *testing.T) {
	eng := &subjectEngine{pages: map[string]authz.SubjectLookupResult{"": {Subjects: found(alice)}}}
	g := authz.NewGuard(eng, newOps(t))
	c := authz.FullyConsistent()
	res, err := g.Subjects(t.Context(), authz.SubjectsQuestion{Resource: task1, Operation: authz.OpUpdate, SubjectType: "user", Consistency: c, Limit: 5, Cursor: "k"})
	if err != nil {
		t.Fatalf("Subjects: %v", err)
	}
	want := []authz.SubjectLookupRequest{{Resource: task1, Permission: "update", SubjectType: "user", Consistency: c, Limit: 5, Cursor: "k"}}
	if diff := cmp.Diff(want, eng.reqs, cmp.AllowUnexported(authz.Consistency{}, authz.Token{})); diff != "" {
		t.Errorf("engine requests mismatch (-want +got):\n%s", diff)
	}
	if len(res.Subjects) != 0 {
		t.Errorf("Subjects = %v, want the engine's page for cursor k (none)", res.Subjects)
	}
}

func TestGuardSubjectsRejectsBeforeAskingTheEngine(t *testing.T) {
	ok := authz.SubjectsQuestion{Resource: task1, Operation: authz.OpRead, SubjectType: "user"}
	tests := []struct {
		name   string
		mutate func(*authz.SubjectsQuestion)
	}{
		{"unmapped operation", func(q *authz.SubjectsQuestion) { q.Operation = authz.OpCancel }},
		{"unmapped type", func(q *authz.SubjectsQuestion) { q.Resource.Type = "agent" }},
		{"malformed resource id", func(q *authz.SubjectsQuestion) { q.Resource.ID = "t 1" }},
		{"wildcard resource", func(q *authz.SubjectsQuestion) { q.Resource.ID = "*" }},
		{"malformed subject type", func(q *authz.SubjectsQuestion) { q.SubjectType = "User" }},
		{"empty subject type", func(q *authz.SubjectsQuestion) { q.SubjectType = "" }},
		{"malformed subject relation", func(q *authz.SubjectsQuestion) { q.SubjectRelation = "m#" }},
		{"negative limit", func(q *authz.SubjectsQuestion) { q.Limit = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := &subjectEngine{}
			g := authz.NewGuard(eng, newOps(t))
			q := ok
			tt.mutate(&q)
			if _, err := g.Subjects(t.Context(), q); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Subjects = %v, want %v", err, authz.ErrInvalidRequest)
			}
			if n := eng.calls.Load(); n != 0 {
				t.Errorf("engine calls = %d, want 0", n)
			}
		})
	}
}

func TestGuardSubjectsNeedsASubjectLookuper(t *testing.T) {
	g, eng := newGuard(t) // a Reader without LookupSubjects
	_, err := g.Subjects(t.Context(), authz.SubjectsQuestion{Resource: task1, Operation: authz.OpRead, SubjectType: "user"})
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Subjects on an engine without subject lookup = %v, want %v", err, authz.ErrInvalidRequest)
	}
	if n := eng.calls.Load(); n != 0 {
		t.Errorf("engine calls = %d, want 0", n)
	}
}

func TestGuardSubjectsIgnoresBypass(t *testing.T) {
	eng := &subjectEngine{pages: map[string]authz.SubjectLookupResult{"": {Subjects: found(alice)}}}
	g := authz.NewGuard(eng, newOps(t))
	ctx := authz.WithBypass(t.Context(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "scheduler"}})
	res, err := g.Subjects(ctx, authz.SubjectsQuestion{Resource: task1, Operation: authz.OpRead, SubjectType: "user"})
	if err != nil || !cmp.Equal(res.Subjects, found(alice)) || eng.calls.Load() != 1 {
		t.Errorf("bypassed Subjects = %v, %v after %d engine calls; want the engine's answer", res.Subjects, err, eng.calls.Load())
	}
}

func TestGuardSubjectsReturnsEngineErrors(t *testing.T) {
	eng := &subjectEngine{err: authz.ErrUnavailable}
	g := authz.NewGuard(eng, newOps(t))
	res, err := g.Subjects(t.Context(), authz.SubjectsQuestion{Resource: task1, Operation: authz.OpRead, SubjectType: "user"})
	if !errors.Is(err, authz.ErrUnavailable) || len(res.Subjects) != 0 {
		t.Errorf("Subjects = %v, %v; want no subjects and %v", res.Subjects, err, authz.ErrUnavailable)
	}
}

func TestFoundSubjectCovers(t *testing.T) {
	bob := authz.Subject{Type: "user", ID: "bob"}
	eng := authz.Subject{Type: "group", ID: "eng", Relation: "member"}
	public := authz.FoundSubject{Subject: authz.Wildcard("user"), Excluded: []authz.Subject{bob}}
	tests := []struct {
		name  string
		found authz.FoundSubject
		s     authz.Subject
		want  bool
	}{
		{"itself", authz.FoundSubject{Subject: alice}, alice, true},
		{"another", authz.FoundSubject{Subject: alice}, bob, false},
		{"subject set itself", authz.FoundSubject{Subject: eng}, eng, true},
		{"subject set's object", authz.FoundSubject{Subject: eng}, authz.Subject{Type: "group", ID: "eng"}, false},
		{"wildcard covers", public, alice, true},
		{"wildcard excludes", public, bob, false},
		{"wildcard of another type", public, authz.Subject{Type: "service", ID: "alice"}, false},
		{"wildcard and a subject set", public, authz.Subject{Type: "user", ID: "alice", Relation: "friends"}, false},
		{"wildcard and a wildcard", public, authz.Wildcard("user"), false},
		{"a string wildcard is not one", authz.FoundSubject{Subject: authz.Subject{Type: "user", ID: "*"}}, alice, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.found.Covers(tt.s); got != tt.want {
				t.Errorf("%v.Covers(%v) = %v, want %v", tt.found, tt.s, got, tt.want)
			}
		})
	}
	if got, want := public.String(), "user:* - {user:bob}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestAllSubjectsPages(t *testing.T) {
	bob, carol := authz.Subject{Type: "user", ID: "bob"}, authz.Subject{Type: "user", ID: "carol"}
	eng := &subjectEngine{pages: map[string]authz.SubjectLookupResult{
		"":   {Subjects: found(alice, bob), Cursor: "c1"},
		"c1": {Subjects: found(carol)},
	}}
	var got []authz.Subject
	for f, err := range authz.AllSubjects(t.Context(), eng, authz.SubjectLookupRequest{Limit: 2}) {
		if err != nil {
			t.Fatalf("AllSubjects: %v", err)
		}
		got = append(got, f.Subject)
	}
	if diff := cmp.Diff([]authz.Subject{alice, bob, carol}, got); diff != "" {
		t.Errorf("AllSubjects mismatch (-want +got):\n%s", diff)
	}
	// Breaking out after the first subject fetches no further page.
	eng.calls.Store(0)
	for range authz.AllSubjects(t.Context(), eng, authz.SubjectLookupRequest{Limit: 2}) {
		break
	}
	if n := eng.calls.Load(); n != 1 {
		t.Errorf("engine calls after a break = %d, want 1", n)
	}
}

func TestAllSubjectsStopsOnErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		eng  *subjectEngine
		want error
	}{
		{"engine error", &subjectEngine{err: authz.ErrUnavailable}, authz.ErrUnavailable},
		{"cursor that does not advance", &subjectEngine{pages: map[string]authz.SubjectLookupResult{"": {Subjects: found(alice), Cursor: "c"}, "c": {Subjects: found(alice), Cursor: "c"}}}, authz.ErrInvalidRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var errs []error
			n := 0
			for _, err := range authz.AllSubjects(t.Context(), tt.eng, authz.SubjectLookupRequest{}) {
				n++
				if err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) != 1 || !errors.Is(errs[0], tt.want) {
				t.Errorf("errors = %v, want one matching %v", errs, tt.want)
			}
			if n > 3 {
				t.Errorf("yielded %d times, want the iteration to stop at the error", n)
			}
		})
	}
}
