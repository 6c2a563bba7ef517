package memadapter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/authz/authztest"
	"github.com/fgac-go/fgac/memadapter"
)

// openDurable opens path with schema and closes it at cleanup.
func openDurable(t testing.TB, path, schema string) *memadapter.Authorizer {
	t.Helper()
	a, err := memadapter.Open(path, schema, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// dump returns every relationship a holds, in SpiceDB notation, sorted.
func dump(t testing.TB, a *memadapter.Authorizer) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, d := range a.Schema().Definitions {
		cursor := ""
		for {
			page, err := a.Enumerate(ctx, authz.EnumerateRequest{ResourceType: d.Name, Cursor: cursor})
			if err != nil {
				t.Fatalf("Enumerate(%s): %v", d.Name, err)
			}
			for _, id := range page.IDs {
				rels, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: authz.Resource{Type: d.Name, ID: id}})
				if err != nil {
					t.Fatalf("ReadRelationships: %v", err)
				}
				out = append(out, relStrings(rels)...)
			}
			if page.Cursor == "" {
				break
			}
			cursor = page.Cursor
		}
	}
	slices.Sort(out)
	return out
}

// revisionOf returns the revision a memadapter token carries.
func revisionOf(t testing.TB, tok authz.Token) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(strings.TrimPrefix(tok.Value(), "mem:"), 10, 64)
	if err != nil {
		t.Fatalf("token %q: %v", tok.Value(), err)
	}
	return n
}

// writeScript applies the same writes of every kind to a: registrations
// (with and without parent, a retry and a conflict), grants of users,
// wildcards and subject sets, revokes, a multi-relationship write and a
// deregistration. It returns the token of the last write.
func writeScript(t testing.TB, a *memadapter.Authorizer, round int) authz.Token {
	t.Helper()
	ctx := context.Background()
	var last authz.Token
	ok := func(tok authz.Token, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		last = tok
	}
	id := func(s string) string { return fmt.Sprintf("%s-%d", s, round) }
	task := func(s string) authz.Resource { return authz.Resource{Type: "task", ID: id(s)} }
	alice := authz.Subject{Type: "user", ID: "alice"}
	agent := authz.Resource{Type: "agent", ID: id("a")}
	ok(a.Register(ctx, authz.RegisterRequest{Resource: agent, Owner: alice}))
	ok(a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: alice, Parent: &agent}))
	ok(a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: alice, Parent: &agent})) // a retry
	if _, err := a.Register(ctx, authz.RegisterRequest{Resource: task("t1"), Owner: authz.Subject{Type: "user", ID: "bob"}}); !errors.Is(err, authz.ErrConflict) {
		t.Fatalf("conflicting Register: %v, want ErrConflict", err)
	}
	ok(a.Register(ctx, authz.RegisterRequest{Resource: task("t2"), Owner: authz.Subject{Type: "group", ID: "eng", Relation: "member"}}))
	ok(a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}}}))
	ok(a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t2"), Relation: "viewer", Subject: authz.Wildcard("user")}}))
	ok(a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "group", ID: "eng"}, Relation: "member", Subject: authz.Subject{Type: "user", ID: id("carol")}}}))
	ok(a.Revoke(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}}}))
	ok(a.Write(ctx, authz.WriteRequest{
		Touch: []authz.Relationship{
			{Resource: task("t3"), Relation: "owner", Subject: alice},
			{Resource: task("t3"), Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "dave"}},
			{Resource: task("t3"), Relation: "parent", Subject: authz.Subject{Type: "agent", ID: agent.ID}},
		},
		Delete: []authz.Relationship{
			{Resource: task("t2"), Relation: "viewer", Subject: authz.Wildcard("user")},
		},
	}))
	ok(a.Register(ctx, authz.RegisterRequest{Resource: task("t4"), Owner: alice}))
	ok(a.Deregister(ctx, authz.DeregisterRequest{Resource: task("t4")}))
	ok(a.Deregister(ctx, authz.DeregisterRequest{Resource: task("never")}))
	return last
}

