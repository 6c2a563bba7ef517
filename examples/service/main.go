// Command service is the reference service of fgac: agents, their tasks,
// and the tasks' messages, states, trackers, checkpoints and events, over
// HTTP, on an embedded SQLite database, with every route authorized by
// fgac.
//
// Run it from the repository root with
//
//	go run ./examples/service
//
// It listens on 127.0.0.1:8080 with an in-memory database, the in-memory
// authorization engine and three demo users (alice, bob and carol, whose
// bearer tokens are tok-alice, tok-bob and tok-carol). Flags, each with an
// environment variable, change that:
//
//	-addr             FGAC_ADDR              listen address
//	-db               FGAC_DB                SQLite file (default: in memory); memadapter's graph goes beside it, in FILE.graph
//	-users            FGAC_USERS             name=token,... (default: the demo users)
//	-spicedb-endpoint FGAC_SPICEDB_ENDPOINT  use SpiceDB at host:port instead of memadapter; several
//	                                         comma-separated endpoints are the nodes of one cluster,
//	                                         balanced over with health checks
//	-spicedb-key      FGAC_SPICEDB_KEY       SpiceDB preshared key
//	-log-level        FGAC_LOG_LEVEL         debug, info, warn or error
//	-reconcile-every  FGAC_RECONCILE_EVERY   interval of the reconciler (default 1m; 0: only at start)
//	-request-timeout  FGAC_REQUEST_TIMEOUT   deadline of every request (default 10s)
//
// Every request runs under -request-timeout: a backend that hangs (SpiceDB
// frozen, a locked database) makes the request answer 503 when the
// deadline passes, never hang. The HTTP server's own limits follow from it
// (see newHTTPServer), so a client that drips its headers or body cannot
// hold a connection open either.
//
// The service reconciles the graph with the database at start and then
// every -reconcile-every: it removes registrations whose rows are gone and
// registers rows that have none. With SpiceDB it also writes its schema at
// start. Give it a SpiceDB of its own: registrations of its resource types
// that have no row in its database are removed.
package main

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "modernc.org/sqlite"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/dualwrite"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/parent"
	"github.com/fgac-go/fgac/schema"
	"github.com/fgac-go/fgac/spicedbadapter"
)

//go:embed schema.zed
var schemaText string

// demoUsers are the users of a service started without -users.
const demoUsers = "alice=tok-alice,bob=tok-bob,carol=tok-carol"

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// defaultReconcileEvery is the interval of the reconciler without
// -reconcile-every.
const defaultReconcileEvery = time.Minute

// defaultRequestTimeout is the deadline of every request without
// -request-timeout.
const defaultRequestTimeout = 10 * time.Second

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		log.Error("listen", "error", err)
		os.Exit(1)
	}
	if err := run(ctx, cfg, log, ln); err != nil {
		log.Error("service stopped", "error", err)
		os.Exit(1)
	}
}

// config is the service's configuration.
type config struct {
	addr            string
	dbPath          string            // empty: in memory
	users           map[string]string // user token -> user id
	demoUsers       bool
	spicedbEndpoint string
	spicedbKey      string
	logLevel        slog.Level
	reconcileEvery  time.Duration // 0: reconcile only at start
	requestTimeout  time.Duration // 0: defaultRequestTimeout

	// spicedbClient, if set, is used instead of dialling spicedbEndpoint.
	// Tests set it to a client of their own SpiceDB.
	spicedbClient *authzed.Client
	// wrapEngine, if set, wraps the engine before anything uses it. Tests
	// set it to inject faults (an engine that hangs); main never does.
	wrapEngine func(authz.Authorizer) authz.Authorizer
	// noFreshTokens makes every check fully consistent instead of at least
	// as fresh as the caller's last write (see freshness). Tests set it for
	// a side-by-side control; main never does.
	noFreshTokens bool
}

