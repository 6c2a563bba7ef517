package authz_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/fgac-go/fgac/schema"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fgac-go/fgac/authz"
)

func TestValidateIDBoundary(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"one byte", "a", true},
		{"max length", strings.Repeat("a", authz.MaxIDLength), true},
		{"one byte over", strings.Repeat("a", authz.MaxIDLength+1), false},
		{"empty", "", false},
		{"every punctuation of the grammar", "A/b_c|d-e=f+G9", true},
		{"wildcard", "*", false},
		{"star inside", "a*", false},
		{"space", "a b", false},
		{"colon", "a:b", false},
		{"hash", "a#b", false},
		{"at", "a@b", false},
		{"dot", "a.b", false},
		{"non-ascii", "é", false},
		{"non-ascii at max length", strings.Repeat("a", authz.MaxIDLength-2) + "é", false},
		{"nul", "a\x00b", false},
		{"newline", "a\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := authz.ValidateID(tt.id)
			if tt.ok && err != nil {
				t.Errorf("ValidateID = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("ValidateID = %v, want %v", err, authz.ErrInvalidRequest)
			}
			if got := authz.ValidID(tt.id); got != tt.ok {
				t.Errorf("ValidID = %v, want %v", got, tt.ok)
			}
		})
	}
}

func TestValidateIDNeverEchoesTheID(t *testing.T) {
	for _, id := range []string{"secret token", "secret:token", strings.Repeat("secret", 200)} {
		err := authz.ValidateID(id)
		if err == nil {
			t.Fatalf("ValidateID(%q) = nil", id)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ValidateID error %q echoes the id", err)
		}
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"permission", "read", true},
		{"underscore and digit", "view_2", true},
		{"shortest", "abc", true},
		{"too short", "ab", false},
		{"longest", "a" + strings.Repeat("b", 63), true},
		{"too long", "a" + strings.Repeat("b", 64), false},
		{"upper case", "Read", false},
		{"trailing underscore", "read_", false},
		{"leading digit", "9read", false},
		{"hyphen", "re-ad", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := authz.ValidateName(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateName(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("ValidateName(%q) = %v, want %v", tt.in, err, authz.ErrInvalidRequest)
			}
		})
	}
}

