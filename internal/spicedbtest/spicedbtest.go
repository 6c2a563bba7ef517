// Package spicedbtest runs a real SpiceDB for tests: one
// `spicedb serve-testing` process per test binary, and a fresh, empty
// datastore for every caller of [Client].
//
// A package that uses it declares
//
//	func TestMain(m *testing.M) { spicedbtest.Main(m) }
//
// and calls [Client] in its tests. The server starts on first use, listens
// on a free loopback port and is stopped when the tests end, so no process
// outlives the test binary. serve-testing gives every preshared key its own
// in-memory datastore, so [Client] isolates tests from each other without
// restarting anything.
//
// The binary is found, in order: at $FGAC_SPICEDB_BIN; at
// <module root>/bin/spicedb if it was built from the pinned version; or it is
// built there with the Go toolchain from the module internal/tools/spicedb,
// under a file lock so that parallel test binaries build it once. If SpiceDB
// cannot be built or started, tests fail; they never skip.
//
// [StartServer] starts a separate `spicedb serve` (memory datastore, one
// preshared key) with extra flags, for tests that need a setting
// serve-testing does not offer or that stop and restart the server. Its
// key reaches SpiceDB through the environment (SPICEDB_GRPC_PRESHARED_KEY),
// which only the process's owner can read, never through the command line,
// which every local user can.
package spicedbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Timeouts of the harness. They bound waits for a broken server; they are
// not assertions about speed.
const (
	readyTimeout = 2 * time.Minute
	stopTimeout  = 30 * time.Second
	pollInterval = 20 * time.Millisecond
	startTries   = 3
)

// commonFlags returns the flags of every server: no release check over
// the network, a quick stop, quiet logs.
func commonFlags() []string {
	return []string{"--skip-release-check", "--grpc-shutdown-grace-period=1s", "--log-level=warn"}
}

// readyService is the health-checked service that says the server answers
// permission calls.
const readyService = "authzed.api.v1.PermissionsService"

// shared is the serve-testing server of this test binary. It is package
// state because one process serves every test of the binary; [Run] bounds
// its lifetime.
var shared struct {
	mu     sync.Mutex // guards the fields below
	inMain bool       // Run is running the tests
	srv    *Server    // started on first use
	err    error      // why the server could not start; not retried
}

// Main runs the tests of m with [Run] and exits with its code. Call it from
// TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run runs the tests of m, then stops the shared server if a test started
// it, and returns the exit code. Use it instead of [Main] when TestMain has
// more to do after the tests, such as checking for leaked goroutines. A
// server that cannot be stopped cleanly turns a passing run into a failure.
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.inMain = false
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if code == 0 {
				code = 1
			}
		}
		shared.srv = nil
	}
	return code
}

// Client returns a client of the shared server whose preshared key is new,
// so it sees its own empty datastore. It starts the server on first use and
// closes the connection when t ends. It fails t if SpiceDB cannot be
// started or if the package's TestMain does not call [Main] or [Run].
func Client(t testing.TB) *authzed.Client {
	t.Helper()
	srv, err := sharedServer()
	if err != nil {
		t.Fatal(err)
	}
	return dial(t, srv.addr, newKey(t))
}

func sharedServer() (*Server, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		return nil, errors.New("spicedbtest: the shared server needs TestMain to call spicedbtest.Main or spicedbtest.Run")
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(context.Background(), slices.Concat([]string{
			"serve-testing",
			"--readonly-grpc-enabled=false",
			"--http-enabled=false",
			"--readonly-http-enabled=false",
		}, commonFlags()), "")
	}
	return shared.srv, shared.err
}

