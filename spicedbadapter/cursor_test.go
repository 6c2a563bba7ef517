package spicedbadapter

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fgac-go/fgac/authz"
)

func TestEnumerateCursorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    authz.Consistency
	}{
		{name: "minimize latency", c: authz.MinimizeLatency()},
		{name: "fully consistent", c: authz.FullyConsistent()},
		{name: "at least as fresh", c: authz.AtLeastAsFresh(authz.NewToken("GhUKEzE3NjQ"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := pageState{consistency: consistency(tt.c), limit: 7, cursor: "spicedb-cursor"}
			got, err := decodeEnumerateCursor(encodeEnumerateCursor(want))
			if err != nil {
				t.Fatalf("decodeEnumerateCursor: %v", err)
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(pageState{}), protocmp.Transform()); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookupCursorRoundTrip(t *testing.T) {
	c, after, err := decodeLookupCursor(encodeLookupCursor("snap", "t9"))
	if err != nil {
		t.Fatalf("decodeLookupCursor: %v", err)
	}
	if diff := cmp.Diff(exactSnapshot("snap"), c, protocmp.Transform()); diff != "" {
		t.Errorf("consistency mismatch (-want +got):\n%s", diff)
	}
	if after != "t9" {
		t.Errorf("after = %q, want t9", after)
	}
}

func TestCursorKindsDoNotMix(t *testing.T) {
	lookup := encodeLookupCursor("snap", "t9")
	if _, err := decodeEnumerateCursor(lookup); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("decodeEnumerateCursor(lookup cursor) error = %v, want %v", err, authz.ErrInvalidRequest)
	}
	enum := encodeEnumerateCursor(pageState{consistency: fullyConsistent(), limit: 3, cursor: "c"})
	if _, _, err := decodeLookupCursor(enum); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("decodeLookupCursor(enumerate cursor) error = %v, want %v", err, authz.ErrInvalidRequest)
	}
}

// FuzzDecodeCursor feeds untrusted cursors to both decoders: they never
// panic, refuse with ErrInvalidRequest, and whatever they accept encodes
// back to a cursor that decodes to the same state.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeLookupCursor("snap", "t9"))
	f.Add(encodeEnumerateCursor(pageState{consistency: consistency(authz.AtLeastAsFresh(authz.NewToken("z"))), limit: 3, cursor: "c"}))
	f.Add("s1.")
	f.Add("s1.e30")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if st, err := decodeEnumerateCursor(s); err != nil {
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("decodeEnumerateCursor error = %v, want %v", err, authz.ErrInvalidRequest)
			}
		} else {
			again, err := decodeEnumerateCursor(encodeEnumerateCursor(st))
			if err != nil {
				t.Fatalf("re-encoded enumerate cursor: %v", err)
			}
			if diff := cmp.Diff(st, again, cmp.AllowUnexported(pageState{}), protocmp.Transform()); diff != "" {
				t.Fatalf("enumerate cursor round trip mismatch (-want +got):\n%s", diff)
			}
		}
		if c, after, err := decodeLookupCursor(s); err != nil {
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("decodeLookupCursor error = %v, want %v", err, authz.ErrInvalidRequest)
			}
		} else {
			c2, after2, err := decodeLookupCursor(encodeLookupCursor(c.GetAtExactSnapshot().GetToken(), after))
			if err != nil || after2 != after || !cmp.Equal(c, c2, protocmp.Transform()) {
				t.Fatalf("lookup cursor round trip: %v, %q, %v; want %v, %q", c2, after2, err, c, after)
			}
		}
	})
}

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	p := retryPolicy{attempts: 10, base: 10 * time.Millisecond, max: 50 * time.Millisecond}
	for i, full := range []time.Duration{10, 20, 40, 50, 50, 50} {
		n := i + 1 // the wait after the first failed attempt is the base
		full *= time.Millisecond
		for range 100 {
			if got := p.backoff(n); got < full/2 || got > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, got, full/2, full)
			}
		}
	}
}

func TestSameRelationships(t *testing.T) {
	owner := authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: "alice"}}
	parent := authz.Relationship{Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "parent", Subject: authz.Subject{Type: "agent", ID: "a1"}}
	tests := []struct {
		name string
		got  []readRelationship
		want []authz.Relationship
		same bool
	}{
		{name: "equal", got: []readRelationship{{parent, true}, {owner, true}}, want: []authz.Relationship{owner, parent}, same: true},
		{name: "missing", got: []readRelationship{{owner, true}}, want: []authz.Relationship{owner, parent}},
		{name: "extra", got: []readRelationship{{owner, true}, {parent, true}}, want: []authz.Relationship{owner}},
		{name: "caveated", got: []readRelationship{{owner, false}}, want: []authz.Relationship{owner}},
		{name: "repeated", got: []readRelationship{{owner, true}, {owner, true}}, want: []authz.Relationship{owner}},
		{name: "none", want: []authz.Relationship{owner}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameRelationships(tt.got, tt.want); got != tt.same {
				t.Errorf("sameRelationships = %v, want %v", got, tt.same)
			}
		})
	}
}
