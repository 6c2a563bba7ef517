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
// and runs until interrupted, then stops every process and removes the
// data. examples/cluster/run-service.sh does both steps and starts the
// service on the cluster.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fgac-go/fgac/internal/clustertest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "fgac-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// PostgreSQL's data goes one level down, as under t.TempDir.
	data := dir + "/data"
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
