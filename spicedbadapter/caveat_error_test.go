package spicedbadapter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fgac-go/fgac/authz"
	fgacschema "github.com/fgac-go/fgac/schema"
)

// TestCaveatErrorsAreDenialsNamingNoValue: SpiceDB's caveat evaluation
// error (a map key the stored context names is missing from the request's
// map) and its parameter type error come back as a *authz.CaveatError
// that names the caveat, not SpiceDB's message (which quotes the key),
// and the Guard answers it as a denial, as it answers a missing resource.
func TestCaveatErrorsAreDenialsNamingNoValue(t *testing.T) {
	const src = `
caveat lkk(m map<bool>, k string) { m[k] }
caveat net(ip ipaddress, cidr string) { ip.in_cidr(cidr) }
definition user {}
definition doc {
	relation viewer: user with lkk | user with net
	permission read = viewer
}`
	a := newAdapter(t, src)
	sch, err := fgacschema.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	bob := authz.Subject{Type: "user", ID: "bob"}
	carol := authz.Subject{Type: "user", ID: "carol"}
	d1 := authz.Resource{Type: "doc", ID: "d1"}
	tok, err := a.Write(t.Context(), authz.WriteRequest{Touch: []authz.Relationship{
		{Resource: d1, Relation: "viewer", Subject: bob, Caveat: authz.Caveat{Name: "lkk", Context: authz.NewContext(map[string]any{"k": "ALICE-SECRET"})}},
		{Resource: d1, Relation: "viewer", Subject: carol, Caveat: authz.Caveat{Name: "net", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fresh := authz.AtLeastAsFresh(tok) // the write, not an older revision
	ops, err := authz.NewOperationMap(sch, map[string]map[authz.Operation]string{"doc": {authz.OpRead: "read"}})
	if err != nil {
		t.Fatal(err)
	}
	g := authz.NewGuard(a, ops)
	for _, tt := range []struct {
		name   string
		sub    authz.Subject
		ctx    map[string]any
		caveat string
	}{
		{"evaluation error", bob, map[string]any{"m": map[string]any{"x": true}}, "lkk"},
		{"parameter type error", carol, map[string]any{"ip": "garbage"}, "net"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := authz.CheckRequest{Subject: tt.sub, Resource: d1, Permission: "read", Context: authz.NewContext(tt.ctx), Consistency: fresh}
			_, err := a.Check(t.Context(), req)
			var ce *authz.CaveatError
			if !errors.As(err, &ce) || ce.Caveat != tt.caveat || !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("Check error = %v, want a *authz.CaveatError of %s", err, tt.caveat)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error quotes a stored value: %v", err)
			}
			d, err := g.Decide(t.Context(), authz.Question{Subject: tt.sub, Resource: d1, Operation: authz.OpRead, Context: authz.NewContext(tt.ctx), Consistency: fresh})
			if err != nil || d.Allowed() {
				t.Errorf("Guard.Decide = %v, %v; want a denial without error", d, err)
			}
		})
	}
}
