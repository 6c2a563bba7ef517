package otelauthz_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/enforce"
	"github.com/fgac-go/fgac/internal/spanrec"
	"github.com/fgac-go/fgac/memadapter"
	"github.com/fgac-go/fgac/otelauthz"
	"github.com/fgac-go/fgac/parent"
)

const testSchema = `
definition user {}

definition agent {
	relation owner: user
	permission read = owner
	permission update = owner
}

definition task {
	relation parent: agent
	relation owner: user
	relation viewer: user
	permission read = owner + viewer + parent->read
	permission update = owner + parent->update
}
`

var (
	alice = authz.Subject{Type: "user", ID: "alice"}
	bob   = authz.Subject{Type: "user", ID: "bob"}
)

// fixture: alice owns agent a1 and task t1 under it; message m1 is a
// child of t1.
func fixture(t testing.TB) *memadapter.Authorizer {
	t.Helper()
	engine, err := memadapter.New(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "agent", ID: "a1"}, Owner: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Register(ctx, authz.RegisterRequest{Resource: authz.Resource{Type: "task", ID: "t1"}, Owner: alice, Parent: &authz.Resource{Type: "agent", ID: "a1"}}); err != nil {
		t.Fatal(err)
	}
	return engine
}

// down is an engine whose every call fails with an error whose text names
// an id and a secret, which must never reach a span.
type down struct{ authz.Reader }

var errDown = errors.New("dial spicedb: token=s3cret task:t1: connection refused")

func (down) Check(context.Context, authz.CheckRequest) (authz.Decision, error) {
	return authz.Deny(), errors.Join(authz.ErrUnavailable, errDown)
}

func TestNewWithoutProviderIsNil(t *testing.T) {
	for name, p := range map[string]otelauthz.Config{
		"nil": {}, "noop": {Provider: noop.NewTracerProvider()}, "*noop": {Provider: new(noop.TracerProvider)},
	} {
		if tr := otelauthz.New(p); tr != nil {
			t.Errorf("%s: New returned a tracer", name)
		}
	}
	var tr *otelauthz.Tracer
	engine := fixture(t)
	if got := tr.Engine(engine); got != authz.Reader(engine) {
		t.Errorf("nil Tracer wrapped the engine")
	}
	ctx, span := tr.StartDecision(context.Background())
	if ctx != context.Background() || span.IsRecording() {
		t.Errorf("nil Tracer started a recording decision")
	}
	tr.EndDecision(span, &otelauthz.Decision{})
}

// TestEngineKeepsOptionalInterfaces: the wrapped engine implements exactly
// what the engine it wraps implements.
func TestEngineKeepsOptionalInterfaces(t *testing.T) {
	tr := otelauthz.New(otelauthz.Config{Provider: &spanrec.Provider{}})
	engine := fixture(t)
	full := tr.Engine(engine)
	if _, ok := full.(authz.Authorizer); !ok {
		t.Error("wrapped memadapter is not an authz.Authorizer")
	}
	if _, ok := full.(authz.Explainer); !ok {
		t.Error("wrapped memadapter is not an authz.Explainer")
	}
	if _, ok := full.(authz.PermissionSet); !ok {
		t.Error("wrapped memadapter is not an authz.PermissionSet")
	}
	if _, err := authz.NewOperationMap(full.(authz.PermissionSet), map[string]map[authz.Operation]string{"task": {authz.OpRead: "read"}}); err != nil {
		t.Errorf("operation map over the wrapped engine: %v", err)
	}
	readOnly := tr.Engine(struct{ authz.Reader }{engine})
	if _, ok := readOnly.(authz.Authorizer); ok {
		t.Error("a wrapped Reader claims to be an Authorizer")
	}
	if _, ok := readOnly.(authz.Explainer); ok {
		t.Error("a wrapped Reader claims to be an Explainer")
	}
	explaining := tr.Engine(struct {
		authz.Reader
		authz.Explainer
	}{engine, engine})
	if _, ok := explaining.(authz.Explainer); !ok {
		t.Error("a wrapped Reader+Explainer lost Explain")
	}
	if _, ok := explaining.(authz.PermissionSet); ok {
		t.Error("a wrapped Reader+Explainer claims to be a PermissionSet")
	}
}

