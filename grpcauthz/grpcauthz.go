// Package grpcauthz is a pair of gRPC server interceptors (unary and
// stream) that enforce fgac on every call exactly as httpauthz does on
// HTTP: a method table that fails closed, the id read from the request
// message by a field path (through protoreflect) or a function, child
// resources resolved to their parent, the collapse rule, enforcement modes
// and one decision event per call.
//
// A missing, unreadable, child-of-missing or malformed id is answered
// with the same status (NotFound, the same message and details, no
// headers or trailers of its own) after the same backend calls;
// PermissionDenied only when the resource is readable; Unavailable for
// all of them when the engine is down. Status messages are fixed texts and
// never carry an id. A call to a method the table lacks, a missing or
// non-string id field, an oversized message and a call without a subject
// are refused (PermissionDenied, InvalidArgument, Unauthenticated) before
// any check or handler runs. On a stream, the id comes from the first
// message, which the interceptor receives and authorizes before the
// handler runs; the handler then receives that same message first.
package grpcauthz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
)

// DefaultMaxMessageBytes is the default limit on the size of a request
// message whose id the interceptors read.
const DefaultMaxMessageBytes = 1 << 20

// Config configures an [Interceptor].
type Config struct {
	// Guard answers the checks. Required.
	Guard *authz.Guard
	// Parents resolves child resource types; nil means none.
	Parents *parent.Registry
	// Subject returns the authenticated subject of a call from its
	// context (metadata.FromIncomingContext, peer.FromContext, or what the
	// service's authentication interceptor put there), or false when
	// there is none (Unauthenticated). Required. It must not derive a
	// bypass from the call: bypass comes only from [authz.WithBypass], put
	// in the context by the service's own authentication.
	Subject func(ctx context.Context) (authz.Subject, bool)
	// Consistency is used for every check; the zero value minimises
	// latency.
	Consistency authz.Consistency
	// ConsistencyFor, if set, chooses the consistency per call instead.
	ConsistencyFor func(ctx context.Context) authz.Consistency
	// MaxMessageBytes limits the size of a request message whose id is
	// read; zero means [DefaultMaxMessageBytes]. A larger one is
	// InvalidArgument.
	MaxMessageBytes int
	// Hook receives one [audit.Event] per decision; nil means none.
	Hook audit.Hook
	// Rows, if set, confirms as part of every decision that the checked
	// resource's row exists; see [enforce.Rows].
	Rows enforce.Rows
	// Decoy, if set, returns the id spent in place of a missing resource
	// of a type; see [enforce.Enforcer].Decoy.
	Decoy func(resourceType string) string
	// Modes chooses the enforcement mode per resource type, method (the
	// full method name is the route) and tenant (from the context); nil
	// means [enforce.Enforce] everywhere. In shadow mode every call goes on
	// to the handler exactly as sent, bad input included, and what would
	// have been answered is only reported; in off mode nothing is checked.
	Modes enforce.ModeFunc
	// Tracer, if set, makes a span for every decision, the parent of its
	// engine calls' spans (wrap the Guard's engine with
	// [otelauthz.Tracer.Engine] for those). Nil means no tracing.
	Tracer *otelauthz.Tracer
	// Context, if set, returns the request context (caveat parameters:
	// the peer's address, the time, a plan) of every check and lookup the
	// interceptors make for a call. req is the request message (a
	// stream's first message) for a method routed by id and for a unary
	// list method, nil for a streaming list method (whose messages the
	// interceptor does not read). It is called once per call, after the
	// subject is authenticated and before any engine call. A decision
	// whose caveats lack parameters is conditional and denied like any
	// denial (NotFound, or PermissionDenied where the subject may read;
	// either event names the missing parameters). An error that matches
	// [authz.ErrInvalidRequest], or a context that is invalid
	// ([authz.Context.Validate]), answers InvalidArgument; any other
	// error, and a panic, answers Internal: nothing reaches the engine or
	// the handler, in enforce mode. Nil means no context.
	Context func(ctx context.Context, req any) (authz.Context, error)
}

// Interceptor enforces a [Methods] table on a gRPC server. It is safe for
// concurrent use.
type Interceptor struct {
	cfg      Config
	enforcer enforce.Enforcer
	routes   map[string]*route
}

// route is a method's route as the interceptors use it.
type route struct {
	Method
	lookupType string        // the type a list method looks up
	prototype  proto.Message // a value of the request type
}

