// Command cluster runs a local SpiceDB cluster for trying the example
// service at scale-out: a throwaway PostgreSQL server, `spicedb datastore
// migrate head` on it and three `spicedb serve` nodes over it that dispatch
// to each other, all on loopback, the same cluster the tests of
// examples/service and spicedbadapter run on (package
// internal/clustertest). It needs PostgreSQL's server binaries (Debian:
// apt-get install postgresql) and the pinned SpiceDB, which it builds into
// bin/ if needed, as the tests do. Run it from the repository root:
//
//	go run ./examples/cluster > cluster.env
//
// Once every node serves it prints the service's settings:
//
//	FGAC_SPICEDB_ENDPOINT=127.0.0.1:port1,127.0.0.1:port2,127.0.0.1:port3
//	FGAC_SPICEDB_KEY=<random key>
//
// and runs until interrupted (SIGINT or SIGTERM), then stops every process
// and removes its directory: -dir if given (made if missing), else a new
// fgac-cluster-* directory under $TMPDIR. Its processes die with it if it
// is killed (Linux), and a directory of a cluster that was killed before
// it could clean up is removed at the next start. PostgreSQL accepts only
// the password login the nodes get through their environment; the key and
// the password never appear on a command line.
// examples/cluster/run-service.sh does both steps and starts the service
// on the cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/fgac-go/fgac/internal/clustertest"
)

// dirPrefix names the directories the command makes under $TMPDIR, and
// those run-service.sh makes (fgac-cluster-run-service.*).
const dirPrefix = "fgac-cluster-"

// pidFile, in the cluster's directory, holds the PID of the command that
// owns it.
const pidFile = "pid"

func main() {
	dir := flag.String("dir", "", "`directory` for the cluster's data, removed at exit (default: a new one under $TMPDIR)")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(dir string) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	removeStale(os.TempDir())
	if dir == "" {
		if dir, err = os.MkdirTemp("", dirPrefix); err != nil {
			return err
		}
	} else if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return err
	}
	// PostgreSQL's data goes one level down, as under t.TempDir.
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	c, err := clustertest.Launch(ctx, data, clustertest.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("FGAC_SPICEDB_ENDPOINT=%s\nFGAC_SPICEDB_KEY=%s\n", strings.Join(c.Endpoints(), ","), c.Key)
	fmt.Fprintln(os.Stderr, "cluster: 3 SpiceDB nodes over PostgreSQL serving; interrupt to stop")
	<-ctx.Done()
	return c.Close()
}

// removeStale removes the fgac-cluster-* directories under tmp whose
// owning command (this one, or run-service.sh) no longer runs: it was
// killed before it could clean up.
// A directory whose PID file is missing or unreadable is left alone: it
// may be starting.
func removeStale(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, pidFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || running(pid) {
			continue
		}
		if err := os.RemoveAll(d); err == nil {
			fmt.Fprintf(os.Stderr, "cluster: removed %s, left by a cluster that was killed\n", d)
		}
	}
}

// running reports whether a process with this PID exists (or may: a PID
// we may not signal belongs to a running process of another user).
func running(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
