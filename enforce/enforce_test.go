package enforce_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/testfixture"
	"github.com/fgac-go/fgac/parent"
)

func user(id string) authz.Subject { return testfixture.User(id) }

// down is an engine that cannot answer.
type down struct{ authz.Authorizer }

func (down) Check(context.Context, authz.CheckRequest) (authz.Decision, error) {
	return authz.Deny(), authz.ErrUnavailable
}

func (down) CheckMany(context.Context, authz.CheckManyRequest) ([]authz.CheckResult, error) {
	return nil, authz.ErrUnavailable
}

// events is a Hook that keeps every event it observes.
type events struct {
	mu  sync.Mutex // guards got
	got []audit.Event
}

func (h *events) Observe(_ context.Context, e audit.Event) {
	h.mu.Lock()
	h.got = append(h.got, e)
	h.mu.Unlock()
}

// take returns the events observed since the last take and forgets them.
func (h *events) take() []audit.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	got := h.got
	h.got = nil
	return got
}

// TestEnforcerIndistinguishable: missing, unreadable, malformed, missing
// child and child of missing parent give the same error after the same
// calls; with the backend failing, they give the same failure.
func TestEnforcerIndistinguishable(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	var parents parent.Registry
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		switch id {
		case "m1":
			return "t1", nil
		case "m-orphan":
			return "t-gone", nil
		}
		return "", authz.ErrNotFound
	}))
	e := enforce.Enforcer{Guard: r.Guard, Parents: &parents}
	resources := map[string]authz.Resource{
		"unreadable":      {Type: "task", ID: "t1"},
		"missing":         {Type: "task", ID: "t-missing"},
		"malformed":       {Type: "task", ID: "t 1"},
		"too long":        {Type: "task", ID: string(make([]byte, 1025))},
		"child":           {Type: "message", ID: "m1"},
		"missing child":   {Type: "message", ID: "m-missing"},
		"orphan child":    {Type: "message", ID: "m-orphan"},
		"malformed child": {Type: "message", ID: "m*"},
	}
	for _, op := range []authz.Operation{authz.OpRead, authz.OpUpdate} {
		var wantCalls []string
		for name, res := range resources {
			r.Calls.Reset()
			_, err := e.Authorize(context.Background(), enforce.Request{Subject: user("eve"), Resource: res, Operation: op, Consistency: authz.AtLeastAsFresh(r.Token)})
			if err != authz.ErrNotFound {
				t.Errorf("%s %s: err = %v, want ErrNotFound", op, name, err)
			}
			calls := r.Calls.Calls()
			if wantCalls == nil {
				wantCalls = calls
			}
			if diff := cmp.Diff(wantCalls, calls); diff != "" {
				t.Errorf("%s %s: calls differ (-first +this):\n%s", op, name, diff)
			}
		}
		r.Calls.Reset()
		if err := e.Missing(context.Background(), enforce.Request{Subject: user("eve"), Resource: authz.Resource{Type: "message"}, Operation: op}, enforce.Enforce); err != authz.ErrNotFound {
			t.Errorf("Missing: %v", err)
		}
		if diff := cmp.Diff(wantCalls, r.Calls.Calls()); diff != "" {
			t.Errorf("Missing: calls differ (-want +got):\n%s", diff)
		}
	}
}

// TestOutageIsNotAnOracle: when the backend fails, an existing and a
// missing id both get the backend's error, never 404 for one of them.
func TestOutageIsNotAnOracle(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	ops := r.Guard.Operations()
	g := authz.NewGuard(down{r.Engine}, ops)
	e := enforce.Enforcer{Guard: g}
	for _, id := range []string{"t1", "t-missing", "bad id"} {
		for _, op := range []authz.Operation{authz.OpRead, authz.OpCancel} {
			_, err := e.Authorize(context.Background(), enforce.Request{Subject: user("eve"), Resource: authz.Resource{Type: "task", ID: id}, Operation: op})
			if !errors.Is(err, authz.ErrUnavailable) {
				t.Errorf("%s %s: err = %v, want ErrUnavailable", id, op, err)
			}
		}
	}
}