// New returns an Interceptor for table. It panics at setup if cfg lacks
// a Guard or a Subject function, if a route's operation (or, for an
// operation other than read, the read that tells PermissionDenied from
// NotFound) is not mapped for the type it is checked as, if a route's
// request type is unknown (neither registered by generated code nor given
// as Method.Request), or if a [Field] path is not a string field of it.
func New(cfg Config, table *Methods) *Interceptor {
	if cfg.Guard == nil || cfg.Subject == nil {
		panic("grpcauthz: Config needs Guard and Subject")
	}
	if table == nil {
		panic("grpcauthz: New needs a method table (&Methods{} refuses every method)")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	i := &Interceptor{cfg: cfg, routes: map[string]*route{}, enforcer: enforce.Enforcer{
		Guard: cfg.Guard, Parents: cfg.Parents, Hook: cfg.Hook, Modes: cfg.Modes, Rows: cfg.Rows, Decoy: cfg.Decoy, Tracer: cfg.Tracer,
	}}
	for name, m := range table.routes {
		r := &route{Method: m, lookupType: i.checkSetup(name, m.ResourceType, m.Operation)}
		if !m.List {
			r.prototype = requestPrototype(name, m)
			if f, ok := m.ID.(*fieldPath); ok {
				if err := f.check(r.prototype.ProtoReflect().Descriptor()); err != nil {
					panic(fmt.Sprintf("grpcauthz: route for %s: Field(%q): %v", name, f.path, err))
				}
			}
		}
		i.routes[name] = r
	}
	return i
}

// requestPrototype returns a value of the request type of fullMethod.
func requestPrototype(fullMethod string, m Method) proto.Message {
	if m.Request != nil {
		return m.Request.ProtoReflect().New().Interface()
	}
	svc, method, _ := strings.Cut(fullMethod[1:], "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if err != nil || !ok || sd.Methods().ByName(protoreflect.Name(method)) == nil {
		panic(fmt.Sprintf("grpcauthz: route for %s: no such method is registered (import its generated code, or set Method.Request)", fullMethod))
	}
	in := sd.Methods().ByName(protoreflect.Name(method)).Input()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(in.FullName())
	if err != nil {
		panic(fmt.Sprintf("grpcauthz: route for %s: request type %s is not registered (set Method.Request)", fullMethod, in.FullName()))
	}
	return mt.New().Interface()
}

// checkSetup panics unless op, and for any other operation the read that
// tells PermissionDenied from NotFound, are mapped for the type resources
// of typ are checked as, which it returns.
func (i *Interceptor) checkSetup(name, typ string, op authz.Operation) string {
	target, err := i.enforcer.CheckRoute(typ, op)
	if err != nil {
		panic(fmt.Sprintf("grpcauthz: route for %s: %v (Config.Parents, Config.Decoy)", name, err))
	}
	return target
}

// Target is what the interceptor checked, available to the handler
// through [TargetFrom].
type Target struct {
	// Requested is the resource the call addressed (possibly a child).
	Requested authz.Resource
	// Checked is the resource whose permission was checked (the parent of
	// a child).
	Checked authz.Resource
	// Operation is the operation that was allowed.
	Operation authz.Operation
	// Method is the full method name.
	Method string
	// Bypassed reports that a trusted bypass allowed the call.
	Bypassed bool
	// Shadow reports that the call ran in shadow mode: it was let through
	// whatever the decision, and Checked may be zero.
	Shadow bool
}

type targetKey struct{}

// TargetFrom returns the [Target] the interceptor stored for the call.
func TargetFrom(ctx context.Context) (Target, bool) {
	t, ok := ctx.Value(targetKey{}).(*Target)
	if !ok {
		return Target{}, false
	}
	return *t, true
}

// targetCtx carries the Target in the context itself (one allocation).
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

type filterKey struct{}

// FilterFrom returns the [authz.Filter] the interceptor stored for a call
// of a list method. A call without one gets the zero Filter, which admits
// nothing: a handler served without the interceptor lists nothing rather
// than everything.
func FilterFrom(ctx context.Context) authz.Filter {
	f, _ := ctx.Value(filterKey{}).(authz.Filter)
	return f
}

// The errors of panicking callbacks: server errors, whose messages leave
// out the panic's value.
var (
	errSubjectPanicked     = fmt.Errorf("grpcauthz: %w: Config.Subject panicked", authz.ErrInternal)
	errConsistencyPanicked = fmt.Errorf("grpcauthz: %w: Config.ConsistencyFor panicked", authz.ErrInternal)
)

// consistency returns the consistency of a call's checks; a panic in
// ConsistencyFor is an error.
func (i *Interceptor) consistency(ctx context.Context) (c authz.Consistency, err error) {
	if i.cfg.ConsistencyFor == nil {
		return i.cfg.Consistency, nil
	}
	defer func() {
		if p := recover(); p != nil {
			c, err = authz.Consistency{}, errConsistencyPanicked
		}
	}()
	return i.cfg.ConsistencyFor(ctx), nil
}

// requestContext returns the request context of a call's checks and
// lookups: Config.Context's for req, validated. An error matching
// [authz.ErrInvalidRequest] (the function's or the context's own) comes
// back matching it only (InvalidArgument); any other error, and a panic,
// as an error matching [authz.ErrInternal] only (Internal). The
// function's own messages are not kept (they may quote metadata or a
// token), nor what else its error matches; the context's own validation
// error, which never quotes a value, is.
func (i *Interceptor) requestContext(ctx context.Context, req any) (authz.Context, error) {
	if i.cfg.Context == nil {
		return authz.Context{}, nil
	}
	c, refused, err := enforce.CallContext("grpcauthz", func() (authz.Context, error) { return i.cfg.Context(ctx, req) })
	switch {
	case err != nil:
		return authz.Context{}, err
	case refused != "":
		return authz.Context{}, fmt.Errorf("%w: grpcauthz: request context: %s", authz.ErrInvalidRequest, refused)
	}
	return c, nil
}

// subject calls the Subject function; a panic is an error (a server
// error, not a missing subject: a crashing authenticator must not pass
// for clients without credentials).
func (i *Interceptor) subject(ctx context.Context) (s authz.Subject, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, ok, err = authz.Subject{}, false, errSubjectPanicked
		}
	}()
	s, ok = i.cfg.Subject(ctx)
	return s, ok, nil
}