// Server is one SpiceDB process on a fixed loopback port. Its methods are
// safe for concurrent use.
type Server struct {
	bin  string
	args []string // everything but the address flag
	addr string
	key  string // the preshared key of `spicedb serve`; empty for serve-testing; secret

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// process is one run of the binary.
type process struct {
	cmd  *exec.Cmd
	log  *TailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // the exit status; read only after done is closed
}

// StartServer starts a separate `spicedb serve` with the in-memory
// datastore, one random preshared key ([Server.Key]) and flags appended to
// the harness's own (later flags win), and stops it when t ends. It fails t
// if the server cannot start, or if flags name a preshared key: a secret on
// the command line is readable by every local user.
func StartServer(t testing.TB, flags ...string) *Server {
	t.Helper()
	return StartServerWithKey(t, newKey(t), flags...)
}

// StartServerWithKey is [StartServer] with the preshared key key, for
// tests that run several servers one client authenticates to.
func StartServerWithKey(t testing.TB, key string, flags ...string) *Server {
	t.Helper()
	if key == "" {
		t.Fatal("spicedbtest: StartServerWithKey needs a key")
	}
	for _, f := range flags {
		if strings.HasPrefix(f, "--grpc-preshared-key") {
			t.Fatal("spicedbtest: StartServer chooses the preshared key (Server.Key) and passes it in the environment; a --grpc-preshared-key flag would show in every process listing")
		}
	}
	args := slices.Concat([]string{
		"serve",
		"--datastore-engine=memory",
		"--http-enabled=false",
		"--metrics-enabled=false",
		"--dispatch-cluster-enabled=false",
		"--telemetry-endpoint=",
	}, commonFlags(), flags)
	srv, err := start(context.Background(), args, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// Addr returns the server's gRPC address, host:port on loopback.
func (s *Server) Addr() string { return s.addr }

// Key returns the preshared key of a server of [StartServer], or "" for
// the shared serve-testing server, which accepts any key.
func (s *Server) Key() string { return s.key }

// envPresharedKey is the environment variable SpiceDB reads the flag
// --grpc-preshared-key from (SPICEDB_ and the flag's name in upper case,
// dashes as underscores).
const envPresharedKey = "SPICEDB_GRPC_PRESHARED_KEY"

// Client returns a client of s closed when t ends. For a server of
// [StartServer] it carries the server's preshared key, so every client sees
// the same datastore; for the shared serve-testing server it carries a new
// key, as [Client] does.
func (s *Server) Client(t testing.TB) *authzed.Client {
	t.Helper()
	key := s.key
	if key == "" {
		key = newKey(t)
	}
	return dial(t, s.addr, key)
}

// Stop stops the server gracefully and waits for it to exit. Stopping a
// stopped server does nothing. Clients keep their connections and see the
// server as unavailable until [Server.Restart].
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// Restart starts the server again on the same port with the same flags and
// waits until it is ready. The in-memory datastore starts empty.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.launch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
}

// start finds the binary and starts it on a free port, trying a few ports
// in case another process takes the chosen one first.
func start(ctx context.Context, args []string, key string) (*Server, error) {
	bin, err := binary(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for range startTries {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s := &Server{bin: bin, args: args, addr: addr, key: key}
		p, err := s.launch(ctx)
		if err == nil {
			s.proc = p
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// launch starts the binary and waits until it serves or exits.
func (s *Server) launch(ctx context.Context) (*process, error) {
	cmd := exec.Command(s.bin, slices.Concat(s.args, []string{"--grpc-addr=" + s.addr})...)
	if s.key != "" {
		cmd.Env = append(os.Environ(), envPresharedKey+"="+s.key)
	}
	p := &process{cmd: cmd, log: &TailBuffer{Max: 64 << 10}, done: make(chan struct{})}
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	cmd.WaitDelay = stopTimeout
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("spicedbtest: start %s: %w", s.bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := WaitServing(ctx, s.addr, readyTimeout, p.done, func() string { return fmt.Sprintf("%v\n%s", p.err, p.log) }); err != nil {
		_ = p.kill()
		return nil, fmt.Errorf("spicedbtest: %w", err)
	}
	return p, nil
}

// WaitServing polls the gRPC health service of the SpiceDB at addr until
// it reports SERVING, exited is closed (the process ended: why says how,
// with its output), or timeout passes.
func WaitServing(ctx context.Context, addr string, timeout time.Duration, exited <-chan struct{}, why func() string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		resp, err := health.Check(callCtx, &healthpb.HealthCheckRequest{Service: readyService})
		callCancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("spicedb exited before serving on %s: %s", addr, why())
		case <-ctx.Done():
			return fmt.Errorf("spicedb did not serve on %s within %v (last health check: %v)\n%s", addr, timeout, err, why())
		case <-ticker.C:
		}
	}
}

// stop terminates the running process, if any, and waits for it.
func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	p := s.proc
	s.proc = nil
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		return p.kill()
	}
	select {
	case <-p.done:
		return nil // SpiceDB exits non-zero on a signal; that is a normal stop.
	case <-time.After(stopTimeout):
		if err := p.kill(); err != nil {
			return err
		}
		return fmt.Errorf("spicedbtest: spicedb on %s ignored the interrupt and was killed\n%s", s.addr, p.log)
	}
}

// kill kills the process and waits for it to exit.
func (p *process) kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("spicedbtest: kill spicedb: %w", err)
	}
	<-p.done
	return nil
}

// dial returns a client of addr authenticating with key, closed when t
// ends.
func dial(t testing.TB, addr, key string) *authzed.Client {
	t.Helper()
	c, err := authzed.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcutil.WithInsecureBearerToken(key),
	)
	if err != nil {
		t.Fatalf("spicedbtest: dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newKey returns a random preshared key.
func newKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("spicedbtest: random key: %v", err)
	}
	return "fgac-test-" + hex.EncodeToString(b)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("spicedbtest: find a free port: %w", err)
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)), nil
}

// TailBuffer keeps the last Max bytes written to it: a process's output,
// for failure messages. It is safe for concurrent use.
type TailBuffer struct {
	Max int
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

// Write appends p, dropping the oldest bytes beyond Max.
func (b *TailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if extra := b.buf.Len() - b.Max; extra > 0 {
		b.buf.Next(extra)
	}
	return len(p), nil
}

// String returns what the buffer holds.
func (b *TailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
