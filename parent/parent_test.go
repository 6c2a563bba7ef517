package parent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/parent"
)

func table(m map[string]string) parent.Resolver {
	return parent.ResolverFunc(func(_ context.Context, id string) (string, error) {
		if p, ok := m[id]; ok {
			return p, nil
		}
		return "", authz.ErrNotFound
	})
}

func TestResolve(t *testing.T) {
	var g parent.Registry
	g.Register("message", "task", table(map[string]string{"m1": "t1", "bad": "", "weird": "t 1", "star": "*"}))
	g.Register("reaction", "message", table(map[string]string{"r1": "m1", "r2": "m-missing"}))
	tests := []struct {
		name    string
		in      authz.Resource
		want    authz.Resource
		wantErr error
	}{
		{"not a child is returned unchanged", authz.Resource{Type: "task", ID: "t9"}, authz.Resource{Type: "task", ID: "t9"}, nil},
		{"child resolves to parent", authz.Resource{Type: "message", ID: "m1"}, authz.Resource{Type: "task", ID: "t1"}, nil},
		{"grandchild resolves to the nearest registered resource", authz.Resource{Type: "reaction", ID: "r1"}, authz.Resource{Type: "task", ID: "t1"}, nil},
		{"missing child is not found", authz.Resource{Type: "message", ID: "nope"}, authz.Resource{}, authz.ErrNotFound},
		{"child of a missing child is not found", authz.Resource{Type: "reaction", ID: "r2"}, authz.Resource{}, authz.ErrNotFound},
		{"empty parent id fails closed", authz.Resource{Type: "message", ID: "bad"}, authz.Resource{}, parent.ErrBadParent},
		{"malformed parent id fails closed", authz.Resource{Type: "message", ID: "weird"}, authz.Resource{}, parent.ErrBadParent},
		{"wildcard parent id fails closed", authz.Resource{Type: "message", ID: "star"}, authz.Resource{}, parent.ErrBadParent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := g.Resolve(context.Background(), tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTargetTypeAndRequire(t *testing.T) {
	var g parent.Registry
	g.Register("message", "task", table(nil))
	g.Register("reaction", "message", table(nil))
	for typ, want := range map[string]string{"reaction": "task", "message": "task", "task": "task"} {
		if got, err := g.TargetType(typ); err != nil || got != want {
			t.Errorf("TargetType(%s) = %q, %v; want %q", typ, got, err, want)
		}
	}
	if err := g.Require("checkpoint"); !errors.Is(err, parent.ErrUnregistered) {
		t.Errorf("Require(unregistered) = %v, want ErrUnregistered", err)
	}
	if err := g.Require("message"); err != nil {
		t.Errorf("Require(message) = %v", err)
	}
}

func TestDepthBound(t *testing.T) {
	g := parent.Registry{MaxDepth: 2}
	g.Register("cone", "ctwo", table(map[string]string{"x": "y"}))
	g.Register("ctwo", "cthree", table(map[string]string{"y": "z"}))
	g.Register("cthree", "task", table(map[string]string{"z": "t"}))
	if _, err := g.Resolve(context.Background(), authz.Resource{Type: "cone", ID: "x"}); !errors.Is(err, parent.ErrBadParent) {
		t.Errorf("deep chain: err = %v, want ErrBadParent", err)
	}
	if _, err := g.TargetType("cone"); !errors.Is(err, parent.ErrBadParent) {
		t.Errorf("deep chain TargetType: err = %v, want ErrBadParent", err)
	}
}

func TestResolverErrorPassesThrough(t *testing.T) {
	boom := errors.New("db down")
	var g parent.Registry
	g.Register("message", "task", parent.ResolverFunc(func(context.Context, string) (string, error) { return "", boom }))
	if _, err := g.Resolve(context.Background(), authz.Resource{Type: "message", ID: "m"}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the resolver's", err)
	}
}

func TestRegisterPanicsOnSetupErrors(t *testing.T) {
	tests := []struct {
		name string
		f    func(g *parent.Registry)
	}{
		{"duplicate", func(g *parent.Registry) { g.Register("message", "task", table(nil)) }},
		{"nil resolver", func(g *parent.Registry) { g.Register("event", "agent", nil) }},
		{"bad type", func(g *parent.Registry) { g.Register("Bad", "task", table(nil)) }},
		{"type cycle", func(g *parent.Registry) { g.Register("task", "message", table(nil)) }},
		{"self parent", func(g *parent.Registry) { g.Register("state", "state", table(nil)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g parent.Registry
			g.Register("message", "task", table(nil))
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f(&g)
		})
	}
}
