package httpauthz_test

import (
	"context"
	"net/http"
	"testing"

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