// TestOpenKeepsEveryAcknowledgedWrite writes every kind of write to a
// durable engine and to an in-memory one, reopens the file after each
// round, and compares: the reopened engine holds exactly what the
// in-memory one holds, answers checks alike, and its tokens keep
// increasing across reopenings.
func TestOpenKeepsEveryAcknowledgedWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "graph.db")
	mem := newAuthorizer(t, writeSchema)
	var lastRev uint64
	for round := range 3 {
		a, err := memadapter.Open(path, writeSchema, nil)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		if diff := cmp.Diff(dump(t, mem), dump(t, a)); diff != "" {
			t.Fatalf("round %d: reopened relationships mismatch (-want +got):\n%s", round, diff)
		}
		tok := writeScript(t, a, round)
		writeScript(t, mem, round)
		if rev := revisionOf(t, tok); rev <= lastRev {
			t.Errorf("round %d: token revision %d after a reopening, want more than %d", round, rev, lastRev)
		} else {
			lastRev = rev
		}
		for _, q := range []string{"task:t1-0#read@user:alice", "task:t2-1#read@user:carol-1", "task:t3-2#read@user:dave", "task:t2-0#read@user:zed", "task:t4-1#read@user:alice"} {
			req := parseCheck(t, q)
			want := outcome(mem.Check(context.Background(), req))
			if got := outcome(a.Check(context.Background(), req)); got != want {
				t.Errorf("round %d: Check(%s) = %s, want %s", round, q, got, want)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := a.Grant(context.Background(), authz.GrantRequest{Relationship: parseRel(t, "task:x#viewer@user:bob")}); !errors.Is(err, authz.ErrUnavailable) {
			t.Errorf("Grant after Close: %v, want ErrUnavailable", err)
		}
	}
}

// reopening is an [authz.Authorizer] over a durable engine that closes and
// reopens its file after every write, so that every answer after a write
// comes from what was loaded from disk.
type reopening struct {
	t            testing.TB
	path, schema string

	mu sync.RWMutex // guards a
	a  *memadapter.Authorizer
}

func newReopening(t testing.TB, schema string) *reopening {
	r := &reopening{t: t, path: filepath.Join(t.TempDir(), "graph.db"), schema: schema}
	r.a = openDurable(t, r.path, schema)
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.a.Close()
	})
	return r
}

// write runs fn on the engine, then reopens it.
func (r *reopening) write(fn func(a *memadapter.Authorizer) (authz.Token, error)) (authz.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tok, err := fn(r.a)
	if cerr := r.a.Close(); cerr != nil {
		r.t.Errorf("Close: %v", cerr)
	}
	a, oerr := memadapter.Open(r.path, r.schema, nil)
	if oerr != nil {
		r.t.Errorf("reopen: %v", oerr)
		return authz.Token{}, oerr
	}
	r.a = a
	return tok, err
}

func (r *reopening) current() *memadapter.Authorizer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.a
}

func (r *reopening) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	return r.current().Check(ctx, req)
}

func (r *reopening) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	return r.current().CheckMany(ctx, req)
}

func (r *reopening) Lookup(ctx context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	return r.current().Lookup(ctx, req)
}

func (r *reopening) ReadRelationships(ctx context.Context, req authz.ReadRequest) ([]authz.Relationship, error) {
	return r.current().ReadRelationships(ctx, req)
}

func (r *reopening) Enumerate(ctx context.Context, req authz.EnumerateRequest) (authz.EnumerateResult, error) {
	return r.current().Enumerate(ctx, req)
}

func (r *reopening) Register(ctx context.Context, req authz.RegisterRequest) (authz.Token, error) {
	return r.write(func(a *memadapter.Authorizer) (authz.Token, error) { return a.Register(ctx, req) })
}

func (r *reopening) Deregister(ctx context.Context, req authz.DeregisterRequest) (authz.Token, error) {
	return r.write(func(a *memadapter.Authorizer) (authz.Token, error) { return a.Deregister(ctx, req) })
}

func (r *reopening) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return r.write(func(a *memadapter.Authorizer) (authz.Token, error) { return a.Grant(ctx, req) })
}

func (r *reopening) Revoke(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	return r.write(func(a *memadapter.Authorizer) (authz.Token, error) { return a.Revoke(ctx, req) })
}

func (r *reopening) Write(ctx context.Context, req authz.WriteRequest) (authz.Token, error) {
	return r.write(func(a *memadapter.Authorizer) (authz.Token, error) { return a.Write(ctx, req) })
}

// TestConformanceDurable runs the conformance suite on durable engines:
// once reopened after every write, so that answers come from disk, and once
// kept open, so that concurrent writes are group-committed.
func TestConformanceDurable(t *testing.T) {
	t.Run("reopened", func(t *testing.T) {
		authztest.Run(t, func(t *testing.T, schema string) authz.Authorizer {
			return newReopening(t, schema)
		})
	})
	t.Run("open", func(t *testing.T) {
		authztest.Run(t, func(t *testing.T, schema string) authz.Authorizer {
			return openDurable(t, filepath.Join(t.TempDir(), "graph.db"), schema)
		})
	})
}