// parseConfig reads the flags in args, each defaulting to its environment
// variable. Its errors never contain a token or key.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	addr := fs.String("addr", env("FGAC_ADDR", "127.0.0.1:8080"), "listen `address` (FGAC_ADDR)")
	db := fs.String("db", env("FGAC_DB", ""), "SQLite database `file`, with memadapter's graph beside it in FILE.graph; empty for in-memory ones (FGAC_DB)")
	users := fs.String("users", env("FGAC_USERS", demoUsers), "user bearer tokens, `name=token,...` (FGAC_USERS)")
	endpoint := fs.String("spicedb-endpoint", env("FGAC_SPICEDB_ENDPOINT", ""), "SpiceDB gRPC `host:port`, or several comma-separated for the nodes of a cluster; empty for the in-memory engine (FGAC_SPICEDB_ENDPOINT)")
	key := fs.String("spicedb-key", env("FGAC_SPICEDB_KEY", ""), "SpiceDB preshared `key`; prefer FGAC_SPICEDB_KEY, flags show in ps")
	level := fs.String("log-level", env("FGAC_LOG_LEVEL", "info"), "debug, info, warn or error (FGAC_LOG_LEVEL)")
	every := fs.String("reconcile-every", env("FGAC_RECONCILE_EVERY", defaultReconcileEvery.String()), "reconcile the graph with the database every `interval`; 0 for only at start (FGAC_RECONCILE_EVERY)")
	timeout := fs.String("request-timeout", env("FGAC_REQUEST_TIMEOUT", defaultRequestTimeout.String()), "deadline of every request, such as 10s; a request whose backends do not answer in time gets 503 (FGAC_REQUEST_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg := config{addr: *addr, dbPath: *db, spicedbEndpoint: *endpoint, spicedbKey: *key, demoUsers: *users == demoUsers}
	if err := cfg.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("log level: %w", err)
	}
	var err error
	if cfg.reconcileEvery, err = time.ParseDuration(*every); err != nil || cfg.reconcileEvery < 0 {
		return config{}, fmt.Errorf("reconcile-every: %q is not a duration of 0 or more, such as 1m", *every)
	}
	if cfg.requestTimeout, err = time.ParseDuration(*timeout); err != nil || cfg.requestTimeout <= 0 {
		return config{}, fmt.Errorf("request-timeout: %q is not a duration above 0, such as 10s", *timeout)
	}
	if cfg.spicedbEndpoint != "" && cfg.spicedbKey == "" {
		return config{}, errors.New("-spicedb-endpoint needs -spicedb-key (or FGAC_SPICEDB_KEY)")
	}
	if cfg.users, err = parseUsers(*users); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// parseUsers parses "name=token,...". Its errors name entries by position,
// never by token.
func parseUsers(s string) (map[string]string, error) {
	users := map[string]string{}
	names := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		name, token, ok := strings.Cut(strings.TrimSpace(entry), "=")
		switch {
		case !ok || token == "":
			return nil, fmt.Errorf("users: entry %d is not name=token", i+1)
		case !authz.ValidID(name):
			return nil, fmt.Errorf("users: entry %d: name must be letters, digits and /_|-=+", i+1)
		case strings.HasPrefix(token, agentKeyPrefix):
			return nil, fmt.Errorf("users: entry %d: token must not start with %s", i+1, agentKeyPrefix)
		case names[name]:
			return nil, fmt.Errorf("users: %s appears twice", name)
		case users[token] != "":
			return nil, fmt.Errorf("users: entry %d reuses another user's token", i+1)
		}
		names[name], users[token] = true, name
	}
	return users, nil
}

// run serves the service on ln until ctx is done, then shuts down
// gracefully (see server.run) and closes the database and the SpiceDB
// connection.
func run(ctx context.Context, cfg config, log *slog.Logger, ln net.Listener) error {
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.close()
	log.Info("serving", "addr", ln.Addr().String(), "engine", s.engineName, "db", cmp.Or(cfg.dbPath, "in memory"),
		"reconcile_every", cfg.reconcileEvery.String(), "request_timeout", s.requestTimeout.String())
	return s.run(ctx, ln)
}

// run serves s on ln, and reconciles every s.reconcileEvery, until ctx is
// done. It returns once the server has shut down (see serve) and the
// reconcile loop has returned, so no pass outlives it or touches a closed
// database. A pass under way is cancelled: what it leaves undone fails
// closed (at worst a row it had not yet registered answers 404) and the
// next pass, at the latest at the next start, finishes it.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if s.reconcileEvery > 0 {
		wg.Go(func() { s.reconcileLoop(rctx, s.reconcileEvery) })
	}
	err := serve(ctx, newHTTPServer(s.handler(), s.log, s.requestTimeout), s.log, ln)
	stop()
	wg.Wait()
	return err
}

// reconcileLoop reconciles every interval until ctx is done. A failed pass
// is logged and the next one runs at the next tick; ticks that fall during
// a slow pass are dropped, so passes never overlap.
func (s *server) reconcileLoop(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.reconcile(ctx, "periodic"); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile", "run", "periodic", "error", err)
		}
	}
}

