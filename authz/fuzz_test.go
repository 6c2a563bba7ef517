package authz_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
)

// parseSeeds are inputs at the edges of the grammar of both parsers.
var parseSeeds = []string{
	"", ":", "#", ":#", "::", "user:", ":alice", "user:alice", "user:ALICE", "USER:alice",
	"task:t1", "org/task:t1", "a/b/c:x", "/task:t1", "task/:t1", "org//task:t1",
	"user:*", "user:*#member", "user:**", "user:a*", "*:alice", "*:*",
	"group:eng#member", "group:eng#", "group:eng##member", "group:eng#member#x",
	"group:eng#Member", "group:eng#me", "group:eng#mem_", "group:eng#1member",
	"user:a:b", "user:alice#rel:y", "user:a|b=c+d-e/f_g", "user:a.b", "user:a b",
	"user:alice ", " user:alice", "user:alice\n", "user:alice\x00", "user:\xff",
	"user:ａlice", "user:alice\u200b", "us\u0130r:alice",
	"user:" + strings.Repeat("a", authz.MaxIDLength),
	"user:" + strings.Repeat("a", authz.MaxIDLength+1),
	"group:eng#" + strings.Repeat("m", 64),
	"group:eng#" + strings.Repeat("m", 65),
}

// FuzzParseSubject: no input panics; an error matches ErrInvalidRequest;
// an accepted subject validates, is not a wildcard, has an id in the
// grammar, is its input unchanged (nothing is normalised) and parses back
// to itself.
func FuzzParseSubject(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sub, err := authz.ParseSubject(s)
		obj, _, _ := strings.Cut(s, "#")
		if _, id, _ := strings.Cut(obj, ":"); id == authz.WildcardID && err == nil {
			t.Fatalf("ParseSubject(%q) accepted the wildcard id: %#v", s, sub)
		}
		if err != nil {
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("ParseSubject(%q): error %v does not match ErrInvalidRequest", s, err)
			}
			return
		}
		if err := sub.Validate(); err != nil {
			t.Fatalf("ParseSubject(%q) = %#v, which does not validate: %v", s, sub, err)
		}
		if sub.IsWildcard() || sub.ID == authz.WildcardID {
			t.Fatalf("ParseSubject(%q) = %#v, a wildcard", s, sub)
		}
		if !authz.ValidID(sub.ID) {
			t.Fatalf("ParseSubject(%q) = %#v, whose id ValidID refuses", s, sub)
		}
		if got := sub.String(); got != s {
			t.Fatalf("ParseSubject(%q).String() = %q, want the input unchanged", s, got)
		}
		again, err := authz.ParseSubject(sub.String())
		if err != nil || again != sub {
			t.Fatalf("ParseSubject(%q) = %#v; parsing its String() gives %#v, %v", s, sub, again, err)
		}
		// Whatever type parses, its wildcard does not.
		if w, err := authz.ParseSubject(sub.Type + ":" + authz.WildcardID); err == nil {
			t.Fatalf("ParseSubject(%q) accepted the wildcard: %#v", sub.Type+":*", w)
		}
	})
}

// FuzzParseResource: no input panics; an error matches ErrInvalidRequest;
// an accepted resource validates, has an id in the grammar (never the
// wildcard), is its input unchanged and parses back to itself.
func FuzzParseResource(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := authz.ParseResource(s)
		if err != nil {
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("ParseResource(%q): error %v does not match ErrInvalidRequest", s, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseResource(%q) = %#v, which does not validate: %v", s, r, err)
		}
		if r.ID == authz.WildcardID || !authz.ValidID(r.ID) {
			t.Fatalf("ParseResource(%q) = %#v, whose id ValidID refuses", s, r)
		}
		if got := r.String(); got != s {
			t.Fatalf("ParseResource(%q).String() = %q, want the input unchanged", s, got)
		}
		again, err := authz.ParseResource(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseResource(%q) = %#v; parsing its String() gives %#v, %v", s, r, again, err)
		}
	})
}
