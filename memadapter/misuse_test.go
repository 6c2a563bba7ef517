package memadapter_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// startChild starts this test binary in role (see TestMain) on path and
// returns it with its stdout; extra are more environment variables.
func startChild(t *testing.T, role, path string, extra ...string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role, "FGAC_CRASH_PATH="+path), extra...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), stdin
}

// holdChild opens the file and holds it until its stdin closes.
func holdChild() {
	a, err := memadapter.Open(os.Getenv("FGAC_CRASH_PATH"), writeSchema, nil)
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	a.Close()
}

// TestOpenRefusesAFileAnotherProcessHolds opens a file that a child
// process holds: a clear error naming the file after the lock timeout,
// and a successful open once the child has exited.
func TestOpenRefusesAFileAnotherProcessHolds(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "graph.db")
	cmd, out, stdin := startChild(t, "hold", path)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("child: %q", out.Text())
	}
	_, err := memadapter.Open(path, writeSchema, &memadapter.Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("Open of a held file: %v, want ErrUnavailable saying the file %s is in use", err, path)
	}
	stdin.Close()
	cmd.Wait()
	a := openDurable(t, path, writeSchema)
	a.Close()
}

// readOnlyChild drops its privileges and opens the read-only file.
func readOnlyChild() {
	if err := syscall.Setuid(65534); err != nil {
		fmt.Printf("setuid %v\n", err)
		return
	}
	_, err := memadapter.Open(os.Getenv("FGAC_CRASH_PATH"), writeSchema, nil)
	fmt.Printf("unavailable=%v %v\n", errors.Is(err, authz.ErrUnavailable), err)
}

// TestOpenRefusesAReadOnlyFile opens a file its process may not write: a
// clear error naming the file, and the file intact. The test drops root
// privileges in a child (root may write any file), so it needs to run as
// root or as a user other than the file's.
func TestOpenRefusesAReadOnlyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "graph.db")
	a := openDurable(t, path, writeSchema)
	writeScript(t, a, 0)
	want := dump(t, a)
	a.Close()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, out, _ := startChild(t, "readonly", path)
		if !out.Scan() {
			t.Fatal("the child said nothing")
		}
		line := out.Text()
		if !strings.HasPrefix(line, "unavailable=true ") || !strings.Contains(line, path) || !strings.Contains(line, "permission denied") {
			t.Errorf("Open of a read-only file: %s; want ErrUnavailable naming the file and the permission", line)
		}
	} else {
		_, err := memadapter.Open(path, writeSchema, nil)
		if !errors.Is(err, authz.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("Open of a read-only file: %v; want ErrUnavailable naming the file and the permission", err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	b := openDurable(t, path, writeSchema)
	if got := dump(t, b); !equalStrings(got, want) {
		t.Errorf("after a refused open the file holds %v, want %v", got, want)
	}
}

func equalStrings(x, y []string) bool { return strings.Join(x, "\n") == strings.Join(y, "\n") }

// fileSizeChild opens the file, limits the size of the files it may write
// to the file's size and 256 KiB more (RLIMIT_FSIZE: the disk is full as far as it can
// tell), and registers tasks with long ids until a write fails. It reports
// each acknowledged id, the failed write's error, what the next write and a
// check of the last acknowledged task answer, and exits.
func fileSizeChild() {
	path := os.Getenv("FGAC_CRASH_PATH")
	a, err := memadapter.Open(path, writeSchema, nil)
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return
	}
	signal.Ignore(syscall.SIGXFSZ)
	limit := uint64(info.Size()) + 256<<10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Printf("fail %v\n", err)
		return
	}
	ctx := context.Background()
	owner := authz.Subject{Type: "user", ID: "alice"}
	last := ""
	for i := 0; ; i++ {
		id := fmt.Sprintf("t%05d-%s", i, strings.Repeat("x", 900))
		_, err := a.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: id}, Owner: owner})
		if err != nil {
			fmt.Printf("failed %s unavailable=%v %v\n", id, errors.Is(err, authz.ErrUnavailable), err)
			break
		}
		fmt.Printf("ack %s\n", id)
		last = id
		if i > 100000 {
			fmt.Println("fail: no write failed")
			return
		}
	}
	_, err = a.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: authz.Resource{Type: "task", ID: "small"}, Relation: "viewer", Subject: owner}})
	fmt.Printf("next unavailable=%v\n", errors.Is(err, authz.ErrUnavailable))
	d, err := a.Check(ctx, authz.CheckRequest{Resource: authz.Resource{Type: "task", ID: last}, Permission: "read", Subject: owner})
	fmt.Printf("check allowed=%v err=%v\n", d.Allowed(), err)
	fmt.Printf("close %v\n", a.Close())
}

// TestAFullDiskLosesNothingAcknowledged fills the disk under a child
// (RLIMIT_FSIZE) until a write fails: the failed write is an error matching
// [authz.ErrUnavailable] naming the file, later writes fail too until the
// engine is reopened, reads still answer, and the reopened file holds every
// acknowledged write and not the failed one.
func TestAFullDiskLosesNothingAcknowledged(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "graph.db")
	a := openDurable(t, path, writeSchema)
	writeScript(t, a, 0)
	before := dump(t, a)
	a.Close()

	cmd, out, _ := startChild(t, "fsize", path)
	var acked []string
	failed := ""
	var report []string
	for out.Scan() {
		line := out.Text()
		switch {
		case strings.HasPrefix(line, "ack "):
			acked = append(acked, strings.TrimPrefix(line, "ack "))
		case strings.HasPrefix(line, "failed "):
			failed = strings.Fields(line)[1]
			if !strings.Contains(line, "unavailable=true") || !strings.Contains(line, path) {
				t.Errorf("the failed write answered %s; want ErrUnavailable naming the file", line)
			}
			t.Logf("the write that found the disk full:%s", line[strings.Index(line, " unavailable="):])
		default:
			report = append(report, line)
		}
	}
	cmd.Wait()
	if failed == "" {
		t.Fatalf("no write failed; the child said %v", report)
	}
	wantReport := []string{"next unavailable=true", "check allowed=true err=<nil>", "close <nil>"}
	if len(acked) == 0 {
		wantReport[1] = "check allowed=false err=<nil>"
	}
	if !equalStrings(report, wantReport) {
		t.Errorf("after the failed write the child said %q, want %q", report, wantReport)
	}
	b := openDurable(t, path, writeSchema)
	want := before
	for _, id := range acked {
		want = append(want, "task:"+id+"#owner@user:alice")
	}
	got := dump(t, b)
	if len(got) != len(want) {
		t.Fatalf("the reopened file holds %d relationships, want %d (%d before, %d acknowledged)", len(got), len(want), len(before), len(acked))
	}
	have := map[string]bool{}
	for _, r := range got {
		have[r] = true
	}
	for _, r := range want {
		if !have[r] {
			t.Errorf("acknowledged %.60s... is missing", r)
		}
	}
	if have["task:"+failed+"#owner@user:alice"] {
		t.Errorf("the failed write is in the file")
	}
	t.Logf("%d writes acknowledged before the disk was full", len(acked))
}