// idEngine records the resource ids an engine is asked about.
type idEngine struct {
	authz.Reader
	ids []string
}

func (e *idEngine) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	e.ids = append(e.ids, req.Resource.ID)
	return e.Reader.Check(ctx, req)
}

func (e *idEngine) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	for _, it := range req.Items {
		e.ids = append(e.ids, it.Resource.ID)
	}
	return e.Reader.CheckMany(ctx, req)
}

// TestEnforcerDecoyHasTheShapeOfRealIDs: with Decoy set, a missing
// resource, a malformed id and a resource whose row is gone spend their
// existence query and their check on the service's decoy (shaped like its
// real ids, so no engine answers it measurably faster), and a Decoy that
// returns a malformed id is a server error, never an allow.
func TestEnforcerDecoyHasTheShapeOfRealIDs(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "task_aaaaaaaaaaaaaaaaaaaaaaaa", "alice")
	r.RegisterTask(t, "task_gggggggggggggggggggggggg", "alice") // its row is gone
	engine := &idEngine{Reader: r.Engine}
	ops := r.Guard.Operations()
	var asked []string
	decoy := "task_000000000000000000000000"
	e := &enforce.Enforcer{
		Guard: authz.NewGuard(engine, ops),
		Rows: enforce.RowsFunc(func(_ context.Context, res authz.Resource) (bool, error) {
			asked = append(asked, res.ID)
			return res.ID == "task_aaaaaaaaaaaaaaaaaaaaaaaa", nil
		}),
		Decoy: func(typ string) string { return decoy },
	}
	for _, id := range []string{"task_bbbbbbbbbbbbbbbbbbbbbbbb", "not an id", "task_gggggggggggggggggggggggg"} {
		asked, engine.ids = nil, nil
		_, err := e.Authorize(context.Background(), enforce.Request{Subject: user("bob"), Resource: authz.Resource{Type: "task", ID: id}, Operation: authz.OpCancel, Consistency: authz.AtLeastAsFresh(r.Token)})
		if err != authz.ErrNotFound {
			t.Errorf("%q: %v, want not found", id, err)
		}
		wantRows := id // a well-formed id's row is looked up, and found missing
		if !authz.ValidID(id) {
			wantRows = decoy
		}
		if diff := cmp.Diff([]string{wantRows}, asked); diff != "" {
			t.Errorf("%q: existence queries (-want +got):\n%s", id, diff)
		}
		if diff := cmp.Diff([]string{decoy, decoy}, engine.ids); diff != "" {
			t.Errorf("%q: checked ids (-want +got):\n%s", id, diff)
		}
	}
	e.Decoy = func(string) string { return "not valid" }
	if _, err := e.Authorize(context.Background(), enforce.Request{Subject: user("bob"), Resource: authz.Resource{Type: "task", ID: "task_bbbbbbbbbbbbbbbbbbbbbbbb"}, Operation: authz.OpRead}); !errors.Is(err, authz.ErrInternal) {
		t.Errorf("malformed decoy: %v, want %v", err, authz.ErrInternal)
	}
}

// TestOnlyShadowAndOffRelax: of all 256 mode values, only Shadow and Off
// are not enforced, and every value outside the three modes names itself
// rather than passing for "enforce".
func TestOnlyShadowAndOffRelax(t *testing.T) {
	for v := range 256 {
		m := enforce.Mode(v)
		wantEnforced := m != enforce.Shadow && m != enforce.Off
		if m.Enforced() != wantEnforced {
			t.Errorf("Mode(%d).Enforced() = %v", v, m.Enforced())
		}
		if m.Known() != (v <= 2) {
			t.Errorf("Mode(%d).Known() = %v", v, m.Known())
		}
		if v > 2 && (m.String() == "enforce" || m.String() == "shadow" || m.String() == "off") {
			t.Errorf("Mode(%d).String() = %q", v, m.String())
		}
	}
	for m, want := range map[enforce.Mode]string{enforce.Enforce: "enforce", enforce.Shadow: "shadow", enforce.Off: "off", 3: "Mode(3)"} {
		if m.String() != want {
			t.Errorf("%d.String() = %q, want %q", m, m.String(), want)
		}
	}
}

