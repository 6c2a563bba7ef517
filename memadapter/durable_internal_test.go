package memadapter

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/fgac-go/fgac/authz"
)

// TestTxWritesAppliesTheLastOperationOnAKey queues several operations on
// the same keys, out of key order, and checks that the bucket ends as if
// they had been applied one by one, and that a read between them sees the
// operations before it.
func TestTxWritesAppliesTheLastOperationOnAKey(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res := authz.Resource{Type: "task", ID: "t"}
	rel := func(user string) authz.Relationship {
		return authz.Relationship{Resource: res, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: user}}
	}
	key := func(user string) []byte { return relationshipKey(rel(user)) }
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketRelationships)
		if err != nil {
			return err
		}
		if err := b.Put(key("stored"), []byte{}); err != nil {
			return err
		}
		w := &txWrites{b: b}
		w.add(key("z"), []byte{}, false)
		w.add(key("stored"), nil, true)
		w.add(key("a"), []byte{}, false)
		w.add(key("a"), nil, true)
		if diff := cmp.Diff([]authz.Relationship{rel("z")}, w.relationshipsIn(res, false)); diff != "" {
			t.Errorf("read in the batch: mismatch (-want +got):\n%s", diff)
		}
		w.add(key("z"), nil, true)
		w.add(key("stored"), []byte{}, false)
		w.add(key("m"), nil, true)
		w.add(key("m"), []byte{}, false)
		if diff := cmp.Diff([]authz.Relationship{rel("m"), rel("stored")}, w.relationshipsIn(res, false)); diff != "" {
			t.Errorf("second read in the batch: mismatch (-want +got):\n%s", diff)
		}
		if err := w.flush(b); err != nil {
			return err
		}
		var got []string
		b.ForEach(func(k, _ []byte) error { got = append(got, string(k)); return nil })
		if diff := cmp.Diff([]string{string(key("m")), string(key("stored"))}, got); diff != "" {
			t.Errorf("bucket: mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// recorder records the operations flush gives it.
type recorder []string

func (r *recorder) Put(k, _ []byte) error { *r = append(*r, "put "+string(k)); return nil }
func (r *recorder) Delete(k []byte) error { *r = append(*r, "delete "+string(k)); return nil }

// TestTxWritesFlushesInKeyOrder queues operations in random key order
// and checks that flush gives them to the bucket in key order, one per
// key, the last queued: bbolt takes time quadratic in the number of
// unsorted puts into one transaction.
func TestTxWritesFlushesInKeyOrder(t *testing.T) {
	w := &txWrites{}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	want := make([]string, n)
	for _, i := range rng.Perm(n) {
		k := fmt.Sprintf("k%04d", i)
		w.add([]byte(k), []byte{}, false)
		want[i] = "put " + k
		if i%3 == 0 {
			w.add([]byte(k), nil, true)
			want[i] = "delete " + k
		}
		if i%5 == 0 {
			w.add([]byte(k), []byte{}, false)
			want[i] = "put " + k
		}
	}
	var got recorder
	if err := w.flush(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, []string(got)); diff != "" {
		t.Errorf("operations given to the bucket: mismatch (-want +got):\n%s", diff)
	}
}
