package clustertest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers every A query with the loopback addresses of the
// cluster's running nodes and every other query with no records. SpiceDB finds the peers it dispatches
// to by resolving --dispatch-upstream-addr with gRPC's DNS resolver, and
// the nodes of a cluster on one machine differ only in their loopback
// address (127.0.0.1, 127.0.0.2, ...), so this is the cluster's DNS: one
// name for all nodes, as a Kubernetes headless service would give them,
// without touching /etc/hosts. Like a Kubernetes service, which lists
// only the endpoints of running pods, it lists a node only while it runs.
type dnsServer struct {
	conn net.PacketConn
	wg   sync.WaitGroup // the serving goroutine

	mu    sync.Mutex // guards addrs
	addrs []netip.Addr
}

// startDNS serves an empty list on a free UDP port of 127.0.0.1.
func startDNS() (*dnsServer, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("clustertest: dns: %w", err)
	}
	s := &dnsServer{conn: conn}
	s.wg.Go(s.serve)
	return s, nil
}

// set adds addr to the answers, or removes it.
func (s *dnsServer) set(addr netip.Addr, listed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = slices.DeleteFunc(s.addrs, func(a netip.Addr) bool { return a == addr })
	if listed {
		s.addrs = append(s.addrs, addr)
		slices.SortFunc(s.addrs, netip.Addr.Compare)
	}
}

func (s *dnsServer) listed() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.addrs)
}

// addr returns the server's host:port.
func (s *dnsServer) addr() string { return s.conn.LocalAddr().String() }

// close stops the server and waits for its goroutine.
func (s *dnsServer) close() {
	_ = s.conn.Close()
	s.wg.Wait()
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if out, ok := s.answer(buf[:n]); ok {
			_, _ = s.conn.WriteTo(out, from)
		}
	}
}

// answer builds the reply to one query; ok is false for a packet that is
// not a query.
func (s *dnsServer) answer(query []byte) (out []byte, ok bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil || hdr.Response {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired})
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if q.Type == dnsmessage.TypeA {
		for _, a := range s.listed() {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1}
			if b.AResource(rh, dnsmessage.AResource{A: a.As4()}) != nil {
				return nil, false
			}
		}
	}
	out, err = b.Finish()
	return out, err == nil
}
