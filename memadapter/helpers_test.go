package memadapter_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// newAuthorizer returns an authorizer for schema holding rels, written in
// the notation of parseRel.
func newAuthorizer(t testing.TB, schema string, rels ...string) *memadapter.Authorizer {
	t.Helper()
	a, err := memadapter.New(schema)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if len(rels) > 0 {
		touch := make([]authz.Relationship, len(rels))
		for i, r := range rels {
			touch[i] = parseRel(t, r)
		}
		if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: touch}); err != nil {
			t.Fatalf("Write(%v): %v", rels, err)
		}
	}
	return a
}

// parseRel parses "type:id#relation@subject" where the subject is
// "type:id", "type:id#relation" or "type:*".
func parseRel(t testing.TB, s string) authz.Relationship {
	t.Helper()
	res, sub, ok := strings.Cut(s, "@")
	if !ok {
		t.Fatalf("relationship %q has no @", s)
	}
	obj, rel, ok := strings.Cut(res, "#")
	if !ok {
		t.Fatalf("relationship %q has no #relation", s)
	}
	return authz.Relationship{Resource: parseObject(t, obj), Relation: rel, Subject: parseSubject(t, sub)}
}

func parseObject(t testing.TB, s string) authz.Resource {
	t.Helper()
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		t.Fatalf("object %q is not type:id", s)
	}
	return authz.Resource{Type: typ, ID: id}
}

func parseSubject(t testing.TB, s string) authz.Subject {
	t.Helper()
	obj, rel, _ := strings.Cut(s, "#")
	o := parseObject(t, obj)
	if o.ID == authz.WildcardID && rel == "" {
		return authz.Wildcard(o.Type)
	}
	return authz.Subject{Type: o.Type, ID: o.ID, Relation: rel}
}

// parseCheck parses "type:id#permission@subject" into a request.
func parseCheck(t testing.TB, s string) authz.CheckRequest {
	t.Helper()
	r := parseRel(t, s)
	return authz.CheckRequest{Resource: r.Resource, Permission: r.Relation, Subject: r.Subject}
}

// outcome is the result of a check in the tables: "allow", "deny" or the
// name of the sentinel the error matches.
func outcome(d authz.Decision, err error) string {
	switch {
	case err == nil && d.Allowed():
		return "allow"
	case err == nil:
		return "deny"
	case d.Allowed():
		return "allowed with error " + err.Error()
	case errors.Is(err, authz.ErrInvalidRequest):
		return "invalid"
	case errors.Is(err, authz.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, authz.ErrConflict):
		return "conflict"
	}
	return "error " + err.Error()
}

// errOutcome is outcome for calls without a decision.
func errOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	return outcome(authz.Deny(), err)
}