// TestOpenRefusesASchemaThatStrandsRelationships reopens a file with
// schemas that no longer allow some stored relationships: each is refused
// with an error that says what and how many, the file is left as it was,
// and the old schema still opens it whole. A compatible change opens.
func TestOpenRefusesASchemaThatStrandsRelationships(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeScript(t, a, 0)
	writeScript(t, a, 1)
	want := dump(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		schema string
		// wantMsg are substrings of the error.
		wantMsg []string
	}{
		{
			name:    "removed relation",
			schema:  withTask("relation parent: agent\n\trelation owner: user | group#member\n\tpermission read = owner + parent->owner"),
			wantMsg: []string{"does not allow 2 stored relationships", `2 with relation "viewer" of "task", which the schema no longer defines`},
		},
		{
			name:    "removed wildcard",
			schema:  withTask("relation parent: agent\n\trelation owner: user | group#member\n\trelation viewer: user\n\tpermission read = owner + viewer + parent->owner"),
			wantMsg: nil, // the script deletes every wildcard it writes
		},
		{
			name:    "removed subject type",
			schema:  withTask("relation parent: agent\n\trelation owner: user\n\trelation viewer: user | user:*\n\tpermission read = owner + viewer + parent->owner"),
			wantMsg: []string{"does not allow 2 stored relationships", `2 with subjects of type group#member on relation "owner" of "task", which the relation no longer allows`},
		},
		{
			name: "removed type",
			schema: `definition user {}
definition group {
	relation member: user | group#member
}
definition task {
	relation owner: user | group#member
	relation viewer: user | user:*
	permission read = owner + viewer
}`,
			wantMsg: []string{"does not allow 6 stored relationships", `2 with resource type "agent", which the schema no longer defines`, `4 with relation "parent" of "task", which the schema no longer defines`},
		},
		{
			name:    "relation made a permission",
			schema:  withTask("relation parent: agent\n\trelation owner: user | group#member\n\tpermission viewer = owner\n\tpermission read = owner + viewer + parent->owner"),
			wantMsg: []string{`2 with relation "viewer" of "task", which the schema now defines as a permission`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := memadapter.Open(path, tt.schema, nil)
			if tt.wantMsg == nil {
				if err != nil {
					t.Fatalf("Open with a compatible schema: %v", err)
				}
				b.Close()
				return
			}
			if err == nil {
				b.Close()
				t.Fatal("Open succeeded, want the schema refused")
			}
			t.Log(err)
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("error %v does not match ErrInvalidRequest", err)
			}
			for _, m := range append(tt.wantMsg, path) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "bob") {
				t.Errorf("error %q names ids", err)
			}
		})
	}
	// A refused open changed nothing; the compatible one only rewrote the
	// recorded schema, so compare what the original schema loads.
	if after, err := os.ReadFile(path); err != nil || len(after) != len(before) {
		t.Errorf("file of %d bytes became %d bytes (%v)", len(before), len(after), err)
	}
	b := openDurable(t, path, writeSchema)
	if diff := cmp.Diff(want, dump(t, b)); diff != "" {
		t.Errorf("relationships after refused opens mismatch (-want +got):\n%s", diff)
	}
}

// withTask returns writeSchema with the body of definition task replaced.
func withTask(body string) string {
	i := strings.Index(writeSchema, "definition task {")
	return writeSchema[:i] + "definition task {\n\t" + body + "\n}\n"
}

// writeForeignBolt writes a bbolt file at path with a bucket of another
// application.
func writeForeignBolt(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("w1"), []byte("blue"))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesAFileInUse opens a file twice in one process: the second
// Open fails after its lock timeout with a clear error, and succeeds once
// the first is closed.
func TestOpenRefusesAFileInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = memadapter.Open(path, writeSchema, &memadapter.Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: %v, want ErrUnavailable naming the file in use", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openDurable(t, path, writeSchema)
	b.Close()
}

