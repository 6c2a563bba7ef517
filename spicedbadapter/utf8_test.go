package spicedbadapter_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// TestStoredContextNotUTF8IsRefusedOnBothEngines: a stored caveat context
// holding a string that is not valid UTF-8 cannot reach SpiceDB (protobuf
// refuses it) nor a memadapter file (JSON turns it into U+FFFD) as
// written. Written anyway, SpiceDB's relationship lost its whole stored
// context, so that a request supplying the parameter was allowed; on a
// file, the value changed meaning at the next Open. Both engines now
// refuse the write with ErrInvalidRequest and store nothing, and the
// check that the context was meant to restrict stays denied.
func TestStoredContextNotUTF8IsRefusedOnBothEngines(t *testing.T) {
	const src = `
caveat tenant_match(allowed_tenant string, tenant string) { allowed_tenant == tenant }
definition user {}
definition doc {
	relation viewer: user with tenant_match
	permission read = viewer
}`
	durable, err := memadapter.Open(filepath.Join(t.TempDir(), "graph.db"), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer durable.Close()
	d1 := authz.Resource{Type: "doc", ID: "d1"}
	bob := authz.Subject{Type: "user", ID: "bob"}
	for _, eng := range []struct {
		name string
		a    authz.Authorizer
	}{{"spicedb", newAdapter(t, src)}, {"memadapter-file", durable}} {
		t.Run(eng.name, func(t *testing.T) {
			for _, stored := range []map[string]any{
				{"allowed_tenant": "acme\xff", "note": "kept?"},
				{"allowed_tenant": "acme", "m": map[string]any{"\xff": 1}},
				{"allowed_tenant": "acme", "l": []any{"ok", "\xfe"}},
			} {
				_, err := eng.a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{
					{Resource: d1, Relation: "viewer", Subject: bob, Caveat: authz.Caveat{Name: "tenant_match", Context: authz.NewContext(stored)}},
				}})
				if !errors.Is(err, authz.ErrInvalidRequest) {
					t.Errorf("Write of a stored context that is not UTF-8: %v, want ErrInvalidRequest", err)
				}
			}
			rels, err := eng.a.ReadRelationships(t.Context(), authz.ReadRequest{Resource: d1, Consistency: authz.FullyConsistent()})
			if err != nil || len(rels) != 0 {
				t.Fatalf("stored after the refused writes: %v, %v; want nothing", rels, err)
			}
			d, err := eng.a.Check(t.Context(), authz.CheckRequest{Subject: bob, Resource: d1, Permission: "read",
				Context: authz.NewContext(map[string]any{"allowed_tenant": "evil", "tenant": "evil"}), Consistency: authz.FullyConsistent()})
			if err != nil || d.Allowed() {
				t.Errorf("Check with the parameter supplied by the request = %v, %v; want denied", d, err)
			}
		})
	}
}
