// Package httpauthz is net/http middleware that enforces fgac on every
// request: it extracts the addressed id (path, query, JSON body or a name),
// resolves child resources to their parent, applies the collapse rule and
// hands the checked resource to the next handler.
//
// Bad input never reaches the authorizer or the handler: malformed JSON,
// wrong types, null, missing or empty fields, duplicate keys (also in other
// letter case), trailing data, an unsupported content type and oversized
// bodies get a 4xx with a machine-readable body. A malformed id, a missing
// resource, a missing child, a name that resolves to nothing and an
// unreadable resource all get the same 404, byte for byte, after the same
// backend calls. The body is handed on intact.
package httpauthz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
)

// DefaultMaxBodyBytes is the default body limit of extractors that read the
// JSON body.
const DefaultMaxBodyBytes = 1 << 20

// Config configures a [Middleware].
type Config struct {
	// Guard answers the checks. Required.
	Guard *authz.Guard
	// Parents resolves child resource types; nil means none.
	Parents *parent.Registry
	// Subject returns the authenticated subject of a request, or false
	// when there is none (answered 401). Required. It must not derive a
	// bypass from the request: bypass comes only from [authz.WithBypass],
	// put in the context by the service's own authentication.
	Subject func(r *http.Request) (authz.Subject, bool)
	// Consistency is used for every check; the zero value minimises
	// latency.
	Consistency authz.Consistency
	// ConsistencyFor, if set, chooses the consistency per request instead,
	// for instance AtLeastAsFresh with a token the client or the session
	// holds from its last write.
	ConsistencyFor func(r *http.Request) authz.Consistency
	// MaxBodyBytes limits bodies read by JSON extractors; zero means
	// [DefaultMaxBodyBytes]. Larger bodies get 413.
	MaxBodyBytes int64
	// WriteError writes error answers; nil means [WriteJSONError].
	WriteError ErrorWriter
	// Hook receives one [audit.Event] per decision. Nil means none, and
	// then, since fgac never logs on its own, a 500 answers with a fixed
	// message saying that its cause was not recorded and how to record it
	// (a misconfiguration must not fail silently). Set it in production,
	// e.g. to [audit.Slog].
	Hook audit.Hook
	// Rows, if set, confirms as part of every decision that the row of the
	// checked resource (the parent of a child) exists in the service's
	// store, so that relationships that outlive their row (a failed
	// deregistration, a grant that raced a delete) grant nothing: a
	// resource whose row is gone gets the same 404, after the same calls,
	// as one that never existed, also under a bypass. See
	// [enforce.Rows]. Nil means the graph alone decides.
	Rows enforce.Rows
	// Decoy, if set, returns the id spent in place of a missing resource of
	// a type; give it the shape (the length) of the type's real ids, so
	// that no engine answers a missing id measurably faster than an
	// unreadable one. See [enforce.Enforcer.Decoy]. Nil means
	// [collapse.DecoyID].
	Decoy func(resourceType string) string
	// Modes chooses the enforcement mode per resource type, route (the
	// request's ServeMux pattern) and tenant (from the context); nil means
	// [enforce.Enforce] everywhere. In shadow mode every request goes on to
	// the next handler exactly as sent, bad input included, and what would
	// have been answered is only reported (a request without a subject
	// included: shadow mode does not authenticate either); in off mode
	// nothing is checked. A list keeps its narrowing ([NarrowBy]) in every
	// mode. The ResourceType a mode function sees is the route's own type,
	// a child type included: a rollout that enforces "task" enforces
	// "message" routes only if it names "message" too.
	Modes enforce.ModeFunc
	// Tracer, if set, makes a span for every decision (see [otelauthz]);
	// nil means no tracing.
	Tracer *otelauthz.Tracer
	// Context, if set, returns the request context (caveat parameters:
	// the client's IP, the time, a plan) of every check and lookup the
	// middleware makes for r. It is called once per request, after the
	// subject is authenticated and before any engine call. A decision
	// whose caveats lack parameters is conditional and denied like any
	// denial (404, or 403 where the subject may read; either event names
	// the missing parameters). An error that matches
	// [authz.ErrInvalidRequest], or a context that is invalid
	// ([authz.Context.Validate]), answers 400 invalid_context; any other
	// error, and a panic, answers 500: nothing reaches the engine or the
	// handler, in enforce mode. Nil means no context.
	Context func(r *http.Request) (authz.Context, error)
}