// newHTTPServer returns the HTTP server of h, whose handler runs under
// requestTimeout (see server.handler). Its limits keep a slow or idle
// client from holding a connection, and so a goroutine and a file
// descriptor, longer than a request may take:
//
//   - the headers must arrive within 5 s (less if requestTimeout is less);
//   - the whole request, body included, within requestTimeout of its start:
//     a body that drips in is cut off (the handler's deadline does not stop
//     a blocked body read; this does);
//   - the answer must be written within requestTimeout plus 5 s after the
//     headers, which leaves the handler time to answer 503 at its deadline;
//   - a keep-alive connection may idle for 60 s between requests.
func newHTTPServer(h http.Handler, log *slog.Logger, requestTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(5*time.Second, requestTimeout),
		ReadTimeout:       requestTimeout,
		WriteTimeout:      requestTimeout + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve serves srv on ln until ctx is done, then stops accepting, lets the
// requests in flight finish (within shutdownTimeout) and returns.
func serve(ctx context.Context, srv *http.Server, log *slog.Logger, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-served // http.ErrServerClosed once Shutdown has begun
	return err
}

// server is the service: its store, its engine and the middleware that
// stands between them and the network. It is safe for concurrent use.
type server struct {
	log            *slog.Logger
	store          *store
	engine         authz.Authorizer
	engineName     string
	hooks          dualwrite.Hook
	writer         *dualwrite.Writer
	mw             *httpauthz.Middleware
	guard          *authz.Guard // the middleware's, for GET /tasks/{id}/access
	fresh          *freshness   // the engine's write tokens; nil: reads are fully consistent
	auth           *authenticator
	reconcileEvery time.Duration // 0: only at start
	requestTimeout time.Duration // deadline of every request
	closers        []func() error
}

// operations maps each operation of the routes to the schema permission
// that grants it. Child types (message, state, tracker, event) have no
// entry: they are checked as their parent. Tracker updates use update: the
// reference system's use of execute there contradicted its own schema.
func operations() map[string]map[authz.Operation]string {
	return map[string]map[authz.Operation]string{
		"agent": {authz.OpRead: "read", authz.OpExecute: "execute", authz.OpCreate: "create_task", authz.OpDelete: "delete"},
		"task":  {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpCancel: "cancel", authz.OpDelete: "delete", opShare: "share"},
	}
}

// opShare is the operation of granting a role on a task.
const opShare authz.Operation = "share"

// newServer opens the database, builds the engine, reconciles the graph
// with the database and assembles the middleware. On error, whatever it
// opened is closed again.
func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
	s := &server{log: log}
	if err := s.setup(ctx, cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) setup(ctx context.Context, cfg config) error {
	log := s.log
	st, err := openStore(ctx, cfg.dbPath)
	if err != nil {
		return err
	}
	s.store = st
	s.closers = append(s.closers, st.close)
	if s.engine, err = s.newEngine(ctx, cfg); err != nil {
		return err
	}
	if cfg.wrapEngine != nil {
		s.engine = cfg.wrapEngine(s.engine)
	}
	if !cfg.noFreshTokens {
		// Every write, the dual writes and the reconciler's included,
		// records its token (see freshness).
		s.fresh = newFreshness(s.engine)
		s.engine = s.fresh
	}
	s.requestTimeout = cmp.Or(cfg.requestTimeout, defaultRequestTimeout)

	parsed, err := schema.Parse(schemaText)
	if err != nil {
		return err
	}
	ops, err := authz.NewOperationMap(parsed, operations())
	if err != nil {
		return err
	}
	parents := &parent.Registry{}
	parents.Register("message", "task", s.resolver("messages", "task_id"))
	parents.Register("state", "task", s.resolver("states", "task_id"))
	parents.Register("tracker", "task", s.resolver("trackers", "task_id"))
	parents.Register("event", "agent", s.resolver("events", "agent_id"))

	s.hooks = dualwrite.HookFunc(func(ctx context.Context, e dualwrite.Event) {
		switch {
		case e.Err != nil:
			log.Warn("dualwrite", "event", e.Kind.String(), "resource", e.Resource.String(), "error", e.Err)
		case e.Kind == dualwrite.Compensated:
			log.Info("dualwrite", "event", e.Kind.String(), "resource", e.Resource.String())
		default:
			log.Debug("dualwrite", "event", e.Kind.String(), "resource", e.Resource.String())
		}
	})
	s.writer = &dualwrite.Writer{Registrar: s.engine, Granter: s.engine, Hook: s.hooks}
	if err := s.reconcile(ctx, "start"); err != nil {
		return err
	}
	s.reconcileEvery = cfg.reconcileEvery
	if cfg.demoUsers {
		log.Warn("using the demo users alice, bob and carol; set -users or FGAC_USERS for anything else")
	}
	s.auth = newAuthenticator(cfg.users, st)
	s.guard = authz.NewGuard(s.engine, ops)
	s.mw = httpauthz.New(httpauthz.Config{
		Guard:   s.guard,
		Parents: parents,
		// A decision needs the row as well as the permission: a task whose
		// row is gone answers 404 whatever relationships it left behind.
		Rows: enforce.RowsFunc(func(ctx context.Context, r authz.Resource) (bool, error) {
			ok, err := st.exists(ctx, r)
			return ok, unavailableIfDone(ctx, err)
		}),
		// A missing id costs a check on an id of the same shape as real
		// ones (newID's), so that no engine answers it faster.
		Decoy:   decoyID,
		Subject: func(r *http.Request) (authz.Subject, bool) { return subjectFrom(r.Context()) },
		// Every check reads at least every write acknowledged before its
		// request that can change what the caller may do: AtLeastAsFresh
		// the token of the last write naming the caller (see freshness).
		// SpiceDB's default, minimize_latency, may answer from a snapshot
		// a few seconds old, so a task shared a moment ago could still
		// answer 404; fully consistent, it may answer a request sent just
		// after a write from a snapshot without it while other fully
		// consistent requests are in flight (milliseconds; see the
		// README's consistency notes).
		ConsistencyFor: s.consistencyFor,
		// Allowed decisions at debug, denials and not-founds at info.
		Hook: audit.Slog{Logger: log, Level: slog.LevelDebug},
	})
	return nil
}

// consistencyFor returns the consistency of a request's checks: at least
// as fresh as the last write naming its caller, fully consistent if there
// was none lately or tokens are not kept.
func (s *server) consistencyFor(r *http.Request) authz.Consistency {
	caller, ok := subjectFrom(r.Context())
	if s.fresh == nil || !ok {
		return authz.FullyConsistent()
	}
	return s.fresh.consistency(subjectKey(caller))
}

// newEngine returns memadapter loaded with the schema, or, when SpiceDB is
// configured, the SpiceDB adapter after writing the schema to SpiceDB. With
// a database file, memadapter keeps its graph in a file beside it (see
// graphPath), so that shares survive restarts; without one, in memory.
func (s *server) newEngine(ctx context.Context, cfg config) (authz.Authorizer, error) {
	client := cfg.spicedbClient
	if client == nil && cfg.spicedbEndpoint == "" {
		s.engineName = "memadapter"
		if cfg.dbPath == "" {
			return memadapter.New(schemaText)
		}
		a, err := memadapter.Open(graphPath(cfg.dbPath), schemaText, nil)
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, a.Close)
		return a, nil
	}
	s.engineName = "spicedb"
	if client == nil {
		var err error
		if client, err = dialSpiceDB(cfg.spicedbEndpoint, cfg.spicedbKey); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, client.Close)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := spicedbadapter.WriteSchema(wctx, client, schemaText); err != nil {
		return nil, fmt.Errorf("write schema to spicedb: %w", err)
	}
	return spicedbadapter.New(client, nil), nil
}

