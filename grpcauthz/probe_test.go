package grpcauthz_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/grpcauthz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

type shape struct {
	method string
	// ids: an existing id bob cannot read, a missing one, a child of a
	// missing parent (child methods only) and one that breaks the grammar.
	unreadable, missing, orphan, invalid string
}

func shapes() []shape {
	return []shape{
		{method: "GetTask", unreadable: "t1", missing: "t-missing", invalid: "bad id"},
		{method: "CancelTask", unreadable: "t1", missing: "t-missing", invalid: strings.Repeat("x", 1025)},
		{method: "GetMessage", unreadable: "m1", missing: "m-missing", orphan: "m-orphan", invalid: "m*"},
		{method: "GetByName", unreadable: "alpha", missing: "no-such-name", invalid: "☃ snow"},
		{method: "GetNested", unreadable: "t1", missing: "t-missing", invalid: "t:1"},
		{method: "WatchTask", unreadable: "t1", missing: "t-missing", invalid: "bad\x00id"},
		{method: "WatchMessage", unreadable: "m1", missing: "m-missing", orphan: "m-orphan", invalid: "m#1"},
	}
}

// TestCannotProbeForExistence: for every method shape, unary and stream,
// a call for a missing resource, an unreadable one, a child of a missing
// parent and a malformed id get identical answers (code, message,
// details, headers, trailers, replies) after the same backend calls:
// NotFound with the engine up, Unavailable with it down; on memadapter
// and on a real SpiceDB.
func TestCannotProbeForExistence(t *testing.T) {
	for name, newW := range map[string]func(testing.TB, ...func(*grpcauthz.Config)) *world{"memadapter": newWorld, "spicedb": newSpiceDBWorld} {
		t.Run(name, func(t *testing.T) {
			w := newW(t)
			w.seed()
			probe(t, w)
		})
	}
}

func probe(t *testing.T, w *world) {
	for _, s := range shapes() {
		t.Run(s.method, func(t *testing.T) {
			ids := map[string]string{"missing": s.missing, "invalid": s.invalid}
			if s.orphan != "" {
				ids["orphan"] = s.orphan
			}
			for _, down := range []bool{false, true} {
				w.down.Store(down)
				want := "NotFound"
				if down {
					want = "Unavailable"
				}
				ref := w.call("acme", "bob", s.method, ri(s.method, s.unreadable))
				if ref.Code != want {
					t.Fatalf("down=%v unreadable: %+v, want %s", down, ref, want)
				}
				if len(ref.Calls) == 0 {
					t.Fatalf("down=%v unreadable: no backend call recorded", down)
				}
				if len(ref.Details) != 1 {
					t.Errorf("down=%v unreadable: details %v, want one ErrorInfo", down, ref.Details)
				}
				if strings.Contains(ref.Message, s.unreadable) || strings.Contains(strings.Join(ref.Details, ""), s.unreadable) {
					t.Errorf("answer %+v names the id", ref)
				}
				for kind, id := range ids {
					got := w.call("acme", "bob", s.method, ri(s.method, id))
					if diff := cmp.Diff(ref, got); diff != "" {
						t.Errorf("down=%v %s vs unreadable: mismatch (-unreadable +%s):\n%s", down, kind, kind, diff)
					}
				}
			}
			w.down.Store(false)
			// The owner gets through on the same method: the NotFounds
			// above are not an artefact of a broken route.
			if got := w.call("acme", "alice", s.method, ri(s.method, s.unreadable)); !got.ok() || len(got.Replies) == 0 {
				t.Errorf("owner: %+v", got)
			}
		})
	}
}

// TestPermissionDeniedOnlyWhenReadable: a viewer who may read but not
// cancel gets PermissionDenied, in one bulk call, like the NotFound of
// someone who may not read.
func TestPermissionDeniedOnlyWhenReadable(t *testing.T) {
	w := newWorld(t)
	w.seed()
	w.grant("t1", "viewer", "bob")
	got := w.call("acme", "bob", "CancelTask", ri("CancelTask", "t1"))
	if got.Code != "PermissionDenied" || got.Message != "permission denied" {
		t.Errorf("viewer cancel: %+v", got)
	}
	stranger := w.call("acme", "carol", "CancelTask", ri("CancelTask", "t1"))
	if stranger.Code != "NotFound" {
		t.Errorf("stranger cancel: %+v", stranger)
	}
	if diff := cmp.Diff(got.Calls, stranger.Calls); diff != "" {
		t.Errorf("backend calls differ between 403 and 404 (-viewer +stranger):\n%s", diff)
	}
	if got := w.call("acme", "bob", "GetTask", ri("GetTask", "t1")); !got.ok() || got.Replies[0] != "checked=task:t1 requested=task:t1 method=/fgactest.Tasks/GetTask" {
		t.Errorf("viewer read: %+v", got)
	}
	if got := w.call("acme", "bob", "WatchMessage", ri("WatchMessage", "m1")); !got.ok() || len(got.Replies) != 2 || got.Replies[0] != "0 checked=task:t1 requested=message:m1 method=/fgactest.Tasks/WatchMessage" {
		t.Errorf("viewer watch message: %+v", got)
	}
}

// TestCannotProbeWhileSpiceDBIsStopped: with the real SpiceDB process
// stopped (not a simulated outage), every kind of id, unary and stream,
// gets the same Unavailable after the same calls.
func TestCannotProbeWhileSpiceDBIsStopped(t *testing.T) {
	srv := spicedbtest.StartServer(t)
	c := srv.Client(t)
	if _, err := spicedbadapter.WriteSchema(context.Background(), c, testSchema); err != nil {
		t.Fatal(err)
	}
	w := newWorldOn(t, spicedbadapter.New(c, &spicedbadapter.Config{BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}))
	w.seed()
	if got := w.call("acme", "alice", "GetTask", ri("GetTask", "t1")); !got.ok() {
		t.Fatalf("owner before the stop: %+v", got)
	}
	srv.Stop(t)
	for _, s := range shapes() {
		ref := w.call("acme", "bob", s.method, ri(s.method, s.unreadable))
		if ref.Code != "Unavailable" || len(ref.Calls) == 0 {
			t.Fatalf("%s unreadable: %+v, want Unavailable after a backend call", s.method, ref)
		}
		for kind, id := range map[string]string{"missing": s.missing, "orphan": s.orphan, "invalid": s.invalid} {
			if id == "" {
				continue
			}
			if diff := cmp.Diff(ref, w.call("acme", "bob", s.method, ri(s.method, id))); diff != "" {
				t.Errorf("%s %s vs unreadable: mismatch (-unreadable +%s):\n%s", s.method, kind, kind, diff)
			}
		}
		if got := w.call("acme", "alice", s.method, ri(s.method, s.unreadable)); got.Code != "Unavailable" {
			t.Errorf("%s owner during the stop: %+v", s.method, got)
		}
	}
}
