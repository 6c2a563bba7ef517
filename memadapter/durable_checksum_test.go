package memadapter

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fgac-go/fgac/authz"
)

const checksumSchema = `use expiration
caveat over_one(x int) {
	x > 1
}
definition user {}
definition doc {
	relation viewer: user | user with expiration | user with over_one
	permission view = viewer
}
`

// flipInFile replaces every occurrence of old in the file at path (the
// live copy and any that bbolt's free pages still hold) with repl, of the
// same length, as damage to the disk would.
func flipInFile(t *testing.T, path string, old, repl []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, old) {
		t.Fatalf("%q is not in the file", old)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(data, old, repl), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesDamagedBytes damages the bytes of one stored
// relationship as a disk would (a subject id whose one letter changes, a
// caveat's stored context, an expiration): bbolt does not notice, as its
// pages are still well formed, and without a checksum the grant would
// silently move to another subject or condition. Open must refuse the
// file, naming it, and leave it as it is.
func TestOpenRefusesDamagedBytes(t *testing.T) {
	doc := authz.Resource{Type: "doc", ID: "d1"}
	future := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		rel       authz.Relationship
		old, repl []byte
	}{
		{"subject id", authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "zq-alice"}}, []byte("zq-alice"), []byte("zq-alicf")},
		{"stored context", authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}, Caveat: authz.Caveat{Name: "over_one", Context: authz.NewContext(map[string]any{"x": 7})}}, []byte(`{"x":7}`), []byte(`{"x":0}`)},
		{"expiration", authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "carol"}, Expiration: future}, bytes.Clone(seal(nil, encodeValue(authz.Relationship{Expiration: future}))[5:13]), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "graph.db")
			a, err := Open(path, checksumSchema, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{tt.rel}}); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			repl := tt.repl
			if repl == nil { // the expiration: a year later
				repl = bytes.Clone(tt.old)
				repl[2]++
			}
			flipInFile(t, path, tt.old, repl)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(path, checksumSchema, nil)
			if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "checksum") {
				t.Fatalf("Open of a file with damaged bytes: %v, want an error naming the file and its failed checksum", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("Open changed the damaged file it refused")
			}
		})
	}
}

// writeOldFile writes, at path, a file as builds before checksums wrote
// it (format, revision and values unsealed): n plain viewers of doc d1,
// one expiring viewer and revision rev.
func writeOldFile(t *testing.T, path, format string, n int, expires time.Time, rev uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		rels, err := tx.CreateBucket(bucketRelationships)
		if err != nil {
			return err
		}
		doc := authz.Resource{Type: "doc", ID: "d1"}
		for i := range n {
			r := authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: fmt.Sprintf("u%06d", i)}}
			if err := rels.Put(relationshipKey(r), encodeValue(r)); err != nil {
				return err
			}
		}
		r := authz.Relationship{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "later"}, Expiration: expires}
		if err := rels.Put(relationshipKey(r), encodeValue(r)); err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(format)); err != nil {
			return err
		}
		return meta.Put(keyRevision, revisionBytes(rev))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenSealsAFileOfAnEarlierBuild opens files that builds before
// checksums wrote (both of their formats, one with more relationships than
// a sealing batch): every relationship and the revision survive, the file
// is rewritten with every value sealed, so that damage to it is found from
// then on, and the next Open reads it as it is.
func TestOpenSealsAFileOfAnEarlierBuild(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := now.Add(time.Hour)
	opts := &Options{Now: func() time.Time { return now }}
	for _, tt := range []struct {
		format string
		n      int
	}{{formatVersion, 3}, {formatConditional, 25_001}} {
		t.Run(fmt.Sprintf("%s/%d", tt.format, tt.n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "graph.db")
			writeOldFile(t, path, tt.format, tt.n, expires, 41)
			a, err := Open(path, checksumSchema, opts)
			if err != nil {
				t.Fatal(err)
			}
			rels, err := a.ReadRelationships(t.Context(), authz.ReadRequest{Resource: authz.Resource{Type: "doc", ID: "d1"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rels) != tt.n+1 {
				t.Fatalf("read %d relationships, want %d", len(rels), tt.n+1)
			}
			tok, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{{Resource: authz.Resource{Type: "doc", ID: "d2"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "u000000"}}}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tok, a.tokenAt(42); got != want {
				t.Errorf("token of the first write = %v, want %v (revision 41 kept)", got, want)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}

			db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			err = db.View(func(tx *bolt.Tx) error {
				meta := tx.Bucket(bucketMeta)
				if f := string(meta.Get(keyFormat)); f != formatChecked {
					t.Errorf("format = %q, want %q", f, formatChecked)
				}
				if _, ok := unseal(keyRevision, meta.Get(keyRevision)); !ok {
					t.Error("the revision is not sealed")
				}
				unsealed := 0
				tx.Bucket(bucketRelationships).ForEach(func(k, v []byte) error {
					if _, ok := unseal(k, v); !ok {
						unsealed++
					}
					return nil
				})
				if unsealed != 0 {
					t.Errorf("%d values not sealed", unsealed)
				}
				return nil
			})
			db.Close()
			if err != nil {
				t.Fatal(err)
			}

			a, err = Open(path, checksumSchema, opts)
			if err != nil {
				t.Fatal(err)
			}
			d, err := a.Check(t.Context(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "later"}, Resource: authz.Resource{Type: "doc", ID: "d1"}, Permission: "view"})
			if err != nil || !d.Allowed() {
				t.Errorf("the expiring viewer after two opens: %v, %v; want allowed", d, err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			flipInFile(t, path, []byte("later"), []byte("lates"))
			if _, err := Open(path, checksumSchema, opts); err == nil || !strings.Contains(err.Error(), "checksum") {
				t.Errorf("Open after damage to a sealed file of an earlier build: %v, want a checksum error", err)
			}
		})
	}
}

// TestRevisionNeverWraps: a file whose revision is the largest there is
// (crafted; no file reaches it by writing) opens, but a write fails
// instead of returning the token of revision 0 (tokens never go back).
func TestRevisionNeverWraps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	writeOldFile(t, path, formatConditional, 1, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), ^uint64(0))
	a, err := Open(path, checksumSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{{Resource: authz.Resource{Type: "doc", ID: "d9"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "u9"}}}})
	if err == nil {
		t.Fatalf("Write at the last revision = %v, want an error", tok)
	}
	rels, err := a.ReadRelationships(t.Context(), authz.ReadRequest{Resource: authz.Resource{Type: "doc", ID: "d9"}})
	if err != nil || len(rels) != 0 {
		t.Errorf("after the failed write: %v, %v; want nothing", rels, err)
	}
}