// graphPath returns the file of memadapter's graph for the database file
// dbPath: service.db.graph for service.db.
func graphPath(dbPath string) string { return dbPath + ".graph" }

// dialSpiceDB connects to SpiceDB: endpoint is one host:port, or several,
// comma-separated, of the nodes of one SpiceDB cluster, which the client
// balances over (spicedbadapter.Dial). Plain text is used only when every
// endpoint is on loopback, where nobody else can read the preshared key;
// anything else needs TLS.
func dialSpiceDB(endpoint, key string) (*authzed.Client, error) {
	endpoints := strings.Split(endpoint, ",")
	loopback := true
	for i, e := range endpoints {
		endpoints[i] = strings.TrimSpace(e)
		host, _, err := net.SplitHostPort(endpoints[i])
		if err != nil {
			// Dial's error names the entry and what is wrong with it.
			c, err := spicedbadapter.Dial(endpoints[:i+1])
			if err == nil {
				c.Close()
				err = fmt.Errorf("spicedb endpoint %d %q is not host:port", i+1, endpoints[i])
			}
			return nil, err
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			loopback = false
		}
	}
	var opts []grpc.DialOption
	if loopback {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken(key))
	} else {
		certs, err := grpcutil.WithSystemCerts(grpcutil.VerifyCA)
		if err != nil {
			return nil, fmt.Errorf("spicedb: %w", err)
		}
		opts = append(opts, certs, grpcutil.WithBearerToken(key))
	}
	// Dial also for one endpoint: it checks every entry (a malformed one
	// is refused here, not at the first request) and health-checks the node.
	return spicedbadapter.Dial(endpoints, opts...)
}

