// Package clustertest runs a SpiceDB cluster for tests: a throwaway
// PostgreSQL server, `spicedb datastore migrate head` on it, and several
// `spicedb serve` nodes (the pinned version, see package spicedbtest) over
// that one datastore, dispatching sub-problems to each other, each on its
// own loopback ports.
//
// Tests that need the cluster call [Start]. They run only when
// $FGAC_POSTGRES is set (.ci/run sets it after installing PostgreSQL);
// otherwise they skip with a message naming the variable. Once asked for,
// a missing PostgreSQL or SpiceDB fails the test: it never skips.
//
// PostgreSQL refuses to run as root, so a test binary running as root runs
// it as the "postgres" user (made by Debian's package), else as "nobody".
// Every process is stopped, by its PID, when the test ends, and is killed by
// the kernel if the test binary dies first (Linux); no process outlives the
// test.
//
// Secrets: PostgreSQL accepts only password (SCRAM-SHA-256) connections on
// 127.0.0.1, with a random password, and every node requires a random
// preshared key. Both reach SpiceDB through its environment
// (SPICEDB_GRPC_PRESHARED_KEY, SPICEDB_DATASTORE_CONN_URI), which only the
// process's owner can read, never through its command line, which every
// local user can (/proc/PID/cmdline, ps).
//
// Dispatch: each node serves SpiceDB's dispatch API on its own loopback
// address (127.0.0.1, 127.0.0.2, ...) and one shared port, and finds its
// peers by resolving one DNS name, served by the test binary, that lists
// every node's address, as a Kubernetes headless service would. SpiceDB's
// consistent-hash balancer then spreads sub-problems over all nodes, so a
// check that arrives at one node is partly answered by others; node
// metrics show it (see [Node.Metrics]).
package clustertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fgac-go/fgac/internal/spicedbtest"
)

// EnvPostgres is the environment variable that asks for the tests that
// need PostgreSQL.
const EnvPostgres = "FGAC_POSTGRES"

// Timeouts of the harness. They bound waits for a broken process; they are
// not assertions about speed.
const (
	readyTimeout = 2 * time.Minute
	stopTimeout  = 30 * time.Second
	pollInterval = 20 * time.Millisecond
	startTries   = 3
)

// Options configure [Start]. The zero value is a cluster of 3 nodes with
// SpiceDB's default settings.
type Options struct {
	// Nodes is the number of SpiceDB nodes; 0 means 3.
	Nodes int
	// Flags are appended to every node's `spicedb serve` flags (later
	// flags win), such as "--datastore-revision-quantization-interval=10ms".
	Flags []string
}

// Cluster is PostgreSQL and the SpiceDB nodes on it. Its methods are safe
// for concurrent use.
type Cluster struct {
	// Postgres is the datastore of every node.
	Postgres *Postgres
	// Nodes are the SpiceDB nodes.
	Nodes []*Node
	// Key is the preshared key of every node.
	Key string

	dns *dnsServer
}

// Node is one `spicedb serve` process of a cluster.
type Node struct {
	bin         string
	host        netip.Addr // the loopback address of its dispatch API
	dns         *dnsServer // lists host while the node runs
	args        []string   // no secret: any local user can read them
	env         []string   // the key and the datastore URI
	addr        string     // gRPC, host:port on 127.0.0.1
	metricsAddr string     // Prometheus metrics over HTTP

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// Required skips t unless $FGAC_POSTGRES is set. [Start] calls it.
func Required(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvPostgres) == "" {
		t.Skipf("set %s=1 to run the tests on a SpiceDB cluster over PostgreSQL (.ci/run does, after installing PostgreSQL)", EnvPostgres)
	}
}

