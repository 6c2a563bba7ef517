package memadapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// stallingWriter blocks in its first Write until release is closed, and
// counts the Writes after it.
type stallingWriter struct {
	entered chan struct{} // closed when the first Write begins
	release chan struct{}
	once    sync.Once
	later   atomic.Int64
}

func newStallingWriter() *stallingWriter {
	return &stallingWriter{entered: make(chan struct{}), release: make(chan struct{})}
}

func (w *stallingWriter) Write(p []byte) (int, error) {
	first := false
	w.once.Do(func() { first = true })
	if !first {
		w.later.Add(1)
		return len(p), nil
	}
	close(w.entered)
	<-w.release
	return len(p), nil
}

// startStalledBackup starts a Backup of a into a stalling writer under
// ctx and waits until it is blocked in the writer. The Backup's error is
// sent on the returned channel.
func startStalledBackup(t *testing.T, ctx context.Context, a *memadapter.Authorizer) (*stallingWriter, <-chan error) {
	t.Helper()
	w := newStallingWriter()
	result := make(chan error, 1)
	go func() {
		_, err := a.Backup(ctx, w)
		result <- err
	}()
	select {
	case <-w.entered:
	case err := <-result:
		t.Fatalf("Backup returned before writing: %v", err)
	}
	return w, result
}

// TestWritesGoOnWhileABackupIsStalled backs up into a writer that blocks,
// and meanwhile writes enough to make the file grow several times: the
// writes complete while the backup is blocked (bbolt remaps a growing
// file, which waits for every read transaction, unless the mapping was
// made large enough ahead). The backup's deadline passes while it is
// blocked; once released it returns the context's error without writing
// more.
func TestWritesGoOnWhileABackupIsStalled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a := openDurable(t, path, benchSchema)
	ctx := context.Background()
	if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: "alice"},
	}}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	w, backup := startStalledBackup(t, bctx, a)

	const writes, perWrite = 5, 20_000
	done := make(chan error, 1)
	go func() {
		for i := range writes {
			rels := make([]authz.Relationship, perWrite)
			for k := range rels {
				rels[k] = authz.Relationship{
					Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("b%d-%06d", i, k)},
					Relation: "owner",
					Subject:  authz.Subject{Type: "user", ID: "alice"},
				}
			}
			if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// Not a timing assertion: without the fix the writes wait for the
	// backup forever; two minutes is far more than 100,000 relationships
	// take on the slowest machine.
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Write during the backup: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Errorf("writes blocked behind a stalled backup")
		close(w.release)
		<-done
		<-backup
		return
	}
	after, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() < 4*before.Size() {
		t.Errorf("the file grew from %d to %d bytes only; the test needs it to grow", before.Size(), after.Size())
	}

	<-bctx.Done()
	close(w.release)
	err = <-backup
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("Backup after its deadline: %v, want context.DeadlineExceeded and ErrUnavailable", err)
	}
	if n := w.later.Load(); n != 0 {
		t.Errorf("Backup wrote %d more times after its deadline", n)
	}
	// The engine still serves.
	if _, err := a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t"}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"},
	}}); err != nil {
		t.Fatal(err)
	}
}

// TestCloseStopsARunningBackup closes the engine while a backup is
// blocked in its writer: Close waits for that Write, and the Backup then
// stops with an error matching ErrUnavailable instead of writing the rest.
func TestCloseStopsARunningBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		writeScript(t, a, round)
	}
	w, backup := startStalledBackup(t, context.Background(), a)
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned while a Backup was in its writer: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(w.release)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	err = <-backup
	if !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("Backup stopped by Close: %v, want ErrUnavailable", err)
	}
	if n := w.later.Load(); n != 0 {
		t.Errorf("Backup wrote %d more times after Close", n)
	}
	// The file is whole.
	b := openDurable(t, path, writeSchema)
	if _, err := b.Backup(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
}