// start begins a call: its route (nil for a method the table lacks), the
// enforcement request and the mode. A method the table lacks is enforced
// whatever the mode function would say: the table fails closed in every
// mode. The error is that of a callback that failed (ConsistencyFor, the
// mode function); the mode is then Enforce.
func (i *Interceptor) start(ctx context.Context, method string) (*route, enforce.Request, enforce.Mode, error) {
	r := i.routes[method]
	req := enforce.Request{Route: method}
	if r != nil {
		req.Resource.Type, req.Operation = r.ResourceType, r.Operation
	}
	var err error
	if req.Consistency, err = i.consistency(ctx); err != nil {
		return r, req, enforce.Enforce, err
	}
	if r == nil {
		return nil, req, enforce.Enforce, nil
	}
	mode, err := i.enforcer.Mode(ctx, req.Resource.Type, method)
	return r, req, mode, err
}

// Unary returns the unary server interceptor.
func (i *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, msg any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		pm, _ := msg.(proto.Message)
		ctx, err := i.admit(ctx, info.FullMethod, func() (proto.Message, error) { return pm, nil }, msg)
		if err != nil {
			return nil, err
		}
		return handler(ctx, msg)
	}
}

// admit decides a call before its handler runs: it returns the context
// the handler runs with, or the status error the client gets. first
// returns the request message (a stream's first message). A panic in any
// callback on the way (Subject, a ModeFunc, ConsistencyFor, a resolver,
// Rows, a Hook) answers Internal, never a crash or an allow; in shadow
// mode the call goes on untouched instead. unary is the message of a
// unary call, nil for a stream.
func (i *Interceptor) admit(ctx context.Context, method string, first func() (proto.Message, error), unary any) (hctx context.Context, err error) {
	mode := enforce.Enforce
	defer func() {
		if p := recover(); p != nil {
			hctx, err = ctx, errInternal.err
			if mode == enforce.Shadow {
				err = nil
			}
		}
	}()
	r, req, m, err := i.start(ctx, method)
	if err != nil { // a callback failed: enforced, answered Internal
		return i.fail(ctx, &req, m, err)
	}
	if mode = m; mode == enforce.Off {
		i.enforcer.AuthorizeIn(ctx, req, mode)
		return unenforced(ctx, r), nil
	}
	hctx, err = i.authorize(ctx, r, &req, mode, method, first, unary)
	if err == nil && !mode.Enforced() {
		hctx = unenforced(hctx, r)
	}
	return hctx, err
}

// unenforced gives a list method's call in shadow and off modes the
// filter it would have without fgac (every id), whatever went wrong on
// the way (no subject, an engine failure): those modes never change an
// answer.
func unenforced(ctx context.Context, r *route) context.Context {
	if r == nil || !r.List {
		return ctx
	}
	return context.WithValue(ctx, filterKey{}, authz.Unfiltered())
}