// Middleware builds per-route enforcement. It is safe for concurrent use.
type Middleware struct {
	cfg      Config
	enforcer enforce.Enforcer
}

// New returns a Middleware. It panics if cfg lacks a Guard or a Subject
// function: that is a setup error.
func New(cfg Config) *Middleware {
	if cfg.Guard == nil || cfg.Subject == nil {
		panic("httpauthz: Config needs Guard and Subject")
	}
	// An interface holding a nil func or pointer is not nil, and would
	// fail every request: refuse it here, by name.
	for name, v := range map[string]any{"Hook": cfg.Hook, "Rows": cfg.Rows} {
		if v != nil && isNil(v) {
			panic(fmt.Sprintf("httpauthz: Config.%s holds a nil %T: leave the field nil, or give it a working value", name, v))
		}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.WriteError == nil {
		cfg.WriteError = WriteJSONError
	}
	return &Middleware{cfg: cfg, enforcer: enforce.Enforcer{Guard: cfg.Guard, Parents: cfg.Parents, Hook: cfg.Hook, Modes: cfg.Modes, Rows: cfg.Rows, Decoy: cfg.Decoy, Tracer: cfg.Tracer}}
}

// Target is what the middleware checked, available to the next handler
// through [TargetFrom].
type Target struct {
	// Requested is the resource the request addressed (possibly a child),
	// with the id as extracted (a name is already resolved to its id).
	Requested authz.Resource
	// Checked is the resource whose permission was checked (the parent of a
	// child).
	Checked authz.Resource
	// Operation is the operation that was allowed.
	Operation authz.Operation
	// Method is the RPC method, for routes built with [Middleware.RPC].
	Method string
	// Bypassed reports that a trusted bypass allowed the request.
	Bypassed bool
	// Shadow reports that the request ran in shadow mode: it was let
	// through whatever the decision, and Checked may be zero.
	Shadow bool
}

type targetKey struct{}

// TargetFrom returns the [Target] the middleware stored for the request.
func TargetFrom(ctx context.Context) (Target, bool) {
	t, ok := ctx.Value(targetKey{}).(*Target)
	if !ok || t == nil { // nil: an inner route checked nothing
		return Target{}, false
	}
	return *t, true
}

// The errors of callbacks that panicked: server errors (500), whose
// messages leave out the panic's value. A crashing authenticator must not
// pass for a client without credentials, nor a crashing extractor for bad
// input, nor drop the connection.
var (
	errSubjectPanicked     = fmt.Errorf("httpauthz: %w: Config.Subject panicked", authz.ErrInternal)
	errConsistencyPanicked = fmt.Errorf("httpauthz: %w: Config.ConsistencyFor panicked", authz.ErrInternal)
	errExtractorPanicked   = fmt.Errorf("httpauthz: %w: an Extractor panicked", authz.ErrInternal)
)

// consistency returns the consistency of r's checks; a panic in
// ConsistencyFor is an error.
func (m *Middleware) consistency(r *http.Request) (c authz.Consistency, err error) {
	if m.cfg.ConsistencyFor == nil {
		return m.cfg.Consistency, nil
	}
	defer func() {
		if recover() != nil {
			c, err = authz.Consistency{}, errConsistencyPanicked
		}
	}()
	return m.cfg.ConsistencyFor(r), nil
}

// subject calls the Subject function; a panic is an error.
func (m *Middleware) subject(r *http.Request) (s authz.Subject, ok bool, err error) {
	defer func() {
		if recover() != nil {
			s, ok, err = authz.Subject{}, false, errSubjectPanicked
		}
	}()
	s, ok = m.cfg.Subject(r)
	return s, ok, nil
}

// extract calls x; a panic is an error.
func extract(x Extractor, r *http.Request, body []byte) (id string, err error) {
	defer func() {
		if recover() != nil {
			id, err = "", errExtractorPanicked
		}
	}()
	return x.Extract(r, body)
}

// route validates a route's setup (see checkSetup) and reports whether
// its extractors need the body.
func (m *Middleware) route(typ string, op authz.Operation, ids []Extractor) (usesBody bool) {
	m.checkSetup(typ, op)
	for i, x := range ids {
		if x == nil || isNil(x) {
			panic(fmt.Sprintf("httpauthz: route for %s: extractor %d is nil", typ, i))
		}
		usesBody = usesBody || x.UsesBody()
	}
	return usesBody
}

// isNil reports whether v, a non-nil interface value, holds a nil func,
// pointer, map, slice, channel or interface.
func isNil(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// start begins the enforcement of a request for typ and op: the request
// as collapse sees it, and its mode. The error is that of a mode function
// that panicked (the mode is then enforce).
func (m *Middleware) start(r *http.Request, typ string, op authz.Operation, route string) (enforce.Request, enforce.Mode, error) {
	if route == "" {
		route = r.Pattern
	}
	req := enforce.Request{Resource: authz.Resource{Type: typ}, Operation: op, Route: route}
	var err error
	if req.Consistency, err = m.consistency(r); err != nil {
		return req, enforce.Enforce, err
	}
	mode, err := m.enforcer.Mode(r.Context(), typ, route)
	return req, mode, err
}

// checkSetup panics unless op, and for any other operation the read probe
// that tells 403 from 404, are mapped for the type that resources of typ
// are checked as: a route that could only ever fail is a setup error, and
// the message says what to add where.
func (m *Middleware) checkSetup(typ string, op authz.Operation) {
	if _, err := m.enforcer.CheckRoute(typ, op); err != nil {
		panic(fmt.Sprintf("httpauthz: route for %s %s: %v (Config.Parents, Config.Decoy)", typ, op, err))
	}
}

// Require returns middleware that lets a request through only if its
// subject may perform op on the resource of type typ whose id the
// extractors find. With several extractors (say a path value and a body
// field) all must be present and agree, or the request gets 400; ids that
// disagree where one was resolved from a name ([ByName]) get the not-found
// of a name that resolves to nothing, so that neither tells whether the
// name exists. typ may be a child type registered in Config.Parents.
// Require panics at setup if op is not mapped for the type that is checked.
func (m *Middleware) Require(typ string, op authz.Operation, ids ...Extractor) func(http.Handler) http.Handler {
	return m.require(typ, op, "", ids)
}

// require is [Middleware.Require] on route, the pattern the mode function
// and the events see; "" means the request's ServeMux pattern.
func (m *Middleware) require(typ string, op authz.Operation, route string, ids []Extractor) func(http.Handler) http.Handler {
	if len(ids) == 0 {
		panic("httpauthz: Require needs at least one extractor")
	}
	usesBody := m.route(typ, op, ids)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, mode, err := m.start(r, typ, op, route)
			if err != nil {
				m.fail(w, r, next, req, mode, err)
				return
			}
			if mode == enforce.Off {
				m.enforcer.AuthorizeIn(r.Context(), req, mode)
				pass(w, r, next)
				return
			}
			var ok bool
			if req.Subject, ok, err = m.subject(r); err != nil {
				m.fail(w, r, next, req, mode, err)
				return
			} else if !ok {
				m.fail(w, r, next, req, mode, problemUnauthenticated)
				return
			}
			if req.Context, err = m.requestContext(r); err != nil {
				m.fail(w, r, next, req, mode, err)
				return
			}
			body, p := m.readBody(r, usesBody)
			if p != nil {
				m.fail(w, r, next, req, mode, p)
				return
			}
			id, _, err := agree(r, body, ids, false)
			req.Resource.ID = id
			m.enforce(w, r, next, req, mode, "", err)
		})
	}
}