func TestValidateType(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"plain", "task", true},
		{"prefixed", "org/task", true},
		{"two prefixes", "acme/org/task", true},
		{"trailing slash", "org/", false},
		{"leading slash", "/task", false},
		{"upper case", "Task", false},
		{"empty", "", false},
		{"too long", strings.Repeat("abc/", 33) + "abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := authz.ValidateType(tt.in); (err == nil) != tt.ok {
				t.Errorf("ValidateType(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want authz.Subject
		ok   bool
	}{
		{"object", "user:alice", authz.Subject{Type: "user", ID: "alice"}, true},
		{"subject set", "group:eng#member", authz.Subject{Type: "group", ID: "eng", Relation: "member"}, true},
		{"prefixed type", "acme/user:alice", authz.Subject{Type: "acme/user", ID: "alice"}, true},
		{"wildcard", "user:*", authz.Subject{}, false},
		{"wildcard subject set", "group:*#member", authz.Subject{}, false},
		{"no id", "user", authz.Subject{}, false},
		{"empty id", "user:", authz.Subject{}, false},
		{"empty type", ":alice", authz.Subject{}, false},
		{"empty relation", "user:alice#", authz.Subject{}, false},
		{"upper-case type", "User:alice", authz.Subject{}, false},
		{"upper-case relation", "group:eng#Member", authz.Subject{}, false},
		{"two relations", "group:eng#member#admin", authz.Subject{}, false},
		{"colon in id", "user:a:b", authz.Subject{}, false},
		{"space in id", "user:a b", authz.Subject{}, false},
		{"empty", "", authz.Subject{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authz.ParseSubject(tt.in)
			if !tt.ok {
				if !errors.Is(err, authz.ErrInvalidRequest) {
					t.Errorf("ParseSubject(%q) = %v, %v; want %v", tt.in, got, err, authz.ErrInvalidRequest)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseSubject(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if got.String() != tt.in {
				t.Errorf("ParseSubject(%q).String() = %q", tt.in, got.String())
			}
		})
	}
}

func TestParseResource(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want authz.Resource
		ok   bool
	}{
		{"plain", "task:t1", authz.Resource{Type: "task", ID: "t1"}, true},
		{"prefixed type", "org/task:T-1", authz.Resource{Type: "org/task", ID: "T-1"}, true},
		{"wildcard", "task:*", authz.Resource{}, false},
		{"no id", "task", authz.Resource{}, false},
		{"empty id", "task:", authz.Resource{}, false},
		{"colon in id", "task:a:b", authz.Resource{}, false},
		{"relation", "task:t1#owner", authz.Resource{}, false},
		{"upper-case type", "Task:t1", authz.Resource{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := authz.ParseResource(tt.in)
			if !tt.ok {
				if !errors.Is(err, authz.ErrInvalidRequest) {
					t.Errorf("ParseResource(%q) = %v, %v; want %v", tt.in, got, err, authz.ErrInvalidRequest)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResource(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseResource(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestStringNotation(t *testing.T) {
	alice := authz.Subject{Type: "user", ID: "alice"}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	tests := []struct {
		name string
		in   fmt.Stringer
		want string
	}{
		{"resource", t1, "task:t1"},
		{"subject", alice, "user:alice"},
		{"subject set", authz.Subject{Type: "group", ID: "eng", Relation: "member"}, "group:eng#member"},
		{"wildcard", authz.Wildcard("user"), "user:*"},
		{"relationship", authz.Relationship{Resource: t1, Relation: "owner", Subject: alice}, "task:t1#owner@user:alice"},
		{"relationship to a subject set", authz.Relationship{Resource: t1, Relation: "viewer", Subject: authz.Subject{Type: "group", ID: "eng", Relation: "member"}}, "task:t1#viewer@group:eng#member"},
		{"public relationship", authz.Relationship{Resource: t1, Relation: "viewer", Subject: authz.Wildcard("user")}, "task:t1#viewer@user:*"},
		{"allowed", authz.Allow(), "allowed"},
		{"denied", authz.Deny(), "denied"},
		{"minimize latency", authz.MinimizeLatency(), "minimize_latency"},
		{"fully consistent", authz.FullyConsistent(), "fully_consistent"},
		{"at least as fresh", authz.AtLeastAsFresh(authz.NewToken("GhUKEzE2")), "at_least_as_fresh"},
		{"zero token", authz.Token{}, "token()"},
		{"token", authz.NewToken("abc"), "token(abc)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWildcardIsOnlyForWrites(t *testing.T) {
	w := authz.Wildcard("user")
	if !w.IsWildcard() {
		t.Error("Wildcard(user).IsWildcard() = false")
	}
	if err := w.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Wildcard(user).Validate() = %v, want %v", err, authz.ErrInvalidRequest)
	}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	if err := (authz.Relationship{Resource: t1, Relation: "viewer", Subject: w}).Validate(); err != nil {
		t.Errorf("a relationship to user:* is invalid: %v", err)
	}
	withRel := authz.Wildcard("group")
	withRel.Relation = "member"
	if err := (authz.Relationship{Resource: t1, Relation: "viewer", Subject: withRel}).Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("a relationship to group:*#member validated: %v", err)
	}
	renamed := authz.Wildcard("user")
	renamed.ID = "alice"
	if err := (authz.Relationship{Resource: t1, Relation: "viewer", Subject: renamed}).Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("a wildcard whose id was changed validated: %v", err)
	}
	// A wildcard cannot come from data: "*" as an id string is malformed.
	for _, fromData := range []authz.Subject{{Type: "user", ID: authz.WildcardID}, {Type: "group", ID: "*", Relation: "member"}} {
		if fromData.IsWildcard() {
			t.Errorf("%#v.IsWildcard() = true", fromData)
		}
		if err := (authz.Relationship{Resource: t1, Relation: "viewer", Subject: fromData}).Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("a relationship to %#v validated: %v", fromData, err)
		}
		if fromData == authz.Wildcard(fromData.Type) {
			t.Errorf("%#v equals Wildcard(%q)", fromData, fromData.Type)
		}
	}
	if s, err := authz.ParseSubject("user:*"); err == nil {
		t.Errorf("ParseSubject(user:*) = %v, want an error", s)
	}
	if err := (authz.CheckRequest{Subject: w, Resource: t1, Permission: "read"}).Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("a check for user:* validated: %v", err)
	}
}

func TestDecisionZeroValueDenies(t *testing.T) {
	var d authz.Decision
	if d.Allowed() || d.String() != "denied" {
		t.Errorf("zero Decision: Allowed %v (%s); want a denial", d.Allowed(), d)
	}
	if d != authz.Deny() {
		t.Error("zero Decision differs from Deny()")
	}
	if a := authz.Allow(); !a.Allowed() || a.String() != "allowed" {
		t.Errorf("Allow(): Allowed %v (%s)", a.Allowed(), a)
	}
}

func TestLookupResult(t *testing.T) {
	var zero authz.LookupResult
	if len(zero.IDs()) != 0 || zero.Contains("t1") || zero.Cursor() != "" {
		t.Errorf("zero LookupResult = ids %v, cursor %q; want an empty list", zero.IDs(), zero.Cursor())
	}
	empty := authz.IDs([]string{}, "")
	if empty.Contains("t1") {
		t.Error("an empty list admits t1")
	}
	some := authz.IDs([]string{"t1", "t2"}, "next")
	if !some.Contains("t2") || some.Contains("t3") || some.Cursor() != "next" {
		t.Errorf("IDs([t1 t2], next): Contains(t2) %v, Contains(t3) %v, Cursor %q", some.Contains("t2"), some.Contains("t3"), some.Cursor())
	}
}

// TestFilter: the zero Filter admits nothing; only Unfiltered admits
// everything; Narrow never widens.
func TestFilter(t *testing.T) {
	var zero authz.Filter
	if !zero.Empty() || zero.All() || zero.Allows("t1") || zero.IDs() != nil || zero.Cursor() != "" {
		t.Errorf("zero Filter: Empty %v, All %v, Allows(t1) %v", zero.Empty(), zero.All(), zero.Allows("t1"))
	}
	some := authz.FilterIDs([]string{"t1", "t2"}, "next")
	if some.Empty() || some.All() || !some.Allows("t2") || some.Allows("t3") || some.Cursor() != "next" {
		t.Errorf("FilterIDs([t1 t2], next): Empty %v, All %v, Allows(t2) %v, Allows(t3) %v, Cursor %q", some.Empty(), some.All(), some.Allows("t2"), some.Allows("t3"), some.Cursor())
	}
	all := authz.Unfiltered()
	if all.Empty() || !all.All() || !all.Allows("anything") || all.IDs() != nil {
		t.Errorf("Unfiltered(): Empty %v, All %v, Allows %v, IDs %v", all.Empty(), all.All(), all.Allows("anything"), all.IDs())
	}
	for name, tc := range map[string]struct {
		f    authz.Filter
		id   string
		want []string
	}{
		"inside":          {some, "t1", []string{"t1"}},
		"outside":         {some, "t3", nil},
		"malformed":       {all, "t 1", nil},
		"unfiltered":      {all, "t9", []string{"t9"}},
		"zero stays zero": {zero, "t1", nil},
	} {
		got := tc.f.Narrow(tc.id)
		if diff := cmp.Diff(tc.want, got.IDs()); diff != "" || got.All() || (tc.want == nil) != got.Empty() {
			t.Errorf("%s: Narrow(%q) = all %v, ids %v", name, tc.id, got.All(), got.IDs())
		}
	}
}

func TestConsistency(t *testing.T) {
	if authz.AtLeastAsFresh(authz.Token{}) != authz.FullyConsistent() {
		t.Error("AtLeastAsFresh(zero token) is not FullyConsistent")
	}
	c := authz.AtLeastAsFresh(authz.NewToken("tok"))
	if c.Mode() != authz.AtLeastAsFreshMode || c.Token().Value() != "tok" {
		t.Errorf("AtLeastAsFresh(tok) = mode %v, token %v", c.Mode(), c.Token())
	}
	var zero authz.Consistency
	if zero != authz.MinimizeLatency() || zero.Mode() != authz.MinimizeLatencyMode {
		t.Error("the zero Consistency is not MinimizeLatency")
	}
	if strings.Contains(c.String(), "tok") {
		t.Errorf("Consistency.String() = %q prints the token", c.String())
	}
	if !(authz.Token{}).IsZero() || authz.NewToken("x").IsZero() {
		t.Error("Token.IsZero is wrong")
	}
}

func TestRegisterRequest(t *testing.T) {
	t1 := authz.Resource{Type: "task", ID: "t1"}
	alice := authz.Subject{Type: "user", ID: "alice"}
	a1 := authz.Resource{Type: "agent", ID: "a1"}
	tests := []struct {
		name string
		req  authz.RegisterRequest
		want []string
	}{
		{"defaults", authz.RegisterRequest{Resource: t1, Owner: alice, Parent: &a1}, []string{"task:t1#owner@user:alice", "task:t1#parent@agent:a1"}},
		{"no parent", authz.RegisterRequest{Resource: t1, Owner: alice}, []string{"task:t1#owner@user:alice"}},
		{"custom relations", authz.RegisterRequest{Resource: t1, Owner: alice, OwnerRelation: "creator", Parent: &a1, ParentRelation: "agent"}, []string{"task:t1#creator@user:alice", "task:t1#agent@agent:a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range tt.req.Relationships() {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Relationships() mismatch (-want +got):\n%s", diff)
			}
			if err := tt.req.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
		})
	}
	for name, req := range map[string]authz.RegisterRequest{
		"wildcard owner":      {Resource: t1, Owner: authz.Wildcard("user")},
		"malformed resource":  {Resource: authz.Resource{Type: "task", ID: "t 1"}, Owner: alice},
		"malformed owner":     {Resource: t1, Owner: authz.Subject{Type: "user"}},
		"malformed relation":  {Resource: t1, Owner: alice, OwnerRelation: "Owner"},
		"malformed parent id": {Resource: t1, Owner: alice, Parent: &authz.Resource{Type: "agent", ID: "a 1"}},
		"wildcard parent":     {Resource: t1, Owner: alice, Parent: &authz.Resource{Type: "agent", ID: authz.WildcardID}},
	} {
		if err := req.Validate(); !errors.Is(err, authz.ErrInvalidRequest) {
			t.Errorf("Validate() of a request with a %s = %v, want %v", name, err, authz.ErrInvalidRequest)
		}
	}
}

func TestCheckRequestValidate(t *testing.T) {
	alice := authz.Subject{Type: "user", ID: "alice"}
	t1 := authz.Resource{Type: "task", ID: "t1"}
	tests := []struct {
		name string
		req  authz.CheckRequest
		ok   bool
	}{
		{"well formed", authz.CheckRequest{Subject: alice, Resource: t1, Permission: "read"}, true},
		{"subject set", authz.CheckRequest{Subject: authz.Subject{Type: "group", ID: "eng", Relation: "member"}, Resource: t1, Permission: "read"}, true},
		{"wildcard subject", authz.CheckRequest{Subject: authz.Wildcard("user"), Resource: t1, Permission: "read"}, false},
		{"no permission", authz.CheckRequest{Subject: alice, Resource: t1}, false},
		{"wildcard resource", authz.CheckRequest{Subject: alice, Resource: authz.Resource{Type: "task", ID: "*"}, Permission: "read"}, false},
		{"zero", authz.CheckRequest{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, authz.ErrInvalidRequest)) {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// perms is a PermissionSet: type -> names it defines.
type perms map[string][]string

func (p perms) HasPermission(typ, name string) bool {
	for _, n := range p[typ] {
		if n == name {
			return true
		}
	}
	return false
}

var schemaPerms = perms{"task": {"owner", "read", "update", "delete"}, "agent": {"read"}}

func TestNewOperationMapValidatesAgainstTheSchema(t *testing.T) {
	tests := []struct {
		name     string
		mapping  map[string]map[authz.Operation]string
		wantErrs []string // substrings the error must hold; none means success
	}{
		{"valid", map[string]map[authz.Operation]string{"task": {authz.OpRead: "read", authz.OpUpdate: "update"}}, nil},
		{"relation", map[string]map[authz.Operation]string{"task": {authz.OpDelete: "owner"}}, nil},
		{"unknown permission", map[string]map[authz.Operation]string{"task": {authz.OpCancel: "cancel"}}, []string{`"cancel"`}},
		{"unknown type", map[string]map[authz.Operation]string{"tasks": {authz.OpRead: "read"}}, []string{"tasks"}},
		{"permission of another type", map[string]map[authz.Operation]string{"agent": {authz.OpUpdate: "update"}}, []string{"agent"}},
		{"every bad entry listed", map[string]map[authz.Operation]string{"task": {authz.OpCancel: "cancel", authz.OpExecute: "run"}}, []string{`"cancel"`, `"run"`}},
		{"malformed permission", map[string]map[authz.Operation]string{"task": {authz.OpRead: "Read"}}, []string{"malformed"}},
		{"empty operation", map[string]map[authz.Operation]string{"task": {"": "read"}}, []string{"empty operation"}},
		{"malformed type", map[string]map[authz.Operation]string{"Task": {authz.OpRead: "read"}}, []string{"Task"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := authz.NewOperationMap(schemaPerms, tt.mapping)
			if len(tt.wantErrs) == 0 {
				if err != nil || m == nil {
					t.Fatalf("NewOperationMap = %v, %v", m, err)
				}
				return
			}
			if err == nil || m != nil {
				t.Fatalf("NewOperationMap = %v, %v; want a setup error", m, err)
			}
			for _, s := range tt.wantErrs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

// TestNewOperationMapNeedsASchema: a map that nothing validates is a
// setup error, also with a typed nil schema.
func TestNewOperationMapNeedsASchema(t *testing.T) {
	var typedNil *schema.Schema
	for name, s := range map[string]authz.PermissionSet{"nil": nil, "typed nil": typedNil} {
		m, err := authz.NewOperationMap(s, map[string]map[authz.Operation]string{"task": {authz.OpCancel: "cancel"}})
		if !errors.Is(err, authz.ErrInvalidRequest) || m != nil {
			t.Errorf("NewOperationMap(%s schema) = %v, %v; want %v", name, m, err, authz.ErrInvalidRequest)
		}
	}
}

func TestOperationMapUnmappedFailsClosed(t *testing.T) {
	m := newOps(t)
	if p, err := m.Permission("task", authz.OpUpdate); err != nil || p != "update" {
		t.Errorf("Permission(task, update) = %q, %v; want update", p, err)
	}
	var nilMap *authz.OperationMap
	for name, f := range map[string]func() (string, error){
		"unmapped operation": func() (string, error) { return m.Permission("task", "archive") },
		"unmapped type":      func() (string, error) { return m.Permission("agent", authz.OpRead) },
		"nil map":            func() (string, error) { return nilMap.Permission("task", authz.OpRead) },
	} {
		if p, err := f(); !errors.Is(err, authz.ErrInvalidRequest) || p != "" {
			t.Errorf("%s: Permission = %q, %v; want %v", name, p, err, authz.ErrInvalidRequest)
		}
	}
	if diff := cmp.Diff([]authz.Operation{authz.OpDelete, authz.OpRead, authz.OpUpdate}, m.Operations("task")); diff != "" {
		t.Errorf("Operations(task) mismatch (-want +got):\n%s", diff)
	}
	if ops := nilMap.Operations("task"); ops != nil {
		t.Errorf("nil map Operations = %v", ops)
	}
}

func newOps(t *testing.T) *authz.OperationMap {
	t.Helper()
	m, err := authz.NewOperationMap(schemaPerms, map[string]map[authz.Operation]string{
		"task": {authz.OpRead: "read", authz.OpUpdate: "update", authz.OpDelete: "delete"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// countingEngine is a [authz.Reader] that allows the checks of allow and
// counts every call, so tests can assert that the Guard did not ask.
type countingEngine struct {
	allow map[authz.CheckRequest]bool // keyed without consistency
	err   error                       // returned by Check, with an allow
	calls atomic.Int32
	items [][]authz.CheckRequest // the items of each CheckMany
}

func (f *countingEngine) decide(req authz.CheckRequest) authz.Decision {
	req.Consistency = authz.Consistency{}
	if f.allow[req] {
		return authz.Allow()
	}
	return authz.Deny()
}

func (f *countingEngine) Check(_ context.Context, req authz.CheckRequest) (authz.Decision, error) {
	f.calls.Add(1)
	if f.err != nil {
		return authz.Allow(), f.err // a faulty engine: the Guard must not trust the decision
	}
	return f.decide(req), nil
}

func (f *countingEngine) CheckMany(_ context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	f.calls.Add(1)
	f.items = append(f.items, req.Items)
	out := make([]authz.CheckResult, len(req.Items))
	for i, it := range req.Items {
		out[i].Decision = f.decide(it)
		if it.Resource.ID == "broken" {
			out[i] = authz.CheckResult{Decision: authz.Allow(), Err: authz.ErrUnavailable}
		}
	}
	return out, nil
}

func (f *countingEngine) Lookup(_ context.Context, req authz.LookupRequest) (authz.LookupResult, error) {
	f.calls.Add(1)
	return authz.IDs([]string{"t1"}, ""), nil
}

var (
	alice = authz.Subject{Type: "user", ID: "alice"}
	task1 = authz.Resource{Type: "task", ID: "t1"}
	task2 = authz.Resource{Type: "task", ID: "t2"}
)

// newGuard returns a Guard whose engine lets alice read and update t1.
func newGuard(t *testing.T) (*authz.Guard, *countingEngine) {
	t.Helper()
	eng := &countingEngine{allow: map[authz.CheckRequest]bool{
		{Subject: alice, Resource: task1, Permission: "read"}:   true,
		{Subject: alice, Resource: task1, Permission: "update"}: true,
	}}
	return authz.NewGuard(eng, newOps(t)), eng
}

func TestGuardAuthorize(t *testing.T) {
	g, eng := newGuard(t)
	ctx := t.Context()
	if err := g.Authorize(ctx, authz.Question{Subject: alice, Resource: task1, Operation: authz.OpRead}); err != nil {
		t.Errorf("Authorize(read t1) = %v, want nil", err)
	}
	err := g.Authorize(ctx, authz.Question{Subject: alice, Resource: task1, Operation: authz.OpDelete})
	var denied *authz.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("Authorize(delete t1) = %v, want a *DeniedError", err)
	}
	want := authz.DeniedError{Resource: task1, Operation: authz.OpDelete, Permission: "delete"}
	if diff := cmp.Diff(want, *denied); diff != "" {
		t.Errorf("DeniedError mismatch (-want +got):\n%s", diff)
	}
	if !errors.Is(err, authz.ErrDenied) || errors.Is(err, authz.ErrNotFound) {
		t.Errorf("denial matches ErrDenied %v, ErrNotFound %v; want true, false", errors.Is(err, authz.ErrDenied), errors.Is(err, authz.ErrNotFound))
	}
	if n := eng.calls.Load(); n != 2 {
		t.Errorf("engine calls = %d, want 2", n)
	}
	d, err := g.Decide(ctx, authz.Question{Subject: alice, Resource: task1, Operation: authz.OpUpdate})
	if err != nil || !d.Allowed() {
		t.Errorf("Check(update t1) = %v, %v; want allowed by the engine", d, err)
	}
}

func TestGuardRejectsBeforeAskingTheEngine(t *testing.T) {
	tests := []struct {
		name string
		q    authz.Question
	}{
		{"unmapped operation", authz.Question{Subject: alice, Resource: task1, Operation: authz.OpCancel}},
		{"unmapped type", authz.Question{Subject: alice, Resource: authz.Resource{Type: "agent", ID: "a1"}, Operation: authz.OpRead}},
		{"malformed resource id", authz.Question{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t/../1 "}, Operation: authz.OpRead}},
		{"wildcard resource", authz.Question{Subject: alice, Resource: authz.Resource{Type: "task", ID: "*"}, Operation: authz.OpRead}},
		{"wildcard subject", authz.Question{Subject: authz.Wildcard("user"), Resource: task1, Operation: authz.OpRead}},
		{"malformed subject", authz.Question{Subject: authz.Subject{Type: "user", ID: "a@b"}, Resource: task1, Operation: authz.OpRead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, eng := newGuard(t)
			ctx := t.Context()
			d, err := g.Decide(ctx, tt.q)
			if !errors.Is(err, authz.ErrInvalidRequest) || d.Allowed() {
				t.Errorf("Check = %v, %v; want a denial with %v", d, err, authz.ErrInvalidRequest)
			}
			if err := g.Authorize(ctx, tt.q); !errors.Is(err, authz.ErrInvalidRequest) || errors.Is(err, authz.ErrDenied) {
				t.Errorf("Authorize = %v, want %v", err, authz.ErrInvalidRequest)
			}
			res, err := g.DecideMany(ctx, []authz.Question{tt.q})
			if err != nil || len(res) != 1 || !errors.Is(res[0].Err, authz.ErrInvalidRequest) || res[0].Decision.Allowed() {
				t.Errorf("CheckMany = %v, %v; want one item with %v", res, err, authz.ErrInvalidRequest)
			}
			if n := eng.calls.Load(); n != 0 {
				t.Errorf("engine calls = %d, want 0", n)
			}
		})
	}
}

func TestGuardLookupRejectsBeforeAskingTheEngine(t *testing.T) {
	g, eng := newGuard(t)
	ctx := t.Context()
	if _, err := g.Lookup(ctx, authz.ListQuestion{Subject: alice, ResourceType: "task", Operation: authz.OpCancel}); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Lookup of an unmapped operation = %v, want %v", err, authz.ErrInvalidRequest)
	}
	if _, err := g.Lookup(ctx, authz.ListQuestion{Subject: authz.Wildcard("user"), ResourceType: "task", Operation: authz.OpRead}); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("Lookup for user:* = %v, want %v", err, authz.ErrInvalidRequest)
	}
	bypassed := authz.WithBypass(ctx, authz.Bypass{Identity: authz.Subject{Type: "service", ID: "scheduler"}})
	if _, err := g.Lookup(bypassed, authz.ListQuestion{Subject: alice, ResourceType: "task", Operation: authz.OpCancel}); !errors.Is(err, authz.ErrInvalidRequest) {
		t.Errorf("bypassed Lookup of an unmapped operation = %v, want %v", err, authz.ErrInvalidRequest)
	}
	if n := eng.calls.Load(); n != 0 {
		t.Errorf("engine calls = %d, want 0", n)
	}
}

func TestGuardBypass(t *testing.T) {
	g, eng := newGuard(t)
	ctx := authz.WithBypass(t.Context(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "scheduler"}})
	q := authz.Question{Subject: alice, Resource: task2, Operation: authz.OpDelete}
	d, err := g.Decide(ctx, q)
	if _, ok := authz.BypassFor(ctx, q.Resource); err != nil || !d.Allowed() || !ok {
		t.Errorf("bypassed Decide = %v, %v (BypassFor %v); want allowed by the bypass", d, err, ok)
	}
	if err := g.Authorize(ctx, q); err != nil {
		t.Errorf("bypassed Authorize = %v", err)
	}
	res, err := g.DecideMany(ctx, []authz.Question{q, {Subject: alice, Resource: task1, Operation: authz.OpRead}})
	if err != nil || len(res) != 2 || !res[0].Decision.Allowed() || !res[1].Decision.Allowed() {
		t.Errorf("bypassed DecideMany = %v, %v; want two allows", res, err)
	}
	lr, err := g.Lookup(ctx, authz.ListQuestion{Subject: alice, ResourceType: "task", Operation: authz.OpRead})
	if err != nil || !lr.All() {
		t.Errorf("bypassed Lookup = %v, %v; want unfiltered", lr, err)
	}
	if n := eng.calls.Load(); n != 0 {
		t.Errorf("engine calls = %d, want 0", n)
	}
	// A bypass does not admit what can never be valid.
	for _, bad := range []authz.Question{
		{Subject: alice, Resource: task1, Operation: authz.OpCancel},
		{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t 1"}, Operation: authz.OpRead},
	} {
		if d, err := g.Decide(ctx, bad); !errors.Is(err, authz.ErrInvalidRequest) || d.Allowed() {
			t.Errorf("bypassed Check(%v %v) = %v, %v; want %v", bad.Operation, bad.Resource, d, err, authz.ErrInvalidRequest)
		}
	}
}

func TestBypassOnlyThroughWithBypass(t *testing.T) {
	type otherKey struct{}
	scheduler := authz.Bypass{Identity: authz.Subject{Type: "service", ID: "scheduler"}}
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{"no bypass", context.Background()},
		{"string key", context.WithValue(context.Background(), "bypass", scheduler)},          //nolint:staticcheck // the point of the test
		{"string key pointer", context.WithValue(context.Background(), "bypass", &scheduler)}, //nolint:staticcheck // the point of the test
		{"other key type", context.WithValue(context.Background(), otherKey{}, &scheduler)},
		{"bypass without identity", authz.WithBypass(context.Background(), authz.Bypass{})},
		{"bypass without identity id", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service"}})},
		{"bypass as service:*", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "*"}})},
		{"bypass as a wildcard", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Wildcard("service")})},
		{"bypass with a space", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "a b"}})},
		{"bypass with a hash", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "x#y"}})},
		{"bypass with a relation", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "service", ID: "x", Relation: "member"}})},
		{"bypass with a bad type", authz.WithBypass(context.Background(), authz.Bypass{Identity: authz.Subject{Type: "Service!", ID: "x"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := authz.BypassFrom(tt.ctx); ok {
				t.Error("BypassFrom found a bypass")
			}
			g, eng := newGuard(t)
			d, err := g.Decide(tt.ctx, authz.Question{Subject: alice, Resource: task2, Operation: authz.OpDelete})
			if err != nil || d.Allowed() {
				t.Errorf("Check = %v, %v; want the engine's denial", d, err)
			}
			if n := eng.calls.Load(); n != 1 {
				t.Errorf("engine calls = %d, want 1", n)
			}
		})
	}
}

func TestBypassFrom(t *testing.T) {
	b := authz.Bypass{Identity: authz.Subject{Type: "service", ID: "scheduler"}}
	got, ok := authz.BypassFrom(authz.WithBypass(context.Background(), b))
	if !ok || got.Identity != b.Identity {
		t.Errorf("BypassFrom = %v, %v; want %v", got, ok, b)
	}
}

func TestGuardScopedBypass(t *testing.T) {
	g, eng := newGuard(t)
	ctx := authz.WithBypass(t.Context(), authz.Bypass{
		Identity: authz.Subject{Type: "service", ID: "agent-a1"},
		Scope:    func(r authz.Resource) bool { return r == task2 },
	})
	d, err := g.Decide(ctx, authz.Question{Subject: alice, Resource: task2, Operation: authz.OpDelete})
	if _, ok := authz.BypassFor(ctx, task2); err != nil || !d.Allowed() || !ok {
		t.Errorf("Decide in scope = %v, %v (BypassFor %v); want allowed by the bypass", d, err, ok)
	}
	if n := eng.calls.Load(); n != 0 {
		t.Errorf("engine calls after an in-scope check = %d, want 0", n)
	}
	d, err = g.Decide(ctx, authz.Question{Subject: alice, Resource: task1, Operation: authz.OpDelete})
	if _, ok := authz.BypassFor(ctx, task1); err != nil || d.Allowed() || ok {
		t.Errorf("Check out of scope = %v, %v; want the engine's denial", d, err)
	}
	lr, err := g.Lookup(ctx, authz.ListQuestion{Subject: alice, ResourceType: "task", Operation: authz.OpRead})
	if err != nil || lr.All() {
		t.Errorf("Lookup under a scoped bypass = %v, %v; want the engine's list", lr, err)
	}
	if n := eng.calls.Load(); n != 2 {
		t.Errorf("engine calls = %d, want 2", n)
	}
}

// TestGuardBypassWithAPanickingScope: a Scope that panics admits nothing,
// so the Guard asks the engine as without a bypass (a denial here) instead
// of letting the panic escape to the caller; BypassFor says no bypass.
func TestGuardBypassWithAPanickingScope(t *testing.T) {
	g, eng := newGuard(t)
	ctx := authz.WithBypass(t.Context(), authz.Bypass{
		Identity: authz.Subject{Type: "service", ID: "agent-a1"},
		Scope:    func(authz.Resource) bool { panic("scope bug") },
	})
	q := authz.Question{Subject: alice, Resource: task2, Operation: authz.OpDelete}
	d, err := g.Decide(ctx, q)
	if err != nil || d.Allowed() {
		t.Errorf("Decide under a panicking scope = %v, %v; want the engine's denial", d, err)
	}
	if err := g.Authorize(ctx, q); !errors.Is(err, authz.ErrDenied) {
		t.Errorf("Authorize under a panicking scope = %v, want ErrDenied", err)
	}
	if _, ok := authz.BypassFor(ctx, task2); ok {
		t.Error("BypassFor under a panicking scope = true")
	}
	if n := eng.calls.Load(); n != 2 {
		t.Errorf("engine calls = %d, want 2", n)
	}
}

func TestGuardEngineErrorIsNeverAnAllow(t *testing.T) {
	g, eng := newGuard(t)
	eng.err = fmt.Errorf("%w: connection refused", authz.ErrUnavailable)
	q := authz.Question{Subject: alice, Resource: task1, Operation: authz.OpRead}
	d, err := g.Decide(t.Context(), q)
	if !errors.Is(err, authz.ErrUnavailable) || d.Allowed() {
		t.Errorf("Check = %v, %v; want a denial with %v", d, err, authz.ErrUnavailable)
	}
	err = g.Authorize(t.Context(), q)
	if !errors.Is(err, authz.ErrUnavailable) || errors.Is(err, authz.ErrDenied) {
		t.Errorf("Authorize = %v, want %v and not a denial", err, authz.ErrUnavailable)
	}
}

func TestGuardCheckMany(t *testing.T) {
	g, eng := newGuard(t)
	qs := []authz.Question{
		{Subject: alice, Resource: task1, Operation: authz.OpRead},
		{Subject: alice, Resource: authz.Resource{Type: "task", ID: "t 1"}, Operation: authz.OpRead},
		{Subject: alice, Resource: task2, Operation: authz.OpRead},
		{Subject: alice, Resource: task1, Operation: authz.OpCancel},
		{Subject: alice, Resource: authz.Resource{Type: "task", ID: "broken"}, Operation: authz.OpRead},
		{Subject: alice, Resource: task1, Operation: authz.OpUpdate},
	}
	res, err := g.DecideMany(t.Context(), qs)
	if err != nil || len(res) != len(qs) {
		t.Fatalf("CheckMany = %d results, %v", len(res), err)
	}
	type result struct {
		Allowed bool
		Err     error
	}
	var got []result
	for _, r := range res {
		got = append(got, result{r.Decision.Allowed(), r.Err})
	}
	want := []result{{true, nil}, {false, authz.ErrInvalidRequest}, {false, nil}, {false, authz.ErrInvalidRequest}, {false, authz.ErrUnavailable}, {true, nil}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
		t.Errorf("CheckMany mismatch (-want +got):\n%s", diff)
	}
	if n := eng.calls.Load(); n != 1 || len(eng.items[0]) != 4 {
		t.Errorf("engine calls = %d with %v, want 1 call with the 4 valid items", n, eng.items)
	}
	for i, q := range qs {
		err := g.AuthorizeErr(q, res[i])
		switch {
		case want[i].Err != nil && !errors.Is(err, want[i].Err):
			t.Errorf("AuthorizeErr(item %d) = %v, want %v", i, err, want[i].Err)
		case want[i].Err == nil && want[i].Allowed && err != nil:
			t.Errorf("AuthorizeErr(item %d) = %v, want nil", i, err)
		case want[i].Err == nil && !want[i].Allowed && !errors.Is(err, authz.ErrDenied):
			t.Errorf("AuthorizeErr(item %d) = %v, want %v", i, err, authz.ErrDenied)
		}
	}
}

// shortEngine answers CheckMany with one result too few.
type shortEngine struct{ countingEngine }

func (s *shortEngine) CheckMany(ctx context.Context, req authz.CheckManyRequest) ([]authz.CheckResult, error) {
	res, err := s.countingEngine.CheckMany(ctx, req)
	return res[:len(res)-1], err
}

func TestGuardCheckManyRejectsAShortAnswer(t *testing.T) {
	g := authz.NewGuard(&shortEngine{}, newOps(t))
	qs := []authz.Question{{Subject: alice, Resource: task1, Operation: authz.OpRead}, {Subject: alice, Resource: task2, Operation: authz.OpRead}}
	if res, err := g.DecideMany(t.Context(), qs); err == nil {
		t.Errorf("CheckMany = %v, nil; want an error", res)
	}
}

func TestDeniedError(t *testing.T) {
	err := fmt.Errorf("handler: %w", &authz.DeniedError{Resource: task1, Operation: authz.OpUpdate, Permission: "update"})
	if !errors.Is(err, authz.ErrDenied) {
		t.Error("DeniedError does not match ErrDenied")
	}
	for _, other := range []error{authz.ErrNotFound, authz.ErrInvalidRequest, authz.ErrUnavailable, authz.ErrConflict} {
		if errors.Is(err, other) {
			t.Errorf("DeniedError matches %v", other)
		}
	}
	var de *authz.DeniedError
	if !errors.As(err, &de) || de.Resource != task1 {
		t.Errorf("errors.As = %v, %v", de, err)
	}
	if got, want := de.Error(), "authz: permission denied: update on task:t1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&authz.DeniedError{Resource: task1, Permission: "read"}).Error(), "authz: permission denied: read on task:t1"; got != want {
		t.Errorf("Error() without an operation = %q, want %q", got, want)
	}
}

func TestErrorVocabularyIsDistinct(t *testing.T) {
	all := []error{authz.ErrDenied, authz.ErrNotFound, authz.ErrUnavailable, authz.ErrInvalidRequest, authz.ErrConflict}
	for i, a := range all {
		if !strings.HasPrefix(a.Error(), "authz: ") {
			t.Errorf("%q is not prefixed with the package", a)
		}
		for j, b := range all {
			if (i == j) != errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, errors.Is(a, b))
			}
		}
	}
	if err := authz.Invalidf("bad %s", "thing"); !errors.Is(err, authz.ErrInvalidRequest) || err.Error() != "authz: invalid request: bad thing" {
		t.Errorf("Invalidf = %q", err)
	}
}

func TestBypassForHonoursScope(t *testing.T) {
	own := authz.Resource{Type: "task", ID: "mine"}
	other := authz.Resource{Type: "task", ID: "theirs"}
	ctx := authz.WithBypass(t.Context(), authz.Bypass{
		Identity: authz.Subject{Type: "agent", ID: "a1"},
		Scope:    func(r authz.Resource) bool { return r == own },
	})
	if b, ok := authz.BypassFor(ctx, own); !ok || b.Identity.ID != "a1" {
		t.Errorf("BypassFor(own) = %v, %v; want the bypass", b, ok)
	}
	if _, ok := authz.BypassFor(ctx, other); ok {
		t.Error("BypassFor(other) applies outside its scope")
	}
	if _, ok := authz.BypassFor(t.Context(), own); ok {
		t.Error("BypassFor without a bypass reports one")
	}
}