// authorize decides a call in mode: it returns the context the handler
// runs with, or the status error the client gets. first returns the
// request message (a stream's first message); unary is the message of a
// unary call, nil for a stream.
func (i *Interceptor) authorize(ctx context.Context, r *route, req *enforce.Request, mode enforce.Mode, method string, first func() (proto.Message, error), unary any) (context.Context, error) {
	if r == nil {
		return i.fail(ctx, req, mode, errUnknownMethod)
	}
	var ok bool
	var err error
	switch req.Subject, ok, err = i.subject(ctx); {
	case err != nil:
		return i.fail(ctx, req, mode, err)
	case !ok:
		return i.fail(ctx, req, mode, errUnauthenticated)
	}
	if r.List {
		if req.Context, err = i.requestContext(ctx, unary); err != nil {
			return i.fail(ctx, req, mode, err)
		}
		return i.list(ctx, r, req, mode)
	}
	msg, err := first()
	if err != nil {
		return i.fail(ctx, req, mode, err)
	}
	if msg != nil && proto.Size(msg) > i.cfg.MaxMessageBytes {
		return i.fail(ctx, req, mode, errTooLarge)
	}
	if req.Context, err = i.requestContext(ctx, msg); err != nil {
		return i.fail(ctx, req, mode, err)
	}
	id, err := r.ID.extract(ctx, msg)
	var checked authz.Resource
	switch {
	case errors.Is(err, ErrMissing) || errors.Is(err, authz.ErrNotFound):
		err = i.enforcer.Missing(ctx, *req, mode)
	case err != nil:
		return i.fail(ctx, req, mode, err)
	default:
		req.Resource.ID = id
		checked, err = i.enforcer.AuthorizeIn(ctx, *req, mode)
	}
	if err != nil {
		return ctx, Status(err)
	}
	tc := &targetCtx{Context: ctx, t: Target{Requested: req.Resource, Checked: checked, Operation: req.Operation, Method: method, Shadow: mode == enforce.Shadow}}
	_, tc.t.Bypassed = authz.BypassFor(ctx, checked)
	return tc, nil
}

// fail answers a call that could not be decided: with err's status in
// enforce mode; in shadow mode the call goes on untouched.
func (i *Interceptor) fail(ctx context.Context, req *enforce.Request, mode enforce.Mode, err error) (context.Context, error) {
	if err := i.enforcer.Failed(ctx, *req, mode, err); err != nil {
		return ctx, Status(err)
	}
	return ctx, nil
}

// list computes the filter of a list method's call.
func (i *Interceptor) list(ctx context.Context, r *route, req *enforce.Request, mode enforce.Mode) (context.Context, error) {
	f, err := i.cfg.Guard.Lookup(ctx, authz.ListQuestion{Subject: req.Subject, ResourceType: r.lookupType, Operation: req.Operation, Consistency: req.Consistency, Context: req.Context})
	if err := i.enforcer.Failed(ctx, *req, mode, err); err != nil {
		return ctx, Status(err)
	}
	if !mode.Enforced() {
		f = authz.Unfiltered()
	}
	return context.WithValue(ctx, filterKey{}, f), nil
}

// Stream returns the stream server interceptor. For a method routed by
// id, it receives the first message, authorizes the call and only then
// runs the handler, whose first RecvMsg gets that message; a call the
// caller may not make ends with its status before the handler runs. (A
// bidirectional stream whose client waits for the server before it sends
// anything cannot be routed by id, since the interceptor waits for that
// first message.)
func (i *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ws := &stream{ServerStream: ss}
		ctx, err := i.admit(ss.Context(), info.FullMethod, func() (proto.Message, error) {
			r := i.routes[info.FullMethod]
			msg := r.prototype.ProtoReflect().New().Interface()
			ws.first, ws.firstErr, ws.pending = msg, ss.RecvMsg(msg), true
			if ws.firstErr != nil {
				return nil, errNoMessage
			}
			return msg, nil
		}, nil)
		if err != nil {
			return err
		}
		ws.ctx = ctx
		if r := i.routes[info.FullMethod]; info.IsClientStream && r != nil && !r.List {
			// Every later message of a client or bidirectional stream must
			// name the resource the first one named, which is the one that
			// was checked: another id would pass unchecked.
			if t, ok := TargetFrom(ctx); ok {
				ws.route, ws.id = r, t.Requested.ID
			}
		}
		return handler(srv, ws)
	}
}

// stream hands the handler the authorized context and replays the first
// message the interceptor received.
type stream struct {
	grpc.ServerStream
	ctx      context.Context
	first    proto.Message
	firstErr error
	pending  bool // first (or firstErr) is yet to be replayed
	// route and id, for a client stream routed by id: every later message
	// must name id.
	route *route
	id    string
}

// Context returns the context the handler runs with.
func (s *stream) Context() context.Context { return s.ctx }

// RecvMsg replays the first message, then receives.
func (s *stream) RecvMsg(m any) error {
	if !s.pending {
		if err := s.ServerStream.RecvMsg(m); err != nil || s.route == nil {
			return err
		}
		msg, _ := m.(proto.Message)
		if id, err := s.route.ID.extract(s.ctx, msg); err != nil || id != s.id {
			return errOtherResource.err
		}
		return nil
	}
	s.pending = false
	if s.firstErr != nil {
		return s.firstErr
	}
	dst, ok := m.(proto.Message)
	if !ok || dst.ProtoReflect().Descriptor() != s.first.ProtoReflect().Descriptor() {
		return errInternal.err
	}
	proto.Reset(dst)
	proto.Merge(dst, s.first)
	return nil
}