func TestEngineSpans(t *testing.T) {
	ctx := context.Background()
	for _, drop := range []bool{false, true} {
		rec := &spanrec.Provider{}
		tr := otelauthz.New(otelauthz.Config{Provider: rec, DropIDs: drop})
		engine := tr.Engine(fixture(t)).(authz.Authorizer)
		t1 := authz.Resource{Type: "task", ID: "t1"}
		engine.Check(ctx, authz.CheckRequest{Subject: alice, Resource: t1, Permission: "read", Consistency: authz.FullyConsistent()})
		engine.CheckMany(ctx, authz.CheckManyRequest{Items: []authz.CheckRequest{
			{Subject: bob, Resource: t1, Permission: "read"}, {Subject: bob, Resource: t1, Permission: "update"},
		}})
		engine.Lookup(ctx, authz.LookupRequest{Subject: alice, ResourceType: "task", Permission: "read"})
		engine.Grant(ctx, authz.GrantRequest{Relationship: authz.Relationship{Resource: t1, Relation: "viewer", Subject: bob}})
		tr.Engine(down{}).Check(ctx, authz.CheckRequest{Subject: alice, Resource: t1, Permission: "read"})

		got := map[string]map[string]string{}
		status := map[string]codes.Code{}
		desc := map[string]string{}
		for _, s := range rec.Ended() {
			key := s.Name
			if _, dup := got[key]; dup {
				key += "#2"
			}
			got[key], status[key], desc[key] = s.Attrs, s.Status, s.Description
		}
		ids := func(m map[string]string, res, sub string) map[string]string {
			if !drop {
				if res != "" {
					m["fgac.resource"] = res
				}
				if sub != "" {
					m["fgac.subject"] = sub
				}
			}
			return m
		}
		want := map[string]map[string]string{
			"fgac.engine.Check": ids(map[string]string{"fgac.resource_type": "task", "fgac.permission": "read", "fgac.consistency": "fully_consistent", "fgac.outcome": "allowed"}, "task:t1", "user:alice"),
			"fgac.engine.CheckMany": {"fgac.items": "2", "fgac.allowed": "0", "fgac.resource_type": "task", "fgac.permissions": `["read","update"]`,
				"fgac.consistency": "minimize_latency", "fgac.outcome": "ok"},
			"fgac.engine.Lookup":  ids(map[string]string{"fgac.resource_type": "task", "fgac.permission": "read", "fgac.consistency": "minimize_latency", "fgac.ids": "1", "fgac.outcome": "ok"}, "", "user:alice"),
			"fgac.engine.Grant":   ids(map[string]string{"fgac.resource_type": "task", "fgac.outcome": "ok"}, "task:t1", ""),
			"fgac.engine.Check#2": ids(map[string]string{"fgac.resource_type": "task", "fgac.permission": "read", "fgac.consistency": "minimize_latency", "fgac.outcome": "error"}, "task:t1", "user:alice"),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("drop=%v: spans mismatch (-want +got):\n%s", drop, diff)
		}
		if status["fgac.engine.Check#2"] != codes.Error || desc["fgac.engine.Check#2"] != "unavailable" {
			t.Errorf("failed check: status %v %q, want Error \"unavailable\"", status["fgac.engine.Check#2"], desc["fgac.engine.Check#2"])
		}
		for _, s := range rec.Ended() {
			for k, v := range s.Attrs {
				if strings.Contains(v, "s3cret") || strings.Contains(s.Description, "s3cret") {
					t.Errorf("span %s carries the error text in %s", s.Name, k)
				}
				if drop && (strings.Contains(v, "alice") || strings.Contains(v, "t1")) {
					t.Errorf("drop: span %s attribute %s=%s carries an id", s.Name, k, v)
				}
			}
		}
	}
}

