package crawltest

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// ErrNoAnswer, returned by a DNS server's answer function, makes the server
// ignore the query, so that the client times out.
var ErrNoAnswer = errors.New("crawltest: no answer")

// StartDNS serves DNS over UDP on a loopback port, for crawlers given a DNS
// server of their own (fetch.DNSClient, crawl run --dns-server), and
// returns its address ("127.0.0.1:PORT") and a function that stops it.
// Each A or AAAA question is answered by calling answer with the name
// asked (without its final dot): an address of the question's family is
// the answer (with a TTL of 60 s), an address of the other family an empty
// one, ErrNoAnswer no answer at all and any other error NXDOMAIN.
func StartDNS(answer func(name string) (netip.Addr, error)) (addr string, stop func(), err error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if b, ok := dnsAnswer(buf[:n], answer); ok {
				pc.WriteTo(b, from)
			}
		}
	}()
	return pc.LocalAddr().String(), func() { pc.Close(); <-done }, nil
}

// NewDNS is StartDNS for tests: it calls t.Fatalf if the server cannot be
// started and stops it with t.Cleanup.
func NewDNS(t TB, answer func(name string) (netip.Addr, error)) string {
	t.Helper()
	addr, stop, err := StartDNS(answer)
	if err != nil {
		t.Fatalf("crawltest.StartDNS: %v", err)
		return ""
	}
	t.Cleanup(stop)
	return addr
}

// dnsAnswer returns the answer to query q, and false for none.
func dnsAnswer(q []byte, answer func(string) (netip.Addr, error)) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true},
		Questions: []dnsmessage.Question{question},
	}
	addr, err := answer(strings.TrimSuffix(question.Name.String(), "."))
	switch {
	case errors.Is(err, ErrNoAnswer):
		return nil, false
	case err != nil:
		resp.RCode = dnsmessage.RCodeNameError
	default:
		rh := dnsmessage.ResourceHeader{Name: question.Name, Type: question.Type, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case question.Type == dnsmessage.TypeA && addr.Is4():
			resp.Answers = []dnsmessage.Resource{{Header: rh, Body: &dnsmessage.AResource{A: addr.As4()}}}
		case question.Type == dnsmessage.TypeAAAA && addr.Is6():
			resp.Answers = []dnsmessage.Resource{{Header: rh, Body: &dnsmessage.AAAAResource{AAAA: addr.As16()}}}
		}
	}
	b, err := resp.Pack()
	return b, err == nil
}