// TestUnknownModesEnforce: every value outside the three modes, whether a
// ModeFunc returns it or the caller passes it, enforces on Authorize,
// AuthorizeIn, Missing and Failed, and its events name it as it is.
func TestUnknownModesEnforce(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	r.Grant(t, testfixture.Task("t1"), "viewer", user("bob"))
	hook := &events{}
	var mode enforce.Mode
	e := &enforce.Enforcer{Guard: r.Guard, Hook: hook, Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { return mode }}
	ctx := context.Background()
	unreadable := enforce.Request{Subject: user("eve"), Resource: testfixture.Task("t1"), Operation: authz.OpRead, Consistency: r.Fresh()}
	denied := enforce.Request{Subject: user("bob"), Resource: testfixture.Task("t1"), Operation: authz.OpCancel, Consistency: r.Fresh()}
	missing := enforce.Request{Subject: user("eve"), Resource: authz.Resource{Type: "task"}, Operation: authz.OpRead, Consistency: r.Fresh()}
	errBad := authz.Invalidf("bad input")
	for v := 3; v < 256; v++ {
		mode = enforce.Mode(v)
		hook.take()
		if _, err := e.Authorize(ctx, unreadable); err != authz.ErrNotFound {
			t.Errorf("%s: Authorize unreadable = %v, want %v", mode, err, authz.ErrNotFound)
		}
		if _, err := e.Authorize(ctx, denied); !errors.Is(err, authz.ErrDenied) {
			t.Errorf("%s: Authorize denied = %v, want %v", mode, err, authz.ErrDenied)
		}
		if _, err := e.AuthorizeIn(ctx, unreadable, mode); err != authz.ErrNotFound {
			t.Errorf("%s: AuthorizeIn = %v, want %v", mode, err, authz.ErrNotFound)
		}
		if err := e.Missing(ctx, missing, mode); err != authz.ErrNotFound {
			t.Errorf("%s: Missing = %v, want %v", mode, err, authz.ErrNotFound)
		}
		if err := e.Failed(ctx, missing, mode, errBad); err != errBad {
			t.Errorf("%s: Failed = %v, want %v", mode, err, errBad)
		}
		var got []string
		for _, ev := range hook.take() {
			got = append(got, ev.Mode+" "+ev.Outcome.String())
		}
		want := []string{mode.String() + " not_found", mode.String() + " denied", mode.String() + " not_found", mode.String() + " not_found", mode.String() + " error"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: events mismatch (-want +got):\n%s", mode, diff)
		}
	}
	// The contrast: the two modes that relax do let these through.
	for _, m := range []enforce.Mode{enforce.Shadow, enforce.Off} {
		mode = m
		if _, err := e.Authorize(ctx, unreadable); err != nil {
			t.Errorf("%s: Authorize = %v, want nil", m, err)
		}
		if err := e.Failed(ctx, missing, m, errBad); err != nil {
			t.Errorf("%s: Failed = %v, want nil", m, err)
		}
	}
}

// call runs f and returns what it returned or the panic that escaped it.
func call(f func() (authz.Resource, error)) (res authz.Resource, err error, escaped any) {
	defer func() { escaped = recover() }()
	res, err = f()
	return res, err, nil
}

