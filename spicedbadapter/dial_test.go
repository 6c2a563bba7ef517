package spicedbadapter_test

import (
	"errors"
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
	}{
		{name: "none", endpoints: nil},
		{name: "empty", endpoints: []string{""}},
		{name: "no port", endpoints: []string{"127.0.0.1"}},
		{name: "no host", endpoints: []string{":50051"}},
		{name: "repeated", endpoints: []string{"127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50051"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := spicedbadapter.Dial(tc.endpoints, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, authz.ErrInvalidRequest) {
				t.Errorf("Dial(%q): %v, want ErrInvalidRequest", tc.endpoints, err)
			}
		})
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