// Start starts PostgreSQL, migrates it, starts the nodes and waits until
// every node serves. Everything is stopped when t ends. It skips t unless
// $FGAC_POSTGRES is set, and fails t if anything cannot start.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Required(t)
	c, err := Launch(context.Background(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// Launch is [Start] for programs: it keeps PostgreSQL's data under dir
// (which must exist) and returns a cluster the caller must [Cluster.Close].
// On error, whatever it started is stopped again.
func Launch(ctx context.Context, dir string, opts Options) (c *Cluster, err error) {
	n := cmpOr(opts.Nodes, 3)
	bin, err := spicedbtest.Binary(ctx)
	if err != nil {
		return nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	c = &Cluster{Key: key}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	if c.Postgres, err = startPostgres(ctx, dir); err != nil {
		return c, err
	}
	if out, err := runCommand(ctx, []string{envConnURI + "=" + c.Postgres.uri()}, bin, "datastore", "migrate", "head", "--skip-release-check", "--log-level=warn",
		"--datastore-engine=postgres"); err != nil {
		return c, fmt.Errorf("clustertest: spicedb datastore migrate head: %w\n%s", err, out)
	}
	hosts := make([]netip.Addr, n)
	for i := range hosts {
		hosts[i] = netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
	}
	if c.dns, err = startDNS(); err != nil {
		return c, err
	}
	dispatchPort, err := sharedFreePort(hosts)
	if err != nil {
		return c, err
	}
	upstream := fmt.Sprintf("dns://%s/spicedb.cluster.test:%d", c.dns.addr(), dispatchPort)
	for _, h := range hosts {
		c.dns.set(h, true) // every node finds every other from its start
	}
	for i := range n {
		node, err := c.startNode(ctx, bin, hosts[i], dispatchPort, upstream, opts.Flags)
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c, nil
}

func (c *Cluster) startNode(ctx context.Context, bin string, host netip.Addr, dispatchPort int, upstream string, flags []string) (*Node, error) {
	var errs []error
	for range startTries {
		grpcPort, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		metricsPort, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		node := &Node{
			bin:         bin,
			host:        host,
			dns:         c.dns,
			addr:        net.JoinHostPort("127.0.0.1", strconv.Itoa(grpcPort)),
			metricsAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)),
			env:         []string{envPresharedKey + "=" + c.Key, envConnURI + "=" + c.Postgres.uri()},
		}
		node.args = slices.Concat([]string{
			"serve",
			"--skip-release-check",
			"--log-level=warn",
			"--telemetry-endpoint=",
			"--grpc-shutdown-grace-period=1s",
			"--grpc-addr=" + node.addr,
			"--http-enabled=false",
			"--metrics-enabled=true",
			"--metrics-addr=" + node.metricsAddr,
			"--datastore-engine=postgres",
			"--datastore-conn-pool-read-min-open=1",
			"--datastore-conn-pool-read-max-open=10",
			"--datastore-conn-pool-write-min-open=1",
			"--datastore-conn-pool-write-max-open=5",
			"--dispatch-cluster-enabled=true",
			"--dispatch-cluster-addr=" + net.JoinHostPort(host.String(), strconv.Itoa(dispatchPort)),
			"--dispatch-upstream-addr=" + upstream,
		}, flags)
		if err := node.Start(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		return node, nil
	}
	return nil, errors.Join(errs...)
}

// SpiceDB reads every flag from an environment variable named
// SPICEDB_<FLAG_IN_UPPER_CASE_WITH_UNDERSCORES>; these carry the secrets.
const (
	envPresharedKey = "SPICEDB_GRPC_PRESHARED_KEY"
	envConnURI      = "SPICEDB_DATASTORE_CONN_URI"
)

// DiscoveryInterval is the shortest time between two resolutions of the
// dispatch name by a node: gRPC's DNS resolver re-resolves when a
// connection to a peer breaks, but at most once per 30 s. Until a node
// re-resolves, a dead peer stays in its dispatch ring, and sub-problems
// that hash to the dead peer wait for it (until their deadline, or until
// it returns) rather than go elsewhere: SpiceDB's consistent-hash balancer
// has no fallback and relies on the resolver to drop dead nodes.
const DiscoveryInterval = 30 * time.Second

// Endpoints returns the gRPC address of every node, in node order.
func (c *Cluster) Endpoints() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.addr
	}
	return addrs
}

// DialOptions returns the options of a plain-text connection carrying the
// cluster's key, for spicedbadapter.Dial or authzed.NewClient.
func (c *Cluster) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcutil.WithInsecureBearerToken(c.Key),
	}
}

