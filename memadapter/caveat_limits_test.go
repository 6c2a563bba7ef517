package memadapter_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

const limitsSchema = `
caveat under_limit(amount double, limit double) { !(amount > limit) }
caveat net(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
caveat lookup_key(m map<bool>, k string) { m[k] }
caveat heavy(l list<int>) { l.all(x, l.all(y, l.all(z, x + y + z != -1))) }
definition user {}
definition account {
	relation spender: user with under_limit
	relation viewer: user with net | user with lookup_key
	relation heavy: user with heavy
	permission spend = spender
	permission view = viewer
	permission run = heavy
}`

func limitsAuthorizer(t *testing.T) *memadapter.Authorizer {
	t.Helper()
	a, err := memadapter.New(limitsSchema)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(res, relation, sub string, cav authz.Caveat) authz.Relationship {
		return authz.Relationship{Resource: authz.Resource{Type: "account", ID: res}, Relation: relation, Subject: authz.Subject{Type: "user", ID: sub}, Caveat: cav}
	}
	_, err = a.Write(context.Background(), authz.WriteRequest{Touch: []authz.Relationship{
		rel("a1", "spender", "bob", authz.Caveat{Name: "under_limit", Context: authz.NewContext(map[string]any{"limit": 100})}),
		rel("a1", "viewer", "bob", authz.Caveat{Name: "lookup_key", Context: authz.NewContext(map[string]any{"k": "ALICE-SECRET"})}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRefusedNumbersAreInvalidForEveryResource: a double SpiceDB refuses
// ("NaN", "Infinity") never converts to NaN (which made !(amount > limit)
// allow); it is a *authz.ContextError for an existing resource and a
// missing one alike, before any relationship is read.
func TestRefusedNumbersAreInvalidForEveryResource(t *testing.T) {
	a := limitsAuthorizer(t)
	for _, v := range []any{"NaN", "nan", "Infinity", "-Infinity", "0x10"} {
		for _, id := range []string{"a1", "missing"} {
			d, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: id}, Permission: "spend", Context: authz.NewContext(map[string]any{"amount": v})})
			var ce *authz.ContextError
			if !errors.As(err, &ce) || !errors.Is(err, authz.ErrInvalidRequest) || d.Allowed() {
				t.Errorf("amount=%v on %s: Check = %v, %v; want a *authz.ContextError", v, id, d, err)
			}
		}
		_, err := a.Lookup(context.Background(), authz.LookupRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, ResourceType: "account", Permission: "spend", Context: authz.NewContext(map[string]any{"amount": v})})
		if !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("amount=%v: Lookup error = %v, want ErrInvalidRequest", v, err)
		}
	}
	// "Inf" is an infinite double to SpiceDB: a denial here, never an error.
	d, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: "a1"}, Permission: "spend", Context: authz.NewContext(map[string]any{"amount": "Inf"})})
	if err != nil || d.Allowed() || d.Conditional() {
		t.Errorf("amount=Inf: Check = %v, %v; want a plain denial", d, err)
	}
	// A stored NaN is refused at write, and nothing is written.
	_, err = a.Write(context.Background(), authz.WriteRequest{Touch: []authz.Relationship{{Resource: authz.Resource{Type: "account", ID: "a2"}, Relation: "spender", Subject: authz.Subject{Type: "user", ID: "bob"}, Caveat: authz.Caveat{Name: "under_limit", Context: authz.NewContext(map[string]any{"limit": "NaN"})}}}})
	if !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("stored limit NaN: Write = %v, want ErrInvalidRequest", err)
	}
	if rels, _ := a.ReadRelationships(context.Background(), authz.ReadRequest{Resource: authz.Resource{Type: "account", ID: "a2"}}); len(rels) != 0 {
		t.Errorf("a refused write wrote %v", rels)
	}
}

