package fetch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSClient resolves names by asking one DNS server (--dns-server), over
// UDP and over TCP when an answer does not fit, and reports the TTL of the
// records it returns. It implements TTLResolver; it is safe for concurrent
// use. The zero value is not usable: set Server.
type DNSClient struct {
	Server  string        // "host:port" of the DNS server; a bare address means port 53
	Timeout time.Duration // of one query, each of its two tries taking half [4s]
}

var _ TTLResolver = (*DNSClient)(nil)

// LookupNetIP implements Resolver.
func (d *DNSClient) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, _, err := d.LookupNetIPTTL(ctx, network, host)
	return addrs, err
}

// LookupNetIPTTL returns host's IPv4 addresses, then its IPv6 ones
// (network "ip"; "ip4" or "ip6" for one family), and the shortest TTL of
// the records. A name that does not exist, or has no address, is a
// *net.DNSError with IsNotFound; a server that does not answer in time, one
// with IsTimeout; a server failure, one with IsTemporary.
func (d *DNSClient) LookupNetIPTTL(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	var types []dnsmessage.Type
	switch network {
	case "ip4":
		types = []dnsmessage.Type{dnsmessage.TypeA}
	case "ip6":
		types = []dnsmessage.Type{dnsmessage.TypeAAAA}
	default:
		types = []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA}
	}
	name, err := dnsmessage.NewName(dnsName(host))
	if err != nil {
		return nil, 0, &net.DNSError{Err: "invalid name", Name: host, IsNotFound: true}
	}
	type answer struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	}
	answers := make([]chan answer, len(types))
	for i, t := range types {
		answers[i] = make(chan answer, 1)
		go func() {
			addrs, ttl, err := d.query(ctx, name, t)
			answers[i] <- answer{addrs, ttl, err}
		}()
	}
	var addrs []netip.Addr
	var ttl time.Duration
	var firstErr error
	for _, ch := range answers {
		a := <-ch
		if a.err != nil {
			if firstErr == nil {
				firstErr = a.err
			}
			continue
		}
		if len(a.addrs) > 0 && (ttl == 0 || a.ttl < ttl) {
			ttl = a.ttl
		}
		addrs = append(addrs, a.addrs...)
	}
	if len(addrs) > 0 {
		return addrs, ttl, nil
	}
	if firstErr == nil {
		firstErr = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return nil, 0, firstErr
}

// dnsName returns host as a fully qualified name.
func dnsName(host string) string {
	if len(host) > 0 && host[len(host)-1] == '.' {
		return host
	}
	return host + "."
}

// query asks the server for name's records of type t: over UDP, twice if
// the first try gets no answer, then over TCP if the answer was truncated.
func (d *DNSClient) query(ctx context.Context, name dnsmessage.Name, t dnsmessage.Type) ([]netip.Addr, time.Duration, error) {
	server := d.Server
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 4 * time.Second
	}
	id := uint16(rand.Uint32())
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: t, Class: dnsmessage.ClassINET}},
	}
	q, err := msg.Pack()
	if err != nil {
		return nil, 0, err
	}
	host := name.String()
	host = host[:len(host)-1]
	var resp []byte
	for try := 0; ; try++ {
		resp, err = exchange(ctx, "udp", server, q, timeout/2)
		if err == nil || ctx.Err() != nil || try == 1 {
			break
		}
	}
	if err != nil {
		return nil, 0, dnsError(host, server, err)
	}
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err == nil && h.Truncated {
		if resp, err = exchange(ctx, "tcp", server, q, timeout/2); err != nil {
			return nil, 0, dnsError(host, server, err)
		}
		h, err = p.Start(resp)
	}
	if err != nil || h.ID != id || !h.Response {
		return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
	}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return nil, 0, &net.DNSError{Err: "no such host", Name: host, Server: server, IsNotFound: true}
	default:
		return nil, 0, &net.DNSError{Err: "server failure: " + h.RCode.String(), Name: host, Server: server, IsTemporary: true}
	}
	if err := p.SkipAllQuestions(); err != nil {
		return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
	}
	var addrs []netip.Addr
	var ttl uint32
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
		}
		var a netip.Addr
		switch {
		case rh.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
			}
			a = netip.AddrFrom4(r.A)
		case rh.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
			}
			a = netip.AddrFrom16(r.AAAA)
		default: // CNAME and the like: the server has followed them for us
			if err := p.SkipAnswer(); err != nil {
				return nil, 0, &net.DNSError{Err: "malformed answer", Name: host, Server: server, IsTemporary: true}
			}
			continue
		}
		if len(addrs) == 0 || rh.TTL < ttl {
			ttl = rh.TTL
		}
		addrs = append(addrs, a)
	}
	return addrs, time.Duration(ttl) * time.Second, nil
}

// dnsError describes a failed exchange with a DNS server.
func dnsError(host, server string, err error) error {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	return &net.DNSError{Err: err.Error(), Name: host, Server: server, IsTimeout: timeout, IsTemporary: true}
}

// exchange sends query q to server over network ("udp" or "tcp") and
// returns the answer, within timeout.
func exchange(ctx context.Context, network, server string, q []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if network == "udp" {
		if _, err := conn.Write(q); err != nil {
			return nil, err
		}
		buf := make([]byte, 1232)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(q)), uint16(len(q)))
	if _, err := conn.Write(append(framed, q...)); err != nil {
		return nil, err
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint16(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return buf, nil
}
