package clustertest

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
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
	t.Run("secrets stay off command lines", func(t *testing.T) { checkSecretsOffCommandLines(t, c) })
	t.Run("postgres refuses connections without the password", func(t *testing.T) { checkPostgresNeedsPassword(t, c) })

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

// checkSecretsOffCommandLines reads the command line of every process on
// the machine (what any local user can read) and requires that none holds
// the cluster's preshared key or PostgreSQL's password, while every node
// still requires the key.
func checkSecretsOffCommandLines(t *testing.T, c *Cluster) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	secrets := map[string]string{"preshared key": c.Key, "postgres password": c.Postgres.password}
	for what, s := range secrets {
		if len(s) < 16 {
			t.Fatalf("%s is %d characters long, want a random secret", what, len(s))
		}
	}
	var ours []int
	for _, n := range c.Nodes {
		ours = append(ours, n.proc.cmd.Process.Pid)
	}
	ours = append(ours, c.Postgres.proc.cmd.Process.Pid)
	seen := 0
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		for _, p := range ours {
			if p == pid {
				seen++
			}
		}
		for what, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("the command line of pid %d holds the %s", pid, what)
			}
		}
	}
	if seen != len(ours) {
		t.Errorf("read the command lines of %d of the cluster's %d processes", seen, len(ours))
	}
	// The key moved, it was not dropped: a client without it is refused.
	conn, err := authzed.NewClient(c.Nodes[0].addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken("not-the-key"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ReadSchema(t.Context(), &v1.ReadSchemaRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ReadSchema with a wrong key: %v, want PermissionDenied", err)
	}
}

// checkPostgresNeedsPassword connects with psql: without a password and
// with a wrong one the server refuses; with the password it answers, so
// the refusals are not a broken server.
func checkPostgresNeedsPassword(t *testing.T, c *Cluster) {
	psql := filepath.Join(c.Postgres.bin, "psql")
	run := func(password string) (string, error) {
		cmd := exec.CommandContext(t.Context(), psql, "-w", "-h", "127.0.0.1", "-p", strconv.Itoa(c.Postgres.Port()), "-U", "postgres", "-d", "postgres", "-tAc", "select 1")
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGPASSFILE="+filepath.Join(t.TempDir(), "no-passfile"), "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct{ name, password string }{{"no password", ""}, {"wrong password", "wrong"}} {
		out, err := run(tc.password)
		if err == nil {
			t.Errorf("%s: psql connected: %s", tc.name, out)
		} else if !strings.Contains(out, "password") {
			t.Errorf("%s: psql failed, but not for want of the password: %v\n%s", tc.name, err, out)
		}
	}
	if out, err := run(c.Postgres.password); err != nil || strings.TrimSpace(out) != "1" {
		t.Errorf("with the password: %v\n%s", err, out)
	}
}
