package spicedbadapter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fgac-go/fgac/authz"
	"github.com/fgac-go/fgac/internal/spicedbtest"
	"github.com/fgac-go/fgac/spicedbadapter"
)

func TestDialRejectsBadEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endpoints []string
		names     string // what the error must name, besides ErrInvalidRequest
	}{
		{name: "none", endpoints: nil},
		{name: "empty", endpoints: []string{""}, names: `endpoint 1 ""`},
		{name: "empty entry", endpoints: []string{"127.0.0.1:50051", "", "127.0.0.1:50052"}, names: `endpoint 2 ""`},
		{name: "no port", endpoints: []string{"127.0.0.1"}, names: `"127.0.0.1"`},
		{name: "no host", endpoints: []string{":50051"}, names: `":50051"`},
		{name: "space in the host", endpoints: []string{"127.0.0.1:50051", "node 2:50051"}, names: `endpoint 2 "node 2:50051"`},
		{name: "leading space", endpoints: []string{" 127.0.0.1:50051"}, names: `" 127.0.0.1:50051"`},
		{name: "space in the port", endpoints: []string{"127.0.0.1: 50051"}, names: `"127.0.0.1: 50051"`},
		{name: "port 0", endpoints: []string{"127.0.0.1:0"}, names: `"127.0.0.1:0"`},
		{name: "port 99999", endpoints: []string{"127.0.0.1:99999"}, names: `"127.0.0.1:99999"`},
		{name: "named port", endpoints: []string{"127.0.0.1:grpc"}, names: `"127.0.0.1:grpc"`},
		{name: "negative port", endpoints: []string{"127.0.0.1:-1"}, names: `"127.0.0.1:-1"`},
		{name: "unix socket", endpoints: []string{"unix:///run/spicedb.sock"}, names: `"unix:///run/spicedb.sock"`},
		{name: "unix with port", endpoints: []string{"unix://spicedb:50051"}, names: `"unix://spicedb:50051"`},
		{name: "scheme", endpoints: []string{"dns:///spicedb:50051"}, names: `"dns:///spicedb:50051"`},
		{name: "underscore", endpoints: []string{"spice_db:50051"}, names: `"spice_db:50051"`},
		{name: "IPv6 zone", endpoints: []string{"[fe80::1%eth0]:50051"}, names: `endpoint 1`},
		{name: "repeated", endpoints: []string{"127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50051"}, names: `endpoint 3 "127.0.0.1:50051" names the same node as endpoint 1`},
		{name: "localhost and 127.0.0.1", endpoints: []string{"127.0.0.1:50051", "localhost:50051"}, names: `endpoint 2 "localhost:50051" names the same node as endpoint 1`},
		{name: "localhost and ::1", endpoints: []string{"localhost:50051", "[::1]:50051"}, names: `endpoint 2`},
		{name: "case and trailing dot", endpoints: []string{"spicedb-0.example.com:50051", "SpiceDB-0.Example.com.:50051"}, names: `endpoint 2`},
		{name: "mapped IPv4", endpoints: []string{"10.0.0.1:50051", "[::ffff:10.0.0.1]:50051"}, names: `endpoint 2`},
		{name: "short IPv4", endpoints: []string{"127.0.0.1:50051", "127.1:50051"}, names: `endpoint 2 "127.1:50051"`},
		{name: "zero-padded IPv4", endpoints: []string{"127.0.0.01:50051"}, names: `"127.0.0.01:50051"`},
		{name: "numeric name", endpoints: []string{"2130706433:50051"}, names: `"2130706433:50051"`},
		{name: "unspecified IPv4", endpoints: []string{"0.0.0.0:50051"}, names: `"0.0.0.0:50051"`},
		{name: "unspecified IPv6", endpoints: []string{"[::]:50051"}, names: `"[::]:50051"`},
		{name: "credentials are not shown", endpoints: []string{"user:s3cret@10.0.0.1:50051"}, names: `endpoint 1 (26 characters, not shown)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := spicedbadapter.Dial(tc.endpoints, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Fatalf("Dial(%q): %v, want ErrInvalidRequest", tc.endpoints, err)
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Errorf("Dial(%q): %v, want it to name %s", tc.endpoints, err, tc.names)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestDialAcceptsGoodEndpoints(t *testing.T) {
	for _, endpoints := range [][]string{
		{"127.0.0.1:50051"},
		{"127.0.0.1:50051", "127.0.0.2:50051", "127.0.0.1:50052"},
		{"localhost:50051", "localhost:50052"},
		{"[::1]:50051", "127.0.0.1:50051"},
		{"spicedb-0.spicedb.ns.svc.cluster.local:50051", "spicedb-1.spicedb.ns.svc.cluster.local:50051", "10.0.0.3:65535"},
	} {
		c, err := spicedbadapter.Dial(endpoints, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Errorf("Dial(%q): %v", endpoints, err)
			continue
		}
		c.Close()
	}
}

// TestDialedClientSurvivesAStoppedNode balances over two `spicedb serve`
// nodes (each with its own in-memory datastore holding the schema, so
// either can answer a denial) and stops one: every later check is still
// answered, by the other node.
func TestDialedClientSurvivesAStoppedNode(t *testing.T) {
	t.Parallel()
	const key = "fgac-dial-test-key"
	nodes := []*spicedbtest.Server{
		spicedbtest.StartServerWithKey(t, key),
		spicedbtest.StartServerWithKey(t, key),
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken(key)}
	var endpoints []string
	for _, n := range nodes {
		endpoints = append(endpoints, n.Addr())
		c, err := spicedbadapter.Dial([]string{n.Addr()}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := spicedbadapter.WriteSchema(t.Context(), c, schema); err != nil {
			t.Fatalf("WriteSchema to %s: %v", n.Addr(), err)
		}
		c.Close()
	}
	client, err := spicedbadapter.Dial(endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a := spicedbadapter.New(client, nil)
	check := func() error {
		// Fully consistent: a node answers with the schema it was just given.
		d, err := a.Check(t.Context(), authz.CheckRequest{Subject: user("bob"), Resource: task("t1"), Permission: "read", Consistency: authz.FullyConsistent()})
		if err == nil && d.Allowed() {
			t.Fatal("bob allowed on an empty datastore")
		}
		return err
	}
	for i := range 10 {
		if err := check(); err != nil {
			t.Fatalf("check %d with both nodes up: %v", i, err)
		}
	}
	nodes[0].Stop(t)
	for i := range 20 {
		if err := check(); err != nil {
			t.Fatalf("check %d after node 0 stopped: %v", i, err)
		}
	}
}
