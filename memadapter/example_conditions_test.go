package memadapter_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/memadapter"
)

// A viewer for seven days, from the office network only: a caveat with a
// stored context, an expiration, and a clock the test controls.
func Example_conditions() {
	now := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	a, err := memadapter.NewWithConfig(`
use expiration

caveat on_network(ip ipaddress, cidr string) {
	ip.in_cidr(cidr)
}

definition user {}

definition task {
	relation viewer: user with on_network and expiration
	permission read = viewer
}
`, memadapter.Config{Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	bob := authz.Subject{Type: "user", ID: "bob"}
	task := authz.Resource{Type: "task", ID: "t1"}
	_, err = a.Write(ctx, authz.WriteRequest{Touch: []authz.Relationship{{
		Resource: task, Relation: "viewer", Subject: bob,
		Caveat:     authz.Caveat{Name: "on_network", Context: authz.NewContext(map[string]any{"cidr": "10.0.0.0/8"})},
		Expiration: now.Add(7 * 24 * time.Hour),
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	check := func(ctx context.Context, c authz.Context) {
		d, err := a.Check(ctx, authz.CheckRequest{Subject: bob, Resource: task, Permission: "read", Context: c})
		fmt.Println(d, d.Missing(), err)
	}
	check(ctx, authz.Context{})
	check(ctx, authz.NewContext(map[string]any{"ip": "10.1.2.3"}))
	check(ctx, authz.NewContext(map[string]any{"ip": "192.168.0.1"}))
	now = now.Add(8 * 24 * time.Hour)
	check(ctx, authz.NewContext(map[string]any{"ip": "10.1.2.3"}))
	// Output:
	// conditional [ip] <nil>
	// allowed [] <nil>
	// denied [] <nil>
	// denied [] <nil>
}
