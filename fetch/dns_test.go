package fetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// countingResolver answers every name but "missing." ones with 192.0.2.1
// and counts the lookups.
type countingResolver struct {
	calls atomic.Int32
	ttl   time.Duration // >0: also a TTLResolver answer
	block chan struct{} // if set, lookups wait for it
}

func (r *countingResolver) LookupNetIP(ctx context.Context, _, host string) ([]netip.Addr, error) {
	r.calls.Add(1)
	if r.block != nil {
		<-r.block
	}
	if strings.HasPrefix(host, "missing.") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
}

type ttlResolver struct{ *countingResolver }

func (r ttlResolver) LookupNetIPTTL(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error) {
	addrs, err := r.LookupNetIP(ctx, network, host)
	return addrs, r.ttl, err
}

func TestDNSCacheKeepsAnswersForTheirTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &countingResolver{ttl: 2 * time.Minute}
		c := newDNSCache(ttlResolver{r}, 100, 5*time.Minute, time.Minute, 10*time.Second)
		ctx := t.Context()
		for range 3 {
			if a, err := c.LookupNetIP(ctx, "ip", "a.example"); err != nil || a[0] != netip.MustParseAddr("192.0.2.1") {
				t.Fatalf("lookup: %v, %v", a, err)
			}
		}
		if _, err := c.LookupNetIP(ctx, "ip", "missing.example"); err == nil {
			t.Fatal("missing name: no error")
		}
		if _, err := c.LookupNetIP(ctx, "ip", "missing.example"); err == nil {
			t.Fatal("missing name, cached: no error")
		}
		if n := r.calls.Load(); n != 2 {
			t.Fatalf("%d lookups, want 2 (one per name)", n)
		}
		if !c.cached("ip", "A.example") || c.cached("ip", "b.example") {
			t.Error("cached: wrong answer")
		}
		time.Sleep(61 * time.Second) // the failure expires (1 min), not the answer (2 min)
		c.LookupNetIP(ctx, "ip", "a.example")
		c.LookupNetIP(ctx, "ip", "missing.example")
		if n := r.calls.Load(); n != 3 {
			t.Fatalf("after 61s: %d lookups, want 3", n)
		}
		time.Sleep(60 * time.Second)
		c.LookupNetIP(ctx, "ip", "a.example")
		if n := r.calls.Load(); n != 4 {
			t.Fatalf("after 121s: %d lookups, want 4", n)
		}
	})
}

func TestDNSCacheBoundedAndShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &countingResolver{block: make(chan struct{})}
		c := newDNSCache(r, 3, 5*time.Minute, time.Minute, 10*time.Second)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() { c.LookupNetIP(t.Context(), "ip", "a.example") })
		}
		synctest.Wait()
		close(r.block)
		wg.Wait()
		if n := r.calls.Load(); n != 1 {
			t.Fatalf("10 lookups at once of one name: %d made, want 1", n)
		}
		for _, name := range []string{"b", "c", "d", "e"} {
			c.LookupNetIP(t.Context(), "ip", name+".example")
		}
		if n := c.len(); n != 3 {
			t.Fatalf("%d entries, want the bound, 3", n)
		}
		if c.cached("ip", "a.example") || !c.cached("ip", "e.example") {
			t.Error("not the least recently used evicted")
		}
	})
}

// TestDNSCacheTimeout: a resolver that never answers, even one that
// ignores its context, fails the lookup as a timeout after DNSTimeout, and
// the failure is cached.
func TestDNSCacheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &countingResolver{block: make(chan struct{})} // never answers
		defer close(r.block)
		c := newDNSCache(r, 3, 5*time.Minute, time.Minute, 10*time.Second)
		start := time.Now()
		_, err := c.LookupNetIP(context.Background(), "ip", "slow.example")
		if de, ok := errors.AsType[*net.DNSError](err); !ok || !de.IsTimeout {
			t.Fatalf("got %v, want a DNS timeout", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("failed after %v, want the timeout, 10s", d)
		}
		if _, err := c.LookupNetIP(context.Background(), "ip", "slow.example"); err == nil || time.Since(start) != 10*time.Second || r.calls.Load() != 1 {
			t.Errorf("second lookup: %v after %v, %d calls; want the cached failure at once", err, time.Since(start), r.calls.Load())
		}
	})
}

