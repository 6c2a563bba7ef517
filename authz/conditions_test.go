package authz_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

func TestConditionalNeverAllows(t *testing.T) {
	t.Parallel()
	d := authz.Conditional("b", "a", "b")
	if d.Allowed() {
		t.Fatal("a conditional decision allows")
	}
	if !d.Conditional() || d.String() != "conditional" {
		t.Errorf("Conditional() = %v, String() = %q; want true, conditional", d.Conditional(), d.String())
	}
	if diff := cmp.Diff([]string{"a", "b"}, d.Missing()); diff != "" {
		t.Errorf("Missing() mismatch (-want +got):\n%s", diff)
	}
	for _, d := range []authz.Decision{authz.Allow(), authz.Deny(), {}} {
		if d.Conditional() || d.Missing() != nil {
			t.Errorf("%s: Conditional() = %v, Missing() = %v", d, d.Conditional(), d.Missing())
		}
	}
}

// conditionalEngine answers every check conditional on "ip" and records
// the contexts it was given.
type conditionalEngine struct {
	countingEngine
	got []authz.Context
}

func (f *conditionalEngine) Check(_ context.Context, req authz.CheckRequest) (authz.Decision, error) {
	f.got = append(f.got, req.Context)
	return authz.Conditional("ip"), nil
}

func TestGuardDeniesConditionalAndNamesTheMissingParameters(t *testing.T) {
	t.Parallel()
	eng := &conditionalEngine{}
	g := authz.NewGuard(eng, newOps(t))
	c := authz.NewContext(map[string]any{"day": "monday"})
	q := authz.Question{
		Subject:   authz.Subject{Type: "user", ID: "alice"},
		Resource:  authz.Resource{Type: "task", ID: "t1"},
		Operation: authz.OpRead,
		Context:   c,
	}
	err := g.Authorize(context.Background(), q)
	var denied *authz.DeniedError
	if !errors.As(err, &denied) || !errors.Is(err, authz.ErrDenied) {
		t.Fatalf("Authorize = %v, want a *DeniedError", err)
	}
	if diff := cmp.Diff([]string{"ip"}, denied.Missing); diff != "" {
		t.Errorf("Missing mismatch (-want +got):\n%s", diff)
	}
	if len(eng.got) != 1 || eng.got[0] != c {
		t.Errorf("engine got contexts %v, want the question's", eng.got)
	}
}

func TestContextLimits(t *testing.T) {
	t.Parallel()
	wide := map[string]any{}
	for i := range 10_000 {
		wide["k"+strconv.Itoa(i)] = i
	}
	deep := map[string]any{"leaf": true}
	for range 40 {
		deep = map[string]any{"n": deep}
	}
	deepList := []any{1}
	for range 40 {
		deepList = []any{deepList}
	}
	tests := []struct {
		name   string
		values map[string]any
	}{
		{"10k keys", wide},
		{"nested 41 objects deep", deep},
		{"nested 41 lists deep", map[string]any{"l": deepList}},
		{"a value that is not JSON", map[string]any{"f": func() {}}},
		{"a channel", map[string]any{"c": make(chan int)}},
		// JSON and protobuf cannot carry these unchanged: a stored
		// context would mean something else after a reopen, or reach
		// SpiceDB without its value.
		{"a string that is not UTF-8", map[string]any{"s": "acme\xff"}},
		{"a key that is not UTF-8", map[string]any{"\xfe": 1}},
		{"a list element that is not UTF-8", map[string]any{"l": []any{"ok", "\xff"}}},
		{"a []string element that is not UTF-8", map[string]any{"l": []string{"\xc3"}}},
		{"a nested key that is not UTF-8", map[string]any{"m": map[string]string{"\xff": "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := authz.NewContext(tt.values)
			if err := c.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("Validate = %v, want ErrInvalidRequest", err)
			}
			req := authz.CheckRequest{Subject: authz.Subject{Type: "user", ID: "alice"}, Resource: authz.Resource{Type: "task", ID: "t1"}, Permission: "read", Context: c}
			if err := req.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("CheckRequest.Validate = %v, want ErrInvalidRequest", err)
			}
			rel := authz.Relationship{Resource: req.Resource, Relation: "viewer", Subject: req.Subject, Caveat: authz.Caveat{Name: "ok", Context: c}}
			if err := rel.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Relationship.Validate = %v, want ErrInvalidRequest", err)
			}
		})
	}
	ok := map[string]any{}
	for i := range authz.MaxContextKeys {
		ok["k"+strconv.Itoa(i)] = i
	}
	if err := authz.NewContext(ok).Validate(); err != nil {
		t.Errorf("%d keys: %v", authz.MaxContextKeys, err)
	}
}

func TestContextIsJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	src := map[string]any{
		"i": 5, "u": uint8(7), "f": float32(1.5), "s": "x", "b": true, "n": nil,
		"t": at, "d": 90 * time.Minute, "bytes": []byte("abc"),
		"l": []string{"a"}, "m": map[string]any{"k": []any{int64(1)}},
	}
	c := authz.NewContext(src)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": 5.0, "u": 7.0, "f": 1.5, "s": "x", "b": true, "n": nil,
		"t": "2024-01-02T03:04:05Z", "d": "1h30m0s", "bytes": "YWJj",
		"l": []any{"a"}, "m": map[string]any{"k": []any{1.0}},
	}
	if diff := cmp.Diff(want, c.Map()); diff != "" {
		t.Errorf("Map mismatch (-want +got):\n%s", diff)
	}
	src["i"] = 6 // the context is a copy
	if v, _ := c.Value("i"); v != 5.0 {
		t.Errorf("Value(i) = %v after the source changed, want 5", v)
	}
	if diff := cmp.Diff([]string{"b", "bytes", "d", "f", "i", "l", "m", "n", "s", "t", "u"}, c.Keys()); diff != "" {
		t.Errorf("Keys mismatch (-want +got):\n%s", diff)
	}
	if !authz.NewContext(nil).IsZero() || !authz.NewContext(map[string]any{}).IsZero() {
		t.Error("an empty context is not zero")
	}
}

func TestRelationshipKeyIgnoresConditions(t *testing.T) {
	t.Parallel()
	r := authz.Relationship{
		Resource: authz.Resource{Type: "task", ID: "t1"}, Relation: "viewer",
		Subject:    authz.Subject{Type: "user", ID: "alice"},
		Caveat:     authz.Caveat{Name: "on_weekdays", Context: authz.NewContext(map[string]any{"day": 1})},
		Expiration: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	if got, want := r.Key(), (authz.Relationship{Resource: r.Resource, Relation: r.Relation, Subject: r.Subject}); got != want {
		t.Errorf("Key() = %v, want %v", got, want)
	}
	if got, want := r.Conditions(), `[on_weekdays:{"day":1}][expiration:2030-01-01T00:00:00Z]`; got != want {
		t.Errorf("Conditions() = %q, want %q", got, want)
	}
	bad := r
	bad.Caveat.Name = "Bad Name"
	if err := bad.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Validate with a malformed caveat name = %v, want ErrInvalidRequest", err)
	}
	bad.Caveat = authz.Caveat{Context: authz.NewContext(map[string]any{"a": 1})}
	if err := bad.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Validate with a context but no caveat = %v, want ErrInvalidRequest", err)
	}
}

func TestContextEqualComparesValues(t *testing.T) {
	t.Parallel()
	a := authz.NewContext(map[string]any{"n": 1, "l": []any{"x"}})
	b := authz.NewContext(map[string]any{"n": 1.0, "l": []string{"x"}})
	if a == b || !a.Equal(b) {
		t.Errorf("a == b: %v, a.Equal(b): %v; want false, true", a == b, a.Equal(b))
	}
	if a.Equal(authz.NewContext(map[string]any{"n": 2})) || a.Equal(authz.Context{}) {
		t.Error("different contexts are Equal")
	}
	if !authz.NewContext(nil).Equal(authz.Context{}) {
		t.Error("empty contexts are not Equal")
	}
	r := authz.Relationship{Caveat: authz.Caveat{Name: "cav", Context: a}}
	if diff := cmp.Diff(r, authz.Relationship{Caveat: authz.Caveat{Name: "cav", Context: b}}); diff != "" {
		t.Errorf("go-cmp sees a difference (-want +got):\n%s", diff)
	}
}

// caveatFailingEngine answers every item of a bulk check with an allow
// and a *authz.CaveatError, as a faulty engine might.
type caveatFailingEngine struct{ countingEngine }

func (f *caveatFailingEngine) CheckMany(_ context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	out := make([]authz.CheckResult, len(req.Items))
	for i := range out {
		out[i] = authz.CheckResult{Decision: authz.Allow(), Err: &authz.CaveatError{Caveat: "lkk", Reason: "evaluation failed"}}
	}
	return out, nil
}

// TestGuardAnswersCaveatErrorsAsDenials: a caveat that failed on the data
// a check reached is a denial (never an allow, whatever the engine's
// decision says, and not an error that would tell an existing resource
// from a missing one); any other engine error stays an error.
func TestGuardAnswersCaveatErrorsAsDenials(t *testing.T) {
	t.Parallel()
	eng := &caveatFailingEngine{}
	eng.err = fmt.Errorf("memadapter: %w", &authz.CaveatError{Caveat: "lkk", Reason: "evaluation failed"})
	g := authz.NewGuard(eng, newOps(t))
	q := authz.Question{Subject: authz.Subject{Type: "user", ID: "bob"}, Resource: authz.Resource{Type: "task", ID: "t1"}, Operation: authz.OpRead}
	d, err := g.Decide(context.Background(), q)
	if err != nil || d.Allowed() || d.Conditional() {
		t.Errorf("Decide = %v, %v; want a plain denial", d, err)
	}
	if err := g.Authorize(context.Background(), q); !errors.Is(err, authz.ErrDenied) {
		t.Errorf("Authorize = %v, want ErrDenied", err)
	}
	res, err := g.DecideMany(context.Background(), []authz.Question{q, q})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Decision.Allowed() {
			t.Errorf("DecideMany[%d] = %v, %v; want a plain denial", i, r.Decision, r.Err)
		}
	}
	eng.err = authz.ErrUnavailable
	if _, err := g.Decide(context.Background(), q); !errors.Is(err, authz.ErrUnavailable) {
		t.Errorf("Decide with an unavailable engine = %v, want ErrUnavailable", err)
	}
}
