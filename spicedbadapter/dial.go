package spicedbadapter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
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
// Each endpoint is host:port: an IP address (IPv6 in brackets) or a DNS
// name, and a port from 1 to 65535. No endpoint, an empty or malformed one
// (spaces, a scheme such as unix://, a port out of range) or one naming a
// node already listed (the same endpoint twice, localhost and 127.0.0.1 or
// [::1] on one port, a name in another case) is an error matching
// [authz.ErrInvalidRequest] that names the entry. Dial does not wait for any node: connections
// are made in the background, as by grpc.NewClient.
func Dial(endpoints []string, opts ...grpc.DialOption) (*authzed.Client, error) {
	if len(endpoints) == 0 {
		return nil, authz.Invalidf("spicedbadapter: dial: no endpoint")
	}
	addrs := make([]resolver.Address, 0, len(endpoints))
	seen := make(map[string]int, len(endpoints)) // endpoint key -> its number
	for i, e := range endpoints {
		host, keys, err := parseEndpoint(e)
		if err != nil {
			return nil, authz.Invalidf("spicedbadapter: dial: endpoint %d %s: %v", i+1, quoteEndpoint(e), err)
		}
		for _, k := range keys {
			if j, ok := seen[k]; ok {
				return nil, authz.Invalidf("spicedbadapter: dial: endpoint %d %s names the same node as endpoint %d", i+1, quoteEndpoint(e), j)
			}
		}
		for _, k := range keys {
			seen[k] = i + 1
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

// parseEndpoint checks that e is host:port with a valid host and port, and
// returns the host and the keys of the nodes e may name: a lower-case name
// without a trailing dot, an IP address in canonical form, or for
// localhost both loopback addresses, so that the same node listed twice
// under two spellings is caught.
func parseEndpoint(e string) (host string, keys []string, err error) {
	host, port, err := net.SplitHostPort(e)
	if err != nil {
		return "", nil, errors.New("is not host:port")
	}
	if host == "" {
		return "", nil, errors.New("has no host")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || port[0] == '0' {
		return "", nil, errors.New("has no port from 1 to 65535")
	}
	var names []string
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", nil, errors.New("has an IPv6 zone")
		}
		if ip.IsUnspecified() {
			return "", nil, errors.New("has an unspecified address (0.0.0.0 or ::), which names no node")
		}
		names = []string{ip.Unmap().String()}
	} else {
		name := strings.TrimSuffix(strings.ToLower(host), ".")
		if !validHostname(name) {
			return "", nil, errors.New("has a host that is neither an IP address nor a DNS name")
		}
		names = []string{name}
		if name == "localhost" {
			names = []string{"127.0.0.1", "::1"}
		}
	}
	for _, h := range names {
		keys = append(keys, net.JoinHostPort(h, strconv.FormatUint(n, 10)))
	}
	return host, keys, nil
}

// validHostname reports whether name (lower case, no trailing dot) is a DNS
// name: dot-separated labels of 1 to 63 letters, digits and hyphens, not
// starting or ending with a hyphen, 253 characters at most, the last not
// all digits (RFC 3696 section 2: so that an IPv4 address in a short or
// zero-padded form, 127.1 or 127.0.0.01, which resolvers may read as an
// address, is not taken for a name and let one node be listed twice).
func validHostname(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; strings.Trim(last, "0123456789") == "" {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// quoteEndpoint returns e quoted for an error message, unless it could
// hold a secret (user information such as user:password@) or is too long
// to be an address, in which case only its length is named.
func quoteEndpoint(e string) string {
	if strings.Contains(e, "@") || len(e) > 300 {
		return fmt.Sprintf("(%d characters, not shown)", len(e))
	}
	return strconv.Quote(e)
}