// TestWrongTypedContextIsInvalidForEveryResource: a value of the wrong
// type for a parameter of a reachable caveat is refused up front, the
// same for an existing and a missing resource.
func TestWrongTypedContextIsInvalidForEveryResource(t *testing.T) {
	a := limitsAuthorizer(t)
	for _, id := range []string{"a1", "missing"} {
		_, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: id}, Permission: "view", Context: authz.NewContext(map[string]any{"ip": "garbage"})})
		var ce *authz.ContextError
		if !errors.As(err, &ce) || ce.Caveat != "net" || ce.Param != "ip" {
			t.Errorf("ip=garbage on %s: Check error = %v, want a *authz.ContextError for net's ip", id, err)
		}
	}
	// A key that no caveat reachable from the permission declares is
	// ignored, as SpiceDB ignores it.
	if _, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: "a1"}, Permission: "spend", Context: authz.NewContext(map[string]any{"ip": "garbage", "amount": 5})}); err != nil {
		t.Errorf("ip=garbage on spend (no caveat with ip): %v", err)
	}
}

// TestCaveatErrorsNameNoValue: a caveat that fails on a stored value (a
// map key from another user's stored context) is a *authz.CaveatError
// whose message names the caveat only.
func TestCaveatErrorsNameNoValue(t *testing.T) {
	a := limitsAuthorizer(t)
	_, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: "a1"}, Permission: "view", Context: authz.NewContext(map[string]any{"m": map[string]any{"x": true}})})
	var ce *authz.CaveatError
	if !errors.As(err, &ce) || ce.Caveat != "lookup_key" {
		t.Fatalf("Check error = %v, want a *authz.CaveatError of lookup_key", err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error quotes a stored value: %v", err)
	}
}

// TestRequestContextSizeIsLimited: a request context over SpiceDB's 4,096
// bytes is refused, as SpiceDB refuses it.
func TestRequestContextSizeIsLimited(t *testing.T) {
	a := limitsAuthorizer(t)
	big := authz.NewContext(map[string]any{"amount": 5, "pad": strings.Repeat("x", authz.MaxContextBytes)})
	_, err := a.Check(context.Background(), authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: "a1"}, Permission: "spend", Context: big})
	var ce *authz.ContextError
	if !errors.As(err, &ce) {
		t.Errorf("a %d-byte pad: Check error = %v, want a *authz.ContextError", authz.MaxContextBytes, err)
	}
}

// TestExpensiveCaveatsStop: a caveat whose evaluation would run for
// seconds stops at the cost limit (a *authz.CaveatError, never an allow),
// and at the request's deadline (ErrUnavailable).
func TestExpensiveCaveatsStop(t *testing.T) {
	a := limitsAuthorizer(t)
	for id, n := range map[string]int{"h1": 400, "h2": 100} {
		l := make([]any, n)
		for i := range l {
			l[i] = i
		}
		if _, err := a.Write(context.Background(), authz.WriteRequest{Touch: []authz.Relationship{{Resource: authz.Resource{Type: "account", ID: id}, Relation: "heavy", Subject: authz.Subject{Type: "user", ID: "bob"}, Caveat: authz.Caveat{Name: "heavy", Context: authz.NewContext(map[string]any{"l": l})}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// h2: 100³ iterations, over the cost limit.
	q := authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "account", ID: "h2"}, Permission: "run"}
	start := time.Now()
	d, err := a.Check(context.Background(), q)
	var ce *authz.CaveatError
	if !errors.As(err, &ce) || d.Allowed() {
		t.Errorf("Check = %v, %v; want a *authz.CaveatError (cost limit)", d, err)
	}
	t.Logf("stopped by the cost limit after %v", time.Since(start))

	// h1: 400³ iterations (seconds of work, and ~1,000× the limit).
	q.Resource.ID = "h1"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	d, err = a.Check(ctx, q)
	if !errors.Is(err, authz.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || d.Allowed() {
		t.Errorf("Check under a 20ms deadline = %v, %v; want ErrUnavailable and DeadlineExceeded", d, err)
	}
}
