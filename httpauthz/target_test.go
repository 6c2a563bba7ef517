package httpauthz_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/audit"
	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/httpauthz"
	"github.com/google/go-cmp/cmp"
)

// TestTargetHandlerFuncGetsWhatWasChecked: a TargetHandlerFunc behind
// Require gets the same Target a handler reads with TargetFrom (for a
// child: the parent that was checked), the zero Target in off mode, and
// the context's Target when other middleware stands between.
func TestTargetHandlerFuncGetsWhatWasChecked(t *testing.T) {
	w := probeWorld(t)
	var got []httpauthz.Target
	var fromCtx []bool
	record := httpauthz.TargetHandlerFunc(func(rw http.ResponseWriter, r *http.Request, tg httpauthz.Target) {
		_, inCtx := httpauthz.TargetFrom(r.Context())
		got, fromCtx = append(got, tg), append(fromCtx, inCtx)
		rw.WriteHeader(http.StatusOK)
	})
	wrap := func(next http.Handler) http.Handler { // some other middleware
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { next.ServeHTTP(rw, r) })
	}
	off := httpauthz.New(httpauthz.Config{Guard: w.guard, Modes: func(context.Context, enforce.ModeRequest) enforce.Mode { return enforce.Off },
		Subject: func(r *http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "alice"}, true }})
	w.m.Handle(w.mux, "GET /tg/messages/{id}", "message", authz.OpRead, record, httpauthz.PathValue("id"))
	w.m.Handle(w.mux, "GET /tg/wrapped/{id}", "message", authz.OpRead, wrap(record), httpauthz.PathValue("id"))
	off.Handle(w.mux, "GET /tg/off/{id}", "task", authz.OpRead, record, httpauthz.PathValue("id"))
	for _, path := range []string{"/tg/messages/m1", "/tg/wrapped/m1", "/tg/off/t1"} {
		if res := w.do("alice", "GET", path, "", ""); res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.status, res.body)
		}
	}
	checked := httpauthz.Target{Requested: authz.Resource{Type: "message", ID: "m1"}, Checked: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead}
	want := []httpauthz.Target{checked, checked, {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{false, true, false}, fromCtx); diff != "" {
		t.Errorf("Target in the context (-want +got):\n%s", diff)
	}
}

// TestNestedRoutesHandOnTheInnerTarget: behind another route's middleware
// (agent, then task), the handler sees the inner route's Target, as
// argument and through TargetFrom alike; when the inner route checks
// nothing (off mode), it sees no Target at all, never the outer route's.
func TestNestedRoutesHandOnTheInnerTarget(t *testing.T) {
	w := probeWorld(t)
	type seen struct {
		Arg    httpauthz.Target
		Ctx    httpauthz.Target
		CtxSet bool
	}
	var got []seen
	record := httpauthz.TargetHandlerFunc(func(rw http.ResponseWriter, r *http.Request, tg httpauthz.Target) {
		c, ok := httpauthz.TargetFrom(r.Context())
		got = append(got, seen{tg, c, ok})
		rw.WriteHeader(http.StatusOK)
	})
	plain := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, ok := httpauthz.TargetFrom(r.Context())
		got = append(got, seen{Ctx: c, CtxSet: ok})
		rw.WriteHeader(http.StatusOK)
	})
	taskOff := httpauthz.New(httpauthz.Config{Guard: w.guard, Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "alice"}, true },
		Modes: func(_ context.Context, r enforce.ModeRequest) enforce.Mode {
			if r.ResourceType == "task" {
				return enforce.Off
			}
			return enforce.Enforce
		}})
	agent, task := httpauthz.PathValue("a"), httpauthz.PathValue("t")
	w.mux.Handle("GET /n/on/{a}/{t}", w.m.Require("agent", authz.OpRead, agent)(w.m.Require("task", authz.OpRead, task)(record)))
	w.mux.Handle("GET /n/off/{a}/{t}", taskOff.Require("agent", authz.OpRead, agent)(taskOff.Require("task", authz.OpRead, task)(record)))
	w.mux.Handle("GET /n/offplain/{a}/{t}", taskOff.Require("agent", authz.OpRead, agent)(taskOff.Require("task", authz.OpRead, task)(plain)))
	for _, path := range []string{"/n/on/a1/t1", "/n/off/a1/t1", "/n/offplain/a1/t1"} {
		if res := w.do("alice", "GET", path, "", ""); res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.status, res.body)
		}
	}
	inner := httpauthz.Target{Requested: authz.Resource{Type: "task", ID: "t1"}, Checked: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead}
	want := []seen{{inner, inner, true}, {}, {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

// prefixMux registers every route under a prefix, as a service's own
// router wrapper might.
type prefixMux struct{ mux *http.ServeMux }

func (p prefixMux) Handle(pattern string, h http.Handler) {
	method, path, _ := strings.Cut(pattern, " ")
	p.mux.Handle(method+" /api"+path, h)
}

// TestHandleNamesTheRouteItWasGiven: the mode function and the events see
// the pattern given to Handle, whatever the Mux makes of it, so that a
// mode keyed by route cannot fall to another mode behind a router wrapper.
func TestHandleNamesTheRouteItWasGiven(t *testing.T) {
	w := probeWorld(t)
	var routes []string
	var events []string
	m := httpauthz.New(httpauthz.Config{Guard: w.guard, Subject: func(*http.Request) (authz.Subject, bool) { return authz.Subject{Type: "user", ID: "alice"}, true },
		Modes: func(_ context.Context, r enforce.ModeRequest) enforce.Mode {
			routes = append(routes, r.Route)
			return enforce.Enforce
		},
		Hook: audit.HookFunc(func(_ context.Context, e audit.Event) { events = append(events, e.Route) }),
	})
	ok := http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusOK) })
	m.Handle(prefixMux{w.mux}, "GET /tasks/{id}", "task", authz.OpRead, ok, httpauthz.PathValue("id"))
	if res := w.do("alice", "GET", "/api/tasks/t1", "", ""); res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if diff := cmp.Diff([]string{"GET /tasks/{id}"}, routes); diff != "" {
		t.Errorf("mode function's routes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /tasks/{id}"}, events); diff != "" {
		t.Errorf("events' routes (-want +got):\n%s", diff)
	}
}
