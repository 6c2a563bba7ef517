package memo

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// question is everything a key must tell apart.
type question struct {
	Mode                      authz.ConsistencyMode
	Token                     string
	SubjType, SubjID, SubjRel string
	ResType, ResID, Perm      string
	Context                   string
}

func questionOf(req authz.CheckRequest, c authz.Consistency) question {
	return question{
		Mode: c.Mode(), Token: c.Token().Value(),
		SubjType: req.Subject.Type, SubjID: req.Subject.ID, SubjRel: req.Subject.Relation,
		ResType: req.Resource.Type, ResID: req.Resource.ID, Perm: req.Permission,
		Context: contextKey(req.Context),
	}
}

// decodeKey inverts key; that it exists is the proof that key is
// injective.
func decodeKey(t *testing.T, k string) question {
	t.Helper()
	b := []byte(k)
	if len(b) == 0 {
		t.Fatalf("empty key")
	}
	q := question{Mode: authz.ConsistencyMode(b[0])}
	b = b[1:]
	for _, f := range []*string{&q.Token, &q.SubjType, &q.SubjID, &q.SubjRel, &q.ResType, &q.ResID, &q.Perm, &q.Context} {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			t.Fatalf("key %q: bad length prefix", k)
		}
		*f = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	if len(b) != 0 {
		t.Fatalf("key %q: %d trailing bytes", k, len(b))
	}
	return q
}

func TestDistinctQuestionsNeverShareAKey(t *testing.T) {
	t.Parallel()
	base := authz.CheckRequest{
		Subject:    authz.Subject{Type: "user", ID: "alice"},
		Resource:   authz.Resource{Type: "task", ID: "t1"},
		Permission: "read",
	}
	with := func(f func(*authz.CheckRequest)) authz.CheckRequest {
		r := base
		f(&r)
		return r
	}
	tok := authz.NewToken("tok")
	// Pairs that a naive "type:id#rel@..." or "|"-joined key would confuse.
	tests := []struct {
		name string
		a, b authz.CheckRequest
		ca   authz.Consistency
		cb   authz.Consistency
	}{
		{
			name: "separator moves between subject id and relation",
			a:    with(func(r *authz.CheckRequest) { r.Subject = authz.Subject{Type: "group", ID: "eng#member"} }),
			b:    with(func(r *authz.CheckRequest) { r.Subject = authz.Subject{Type: "group", ID: "eng", Relation: "member"} }),
		},
		{
			name: "pipe moves between resource id and permission",
			a:    with(func(r *authz.CheckRequest) { r.Resource.ID = "t1|read"; r.Permission = "own" }),
			b:    with(func(r *authz.CheckRequest) { r.Resource.ID = "t1"; r.Permission = "read|own" }),
		},
		{
			name: "bytes move between subject and resource",
			a:    with(func(r *authz.CheckRequest) { r.Subject.ID = "al"; r.Resource.Type = "icetask" }),
			b:    with(func(r *authz.CheckRequest) { r.Subject.ID = "alice"; r.Resource.Type = "task" }),
		},
		{
			name: "length-prefix look-alike in an id",
			a:    with(func(r *authz.CheckRequest) { r.Subject.ID = "a\x01b"; r.Subject.Relation = "" }),
			b:    with(func(r *authz.CheckRequest) { r.Subject.ID = "a"; r.Subject.Relation = "b" }),
		},
		{
			name: "same question, consistency modes differ",
			a:    base, ca: authz.MinimizeLatency(),
			b: base, cb: authz.FullyConsistent(),
		},
		{
			name: "same question, tokens differ",
			a:    base, ca: authz.AtLeastAsFresh(tok),
			b: base, cb: authz.AtLeastAsFresh(authz.NewToken("tok2")),
		},
		{
			name: "token bytes look like the subject",
			a:    base, ca: authz.AtLeastAsFresh(authz.NewToken("\x04user")),
			b: with(func(r *authz.CheckRequest) { r.Subject.Type = "" }), cb: authz.AtLeastAsFresh(authz.NewToken("\x04user\x04user")),
		},
		{
			name: "same question, contexts differ",
			a:    with(func(r *authz.CheckRequest) { r.Context = authz.NewContext(map[string]any{"a": 1}) }),
			b:    with(func(r *authz.CheckRequest) { r.Context = authz.NewContext(map[string]any{"a": 2}) }),
		},
		{
			name: "same question, with and without a context",
			a:    base,
			b:    with(func(r *authz.CheckRequest) { r.Context = authz.NewContext(map[string]any{"a": 1}) }),
		},
		{
			name: "empty fields",
			a:    authz.CheckRequest{Permission: "ab"},
			b:    authz.CheckRequest{Resource: authz.Resource{ID: "ab"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := key(tc.a, tc.ca), key(tc.b, tc.cb)
			if ka == kb {
				t.Fatalf("distinct questions share key %q", ka)
			}
			for _, x := range []struct {
				req authz.CheckRequest
				c   authz.Consistency
				k   string
			}{{tc.a, tc.ca, ka}, {tc.b, tc.cb, kb}} {
				if diff := cmp.Diff(questionOf(x.req, x.c), decodeKey(t, x.k)); diff != "" {
					t.Errorf("decoded key mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// FuzzKey checks that every key decodes back into its question, so that
// no two distinct questions can share one.
func FuzzKey(f *testing.F) {
	f.Add(uint8(0), "", "user", "alice", "", "task", "t1", "read")
	f.Add(uint8(1), "tok", "group", "eng#member", "", "task", "t1|read", "own")
	f.Add(uint8(2), "\x04user", "", "a\x01b", "b", "", "", "")
	f.Fuzz(func(t *testing.T, mode uint8, tok, st, sid, srel, rt, rid, perm string) {
		c := authz.MinimizeLatency()
		switch mode % 3 {
		case 1:
			c = authz.AtLeastAsFresh(authz.NewToken(tok))
		case 2:
			c = authz.FullyConsistent()
		}
		req := authz.CheckRequest{
			Subject:    authz.Subject{Type: st, ID: sid, Relation: srel},
			Resource:   authz.Resource{Type: rt, ID: rid},
			Permission: perm,
		}
		if diff := cmp.Diff(questionOf(req, c), decodeKey(t, key(req, c))); diff != "" {
			t.Errorf("decoded key mismatch (-want +got):\n%s", diff)
		}
	})
}