// requestContext returns the request context of r's checks and lookups:
// Config.Context's, validated. An error matching [authz.ErrInvalidRequest]
// (the function's or the context's own) comes back as the 400
// invalid_context problem, still matching it; any other error, and a
// panic, as an error matching [authz.ErrInternal] (a 500). The function's
// own error messages are not kept (they may quote a header, a token): an
// event says only that the function refused or failed; the context's own
// validation error, which never quotes a value, is kept.
func (m *Middleware) requestContext(r *http.Request) (authz.Context, error) {
	if m.cfg.Context == nil {
		return authz.Context{}, nil
	}
	c, refused, err := enforce.CallContext("httpauthz", func() (authz.Context, error) { return m.cfg.Context(r) })
	switch {
	case err != nil:
		return authz.Context{}, err
	case refused != "":
		return authz.Context{}, &contextError{cause: refused}
	}
	return c, nil
}

// contextError is a request context the caller got wrong: answered as
// problemInvalidContext, it keeps the cause's message for the event and
// matches [authz.ErrInvalidRequest] only.
type contextError struct{ cause string }

func (e *contextError) Error() string { return "httpauthz: request context: " + e.cause }

// Unwrap returns [authz.ErrInvalidRequest].
func (e *contextError) Unwrap() error { return authz.ErrInvalidRequest }

