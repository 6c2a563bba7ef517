package spicedbadapter

import (
	"fmt"
	"net"
	"slices"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	_ "google.golang.org/grpc/health" // registers the client-side health check that healthCheckConfig names
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/fgac-go/fgac/authz"
)

// ReconnectMaxDelay is the longest wait of a client from [Dial] between
// two attempts to reconnect to a node that went away.
const ReconnectMaxDelay = 5 * time.Second

// clusterScheme is the scheme of the target [Dial] resolves itself; the
// resolver is private to the connection, so the name cannot clash.
const clusterScheme = "fgac-spicedb"

// clusterServiceConfig spreads calls round robin over the nodes whose gRPC
// health service reports PermissionsService as SERVING. A node that stops
// answering its health checks, or whose connection breaks, leaves the
// rotation at once and rejoins when it serves again.
const clusterServiceConfig = `{
	"loadBalancingConfig": [{"round_robin": {}}],
	"healthCheckConfig": {"serviceName": "authzed.api.v1.PermissionsService"}
}`

// Dial returns a client of the SpiceDB nodes at endpoints (host:port each,
// every node of one cluster over one datastore) for [New]. Calls are spread
// round robin over the nodes that pass gRPC health checks, by gRPC's own
// round_robin balancer over the static list; opts add credentials and
// other options, as for authzed.NewClient. The caller closes the client.
//
// A node that dies takes only the calls it was answering with it: they
// fail with Unavailable, which the adapter's retry (see Retries in the
// package documentation) repeats, and the repeat goes to the next node in
// the rotation, within the same budget of attempts. Reads are always safe
// to repeat, and so are the adapter's writes. ZedTokens name revisions of
// the shared datastore, so a token returned by one node is honoured by
// every other. When no node is healthy, calls fail at once with
// Unavailable, which the adapter reports as [authz.ErrUnavailable].
//
// A node that comes back rejoins the rotation at its next reconnection
// attempt; the attempts back off up to [ReconnectMaxDelay] (5s) rather than
// gRPC's default of 2 minutes, so a node that was down for long is not
// left idle for long after its return. Options in opts come after Dial's
// own, so a grpc.WithConnectParams there replaces this backoff.
//
// No endpoint, a malformed one or a repeated one is an error matching
// [authz.ErrInvalidRequest]. Dial does not wait for any node: connections
// are made in the background, as by grpc.NewClient.
func Dial(endpoints []string, opts ...grpc.DialOption) (*authzed.Client, error) {
	if len(endpoints) == 0 {
		return nil, authz.Invalidf("spicedbadapter: dial: no endpoint")
	}
	addrs := make([]resolver.Address, 0, len(endpoints))
	for i, e := range endpoints {
		host, port, err := net.SplitHostPort(e)
		if err != nil || host == "" || port == "" {
			return nil, authz.Invalidf("spicedbadapter: dial: endpoint %d is not host:port", i+1)
		}
		if slices.Contains(endpoints[:i], e) {
			return nil, authz.Invalidf("spicedbadapter: dial: endpoint %d repeats an earlier one", i+1)
		}
		// ServerName: each node's certificate is checked against its own
		// host name, not the synthetic target's.
		addrs = append(addrs, resolver.Address{Addr: e, ServerName: host})
	}
	r := manual.NewBuilderWithScheme(clusterScheme)
	r.InitialState(resolver.State{Addresses: addrs})
	reconnect := backoff.DefaultConfig
	reconnect.MaxDelay = ReconnectMaxDelay
	opts = slices.Concat([]grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(clusterServiceConfig),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnect, MinConnectTimeout: 5 * time.Second}),
	}, opts)
	c, err := authzed.NewClient(clusterScheme+":///spicedb", opts...)
	if err != nil {
		return nil, fmt.Errorf("spicedbadapter: dial: %w", err)
	}
	return c, nil
}
