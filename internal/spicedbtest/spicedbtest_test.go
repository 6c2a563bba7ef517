package spicedbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMain(m *testing.M) {
	code := Run(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

const schema = `
definition user {}

definition doc {
	relation viewer: user
}`

func TestClientsHaveSeparateDatastores(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := Client(t), Client(t)
	if _, err := a.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema}); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	if _, err := a.ReadSchema(ctx, &v1.ReadSchemaRequest{}); err != nil {
		t.Fatalf("ReadSchema on the writing client: %v", err)
	}
	_, err := b.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if got := status.Code(err); got != codes.NotFound {
		t.Fatalf("ReadSchema on another client: code %v (err %v), want NotFound", got, err)
	}
}

func TestServerRestartsOnSamePort(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := StartServer(t, "--datastore-revision-quantization-interval=1m")
	c := srv.Client(t)
	if _, err := c.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema}); err != nil {
		t.Fatalf("WriteSchema: %v", err)
	}
	addr := srv.Addr()

	srv.Stop(t)
	_, err := c.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if got := status.Code(err); got != codes.Unavailable {
		t.Fatalf("ReadSchema while stopped: code %v (err %v), want Unavailable", got, err)
	}

	srv.Restart(t)
	if srv.Addr() != addr {
		t.Fatalf("Addr after restart = %s, want %s", srv.Addr(), addr)
	}
	_, err = c.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if got := status.Code(err); got != codes.NotFound {
		t.Fatalf("ReadSchema after restart (empty memory datastore): code %v (err %v), want NotFound", got, err)
	}
}

func TestServerRequiresItsKey(t *testing.T) {
	t.Parallel()
	srv := StartServer(t)
	stranger := dial(t, srv.Addr(), newKey(t))
	_, err := stranger.ReadSchema(t.Context(), &v1.ReadSchemaRequest{})
	if got := status.Code(err); got != codes.Unauthenticated && got != codes.PermissionDenied {
		t.Fatalf("ReadSchema with a wrong key: code %v (err %v), want Unauthenticated or PermissionDenied", got, err)
	}
}

// TestServerKeyStaysOffTheCommandLine: the key of a StartServer server is
// not in its /proc/PID/cmdline (any local user can read that), and a
// client with it is served, so the key did reach SpiceDB.
func TestServerKeyStaysOffTheCommandLine(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	srv := StartServer(t)
	srv.mu.Lock()
	pid := srv.proc.cmd.Process.Pid
	srv.mu.Unlock()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Key()) < 16 || strings.Contains(string(cmdline), srv.Key()) {
		t.Errorf("the command line of spicedb (pid %d) holds its preshared key", pid)
	}
	if _, err := srv.Client(t).WriteSchema(t.Context(), &v1.WriteSchemaRequest{Schema: schema}); err != nil {
		t.Errorf("WriteSchema with the server's key: %v", err)
	}
}

func TestBinaryIsPinnedVersion(t *testing.T) {
	if os.Getenv(envBinary) != "" {
		t.Logf("$%s is set; checking the pin of the module's own binary is not meaningful", envBinary)
		return
	}
	bin, err := binary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := pinnedVersion(filepath.Join(root, "internal", "tools", "spicedb", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !builtFrom(bin, want) {
		t.Fatalf("%s was not built from %s %s", bin, spicedbModule, want)
	}
}

func TestPinnedVersion(t *testing.T) {
	tests := []struct {
		name  string
		goMod string
		want  string
		err   bool
	}{
		{
			name:  "require block",
			goMod: "module x\n\nrequire (\n\tgithub.com/authzed/spicedb v1.2.3\n)\n",
			want:  "v1.2.3",
		},
		{
			name:  "single require",
			goMod: "module x\n\nrequire github.com/authzed/spicedb v1.2.4 // pinned\n",
			want:  "v1.2.4",
		},
		{
			name:  "prefix of another module",
			goMod: "module x\n\nrequire github.com/authzed/spicedb-extra v9.9.9\n",
			err:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "go.mod")
			if err := os.WriteFile(path, []byte(tt.goMod), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := pinnedVersion(path)
			if (err != nil) != tt.err {
				t.Fatalf("pinnedVersion error = %v, want error %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pinnedVersion mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