// dnsServer is a DNS server on loopback for tests: names under "ok." have
// 192.0.2.7 (TTL 300), "private.example." has 10.0.0.1, "slow." names get
// no answer, and any other name does not exist.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := q.Name.String()
			if strings.HasPrefix(name, "slow.") {
				continue
			}
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: h.ID, Response: true}, Questions: []dnsmessage.Question{q}}
			rh := dnsmessage.ResourceHeader{Name: q.Name, Type: q.Type, Class: dnsmessage.ClassINET, TTL: 300}
			switch {
			case strings.HasSuffix(name, ".ok.") && q.Type == dnsmessage.TypeA:
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 7}}})
			case name == "private.example." && q.Type == dnsmessage.TypeA:
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}}})
			case strings.HasSuffix(name, ".ok."), name == "private.example.":
				// no AAAA record
			default:
				resp.RCode = dnsmessage.RCodeNameError
			}
			b, _ := resp.Pack()
			pc.WriteTo(b, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNSClient(t *testing.T) {
	d := &DNSClient{Server: dnsServer(t), Timeout: 400 * time.Millisecond}
	ctx := t.Context()
	addrs, ttl, err := d.LookupNetIPTTL(ctx, "ip", "www.ok")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.7") || ttl != 300*time.Second {
		t.Errorf("www.ok: %v, %v, %v", addrs, ttl, err)
	}
	_, err = d.LookupNetIP(ctx, "ip", "nowhere.example")
	if de, ok := errors.AsType[*net.DNSError](err); !ok || !de.IsNotFound {
		t.Errorf("nowhere.example: %v, want not found", err)
	}
	start := time.Now()
	_, err = d.LookupNetIP(ctx, "ip", "slow.example")
	if de, ok := errors.AsType[*net.DNSError](err); !ok || !de.IsTimeout {
		t.Errorf("slow.example: %v, want a timeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("slow.example took %v, want about the timeout", el)
	}
	if Retryable(err) != true {
		t.Error("a DNS timeout is not retryable")
	}
}

// TestDNSServerGuarded: a name that a resolver of the user's choice maps to
// a private address is refused at the dial, and the answer is cached.
func TestDNSServerGuarded(t *testing.T) {
	c := New(Config{Resolver: &DNSClient{Server: dnsServer(t), Timeout: 400 * time.Millisecond}})
	_, err := c.Fetch(t.Context(), "http://private.example/")
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("private answer: %v, want ErrBlockedAddress", err)
	}
	if !c.Resolved("private.example") || c.Resolved("other.example:8080") || !c.Resolved("192.0.2.1:80") {
		t.Error("Resolved: wrong answer")
	}
	if _, err := c.LookupIP(t.Context(), "missing.example"); err == nil || !c.Resolved("missing.example") {
		t.Errorf("missing.example: %v; cached %v", err, c.Resolved("missing.example"))
	}
}

// TestCloseIdle: a host's idle connection is closed when the crawler says
// the host is done, and a later request opens a new one.
func TestCloseIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	c := New(Config{AllowPrivate: true})
	ctx := WithPacer(t.Context(), noPacer{})
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := c.Fetch(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.openConns(host) == 1 && c.idleConns(host) == 1 })
	c.CloseIdle(host)
	waitFor(t, func() bool { return c.openConns(host) == 0 })
	if _, err := c.Fetch(ctx, srv.URL+"/again"); err != nil {
		t.Fatalf("after CloseIdle: %v", err)
	}
	waitFor(t, func() bool { return c.openConns(host) == 1 })
}

// TestIdleConnsCap: the client keeps at most IdleConns idle connections in
// all, whatever the number of hosts.
func TestIdleConnsCap(t *testing.T) {
	var hosts []string
	for range 8 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		defer srv.Close()
		hosts = append(hosts, srv.URL)
	}
	c := New(Config{AllowPrivate: true, IdleConns: 3})
	ctx := WithPacer(t.Context(), noPacer{})
	for _, u := range hosts {
		if _, err := c.Fetch(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		n := 0
		for _, u := range hosts {
			n += c.openConns(strings.TrimPrefix(u, "http://"))
		}
		return n == 3
	})
}

type noPacer struct{}

func (noPacer) Wait(context.Context, string) (func(time.Time), error) { return func(time.Time) {}, nil }

// waitFor waits up to 5 s for cond.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
