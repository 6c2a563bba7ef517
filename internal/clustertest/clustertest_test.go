package clustertest

import (
	"errors"
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

// TestClusterLifecycle writes the schema through one node and reads it
// through every other, kills and restarts a node, stops and restarts
// PostgreSQL, and requires every process to be gone after Close.
func TestClusterLifecycle(t *testing.T) {
	Required(t)
	ctx := t.Context()
	c, err := Launch(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			c.Close()
		}
	}()
	const schema = "definition user {}\n\ndefinition doc {\n\trelation viewer: user\n}"
	if _, err := c.Client(t, 0).WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	readSchema := func(i int) error {
		resp, err := c.Client(t, i).ReadSchema(ctx, &v1.ReadSchemaRequest{})
		if err == nil && resp.GetSchemaText() == "" {
			err = errors.New("no schema")
		}
		return err
	}
	for i := range c.Nodes {
		if err := readSchema(i); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}

	if err := c.Nodes[1].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := readSchema(1); err == nil {
		t.Error("a killed node answered")
	}
	if err := c.Nodes[1].Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := readSchema(1); err != nil {
		t.Errorf("restarted node: %v", err)
	}

	if err := c.Postgres.Stop(); err != nil {
		t.Fatal(err)
	}
	if c.Postgres.Running() {
		t.Error("PostgreSQL still runs after Stop")
	}
	if err := c.Postgres.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.Postgres.Running() {
		t.Error("PostgreSQL does not run after Start")
	}

	var procs []*process
	for _, n := range c.Nodes {
		procs = append(procs, n.proc)
	}
	procs = append(procs, c.Postgres.proc)
	closed = true
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if !p.exited() {
			t.Errorf("%s (pid %d) still runs after Close", p.name, p.cmd.Process.Pid)
		}
	}
}

func TestRequiredSkipsWithoutTheVariable(t *testing.T) {
	t.Setenv(EnvPostgres, "")
	ran := false
	t.Run("cluster test", func(t *testing.T) {
		Required(t)
		ran = true
	})
	if ran {
		t.Errorf("Required did not skip without $%s", EnvPostgres)
	}
}