// As makes the error answer as problemInvalidContext.
func (e *contextError) As(target any) bool {
	if p, ok := target.(**Problem); ok {
		*p = problemInvalidContext
		return true
	}
	return false
}

// problem is [ProblemFor] err, with the 500 of a middleware without a
// Hook saying that its cause was not recorded.
func (m *Middleware) problem(err error) *Problem {
	p := ProblemFor(err)
	if p == problemInternal && m.cfg.Hook == nil {
		return problemUnrecorded
	}
	return p
}

// fail answers a request that could not be decided: with the error in
// enforce mode, by passing it on untouched in shadow mode.
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, next http.Handler, req enforce.Request, mode enforce.Mode, err error) {
	if err := m.enforcer.Failed(r.Context(), req, mode, err); err != nil {
		m.cfg.WriteError(w, r, m.problem(err))
		return
	}
	pass(w, r, next)
}

// enforce finishes a request whose id extraction returned req.Resource.ID
// and extractErr.
func (m *Middleware) enforce(w http.ResponseWriter, r *http.Request, next http.Handler, req enforce.Request, mode enforce.Mode, method string, extractErr error) {
	ctx := r.Context()
	var checked authz.Resource
	var err error
	switch {
	case errors.Is(extractErr, ErrMissing):
		err = m.enforcer.Missing(ctx, req, mode)
	case extractErr != nil:
		m.fail(w, r, next, req, mode, extractErr)
		return
	default:
		checked, err = m.enforcer.AuthorizeIn(ctx, req, mode)
	}
	if err != nil {
		m.cfg.WriteError(w, r, m.problem(err))
		return
	}
	t := Target{Requested: req.Resource, Checked: checked, Operation: req.Operation, Method: method, Shadow: mode == enforce.Shadow}
	_, t.Bypassed = authz.BypassFor(ctx, checked)
	if f, ok := next.(TargetHandlerFunc); ok {
		if _, outer := TargetFrom(ctx); !outer {
			f(w, r, t) // no context to carry it: no request clone
			return
		}
		// Behind another route's middleware the context carries that
		// route's Target: replace it, so that the argument and TargetFrom
		// agree.
	}
	next.ServeHTTP(w, r.WithContext(&targetCtx{Context: ctx, t: t}))
}

// pass hands a request that was not checked (off mode, or a shadow-mode
// request that could not be decided) to next unchanged, but for the
// Target: next gets none, also behind another route's middleware, whose
// Target must not pass for this route's.
func pass(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if _, outer := TargetFrom(r.Context()); outer {
		r = r.WithContext(context.WithValue(r.Context(), targetKey{}, (*Target)(nil)))
	}
	next.ServeHTTP(w, r)
}

// TargetHandlerFunc is a handler that gets the [Target] its route checked
// as an argument. Behind [Middleware.Require], [Middleware.Handle] and
// [Middleware.RPC] it is called with the Target directly, not through the
// request's context: that saves the request clone [TargetFrom] needs, which
// is about a third of the middleware's own cost and one of its two
// allocations. t is the zero Target when nothing was checked (off mode, or
// a shadow-mode request that could not be decided), as [TargetFrom] then
// reports false. Called as an ordinary [http.Handler] (behind other
// middleware) it gets the Target from the context.
type TargetHandlerFunc func(w http.ResponseWriter, r *http.Request, t Target)

// ServeHTTP calls f with the Target in r's context, or the zero Target.
func (f TargetHandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, _ := TargetFrom(r.Context())
	f(w, r, t)
}

// targetCtx carries the [Target] in the context itself, so handing it on
// costs one allocation rather than two.
type targetCtx struct {
	context.Context
	t Target
}

// Value returns the Target for its key and defers to the parent otherwise.
func (c *targetCtx) Value(key any) any {
	if key == (targetKey{}) {
		return &c.t
	}
	return c.Context.Value(key)
}