// TestPanickingCallbacksFailClosed: a Modes, Rows, Decoy or parent
// resolver that panics does not crash the request nor allow it, even for
// a subject the graph allows: the decision is an error matching
// authz.ErrInternal, reported as an Error event, in every mode that
// checks. In shadow mode the request goes on, as on any other failure,
// and the event still says what went wrong.
func TestPanickingCallbacksFailClosed(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		if id == "m-panic" {
			panic("resolver: connection string postgres://secret@db")
		}
		return "t1", nil
	}))
	boom := func() { panic("callback: connection string postgres://secret@db") }
	var nilRows enforce.RowsFunc
	task := func(id string) enforce.Request {
		return enforce.Request{Subject: user("alice"), Resource: testfixture.Task(id), Operation: authz.OpRead, Consistency: r.Fresh()}
	}
	message := func(id string) enforce.Request {
		return enforce.Request{Subject: user("alice"), Resource: authz.Resource{Type: "message", ID: id}, Operation: authz.OpRead, Consistency: r.Fresh()}
	}
	panickingRows := enforce.RowsFunc(func(context.Context, authz.Resource) (bool, error) { boom(); return true, nil })
	rowsOnlyDecoy := enforce.RowsFunc(func(_ context.Context, res authz.Resource) (bool, error) {
		if res.ID == "t1" {
			return true, nil
		}
		boom()
		return false, nil
	})
	rowsT1 := enforce.RowsFunc(func(_ context.Context, res authz.Resource) (bool, error) { return res.ID == "t1", nil })
	panickingDecoy := func(string) string { boom(); return "task_000" }
	tests := []struct {
		name string
		e    enforce.Enforcer
		req  enforce.Request
		// missing asks Missing rather than Authorize.
		missing bool
	}{
		{name: "Modes, allowed subject", e: enforce.Enforcer{Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { boom(); return enforce.Off }}, req: task("t1")},
		{name: "Rows, allowed subject", e: enforce.Enforcer{Rows: panickingRows}, req: task("t1")},
		{name: "Rows, malformed id", e: enforce.Enforcer{Rows: panickingRows}, req: task("t 1")},
		{name: "Rows on the decoy", e: enforce.Enforcer{Rows: rowsOnlyDecoy}, req: task("t1"), missing: true},
		{name: "typed-nil RowsFunc", e: enforce.Enforcer{Rows: nilRows}, req: task("t1")},
		{name: "Decoy, missing row", e: enforce.Enforcer{Rows: rowsT1, Decoy: panickingDecoy}, req: task("t2")},
		{name: "Decoy, malformed id", e: enforce.Enforcer{Decoy: panickingDecoy}, req: task("t 1")},
		{name: "Decoy, Missing", e: enforce.Enforcer{Decoy: panickingDecoy}, req: task(""), missing: true},
		{name: "parent resolver", e: enforce.Enforcer{}, req: message("m-panic")},
	}
	for _, tc := range tests {
		modes := []enforce.Mode{enforce.Enforce, enforce.Shadow, enforce.Mode(9)}
		if tc.e.Modes != nil {
			modes = modes[:1] // the mode function is what panics
		}
		for _, mode := range modes {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				hook := &events{}
				e := tc.e
				e.Guard, e.Parents, e.Hook = r.Guard, parents, hook
				if e.Modes == nil {
					e.Modes = func(context.Context, enforce.ModeRequest) enforce.Mode { return mode }
				}
				checked, err, escaped := call(func() (authz.Resource, error) {
					if tc.missing {
						return authz.Resource{}, e.Missing(context.Background(), tc.req, mode)
					}
					return e.Authorize(context.Background(), tc.req)
				})
				if escaped != nil {
					t.Fatalf("panic escaped: %v", escaped)
				}
				if checked != (authz.Resource{}) {
					t.Errorf("checked %s, want nothing", checked)
				}
				if mode == enforce.Shadow {
					if err != nil {
						t.Errorf("shadow: err = %v, want nil", err)
					}
				} else if !errors.Is(err, authz.ErrInternal) {
					t.Errorf("err = %v, want %v", err, authz.ErrInternal)
				}
				got := hook.take()
				if len(got) != 1 {
					t.Fatalf("%d events, want 1", len(got))
				}
				ev := got[0]
				if ev.Outcome != audit.Error || !errors.Is(ev.Err, authz.ErrInternal) {
					t.Errorf("event outcome %s, err %v; want %s matching %v", ev.Outcome, ev.Err, audit.Error, authz.ErrInternal)
				}
				if ev.Err != nil && (strings.Contains(ev.Err.Error(), "secret") || strings.Contains(ev.Err.Error(), "postgres")) {
					t.Errorf("event error %q carries the panic's value", ev.Err)
				}
			})
		}
	}
	// Mode itself says the mode function failed, and enforces.
	e := enforce.Enforcer{Guard: r.Guard, Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { boom(); return enforce.Off }}
	var m enforce.Mode
	var err error
	if _, _, escaped := call(func() (authz.Resource, error) {
		m, err = e.Mode(context.Background(), "task", "")
		return authz.Resource{}, nil
	}); escaped != nil {
		t.Fatalf("Mode: panic escaped: %v", escaped)
	}
	if m != enforce.Enforce || !errors.Is(err, authz.ErrInternal) {
		t.Errorf("Mode = %s, %v; want enforce and %v", m, err, authz.ErrInternal)
	}
}