// TestOpenRefusesDamagedFiles opens files that are not an engine's or are
// damaged: each is an error naming the file, never a panic or a partial
// load.
func TestOpenRefusesDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	a, err := memadapter.Open(good, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 40 {
		writeScript(t, a, round)
	}
	// The file holds room bbolt allocated ahead; a backup holds only the
	// pages in use.
	var used bytes.Buffer
	if _, err := a.Backup(context.Background(), &used); err != nil {
		t.Fatal(err)
	}
	a.Close()
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := 4096
	damaged := map[string][]byte{
		"garbage":       bytes.Repeat([]byte("not a database "), 1000),
		"truncated":     data[:used.Len()/3],
		"last page cut": data[:used.Len()-pageSize],
		"one page":      data[:pageSize],
		"metas zeroed":  append(make([]byte, 2*pageSize), data[2*pageSize:]...),
		"pages garbled": append(slices.Clone(data[:2*pageSize]), bytes.Repeat([]byte{0xa5}, len(data)-2*pageSize)...),
	}
	for name, content := range damaged {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := memadapter.Open(path, writeSchema, nil)
			if err == nil {
				b.Close()
				t.Fatalf("Open(%s) succeeded", name)
			}
			t.Log(err)
			if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open: %v, want ErrUnavailable naming %s", err, path)
			}
			// The failed Open let go of the file: repaired in place (the
			// same inode), it opens at once, not "in use" until restart.
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			b, err = memadapter.Open(path, writeSchema, &memadapter.Options{LockTimeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatalf("Open of the repaired file: %v", err)
			}
			b.Close()
		})
	}
	t.Run("another bbolt file", func(t *testing.T) {
		path := filepath.Join(dir, "foreign.db")
		writeForeignBolt(t, path)
		b, err := memadapter.Open(path, writeSchema, nil)
		if err == nil {
			b.Close()
			t.Fatal("Open of a foreign bbolt file succeeded")
		}
		if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), "not an fgac memadapter file") {
			t.Errorf("Open: %v", err)
		}
	})
}

// TestBackupIsAConsistentCopy backs up a file while writers register
// resources, each writer in order: the copy opens, and holds for every
// writer a prefix of its registrations, so it is one committed state. A
// backup after the writers stop holds exactly what the engine holds.
func TestBackupIsAConsistentCopy(t *testing.T) {
	dir := t.TempDir()
	a := openDurable(t, filepath.Join(dir, "graph.db"), writeSchema)
	ctx := context.Background()
	const writers, perWriter = 4, 60
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				res := authz.Resource{Type: "task", ID: fmt.Sprintf("w%d-%03d", w, i)}
				if _, err := a.Register(ctx, authz.RegisterRequest{Resource: res, Owner: authz.Subject{Type: "user", ID: "alice"}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var copies [][]byte
	for range 3 {
		var buf bytes.Buffer
		if _, err := a.Backup(ctx, &buf); err != nil {
			t.Fatalf("Backup: %v", err)
		}
		copies = append(copies, buf.Bytes())
	}
	wg.Wait()
	var final bytes.Buffer
	if _, err := a.Backup(ctx, &final); err != nil {
		t.Fatal(err)
	}
	for i, c := range copies {
		path := filepath.Join(dir, fmt.Sprintf("copy%d.db", i))
		if err := os.WriteFile(path, c, 0o600); err != nil {
			t.Fatal(err)
		}
		b := openDurable(t, path, writeSchema)
		counts := make([]int, writers)
		for _, r := range dump(t, b) {
			var w, i int
			if _, err := fmt.Sscanf(r, "task:w%d-%d#owner@user:alice", &w, &i); err != nil {
				t.Fatalf("unexpected relationship %s", r)
			}
			if i != counts[w] {
				t.Errorf("copy %d: writer %d's registration %d without %d", i, w, i, counts[w])
			}
			counts[w]++
		}
	}
	path := filepath.Join(dir, "final.db")
	if err := os.WriteFile(path, final.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dump(t, a), dump(t, openDurable(t, path, writeSchema))); diff != "" {
		t.Errorf("restored copy mismatch (-want +got):\n%s", diff)
	}
	if _, err := newAuthorizer(t, writeSchema).Backup(ctx, &final); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Backup of an engine without a file: %v, want ErrInvalidRequest", err)
	}
}

// TestCloseDuringWrites closes a durable engine while writers write: every
// write either succeeds, and is in the file when it is reopened, or fails
// with an error matching [authz.ErrUnavailable] and is not.
func TestCloseDuringWrites(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var mu sync.Mutex
	acked, refused := map[string]bool{}, map[string]bool{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 200 {
				r := authz.Relationship{Resource: authz.Resource{Type: "task", ID: fmt.Sprintf("w%d-%d", w, i)}, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}}
				_, err := a.Grant(ctx, authz.GrantRequest{Relationship: r})
				mu.Lock()
				switch {
				case err == nil:
					acked[r.String()] = true
				case errors.Is(err, authz.ErrUnavailable):
					refused[r.String()] = true
				default:
					t.Errorf("Grant: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	b := openDurable(t, path, writeSchema)
	got := map[string]bool{}
	for _, r := range dump(t, b) {
		got[r] = true
	}
	for r := range acked {
		if !got[r] {
			t.Errorf("acknowledged %s is missing", r)
		}
	}
	for r := range refused {
		if got[r] {
			t.Errorf("refused %s is in the file", r)
		}
	}
	if len(acked) == 0 || len(refused) == 0 {
		t.Logf("%d writes acknowledged, %d refused: the close did not land among the writes", len(acked), len(refused))
	}
}
