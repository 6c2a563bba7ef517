package memadapter_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// TestDurableKeepsCaveatsAndExpirations writes a caveated relationship
// (with a stored context) and an expiring one, reopens the file, and
// checks that both still answer as they did: the caveat with its stored
// context, the expiration at its instant.
func TestDurableKeepsCaveatsAndExpirations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "graph.db")
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	var c clock
	c.set(at.Add(-time.Hour))
	opts := &memadapter.Options{Now: c.now}

	doc := authz.Resource{Type: "doc", ID: "d1"}
	rels := []authz.Relationship{
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"},
			Caveat: authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}},
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}, Expiration: at},
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "group", ID: "g1", Relation: "member"}},
	}
	a, err := memadapter.Open(path, expirySchema, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A build that ignores values must refuse the file, not read the
	// caveated relationship as unconditional.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var format string
	err = db.View(func(tx *bolt.Tx) error {
		format = string(tx.Bucket([]byte("meta")).Get([]byte("format")))
		return nil
	})
	db.Close()
	if err != nil || format != "fgac-memadapter-3" {
		t.Errorf("format of a file with caveats = %q (%v), want fgac-memadapter-3 (which builds that ignored values refuse)", format, err)
	}

	a, err = memadapter.Open(path, expirySchema, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	check := func(user string, reqCtx authz.Context) authz.Decision {
		t.Helper()
		d, err := a.Check(ctx, authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: user}, Resource: doc, Permission: "view", Context: reqCtx})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := check("alice", authz.NewContext(map[string]any{"ip": "10.1.2.3"})); !d.Allowed() {
		t.Errorf("alice from 10.1.2.3 after reopen: %v, want allowed (stored cidr 10.0.0.0/8)", d)
	}
	if d := check("alice", authz.NewContext(map[string]any{"ip": "192.168.0.1"})); d.Allowed() || d.Conditional() {
		t.Errorf("alice from 192.168.0.1 after reopen: %v, want denied", d)
	}
	if d := check("alice", authz.Context{}); !d.Conditional() || !cmp.Equal(d.Missing(), []string{"ip"}) {
		t.Errorf("alice without context after reopen: %v (missing %v), want conditional on ip", d, d.Missing())
	}
	if d := check("bob", authz.Context{}); !d.Allowed() {
		t.Errorf("bob before his expiration after reopen: %v, want allowed", d)
	}

	got, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: doc})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("ReadRelationships after reopen: %v, want 3 relationships", got)
	}
	alice, bob := got[1], got[2] // after group:g1#member
	if alice.Caveat.Name != "on_network" || alice.Caveat.Context.String() != rels[0].Caveat.Context.String() || !alice.Expiration.IsZero() {
		t.Errorf("alice's relationship after reopen: %v with context %v", alice, alice.Caveat.Context)
	}
	if !bob.Expiration.Equal(at) || bob.Caveat.Name != "" {
		t.Errorf("bob's relationship after reopen: %v, want expiration %v", bob, at)
	}

	c.set(at)
	if d := check("bob", authz.Context{}); d.Allowed() {
		t.Errorf("bob at his expiration instant after reopen: %v, want denied", d)
	}
	got, err = a.ReadRelationships(ctx, authz.ReadRequest{Resource: doc})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("ReadRelationships after bob expired: %v, want group:g1#member and alice", got)
	}
}

// TestOpenRefusesCaveatsTheSchemaNoLongerAllows reopens a file holding a
// caveated and an expiring relationship with a schema whose relation
// allows neither form, and expects a refusal that leaves the file as it
// was.
func TestOpenRefusesCaveatsTheSchemaNoLongerAllows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "graph.db")
	a := openDurable(t, path, expirySchema)
	doc := authz.Resource{Type: "doc", ID: "d1"}
	rels := []authz.Relationship{
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "alice"},
			Caveat: authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}},
		{Resource: doc, Relation: "viewer", Subject: authz.Subject{Type: "user", ID: "bob"}, Expiration: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	if _, err := a.Write(ctx, authz.WriteRequest{Touch: rels}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	plain := strings.NewReplacer("user with expiration | ", "user | ", " | user with on_network", "").Replace(expirySchema)
	_, err := memadapter.Open(path, plain, nil)
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Fatalf("Open with a schema that allows neither form: %v, want an error matching ErrInvalidRequest", err)
	}
	for _, want := range []string{"2 stored relationships", "user with on_network", "user with expiration"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open's error %q does not mention %q", err, want)
		}
	}

	a = openDurable(t, path, expirySchema)
	got, err := a.ReadRelationships(ctx, authz.ReadRequest{Resource: doc})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Caveat.Name != "on_network" || got[1].Expiration.IsZero() {
		t.Errorf("relationships after the refused open: %v, want both, unchanged", got)
	}
}
