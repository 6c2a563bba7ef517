package dualwrite

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

// viewerGrant makes sub a viewer of the task id.
func viewerGrant(id string, sub authz.Subject) authz.GrantRequest {
	return authz.GrantRequest{Relationship: authz.Relationship{Resource: task(id), Relation: "viewer", Subject: sub}}
}

// present returns an Exists func that reports whether the store has the
// row id.
func (s *store) present(id string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return s.has(id), nil
	}
}

// createTask creates the task id, owned by alice, through e.w.
func (e *env) createTask(t *testing.T, id string) {
	t.Helper()
	if _, err := e.w.Create(t.Context(), CreateRequest{Register: registration(id, alice), Persist: e.store.persist(registration(id, alice), noFault, nil)}); err != nil {
		t.Fatalf("Create(%s): %v", id, err)
	}
}

// deleteTask deletes the task id through e.w.
func (e *env) deleteTask(t *testing.T, id string) {
	t.Helper()
	if deleted, err := e.w.Delete(t.Context(), DeleteRequest{Resource: task(id), Delete: e.store.delete(noFault, nil)}); !deleted || err != nil {
		t.Fatalf("Delete(%s) = %v, %v; want true, nil", id, deleted, err)
	}
}

// hasRel reports whether the graph holds r.
func (e *env) hasRel(t *testing.T, r authz.Relationship) bool {
	t.Helper()
	rels, err := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: r.Resource, Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatalf("ReadRelationships(%s): %v", r.Resource, err)
	}
	for _, got := range rels {
		if got == r {
			return true
		}
	}
	return false
}

// grant calls w.Grant on a goroutine of its own, so that an Exists that
// calls runtime.Goexit ends only that goroutine, and returns what
// happened: Grant's results, or the value it panicked with, or that it
// exited the goroutine.
func grant(ctx context.Context, w *Writer, req GrantRequest) (tok authz.Token, err error, panicked any, exited bool) {
	done := make(chan struct{})
	returned := false
	go func() {
		defer close(done)
		defer func() {
			if !returned {
				panicked = recover()
			}
		}()
		tok, err = w.Grant(ctx, req)
		returned = true
	}()
	<-done
	return tok, err, panicked, !returned && panicked == nil
}

// beforeGrant is a Granter that runs before just before each grant reaches
// the engine: another request's work landing just ahead of the write.
type beforeGrant struct {
	authz.Granter
	before func()
}

func (b beforeGrant) Grant(ctx context.Context, req authz.GrantRequest) (authz.Token, error) {
	b.before()
	return b.Granter.Grant(ctx, req)
}

// interleavings are the orders in which a share's grant and a delete of
// the same task can run, each as a point of the grant at which the whole
// delete runs (or, for rowOnly, the delete's row deletion, whose
// deregistration follows the grant).
var interleavings = []struct {
	name      string
	at        string
	wantErr   error  // of the grant
	wantKinds []Kind // of both
}{
	{name: "delete before the grant", at: "start", wantErr: authz.ErrNotFound, wantKinds: []Kind{Deregistered, GrantRevoked}},
	{name: "row deleted, then the grant, then the deregistration", at: "rowOnly", wantErr: authz.ErrNotFound, wantKinds: []Kind{GrantRevoked, Deregistered}},
	{name: "delete just before the grant's write", at: "write", wantErr: authz.ErrNotFound, wantKinds: []Kind{Deregistered, GrantRevoked}},
	{name: "delete between the grant's write and the check", at: "check", wantErr: authz.ErrNotFound, wantKinds: []Kind{Deregistered, GrantRevoked}},
	{name: "delete after the grant", at: "end", wantKinds: []Kind{Granted, Deregistered}},
}