// TestDecisionSpanParentsEngineSpans: an Enforcer with a Tracer makes one
// decision span per decision, the parent of its engine calls' spans, with
// the checked type, permission, outcome, mode and consistency.
func TestDecisionSpanParentsEngineSpans(t *testing.T) {
	rec := &spanrec.Provider{}
	tr := otelauthz.New(otelauthz.Config{Provider: rec})
	engine := fixture(t)
	ops, err := authz.NewOperationMap(engine, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpUpdate: "update"}, "agent": {authz.OpRead: "read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	parents := &parent.Registry{}
	parents.Register("message", "task", parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		if id == "m1" {
			return "t1", nil
		}
		return "", authz.ErrNotFound
	}))
	e := enforce.Enforcer{Guard: authz.NewGuard(tr.Engine(engine), ops), Parents: parents, Tracer: tr,
		Modes: func(_ context.Context, r enforce.ModeRequest) enforce.Mode {
			if r.Route == "shadow" {
				return enforce.Shadow
			}
			return enforce.Enforce
		}}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		req   enforce.Request
		attrs map[string]string
		calls []string
	}{
		{"allowed child", enforce.Request{Subject: alice, Resource: authz.Resource{Type: "message", ID: "m1"}, Operation: authz.OpRead, Route: "GET /messages/{id}"},
			map[string]string{"fgac.resource_type": "task", "fgac.requested_type": "message", "fgac.permission": "read", "fgac.operation": "read", "fgac.outcome": "allowed",
				"fgac.mode": "enforce", "fgac.consistency": "minimize_latency", "fgac.route": "GET /messages/{id}", "fgac.resource": "message:m1", "fgac.subject": "user:alice"},
			[]string{"fgac.engine.Check"}},
		{"update denied, readable: one bulk call", enforce.Request{Subject: bob, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpUpdate, Route: "shadow"},
			map[string]string{"fgac.resource_type": "task", "fgac.permission": "update", "fgac.operation": "update", "fgac.outcome": "shadow_denied",
				"fgac.mode": "shadow", "fgac.consistency": "minimize_latency", "fgac.route": "shadow", "fgac.resource": "task:t1", "fgac.subject": "user:bob"},
			[]string{"fgac.engine.CheckMany"}},
		{"malformed id", enforce.Request{Subject: bob, Resource: authz.Resource{Type: "task", ID: "bad id"}, Operation: authz.OpRead},
			map[string]string{"fgac.resource_type": "task", "fgac.permission": "read", "fgac.operation": "read", "fgac.outcome": "not_found",
				"fgac.mode": "enforce", "fgac.consistency": "minimize_latency", "fgac.subject": "user:bob"},
			[]string{"fgac.engine.Check"}},
	} {
		rec.Reset()
		e.Authorize(ctx, tc.req)
		spans := rec.Ended()
		if len(spans) != len(tc.calls)+1 {
			t.Fatalf("%s: %d spans, want %d: %+v", tc.name, len(spans), len(tc.calls)+1, spans)
		}
		dec := spans[len(spans)-1]
		if dec.Name != otelauthz.DecisionSpan {
			t.Fatalf("%s: last span %q, want the decision", tc.name, dec.Name)
		}
		if diff := cmp.Diff(tc.attrs, dec.Attrs); diff != "" {
			t.Errorf("%s: decision attributes mismatch (-want +got):\n%s", tc.name, diff)
		}
		for i, want := range tc.calls {
			if spans[i].Name != want || spans[i].Parent != dec.ID || spans[i].TraceID != dec.TraceID {
				t.Errorf("%s: span %d = %q parent %v, want %q under the decision %v", tc.name, i, spans[i].Name, spans[i].Parent, want, dec.ID)
			}
		}
	}
}