// Client returns a client of node i alone, closed when t ends.
func (c *Cluster) Client(t testing.TB, i int) *authzed.Client {
	t.Helper()
	cl, err := authzed.NewClient(c.Nodes[i].addr, c.DialOptions()...)
	if err != nil {
		t.Fatalf("clustertest: dial %s: %v", c.Nodes[i].addr, err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Close stops every node, then PostgreSQL, then the cluster's DNS server,
// each by its PID, and waits for them to exit. [Start] calls it when the
// test ends.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Stop())
	}
	if c.Postgres != nil {
		errs = append(errs, c.Postgres.Stop())
	}
	if c.dns != nil {
		c.dns.close()
	}
	return errors.Join(errs...)
}

// Addr returns the node's gRPC address.
func (n *Node) Addr() string { return n.addr }

// Start starts the node on its ports if it is stopped and waits until it
// serves. Starting a running node does nothing.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		return nil
	}
	p, err := launch("spicedb "+n.addr, nil, n.env, n.bin, n.args...)
	if err != nil {
		return err
	}
	if err := spicedbtest.WaitServing(ctx, n.addr, readyTimeout, p.done, func() string { return fmt.Sprintf("%v\n%s", p.err, p.log) }); err != nil {
		_ = p.kill()
		return fmt.Errorf("clustertest: %w", err)
	}
	n.proc = p
	n.dns.set(n.host, true)
	return nil
}

// Pause stops the node's process with SIGSTOP, as a stalled machine or a
// process stuck on I/O would be: its connections stay open and its peers,
// its clients' health checks and the cluster's DNS still see it, but it
// answers nothing until [Node.Resume]. Pausing a stopped node does nothing.
func (n *Node) Pause() error { return n.suspend(sigStop) }

// Resume continues a paused node with SIGCONT. Resuming a node that is not
// paused does nothing.
func (n *Node) Resume() error { return n.suspend(sigCont) }

func (n *Node) suspend(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return nil
	}
	if err := n.proc.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("clustertest: %v to %s: %w", sig, n.proc.name, err)
	}
	return nil
}

// Stop stops the node gracefully (SIGINT) and waits for it to exit.
// Stopping a stopped node does nothing.
func (n *Node) Stop() error { return n.halt(syscall.SIGINT) }

// Kill kills the node with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit. Killing a stopped node does nothing.
func (n *Node) Kill() error { return n.halt(syscall.SIGKILL) }

func (n *Node) halt(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return nil
	}
	p := n.proc
	n.proc = nil
	// Unlisted first, as Kubernetes removes a dead pod's endpoint: the
	// peers re-resolve when their connections to it break.
	n.dns.set(n.host, false)
	if sig == syscall.SIGKILL {
		return p.kill()
	}
	// A paused node handles SIGINT only once it runs again.
	_ = p.cmd.Process.Signal(sigCont)
	return p.signal(sig)
}

// Log returns the tail of the node's output.
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return ""
	}
	return n.proc.log.String()
}

// Metrics returns the sum of the Prometheus samples of metric name that the
// node exposes, over all label sets whose labels contain every one of
// labels (such as `grpc_service="dispatch.v1.DispatchService"`).
func (n *Node) Metrics(ctx context.Context, name string, labels ...string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.metricsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	// No keep-alive: no connection, and no goroutine, outlives the call.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("clustertest: metrics of %s: %w", n.addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("clustertest: metrics of %s: %s", n.addr, resp.Status)
	}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, labelSet, _ := strings.Cut(series, "{")
		if metric != name || !containsAll(labelSet, labels) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			return 0, fmt.Errorf("clustertest: metrics of %s: %q: %w", n.addr, line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("clustertest: metrics of %s: %w", n.addr, err)
	}
	return sum, nil
}

func containsAll(labelSet string, labels []string) bool {
	for _, l := range labels {
		if !strings.Contains(labelSet, l) {
			return false
		}
	}
	return true
}

// runCommand runs bin with env added to its environment to completion and
// returns its combined output.
func runCommand(ctx context.Context, env []string, bin string, args ...string) (string, error) {
	p, err := launch(bin, nil, env, bin, args...)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
		return p.log.String(), p.err
	case <-ctx.Done():
		_ = p.kill()
		return p.log.String(), ctx.Err()
	}
}

// sharedFreePort returns a TCP port that was free a moment ago on every
// one of hosts.
func sharedFreePort(hosts []netip.Addr) (int, error) {
	for range 20 {
		port, err := freePort(hosts[0].String())
		if err != nil {
			return 0, err
		}
		free := true
		for _, h := range hosts[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(h.String(), strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return port, nil
		}
	}
	return 0, errors.New("clustertest: no port free on every loopback address of the cluster")
}

// newKey returns a random preshared key.
func newKey() (string, error) {
	s, err := randomHex()
	if err != nil {
		return "", err
	}
	return "fgac-cluster-" + s, nil
}

// randomHex returns 128 random bits in hexadecimal: a key or a password.
func randomHex() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("clustertest: random secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func cmpOr(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