// interleave creates a task, then runs a share's grant for bob and a
// delete of the task in the order at names, under Writer variant v. It
// returns the grant's error and the task's relationships left afterwards.
func interleave(t *testing.T, e *env, v variant, at string) (error, []authz.Relationship) {
	t.Helper()
	const id = "t1"
	e.createTask(t, id)
	// The share is authorized: alice, the owner, may read the task.
	if !e.readable(t, id, alice) {
		t.Fatal("the owner cannot read the task")
	}
	e.rec.forget(task(id))
	e.back.reset(task(id))
	del := func() { e.deleteTask(t, id) }
	req := GrantRequest{Grant: viewerGrant(id, bob), Exists: e.store.present(id)}
	var grantErr error
	share := func() { _, grantErr = v.grant(t.Context(), e.w, req) }
	switch at {
	case "start":
		del()
		share()
	case "rowOnly":
		rowDelete := e.store.delete(noFault, nil)
		if deleted, err := e.w.Delete(t.Context(), DeleteRequest{Resource: task(id), Delete: func(ctx context.Context, id string) (bool, error) {
			deleted, err := rowDelete(ctx, id)
			share()
			return deleted, err
		}}); !deleted || err != nil {
			t.Fatalf("Delete = %v, %v; want true, nil", deleted, err)
		}
	case "write":
		once := false
		e.w.Granter = beforeGrant{Granter: e.back, before: func() {
			if !once {
				once = true
				del()
			}
		}}
		share()
	case "check":
		exists := req.Exists
		req.Exists = func(ctx context.Context) (bool, error) {
			del()
			return exists(ctx)
		}
		share()
	case "end":
		share()
		del()
	default:
		t.Fatalf("unknown interleaving %q", at)
	}
	rels, err := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: task(id), Consistency: authz.FullyConsistent()})
	if err != nil {
		t.Fatal(err)
	}
	return grantErr, rels
}

// TestGrantOnDeletedRowLeavesNoGrant plays a share authorized before the
// task's delete and granted around it, in every order: whenever the row
// is gone by the time the grant is written, the grant fails with
// authz.ErrNotFound, and in every order no relationship of the deleted
// task is left in the graph (memadapter, a real engine).
func TestGrantOnDeletedRowLeavesNoGrant(t *testing.T) {
	t.Parallel()
	for _, tt := range interleavings {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)

			err, left := interleave(t, e, correct, tt.at)

			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Grant error = %v, want %v", err, tt.wantErr)
			}
			if len(left) > 0 {
				t.Errorf("relationships of the deleted task left in the graph: %v", left)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(task("t1"))); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if got := e.back.statsOf("grant", task("t1")).calls; got != 1 {
				t.Errorf("Grant made %d grant calls, want 1", got)
			}
			e.reconcile(t, "t1")
		})
	}
}

// TestGrantInterleavingsCatchBrokenOrders gives the interleavings teeth:
// a grant that does not check the row, or checks it before granting,
// leaves a grant on the deleted task in at least one of them.
func TestGrantInterleavingsCatchBrokenOrders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		variant variant
	}{
		{name: "grant without check", variant: grantWithoutCheck},
		{name: "check before grant", variant: checkBeforeGrant},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, in := range interleavings {
				e := newEnv(t)
				if _, left := interleave(t, e, tt.variant, in.at); len(left) > 0 {
					t.Logf("caught by %q: left %v", in.name, left)
					return
				}
			}
			t.Error("broken variant left no grant behind in any interleaving")
		})
	}
}

var errExists = errors.New("store: exists: injected failure")

func TestGrantUnderFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		rowGone     bool    // the task was deleted before the share's grant
		grant       []fault // of the grant call
		exists      string  // "" (reads the store), "fail", "panic", "goexit" or "cancel"
		revoke      []fault
		wantIs      []error
		wantComp    bool // a *CompensationError whose Compensation matches ErrUnavailable
		wantPanic   bool
		wantExit    bool
		wantGrant   bool // the relationship is in the graph afterwards
		wantKinds   []Kind
		wantRevokes int
	}{
		{name: "row exists", wantGrant: true, wantKinds: []Kind{Granted}},
		{name: "row gone", rowGone: true, wantIs: []error{authz.ErrNotFound}, wantKinds: []Kind{GrantRevoked}, wantRevokes: 1},
		// Existence unknown: the grant stays, the error is returned, nothing
		// is revoked (a pre-existing share must survive a database blip).
		{name: "exists fails", exists: "fail", wantIs: []error{errExists}, wantGrant: true, wantKinds: []Kind{GrantUnconfirmed}},
		{name: "exists panics", exists: "panic", wantPanic: true, wantGrant: true, wantKinds: []Kind{GrantUnconfirmed}},
		{name: "exists calls Goexit", exists: "goexit", wantExit: true, wantGrant: true, wantKinds: []Kind{GrantUnconfirmed}},
		{
			name:      "request cancelled after the grant: existence unknown, grant kept",
			exists:    "cancel",
			wantIs:    []error{context.Canceled},
			wantGrant: true,
			wantKinds: []Kind{GrantUnconfirmed},
		},
		{
			name:        "row gone and the revocation fails",
			rowGone:     true,
			revoke:      []fault{failBefore},
			wantIs:      []error{authz.ErrNotFound},
			wantComp:    true,
			wantGrant:   true,
			wantKinds:   []Kind{GrantRevokeFailed},
			wantRevokes: 1,
		},
		{name: "grant unavailable", grant: []fault{failBefore}, wantIs: []error{authz.ErrUnavailable}},
		{name: "grant ambiguous, row exists: kept", grant: []fault{failAfter}, wantIs: []error{authz.ErrUnavailable}, wantGrant: true},
		{
			name:        "grant ambiguous, row gone: revoked",
			rowGone:     true,
			grant:       []fault{failAfter},
			wantIs:      []error{authz.ErrNotFound},
			wantKinds:   []Kind{GrantRevoked},
			wantRevokes: 1,
		},
		{
			name:      "grant ambiguous, exists fails: kept, the grant's error returned",
			grant:     []fault{failAfter},
			exists:    "fail",
			wantIs:    []error{authz.ErrUnavailable},
			wantGrant: true,
			wantKinds: []Kind{GrantUnconfirmed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			const id = "t1"
			res := task(id)
			e.createTask(t, id)
			if tt.rowGone {
				e.deleteTask(t, id)
			}
			e.rec.forget(res)
			e.back.reset(res)
			e.back.inject("grant", res, tt.grant...)
			e.back.inject("revoke", res, tt.revoke...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			g := viewerGrant(id, bob)
			req := GrantRequest{Grant: g, Exists: e.store.present(id)}
			switch tt.exists {
			case "fail":
				req.Exists = func(context.Context) (bool, error) { return false, errExists }
			case "panic":
				req.Exists = func(context.Context) (bool, error) { panic(panicValue{id}) }
			case "goexit":
				req.Exists = func(context.Context) (bool, error) { runtime.Goexit(); return true, nil }
			case "cancel":
				exists := req.Exists
				req.Exists = func(ctx context.Context) (bool, error) {
					cancel()
					return exists(ctx)
				}
			}

			tok, err, panicked, exited := grant(ctx, e.w, req)

			if got := panicked != nil; got != tt.wantPanic {
				t.Fatalf("panicked = %v (%v), want %v", got, panicked, tt.wantPanic)
			}
			if tt.wantPanic {
				if diff := cmp.Diff(panicValue{id}, panicked); diff != "" {
					t.Errorf("panic value mismatch (-want +got):\n%s", diff)
				}
			}
			if exited != tt.wantExit {
				t.Fatalf("exited = %v, want %v", exited, tt.wantExit)
			}
			if len(tt.wantIs) == 0 && err != nil {
				t.Errorf("Grant: unexpected error %v", err)
			}
			for _, target := range tt.wantIs {
				if !errors.Is(err, target) {
					t.Errorf("Grant error %v does not match %v", err, target)
				}
			}
			if err == nil && !tt.wantPanic && !tt.wantExit && tok.IsZero() {
				t.Error("Grant succeeded with the zero token")
			}
			var ce *CompensationError
			if got := errors.As(err, &ce); got != tt.wantComp {
				t.Errorf("Grant error %v is a *CompensationError: %v, want %v", err, got, tt.wantComp)
			} else if got && !errors.Is(ce.Compensation, authz.ErrUnavailable) {
				t.Errorf("CompensationError.Compensation = %v, want a match for ErrUnavailable", ce.Compensation)
			}
			if tt.wantComp && errors.Is(err, authz.ErrUnavailable) {
				t.Errorf("Grant error %v matches ErrUnavailable, which is the revocation's error", err)
			}
			if err != nil && strings.Contains(err.Error(), bob.ID) {
				t.Errorf("Grant error %q names the grantee", err)
			}
			if got := e.hasRel(t, g.Relationship); got != tt.wantGrant {
				t.Errorf("after Grant, %s in the graph = %v, want %v", g.Relationship, got, tt.wantGrant)
			}
			if got := e.readable(t, id, bob); got != (tt.wantGrant && !tt.rowGone) {
				t.Errorf("readable by the grantee = %v, want %v", got, tt.wantGrant && !tt.rowGone)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(res)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if got := e.back.statsOf("grant", res).calls; got != 1 {
				t.Errorf("Grant made %d grant calls, want 1", got)
			}
			if got := e.back.statsOf("revoke", res).calls; got != tt.wantRevokes {
				t.Errorf("Grant made %d revoke calls, want %d", got, tt.wantRevokes)
			}
			e.reconcile(t, id)
			if tt.rowGone && e.registered(t, res) {
				t.Error("the reconciler left a grant on the deleted task")
			}
		})
	}
}

// TestGrantKeepsExistingAccessWhenExistenceIsUnknown repeats a share that
// already exists, and tries to grant the owner and parent relations, while
// the store cannot tell whether the row exists: every relationship the
// live row had before the call is still there afterwards.
func TestGrantKeepsExistingAccessWhenExistenceIsUnknown(t *testing.T) {
	t.Parallel()
	const id = "s1"
	res := task(id)
	tests := []struct {
		name      string
		rel       authz.Relationship
		exists    string // "fail", "panic" or "goexit"
		wantIs    error
		wantPanic bool
		wantExit  bool
		wantKinds []Kind
	}{
		{name: "repeated share, exists fails", rel: viewerGrant(id, bob).Relationship, exists: "fail", wantIs: errExists, wantKinds: []Kind{GrantUnconfirmed}},
		{name: "repeated share, exists panics", rel: viewerGrant(id, bob).Relationship, exists: "panic", wantPanic: true, wantKinds: []Kind{GrantUnconfirmed}},
		{name: "repeated share, exists calls Goexit", rel: viewerGrant(id, bob).Relationship, exists: "goexit", wantExit: true, wantKinds: []Kind{GrantUnconfirmed}},
		{name: "owner relation", rel: authz.Relationship{Resource: res, Relation: authz.DefaultOwnerRelation, Subject: alice}, exists: "fail", wantIs: authz.ErrInvalidRequest},
		{name: "parent relation", rel: authz.Relationship{Resource: res, Relation: authz.DefaultParentRelation, Subject: authz.Subject{Type: agent.Type, ID: agent.ID}}, exists: "fail", wantIs: authz.ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.createTask(t, id)
			if _, err := e.eng.Grant(t.Context(), viewerGrant(id, bob)); err != nil {
				t.Fatal(err)
			}
			before, err := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: res, Consistency: authz.FullyConsistent()})
			if err != nil {
				t.Fatal(err)
			}
			e.rec.forget(res)
			e.back.reset(res)
			req := GrantRequest{Grant: authz.GrantRequest{Relationship: tt.rel}}
			switch tt.exists {
			case "fail":
				req.Exists = func(context.Context) (bool, error) { return false, errExists }
			case "panic":
				req.Exists = func(context.Context) (bool, error) { panic(panicValue{id}) }
			case "goexit":
				req.Exists = func(context.Context) (bool, error) { runtime.Goexit(); return false, nil }
			}

			_, err, panicked, exited := grant(t.Context(), e.w, req)

			if got := panicked != nil; got != tt.wantPanic {
				t.Errorf("panicked = %v (%v), want %v", got, panicked, tt.wantPanic)
			} else if tt.wantPanic {
				if diff := cmp.Diff(panicValue{id}, panicked); diff != "" {
					t.Errorf("panic value mismatch (-want +got):\n%s", diff)
				}
			}
			if exited != tt.wantExit {
				t.Errorf("exited = %v, want %v", exited, tt.wantExit)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Grant error = %v, want a match for %v", err, tt.wantIs)
			}
			after, rerr := e.eng.ReadRelationships(t.Context(), authz.ReadRequest{Resource: res, Consistency: authz.FullyConsistent()})
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !sameRels(before, after) {
				t.Errorf("relationships of the live row changed: before %v, after %v", before, after)
			}
			if !e.readable(t, id, alice) || !e.readable(t, id, bob) {
				t.Error("the owner or the earlier grantee lost access to the live row")
			}
			if got := e.back.statsOf("revoke", res).calls; got != 0 {
				t.Errorf("Grant made %d revoke calls on a row whose existence is unknown, want 0", got)
			}
			if diff := cmp.Diff(tt.wantKinds, e.rec.kinds(res)); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGrantRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	exists := func(context.Context) (bool, error) { return true, nil }
	tests := []struct {
		name           string
		noGranter      bool
		ownerRelation  string // of the Writer
		parentRelation string // of the Writer
		req            GrantRequest
		wantGrants     int // calls that reached the engine
	}{
		{name: "no exists", req: GrantRequest{Grant: viewerGrant("t1", bob)}},
		{name: "malformed id", req: GrantRequest{Grant: viewerGrant("t 1", bob), Exists: exists}},
		{name: "empty relation", req: GrantRequest{Grant: authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Subject: bob}}, Exists: exists}},
		{name: "malformed subject", req: GrantRequest{Grant: viewerGrant("t1", authz.Subject{Type: "user"}), Exists: exists}},
		{name: "no granter", noGranter: true, req: GrantRequest{Grant: viewerGrant("t1", bob), Exists: exists}},
		{
			name: "owner relation",
			req:  GrantRequest{Grant: authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Relation: authz.DefaultOwnerRelation, Subject: bob}}, Exists: exists},
		},
		{
			name: "parent relation",
			req:  GrantRequest{Grant: authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Relation: authz.DefaultParentRelation, Subject: authz.Subject{Type: agent.Type, ID: "a2"}}}, Exists: exists},
		},
		{
			name:          "the writer's own owner relation",
			ownerRelation: "viewer",
			req:           GrantRequest{Grant: viewerGrant("t1", bob), Exists: exists},
		},
		{
			name:           "the writer's own parent relation",
			parentRelation: "viewer",
			req:            GrantRequest{Grant: viewerGrant("t1", bob), Exists: exists},
		},
		{
			name:       "relation the schema lacks",
			req:        GrantRequest{Grant: authz.GrantRequest{Relationship: authz.Relationship{Resource: task("t1"), Relation: "approver", Subject: bob}}, Exists: exists},
			wantGrants: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.createTask(t, "t1")
			if tt.noGranter {
				e.w.Granter = nil
			}
			e.w.OwnerRelation, e.w.ParentRelation = tt.ownerRelation, tt.parentRelation
			checked := false
			if tt.req.Exists != nil {
				req := tt.req.Exists
				tt.req.Exists = func(ctx context.Context) (bool, error) { checked = true; return req(ctx) }
			}
			_, err := e.w.Grant(t.Context(), tt.req)
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Grant error = %v, want a match for ErrInvalidRequest", err)
			}
			res := tt.req.Grant.Relationship.Resource
			if got := e.back.statsOf("grant", res).calls; got != tt.wantGrants {
				t.Errorf("%d grant calls reached the engine, want %d", got, tt.wantGrants)
			}
			if got := e.back.statsOf("revoke", res).calls; got != 0 {
				t.Errorf("%d revoke calls for a grant that wrote nothing, want 0", got)
			}
			if checked {
				t.Error("Exists was called for a grant that wrote nothing")
			}
		})
	}
}

func TestGrantWithTheGateOffWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createTask(t, "t1")
	e.rec.forget(task("t1"))
	e.w.Gate = func(context.Context, authz.Resource) bool { return false }
	g := viewerGrant("t1", bob)
	tok, err := e.w.Grant(t.Context(), GrantRequest{Grant: g, Exists: func(context.Context) (bool, error) {
		t.Error("Exists called with the gate off")
		return true, nil
	}})
	if err != nil || !tok.IsZero() {
		t.Errorf("Grant = %v, %v; want the zero token and nil", tok, err)
	}
	if e.hasRel(t, g.Relationship) {
		t.Error("the gate was off but the grant was written")
	}
	if diff := cmp.Diff([]Kind{SkippedByGate}, e.rec.kinds(task("t1"))); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}