// TestEventsForEachOutcome: every decision, whichever of Authorize,
// Missing and Failed makes it, is reported as exactly one event that says
// what happened: its outcome, mode, subject, the resource requested (with
// no id when the input was not an id) and the one checked, the operation,
// route and consistency, the bypass identity and the error.
func TestEventsForEachOutcome(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	r.Grant(t, testfixture.Task("t1"), "viewer", user("bob"))
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		if id == "m1" {
			return "t1", nil
		}
		return "", authz.ErrNotFound
	}))
	outage := testfixture.NewWrapped(t, func(a authz.Authorizer) authz.Authorizer { return down{a} })
	cron := authz.Subject{Type: "service", ID: "cron"}
	bypass := authz.WithBypass(context.Background(), authz.Bypass{Identity: cron})
	errBad := authz.Invalidf("bad input")
	const route = "GET /tasks/{task_id}"
	t1, m1 := testfixture.Task("t1"), authz.Resource{Type: "message", ID: "m1"}
	req := func(who string, res authz.Resource, op authz.Operation) enforce.Request {
		return enforce.Request{Subject: user(who), Resource: res, Operation: op, Consistency: r.Fresh(), Route: route}
	}
	event := func(who string, requested, checked authz.Resource, op authz.Operation, mode enforce.Mode, o audit.Outcome) audit.Event {
		return audit.Event{Subject: user(who), Requested: requested, Checked: checked, Operation: op, Route: route, Outcome: o, Mode: mode.String(), Consistency: authz.AtLeastAsFreshMode}
	}
	none := authz.Resource{}
	tests := []struct {
		name    string
		guard   *authz.Guard
		ctx     context.Context
		mode    enforce.Mode
		decide  func(context.Context, *enforce.Enforcer, enforce.Mode) error
		want    audit.Event
		wantErr error // matched with errors.Is, also against the event's Err
	}{
		{
			name:   "allowed",
			decide: authorize(req("alice", t1, authz.OpRead)),
			want:   event("alice", t1, t1, authz.OpRead, enforce.Enforce, audit.Allowed),
		},
		{
			name:   "allowed child, checked as its parent",
			decide: authorize(req("alice", m1, authz.OpRead)),
			want:   event("alice", m1, t1, authz.OpRead, enforce.Enforce, audit.Allowed),
		},
		{
			name:    "denied",
			decide:  authorize(req("bob", t1, authz.OpCancel)),
			want:    event("bob", t1, none, authz.OpCancel, enforce.Enforce, audit.Denied),
			wantErr: authz.ErrDenied,
		},
		{
			name:    "not found: unreadable",
			decide:  authorize(req("eve", t1, authz.OpRead)),
			want:    event("eve", t1, none, authz.OpRead, enforce.Enforce, audit.NotFound),
			wantErr: authz.ErrNotFound,
		},
		{
			name:    "not found: malformed id, reported without it",
			decide:  authorize(req("eve", authz.Resource{Type: "task", ID: "t 1<script>"}, authz.OpRead)),
			want:    event("eve", authz.Resource{Type: "task"}, none, authz.OpRead, enforce.Enforce, audit.NotFound),
			wantErr: authz.ErrNotFound,
		},
		{
			name:    "not found: Missing",
			decide:  missing(req("eve", authz.Resource{Type: "message"}, authz.OpRead)),
			want:    event("eve", authz.Resource{Type: "message"}, none, authz.OpRead, enforce.Enforce, audit.NotFound),
			wantErr: authz.ErrNotFound,
		},
		{
			name:   "bypassed",
			ctx:    bypass,
			decide: authorize(req("nobody", t1, authz.OpCancel)),
			want: func() audit.Event {
				ev := event("nobody", t1, t1, authz.OpCancel, enforce.Enforce, audit.Bypassed)
				ev.Bypass = cron
				return ev
			}(),
		},
		{
			name:   "shadow denied: unreadable",
			mode:   enforce.Shadow,
			decide: authorize(req("eve", t1, authz.OpRead)),
			want:   event("eve", t1, none, authz.OpRead, enforce.Shadow, audit.ShadowDenied),
		},
		{
			name:   "shadow denied: denied",
			mode:   enforce.Shadow,
			decide: authorize(req("bob", t1, authz.OpCancel)),
			want:   event("bob", t1, none, authz.OpCancel, enforce.Shadow, audit.ShadowDenied),
		},
		{
			name:   "shadow denied: Missing",
			mode:   enforce.Shadow,
			decide: missing(req("eve", authz.Resource{Type: "task"}, authz.OpUpdate)),
			want:   event("eve", authz.Resource{Type: "task"}, none, authz.OpUpdate, enforce.Shadow, audit.ShadowDenied),
		},
		{
			name:   "shadow allowed",
			mode:   enforce.Shadow,
			decide: authorize(req("alice", t1, authz.OpCancel)),
			want:   event("alice", t1, t1, authz.OpCancel, enforce.Shadow, audit.Allowed),
		},
		{
			name:    "error: backend down",
			guard:   outage.Guard,
			decide:  authorize(req("alice", t1, authz.OpRead)),
			want:    event("alice", t1, none, authz.OpRead, enforce.Enforce, audit.Error),
			wantErr: authz.ErrUnavailable,
		},
		{
			name:   "error: backend down, shadow",
			guard:  outage.Guard,
			mode:   enforce.Shadow,
			decide: authorize(req("alice", t1, authz.OpRead)),
			want:   event("alice", t1, none, authz.OpRead, enforce.Shadow, audit.Error),
			// Shadow returns nil; the event keeps the error.
		},
		{
			name:    "error: Failed",
			decide:  failed(req("alice", t1, authz.OpRead), errBad),
			want:    event("alice", t1, none, authz.OpRead, enforce.Enforce, audit.Error),
			wantErr: authz.ErrInvalidRequest,
		},
		{
			name:   "unchecked: off",
			mode:   enforce.Off,
			decide: authorize(req("eve", t1, authz.OpCancel)),
			want:   event("eve", t1, none, authz.OpCancel, enforce.Off, audit.Unchecked),
		},
		{
			name:   "unchecked: Failed in off mode",
			mode:   enforce.Off,
			decide: failed(req("eve", t1, authz.OpCancel), errBad),
			want:   event("eve", t1, none, authz.OpCancel, enforce.Off, audit.Unchecked),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hook := &events{}
			r.Calls.Reset()
			e := &enforce.Enforcer{Guard: r.Guard, Parents: parents, Hook: hook}
			if tc.guard != nil {
				e.Guard = tc.guard
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			err := tc.decide(ctx, e, tc.mode)
			switch {
			case tc.mode == enforce.Enforce && tc.wantErr == nil && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.mode == enforce.Enforce && !errors.Is(err, tc.wantErr):
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			case tc.mode != enforce.Enforce && err != nil:
				t.Errorf("%s: err = %v, want nil", tc.mode, err)
			}
			got := hook.take()
			if len(got) != 1 {
				t.Fatalf("%d events, want 1: %+v", len(got), got)
			}
			ev := got[0]
			if diff := cmp.Diff(tc.want, ev, cmpopts.IgnoreFields(audit.Event{}, "Latency", "Err")); diff != "" {
				t.Errorf("event mismatch (-want +got):\n%s", diff)
			}
			switch {
			case tc.want.Outcome == audit.Error && ev.Err == nil:
				t.Error("error event without Err")
			case tc.want.Outcome != audit.Error && ev.Err != nil:
				t.Errorf("%s event with Err %v", ev.Outcome, ev.Err)
			case tc.wantErr != nil && tc.want.Outcome == audit.Error && !errors.Is(ev.Err, tc.wantErr):
				t.Errorf("event Err = %v, want %v", ev.Err, tc.wantErr)
			}
			if tc.mode == enforce.Off && ev.Latency != 0 {
				t.Errorf("off: latency %v, want 0 (nothing was decided)", ev.Latency)
			}
			if ev.Latency < 0 || (tc.mode != enforce.Off && len(r.Calls.Calls()) > 0 && ev.Latency == 0) {
				t.Errorf("latency %v, want the time the decision took", ev.Latency)
			}
		})
	}
}

