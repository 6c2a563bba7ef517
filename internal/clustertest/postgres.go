package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// envPostgresBin names a directory holding initdb and postgres, for
// machines where they are neither under /usr/lib/postgresql nor on $PATH.
const envPostgresBin = "FGAC_POSTGRES_BIN"

// Postgres is a throwaway PostgreSQL server: its own data directory under
// the test's temporary directory, listening on one port of 127.0.0.1 and
// accepting only the user "postgres" with its random password
// (SCRAM-SHA-256): no trust, no peer authentication, no Unix socket. Its
// methods are safe for concurrent use.
type Postgres struct {
	bin      string      // directory of initdb, postgres and pg_isready
	dir      string      // the data directory
	port     int         // loopback port
	cred     *credential // whom the server runs as; nil: this process's user
	password string      // of the user "postgres"; secret

	mu   sync.Mutex // guards proc
	proc *process   // nil while stopped
}

// uri returns the connection URI of the server's "postgres" database. It
// holds the password: it goes into environments, never onto a command line.
func (p *Postgres) uri() string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", p.password, p.port)
}

// Port returns the server's port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// hbaConf is the whole of pg_hba.conf: password connections of the user
// postgres over TCP from 127.0.0.1, nothing else (the server has no Unix
// socket and listens on 127.0.0.1 alone).
const hbaConf = "# clustertest: SCRAM-SHA-256 from 127.0.0.1 only\nhost all postgres 127.0.0.1/32 scram-sha-256\n"

// postgresBin returns the directory holding PostgreSQL's server binaries:
// $FGAC_POSTGRES_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's
// layout), else the directory of initdb on $PATH.
func postgresBin() (string, error) {
	if dir := os.Getenv(envPostgresBin); dir != "" {
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	slices.SortFunc(found, func(a, b string) int { return majorOf(b) - majorOf(a) })
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("clustertest: no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin or on $PATH; install PostgreSQL (apt-get install postgresql) or set $%s", envPostgresBin)
}

// majorOf returns the major version in a path /usr/lib/postgresql/N/bin/x.
func majorOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// serverUser returns the credential to run PostgreSQL with, which refuses
// to run as root: nil unless this process is root, else the "postgres"
// user (Debian's package creates it), else "nobody".
func serverUser() (*credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return newCredential(uint32(uid), uint32(gid)), nil
	}
	return nil, errors.New("clustertest: running as root and no postgres or nobody user to run PostgreSQL as")
}

// startPostgres creates a database cluster in a new directory under tmp
// and starts it on a free loopback port.
func startPostgres(ctx context.Context, tmp string) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "pgdata")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("clustertest: %w", err)
	}
	if cred != nil {
		// The server's user must reach its directory through tmp and its
		// parent (t.TempDir makes both), which only their owner may enter.
		for _, d := range []string{tmp, filepath.Dir(tmp)} {
			if err := os.Chmod(d, 0o711); err != nil {
				return nil, fmt.Errorf("clustertest: %w", err)
			}
		}
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("clustertest: %w", err)
		}
	}
	password, err := randomHex()
	if err != nil {
		return nil, err
	}
	if err := initdb(ctx, bin, dir, cred, password); err != nil {
		return nil, err
	}
	var errs []error
	for range startTries {
		port, err := freePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		p := &Postgres{bin: bin, dir: dir, port: port, cred: cred, password: password}
		if err := p.Start(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	return nil, errors.Join(errs...)
}

// initdb creates the database cluster in dir with the superuser postgres
// and password, read from a file only the server's user can read, removed
// again once initdb is done, and replaces pg_hba.conf with [hbaConf].
func initdb(ctx context.Context, bin, dir string, cred *credential, password string) error {
	pwfile := filepath.Join(filepath.Dir(dir), "pwfile")
	if err := writeOwned(pwfile, password+"\n", cred); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	p, err := launch("initdb", cred, nil, filepath.Join(bin, "initdb"),
		"-D", dir, "-U", "postgres", "--pwfile="+pwfile, "--auth=scram-sha-256",
		"--no-sync", "-E", "UTF8", "--locale=C")
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.kill()
		return fmt.Errorf("clustertest: initdb: %w", ctx.Err())
	}
	if p.err != nil {
		return fmt.Errorf("clustertest: initdb: %v\n%s", p.err, p.log)
	}
	return writeOwned(filepath.Join(dir, "pg_hba.conf"), hbaConf, cred)
}

// writeOwned writes a file that only its owner may read or write, owned by
// cred's user if cred is not nil.
func writeOwned(name, content string, cred *credential) error {
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	if err := os.Chmod(name, 0o600); err != nil { // an existing file keeps its mode
		return fmt.Errorf("clustertest: %w", err)
	}
	if cred != nil {
		if err := os.Chown(name, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("clustertest: %w", err)
		}
	}
	return nil
}

// Start starts the server on its port if it is stopped and waits until it
// accepts connections. Starting a running server does nothing.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return nil
	}
	proc, err := launch("postgres", p.cred, nil, filepath.Join(p.bin, "postgres"),
		"-D", p.dir,
		"-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", // TCP on loopback only
		"-c", "max_connections=300",
		"-c", "track_commit_timestamp=on",
		// Throwaway data: durability is not under test, speed is welcome.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
	)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, proc); err != nil {
		_ = proc.kill()
		return err
	}
	p.proc = proc
	return nil
}

// waitReady polls pg_isready until the server accepts connections, exits,
// or readyTimeout passes.
func (p *Postgres) waitReady(ctx context.Context, proc *process) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := exec.CommandContext(ctx, filepath.Join(p.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "postgres", "-t", "1").Run()
		if err == nil {
			return nil
		}
		select {
		case <-proc.done:
			return fmt.Errorf("clustertest: postgres exited before accepting connections on port %d: %v\n%s", p.port, proc.err, proc.log)
		case <-ctx.Done():
			return fmt.Errorf("clustertest: postgres did not accept connections on port %d within %v: %v\n%s", p.port, readyTimeout, err, proc.log)
		case <-ticker.C:
		}
	}
}

// Stop shuts the server down (a fast shutdown: open transactions are
// rolled back, clients disconnected) and waits for it to exit. Stopping a
// stopped server does nothing.
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	proc := p.proc
	p.proc = nil
	return proc.signal(syscall.SIGINT)
}

// Running reports whether the server process is running.
func (p *Postgres) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.proc.exited()
}

// freePort returns a TCP port of host that was free a moment ago.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("clustertest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