// agree runs the extractors of one request and requires that those that
// find an id find the same one. It is the one place that decides how
// extractors combine, for id routes and list narrowing alike.
//
// Every extractor runs before agree answers, so that whether a name
// resolves cannot decide between a bad-input answer and not-found: an
// input error of any extractor wins over [ErrMissing], and ids that
// disagree where one came from a name lookup are answered as [ErrMissing],
// like a name that resolves to nothing; other disagreements are a 400.
// When optional is false (an id route) every extractor must find an id,
// and one that finds nothing is the 400 it returned; when it is true (list
// narrowing) extractors that find nothing are skipped. found reports
// whether any extractor found an id or a name.
func agree(r *http.Request, body []byte, ids []Extractor, optional bool) (id string, found bool, err error) {
	var missing, conflict, resolved bool
	for _, x := range ids {
		v, err := extract(x, r, body)
		switch {
		case optional && isAbsent(err):
			continue
		case errors.Is(err, ErrMissing):
			missing = true
		case err != nil:
			return "", false, err
		case found && v != id:
			conflict = true
		default:
			id = v
		}
		found = true
		resolved = resolved || resolves(x)
	}
	switch {
	case missing || conflict && resolved:
		return "", found, ErrMissing
	case conflict:
		return "", found, problem(http.StatusBadRequest, CodeConflictingIDs, "identifiers in the request disagree")
	}
	return id, found, nil
}

// isAbsent reports whether err is the problem of an input that was not
// given at all. (Out of line, so that agree's hot path does not allocate
// the target of errors.As.)
func isAbsent(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.absent
}

// readBody reads and validates the JSON body when an extractor needs it,
// and puts an identical copy back for the next handler.
func (m *Middleware) readBody(r *http.Request, needed bool) ([]byte, *Problem) {
	if !needed {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, problem(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "content type must be application/json")
		}
	}
	if r.ContentLength > m.cfg.MaxBodyBytes {
		return nil, problem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body is too large")
	}
	body, err := readLimited(r, m.cfg.MaxBodyBytes)
	if err != nil {
		return nil, problem(http.StatusBadRequest, CodeInvalidJSON, "body could not be read")
	}
	if int64(len(body)) > m.cfg.MaxBodyBytes {
		return nil, problem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "body is too large")
	}
	if !jsonValid(body) {
		return nil, problem(http.StatusBadRequest, CodeInvalidJSON, "body is not a single valid JSON value")
	}
	return body, nil
}

// readLimited reads at most limit+1 bytes of the body, in one allocation
// when the length is declared, and puts back a body that yields exactly
// the bytes the client sent: what was read, then whatever was not.
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	orig := r.Body
	var buf []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= limit {
		buf = make([]byte, n+1)
		var got int
		got, err = io.ReadFull(orig, buf)
		buf = buf[:got]
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
	} else {
		buf, err = io.ReadAll(io.LimitReader(orig, limit+1))
	}
	r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(buf), orig), Closer: orig}
	return buf, err
}

// replayBody is a request body that replays what the middleware read.
type replayBody struct {
	io.Reader
	io.Closer
}

// Mux is where [Middleware.Handle] registers routes: an [*http.ServeMux],
// or the service's own wrapper of one (one that puts authentication in
// front of every handler, say).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Handle registers h on mux at pattern behind [Middleware.Require] for typ
// and op. Unlike Require alone it knows the pattern, so it panics at setup,
// like [http.ServeMux.Handle], when an extractor reads a path value the
// pattern does not define (a misspelt {task_id} would otherwise be a 400
// for every request). The mode function and the events see pattern as the
// route, whatever the Mux makes of it (a prefix, another router).
func (m *Middleware) Handle(mux Mux, pattern, typ string, op authz.Operation, h http.Handler, ids ...Extractor) {
	if mux == nil || isNil(mux) || h == nil || isNil(h) {
		panic(fmt.Sprintf("httpauthz: route %q: Handle needs a Mux and a handler", pattern))
	}
	guard := m.require(typ, op, pattern, ids) // checks the route's setup first
	wild := patternWildcards(pattern)
	for _, name := range pathValues(ids) {
		if !wild[name] {
			panic(fmt.Sprintf("httpauthz: route %q: extractor reads path value %q, which the pattern does not define", pattern, name))
		}
	}
	mux.Handle(pattern, guard(h))
}

// patternWildcards returns the names of the wildcards of a ServeMux
// pattern: {name} and {name...}.
func patternWildcards(pattern string) map[string]bool {
	out := map[string]bool{}
	for rest := pattern; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return out
		}
		out[strings.TrimSuffix(rest[i+1:i+j], "...")] = true
		rest = rest[i+j+1:]
	}
}

// pathValues returns the path value names the extractors read, looking
// inside ByName and Either.
func pathValues(xs []Extractor) []string {
	var out []string
	for _, x := range xs {
		switch x := x.(type) {
		case pathValue:
			out = append(out, string(x))
		case byName:
			out = append(out, pathValues([]Extractor{x.inner})...)
		case either:
			out = append(out, pathValues(x)...)
		}
	}
	return out
}
