package memadapter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// relationshipsRoot returns the page size of the bbolt file at path and
// the offset of the root page of its relationships bucket, which must not
// be inline. The file must not be open.
func relationshipsRoot(t *testing.T, path string) (pageSize int, offset int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("relationships"))
		if b == nil {
			return errors.New("no relationships bucket")
		}
		if b.Root() == 0 {
			return errors.New("the relationships bucket is inline")
		}
		pageSize = db.Info().PageSize
		offset = int64(b.Root()) * int64(pageSize)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pageSize, offset
}

// TestAPanicInACommitFailsClosed damages, under an open durable engine,
// the root page of its relationships in the file (bbolt reads pages
// through a shared mapping, so the next transaction sees the damage, and
// bbolt panics on a page of unknown type). Every write of the batch that
// meets the page fails with an error matching [authz.ErrInternal] that
// names the file, with no crash and no hang; every later write fails as
// documented, until the engine is reopened; reads keep answering the last
// acknowledged state. A reopening while the page is damaged is refused
// with an error naming the file; once the page is repaired (the fault was
// transient) the file reopens with every acknowledged write and none of
// the failed ones.
func TestAPanicInACommitFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a := openDurable(t, path, writeSchema)
	for round := range 20 {
		writeScript(t, a, round)
	}
	before := dump(t, a)
	a.Close()

	pageSize, offset := relationshipsRoot(t, path)
	a = openDurable(t, path, writeSchema)
	if got := dump(t, a); !cmp.Equal(got, before) {
		t.Fatalf("reopened before the fault: mismatch (-want +got):\n%s", cmp.Diff(before, got))
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, pageSize)
	if _, err := f.ReadAt(page, offset); err != nil {
		t.Fatal(err)
	}
	// Bytes 8 and 9 of a page header are its flags: 0xffff is no type.
	if _, err := f.WriteAt([]byte{0xff, 0xff}, offset+8); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	owner := authz.Subject{Type: "user", ID: "alice"}
	// Concurrent writers of every kind, so that a batch of several
	// requests meets the panic.
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			res := authz.Resource{Type: "task", ID: fmt.Sprintf("fault-%d", i)}
			switch i % 4 {
			case 0:
				_, errs[i] = a.Register(ctx, authz.RegisterRequest{Resource: res, Owner: owner})
			case 1:
				_, errs[i] = a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: res, Relation: "viewer", Subject: owner}})
			case 2:
				_, errs[i] = a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{
					{Resource: res, Relation: "owner", Subject: owner},
					{Resource: res, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}},
				}})
			case 3:
				_, errs[i] = a.Deregister(ctx, authz.DeregisterRequest{Resource: authz.Resource{Type: "task", ID: "t1-0"}})
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, authz.ErrInternal) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "panic") {
			t.Errorf("writer %d: %v, want ErrInternal naming %s and the panic", i, err, path)
		}
	}
	t.Logf("the write that met the damaged page: %v", errs[0])

	// The page is repaired, but the engine stays failed until reopened.
	if _, err := f.WriteAt(page, offset); err != nil {
		t.Fatal(err)
	}
	_, err = a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: "after"}, Relation: "owner", Subject: owner}})
	if !errors.Is(err, authz.ErrInternal) || !strings.Contains(err.Error(), path) {
		t.Errorf("a write after the failed commit: %v, want the commit's error", err)
	}
	if got := dump(t, a); !cmp.Equal(got, before) {
		t.Errorf("reads after the failed commit: mismatch (-want +got):\n%s", cmp.Diff(before, got))
	}
	d, err := a.Check(ctx, authz.CheckRequest{Resource: authz.Resource{Type: "task", ID: "t1-0"}, Permission: "read", Subject: owner})
	if err != nil || !d.Allowed() {
		t.Errorf("Check of an acknowledged owner after the failed commit = %v, %v; want allowed", d, err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close after the failed commit: %v", err)
	}

	// Damaged again: the file is refused, never loaded partially.
	if _, err := f.WriteAt([]byte{0xff, 0xff}, offset+8); err != nil {
		t.Fatal(err)
	}
	if b, err := memadapter.Open(path, writeSchema, nil); err == nil {
		b.Close()
		t.Error("Open of the damaged file succeeded")
	} else if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open of the damaged file: %v, want ErrUnavailable naming %s", err, path)
	}
	if _, err := f.WriteAt(page, offset); err != nil {
		t.Fatal(err)
	}
	b := openDurable(t, path, writeSchema)
	if got := dump(t, b); !cmp.Equal(got, before) {
		t.Errorf("reopened after the fault: mismatch (-want +got):\n%s", cmp.Diff(before, got))
	}
	if _, err := b.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: "after"}, Relation: "owner", Subject: owner}}); err != nil {
		t.Errorf("a write after reopening: %v", err)
	}
}
