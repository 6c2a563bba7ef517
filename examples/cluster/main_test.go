package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fgac-go/fgac/internal/clustertest"
	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// TestRunServiceStopsEverythingOnSIGTERM runs examples/cluster/run-service.sh
// as the README does, sends the script alone SIGTERM once the service
// answers, and checks that it exits 143 having stopped every process it
// started (service, cluster, the SpiceDB nodes, PostgreSQL) and removed
// every file it made under $TMPDIR.
func TestRunServiceStopsEverythingOnSIGTERM(t *testing.T) {
	t.Parallel()
	runScriptUntil(t, syscall.SIGTERM)
}

// TestRunServiceStopsEverythingOnSIGKILL is the same with SIGKILL, which
// the script cannot trap: the kernel sends its children SIGTERM
// (setpriv --pdeathsig), so every process still stops, and what the
// script could not remove is removed by the next cluster's start
// (removeStale).
func TestRunServiceStopsEverythingOnSIGKILL(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed for run-service.sh's children to stop with it: %v", err)
	}
	runScriptUntil(t, syscall.SIGKILL)
}

// runScriptUntil runs run-service.sh, sends it sig once the service
// answers, and checks that nothing it started runs any more and nothing
// it made is left (after removeStale, for SIGKILL).
func runScriptUntil(t *testing.T, sig syscall.Signal) {
	clustertest.Required(t)
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	tmp := t.TempDir()
	// Run as root, PostgreSQL runs as the postgres user, which must pass
	// through tmp and its parent (which t.TempDir makes 0700).
	for _, d := range []string{tmp, filepath.Dir(tmp)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	cmd := exec.Command("sh", "examples/cluster/run-service.sh", "-addr", addr)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out := &spicedbtest.TailBuffer{Max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that if the test fails the cleanup below
	// can stop whatever the script left; the SIGTERM under test goes to
	// the script alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	script := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-script, syscall.SIGKILL) })

	if err := waitHTTP(addr, 5*time.Minute, exited); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	started := descendants(t, script)
	names := map[string]int{}
	for _, p := range started {
		names[p.name]++
	}
	t.Logf("processes under the script: %v", names)
	if names["service"] != 1 || names["spicedb"] != 3 || names["postgres"] == 0 {
		t.Fatalf("want the service, 3 spicedb and postgres under the script, got %v\n%s", names, out)
	}

	if err := syscall.Kill(script, sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		switch {
		case sig == syscall.SIGTERM && (!errors.As(err, &ee) || ee.ExitCode() != 143):
			t.Errorf("the script ended with %v, want exit status 143 (SIGTERM)", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the script still ran a minute after %v\n%s", sig, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range started {
		for alive(p) {
			if time.Now().After(deadline) {
				t.Errorf("%s (pid %d) still runs after the script ended by %v", p.name, p.pid, sig)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if sig == syscall.SIGKILL {
		removeStale(tmp) // what the next cluster's start does
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in $TMPDIR: %s", e.Name())
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// TestRemoveStaleRemovesOnlyDeadClusters: a cluster directory whose
// command has exited is removed; one whose command runs, and one without a
// PID file (a cluster starting), are kept.
func TestRemoveStaleRemovesOnlyDeadClusters(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{ // directory -> PID file content ("": none)
		dirPrefix + "dead":     strconv.Itoa(done.Process.Pid),
		dirPrefix + "running":  strconv.Itoa(os.Getppid()),
		dirPrefix + "starting": "",
		"other-dead":           strconv.Itoa(done.Process.Pid),
	}
	for d, pid := range dirs {
		if err := os.MkdirAll(filepath.Join(tmp, d, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			if err := os.WriteFile(filepath.Join(tmp, d, pidFile), []byte(pid), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	removeStale(tmp)
	for d := range dirs {
		_, err := os.Stat(filepath.Join(tmp, d))
		if gone, want := errors.Is(err, os.ErrNotExist), d == dirPrefix+"dead"; gone != want {
			t.Errorf("%s: removed %v, want %v", d, gone, want)
		}
	}
}

// proc is a process seen under the script.
type proc struct {
	pid   int
	name  string // the base name of its executable
	start string // its start time in clock ticks, so a reused PID is not mistaken for it
}

// descendants returns every process below pid.
func descendants(t *testing.T, pid int) []proc {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	info := map[int]proc{}
	for _, f := range stats {
		p, ppid, ok := readStat(f)
		if !ok {
			continue
		}
		parent[p.pid], info[p.pid] = ppid, p
	}
	var out []proc
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, info[p])
				break
			}
		}
	}
	return out
}

// readStat reads /proc/PID/stat: the process, its parent's PID.
func readStat(file string) (proc, int, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return proc{}, 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return proc{}, 0, false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
	fields := strings.Fields(s[end+1:]) // state, ppid, ... starttime is the 20th
	if len(fields) < 20 || fields[0] == "Z" {
		return proc{}, 0, false
	}
	ppid, _ := strconv.Atoi(fields[1])
	name := s[open+1 : end]
	if exe, err := os.Readlink(filepath.Join(filepath.Dir(file), "exe")); err == nil {
		name = filepath.Base(exe)
	}
	return proc{pid: pid, name: name, start: fields[19]}, ppid, true
}

// alive reports whether p still runs (a zombie does not).
func alive(p proc) bool {
	q, _, ok := readStat("/proc/" + strconv.Itoa(p.pid) + "/stat")
	return ok && q.start == p.start
}

// waitHTTP waits until something answers HTTP on addr, the script exits,
// or timeout passes.
func waitHTTP(addr string, timeout time.Duration, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case err := <-exited:
			return errors.New("the script exited before the service served: " + errString(err))
		case <-ctx.Done():
			return errors.New("the service did not serve on " + addr + " within " + timeout.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