func authorize(req enforce.Request) func(context.Context, *enforce.Enforcer, enforce.Mode) error {
	return func(ctx context.Context, e *enforce.Enforcer, mode enforce.Mode) error {
		_, err := e.AuthorizeIn(ctx, req, mode)
		return err
	}
}

func missing(req enforce.Request) func(context.Context, *enforce.Enforcer, enforce.Mode) error {
	return func(ctx context.Context, e *enforce.Enforcer, mode enforce.Mode) error {
		return e.Missing(ctx, req, mode)
	}
}

func failed(req enforce.Request, err error) func(context.Context, *enforce.Enforcer, enforce.Mode) error {
	return func(ctx context.Context, e *enforce.Enforcer, mode enforce.Mode) error {
		return e.Failed(ctx, req, mode, err)
	}
}

// TestPanickingHookFailsClosed: a Hook that panics (or a typed-nil
// HookFunc) never crashes the caller; an enforced decision that would
// have allowed becomes an error matching authz.ErrInternal, since it could
// not be recorded; denials stay denials; shadow and off modes let the
// request go on unchanged.
func TestPanickingHookFailsClosed(t *testing.T) {
	r := testfixture.New(t)
	r.RegisterTask(t, "t1", "alice")
	var nilHook audit.HookFunc
	for _, hook := range []audit.Hook{audit.HookFunc(func(context.Context, audit.Event) { panic("hook: secret") }), nilHook} {
		for _, tc := range []struct {
			who     string
			mode    enforce.Mode
			wantErr error // nil: allowed
		}{
			{"alice", enforce.Enforce, authz.ErrInternal},
			{"alice", enforce.Mode(9), authz.ErrInternal},
			{"bob", enforce.Enforce, authz.ErrNotFound},
			{"alice", enforce.Shadow, nil},
			{"bob", enforce.Shadow, nil},
			{"alice", enforce.Off, nil},
		} {
			e := enforce.Enforcer{Guard: r.Guard, Hook: hook}
			req := enforce.Request{Subject: user(tc.who), Resource: testfixture.Task("t1"), Operation: authz.OpRead, Consistency: r.Fresh()}
			_, err, escaped := call(func() (authz.Resource, error) { return e.AuthorizeIn(context.Background(), req, tc.mode) })
			if escaped != nil {
				t.Fatalf("%s in %s: panic escaped: %v", tc.who, tc.mode, escaped)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("%s in %s: err = %v, want %v", tc.who, tc.mode, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q carries the panic's value", err)
			}
		}
	}
}