// resolver returns the parent lookup of a child table.
func (s *server) resolver(table, column string) parent.Resolver {
	return parent.ResolverFunc(func(ctx context.Context, id string) (string, error) {
		id, err := s.store.parentOf(ctx, table, column, id)
		return id, unavailableIfDone(ctx, err)
	})
}

// unavailableIfDone returns err, marked as authz.ErrUnavailable if ctx is
// done. The store queries the middleware makes for a decision (a row's
// existence, a child's parent, a name) take the request's context: when its
// deadline cuts one short, the request answers 503, as for an engine that
// did not answer in time, rather than 500.
func unavailableIfDone(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil && !errors.Is(err, authz.ErrNotFound) {
		return fmt.Errorf("%w: %w", authz.ErrUnavailable, err)
	}
	return err
}

// reconcile brings the graph in line with the database, before serving
// (run "start") and then periodically while serving (run "periodic"):
// registrations without a row are removed and rows without a registration
// get their owner (and parent) back. With memadapter and a database file
// the graph is in its own file (see graphPath) and survives restarts,
// shares included; the reconciler repairs what a crash between the two
// files left behind. While serving, it
// removes what a failed best-effort deregistration or a share that raced a
// delete left behind, and registers rows written to the database directly.
// Each type's report is logged: at info level if anything differed, at
// debug level otherwise.
func (s *server) reconcile(ctx context.Context, run string) error {
	for _, table := range []string{"agents", "tasks"} {
		r := dualwrite.Reconciler{
			Backend:      s.engine,
			ResourceType: strings.TrimSuffix(table, "s"),
			Hook:         s.hooks,
			// Owners and parents are written only by registration here (sharing
			// writes viewer and editor), so the store is their source of truth.
			VerifyOwnership: true,
			Rows: func(ctx context.Context, cursor string, limit int) ([]string, string, error) {
				return s.store.ids(ctx, table, cursor, limit)
			},
			Exists: func(ctx context.Context, ids []string) ([]string, error) {
				return s.store.existing(ctx, table, ids)
			},
			Registration: func(ctx context.Context, id string) (authz.RegisterRequest, bool, error) {
				return s.store.registration(ctx, table, id)
			},
		}
		rep, err := r.Reconcile(ctx)
		if err != nil && (rep.Failed == 0 || ctx.Err() != nil) {
			// The pass could not read the graph or the store, or it was
			// stopped (the service is shutting down): repairs that failed
			// for that are not failed repairs.
			return err
		}
		level := slog.LevelDebug
		if rep.Orphans > 0 || rep.Unregistered > 0 || rep.OwnershipMismatches > 0 {
			level = slog.LevelInfo
		}
		if err != nil {
			// Some repairs failed (a row with a malformed id, say, which no
			// registration can name): the pass went on past them, and what
			// it could not repair fails closed (Rows confirms every row);
			// the next pass tries again. One bad row must not keep the
			// service down.
			s.log.Warn("reconcile", "run", run, "type", r.ResourceType, "failed", rep.Failed, "error", err)
		}
		s.log.Log(ctx, level, "reconciled", "run", run, "type", r.ResourceType,
			"registrations", rep.Registrations, "rows", rep.Rows,
			"orphans", rep.Orphans, "orphans_removed", rep.OrphansRemoved,
			"unregistered", rep.Unregistered, "reregistered", rep.Reregistered,
			"ownership_mismatches", rep.OwnershipMismatches, "ownership_repaired", rep.OwnershipRepaired)
	}
	return nil
}

// close releases what newServer opened, in reverse order.
func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			s.log.Warn("close", "error", err)
		}
	}
}
