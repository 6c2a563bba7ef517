package memadapter_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// TestOpenCreatesAFileOnlyWhereNothingIs opens paths where something
// other than an fgac file is: an empty file (what a failed copy or
// restore leaves), a bbolt file without fgac's buckets, a symbolic link to
// nothing. Each is an error matching ErrUnavailable that names the path,
// and leaves the path as it was; none becomes an empty graph.
func TestOpenCreatesAFileOnlyWhereNothingIs(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{
			name: "empty file",
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "the file is empty",
		},
		{
			name: "bbolt file without buckets",
			prepare: func(t *testing.T, path string) {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			},
			want: "not an fgac memadapter file",
		},
		{
			name: "bbolt file of another program",
			prepare: func(t *testing.T, path string) {
				writeForeignBolt(t, path)
			},
			want: "not an fgac memadapter file",
		},
		{
			name: "symbolic link to nothing",
			prepare: func(t *testing.T, path string) {
				if err := os.Symlink(filepath.Join(dir, "nothing.db"), path); err != nil {
					t.Fatal(err)
				}
			},
			want: "a symbolic link to a file that does not exist",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".db")
			c.prepare(t, path)
			before, _ := os.ReadFile(path)
			a, err := memadapter.Open(path, writeSchema, nil)
			if err == nil {
				a.Close()
				t.Fatalf("Open succeeded")
			}
			t.Log(err)
			if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want ErrUnavailable naming %s and saying %q", err, path, c.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Open changed the file (%d bytes, now %d)", len(before), len(after))
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(dir, "nothing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the target of the dangling link: %v, want not created", err)
	}
}

// TestOpenCreatesAWholeFile opens a path where nothing is, and through a
// symbolic link to an existing file: the first creates the file, with no
// temporary file left beside it; both keep what is written.
func TestOpenCreatesAWholeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "graph.db")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := writeScript(t, a, 0)
	written := dump(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "graph.db" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want graph.db only", names)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	b := openDurable(t, link, writeSchema)
	if got := dump(t, b); strings.Join(got, "\n") != strings.Join(written, "\n") {
		t.Errorf("through the link: %v, want %v", got, written)
	}
	tok, err := b.Grant(t.Context(), authz.GrantRequest{Relationship: authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t9"}, Relation: "owner", Subject: authz.Subject{Type: "user", ID: "alice"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if revisionOf(t, tok) <= revisionOf(t, want) {
		t.Errorf("token %v after %v", tok, want)
	}
}
