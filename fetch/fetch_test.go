package fetch

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// newWeb starts a one-host test web whose generated pages are not used.
func newWeb(t *testing.T) (*crawltest.Web, string) {
	t.Helper()
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 1})
	return w, w.Seeds()[0]
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.AllowPrivate = true
	return New(cfg)
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{"0", 0, true},
		{"-3", 0, false},
		{"1.5", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := RetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("fetch x: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, false},
		{&net.DNSError{Err: "timeout", Name: "x.example", IsTimeout: true}, true},
		{fmt.Errorf("dial: %w", ErrBlockedAddress), false},
		{fmt.Errorf("%w: gzip", ErrDecode), false},
		{errors.New("x509: certificate signed by unknown authority"), false},
	} {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestBlocked(t *testing.T) {
	for a, want := range map[string]bool{
		"127.0.0.1": true, "127.0.1.7": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "0.0.0.0": true, "224.0.0.1": true, "100.64.0.1": true, "::1": true,
		"fe80::1": true, "fc00::1": true, "::ffff:127.0.0.1": true, "::": true,
		"93.184.216.34": false, "2606:2800:220:1::1": false, "8.8.8.8": false,
	} {
		if got := blocked(netip.MustParseAddr(a)); got != want {
			t.Errorf("blocked(%s) = %v, want %v", a, got, want)
		}
	}
}

func TestPrivateAddressesRefusedAtDial(t *testing.T) {
	w, seed := newWeb(t)
	ctx := context.Background()

	c := New(Config{Timeout: 5 * time.Second})
	_, err := c.Fetch(ctx, seed)
	if !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Fetch(%s) = %v, want ErrBlockedAddress", seed, err)
	}
	if Retryable(err) {
		t.Errorf("a blocked address is retryable: %v", err)
	}
	if n := len(w.Log()); n != 0 {
		t.Fatalf("the server saw %d requests, want none", n)
	}

	// The seed's host is allowed, and only that one.
	c.AllowHost(w.Hosts()[0])
	if resp, err := c.Fetch(ctx, seed); err != nil || resp.Status != 200 {
		t.Fatalf("Fetch(allowed %s) = %v, %v", seed, resp, err)
	}
	if _, err := c.Fetch(ctx, w.Seeds()[1]); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Fetch(other host) = %v, want ErrBlockedAddress", err)
	}
	// A name that resolves to loopback is refused too: the check is on the
	// dialled address, not the name.
	port := w.Hosts()[0][strings.LastIndex(w.Hosts()[0], ":")+1:]
	if _, err := c.Fetch(ctx, "http://localhost:"+port+"/"); !errors.Is(err, ErrBlockedAddress) {
		t.Fatalf("Fetch(localhost) = %v, want ErrBlockedAddress", err)
	}
	if resp, err := New(Config{AllowPrivate: true}).Fetch(ctx, w.Seeds()[1]); err != nil || resp.Status != 200 {
		t.Fatalf("Fetch with AllowPrivate = %v, %v", resp, err)
	}
}

func TestSlowDripBoundedByTimeout(t *testing.T) {
	w, seed := newWeb(t)
	w.Handle(0, "/drip", crawltest.Drip("x", time.Second))
	c := newClient(t, Config{Timeout: 700 * time.Millisecond})
	start := time.Now()
	_, err := c.Fetch(context.Background(), seed+"drip")
	took := time.Since(start)
	if err == nil {
		t.Fatal("Fetch of a dripping body succeeded")
	}
	if !errors.Is(err, ErrSlowBody) || Retryable(err) {
		t.Errorf("drip: %v; want ErrSlowBody, not retryable (another try would drip as long)", err)
	}
	// Bounded from above only, with generous slack for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("Fetch took %v with a 700ms timeout", took)
	}
}

func TestBodyCapAndEncodings(t *testing.T) {
	w, seed := newWeb(t)
	page := bytes.Repeat([]byte("<p>hello</p>"), 1000) // 12,000 bytes
	w.Handle(0, "/big", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		rw.Write(page)
	}))
	var gz, br bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(page)
	zw.Close()
	bw := brotli.NewWriter(&br)
	bw.Write(page)
	bw.Close()
	var mu sync.Mutex
	var accept []string
	for path, enc := range map[string]string{"/gz": "gzip", "/br": "br"} {
		body := gz.Bytes()
		if enc == "br" {
			body = br.Bytes()
		}
		w.Handle(0, path, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			accept = append(accept, r.Header.Get("Accept-Encoding"))
			mu.Unlock()
			rw.Header().Set("Content-Type", "text/html")
			rw.Header().Set("Content-Encoding", enc)
			rw.Write(body)
		}))
	}
	ctx := context.Background()
	c := newClient(t, Config{MaxBody: 5000})
	for _, p := range []string{"big", "gz", "br"} {
		resp, err := c.Fetch(ctx, seed+p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !resp.Truncated || len(resp.Body) != 5000 || !bytes.Equal(resp.Body, page[:5000]) {
			t.Errorf("%s: truncated %v, %d bytes, want the first 5000 bytes of the page", p, resp.Truncated, len(resp.Body))
		}
	}
	c = newClient(t, Config{})
	for _, p := range []string{"gz", "br"} {
		resp, err := c.Fetch(ctx, seed+p)
		if err != nil || resp.Truncated || !bytes.Equal(resp.Body, page) {
			t.Errorf("%s: err %v, truncated %v, %d bytes, want the page decoded", p, err, resp.Truncated, len(resp.Body))
		}
	}
	for _, a := range accept {
		if a != "gzip, br" {
			t.Errorf("Accept-Encoding = %q, want \"gzip, br\"", a)
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	w, seed := newWeb(t)
	w.Handle(0, "/old", http.RedirectHandler("/new?x=1", http.StatusMovedPermanently))
	resp, err := newClient(t, Config{}).Fetch(context.Background(), seed+"old")
	if err != nil {
		t.Fatal(err)
	}
	loc, ok := resp.Location()
	if resp.Status != 301 || !ok || loc.String() != seed+"new?x=1" {
		t.Fatalf("got %d %v %v, want 301 to %snew?x=1", resp.Status, loc, ok, seed)
	}
	if n := len(w.Log()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestRobots(t *testing.T) {
	w, _ := newWeb(t)
	seeds := w.Seeds()
	w.Handle(0, "/robots.txt", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprint(rw, "User-agent: *\nDisallow: /\n\nUser-agent: politecrawl\nDisallow: /private\nAllow: /private/ok\nCrawl-delay: 2.5\n\nSitemap: http://example.com/sm.xml\n")
	}))
	ua := "politecrawl/9 (+https://example.com/bot)"
	c := newClient(t, Config{UserAgent: ua})
	if c.Agent() != "politecrawl" {
		t.Fatalf("Agent() = %q", c.Agent())
	}

	r, err := c.FetchRobots(context.Background(), strings.TrimSuffix(seeds[0], "/"))
	if err != nil {
		t.Fatal(err)
	}
	log := w.Log()
	if len(log) != 1 || log[0].Path != "/robots.txt" || log[0].UserAgent != ua {
		t.Fatalf("log %+v; want one robots.txt request with our UA", log)
	}
	if r.Status != 200 || len(r.Body) == 0 || r.Fetched.IsZero() {
		t.Errorf("status %d, body %q, fetched %v: want what RobotsFrom needs to read it again", r.Status, r.Body, r.Fetched)
	}
	for path, want := range map[string]bool{"/": true, "/private": false, "/private/x": false, "/private/ok": true} {
		if got := r.Allowed(&url.URL{Path: path}); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", path, got, want)
		}
	}
	if r.CrawlDelay != 2500*time.Millisecond || len(r.Sitemaps) != 1 {
		t.Errorf("Crawl-delay %v, sitemaps %v", r.CrawlDelay, r.Sitemaps)
	}

	// 404: everything allowed.
	r, err = c.FetchRobots(context.Background(), strings.TrimSuffix(seeds[1], "/"))
	if err != nil || r.Err != nil || !r.Allowed(&url.URL{Path: "/x"}) {
		t.Errorf("404 robots.txt: %+v, %v; want all allowed", r, err)
	}
}

// TestRobotsFrom: a Robots is built from a status, a body and the fetch
// time alone (as a stored robots.txt is read again), and one bad line
// spoils only itself.
func TestRobotsFrom(t *testing.T) {
	c := New(Config{UserAgent: "Mozilla/5.0 (compatible; FooBot/1.0; +https://example.com/bot)",
		RobotsTTL: time.Hour, RobotsErrorTTL: time.Minute})
	if c.Agent() != "foobot" {
		t.Fatalf("Agent() = %q, want foobot", c.Agent())
	}
	fetched := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const body = "Disallow: /all\nUser-agent: *\nDisallow: /\n\nUser-agent: FooBot\nCrawl-delay: 1s\n" +
		"Crawl-delay: later\nDisallow: /a*b$\nDisallow: /private\nAllow: /private/ok\nSitemap: http://x/s.xml\n"
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		err      error
		wantErr  bool
		ttl      time.Duration
		delay    time.Duration
		sitemaps int
		allowed  map[string]bool
	}{
		{"200", 200, body, nil, false, time.Hour, time.Second, 1, map[string]bool{
			"/": true, "/all": true, "/private": false, "/private/ok": true, "/x/a/b": true, "/ab": false, "/ab?q": true}},
		{"200-empty", 200, "", nil, false, time.Hour, 0, 0, map[string]bool{"/": true}},
		{"404", 404, body, nil, false, time.Hour, 0, 0, map[string]bool{"/private": true}},
		{"503", 503, body, nil, true, time.Minute, 0, 0, map[string]bool{"/": false}},
		{"429", 429, body, nil, true, time.Minute, 0, 0, map[string]bool{"/": false}},
		{"unreachable", 0, "", refused, true, time.Minute, 0, 0, map[string]bool{"/": false}},
	} {
		r := c.RobotsFrom(tc.status, []byte(tc.body), tc.err, fetched)
		if (r.Err != nil) != tc.wantErr || r.Expires != fetched.Add(tc.ttl) || r.CrawlDelay != tc.delay || len(r.Sitemaps) != tc.sitemaps {
			t.Errorf("%s: got err %v, expires %v, delay %v, sitemaps %v; want err %v, expires %v, delay %v, %d sitemaps",
				tc.name, r.Err, r.Expires, r.CrawlDelay, r.Sitemaps, tc.wantErr, fetched.Add(tc.ttl), tc.delay, tc.sitemaps)
		}
		if tc.err != nil && (!errors.Is(r.Err, refused) || r.Status != 0) {
			t.Errorf("%s: got err %v, status %d; want the fetch error, status 0", tc.name, r.Err, r.Status)
		}
		for path, want := range tc.allowed {
			u, _ := url.Parse("http://example.com" + path)
			if got := r.Allowed(u); got != want {
				t.Errorf("%s: Allowed(%s) = %v, want %v", tc.name, path, got, want)
			}
		}
	}
}

func TestRobotsUnavailable(t *testing.T) {
	w, seed := newWeb(t)
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	w.Handle(0, "/robots.txt", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s := status
		mu.Unlock()
		rw.WriteHeader(s)
		fmt.Fprint(rw, "User-agent: *\nDisallow: /no\n")
	}))
	c := newClient(t, Config{RobotsErrorTTL: time.Minute})
	ctx := context.Background()
	origin := strings.TrimSuffix(seed, "/")
	r, err := c.FetchRobots(ctx, origin)
	if err != nil || r.Err == nil || r.Status != 503 || r.Allowed(&url.URL{Path: "/"}) || !r.Expires.Equal(r.Fetched.Add(time.Minute)) {
		t.Fatalf("503 robots.txt: %+v, %v; want an error disallowing all for RobotsErrorTTL", r, err)
	}
	mu.Lock()
	status = 200
	mu.Unlock()
	r, err = c.FetchRobots(ctx, origin)
	if err != nil || r.Err != nil || r.Allowed(&url.URL{Path: "/no"}) || !r.Allowed(&url.URL{Path: "/"}) {
		t.Fatalf("fetched again: %+v, %v; want the file honoured", r, err)
	}

	// Unreachable: a host with nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, err = c.FetchRobots(ctx, "http://"+addr)
	if err != nil || r.Err == nil || !Retryable(r.Err) {
		t.Fatalf("unreachable robots.txt: %+v, %v", r, err)
	}
}

// TestReadAllHint: a body is read whole whatever the size hint says, in one
// allocation when the hint is right.
func TestReadAllHint(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 1000)
	for _, hint := range []int64{-1, 0, 1, 9999, 10000, 10001, 1 << 20} {
		got, err := readAll(iotest.OneByteReader(bytes.NewReader(body)), hint, 1<<30)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("hint %d: read %d bytes, err %v; want the %d bytes", hint, len(got), err, len(body))
		}
	}
	// A cap is never outgrown: the buffer ends at most limit bytes large.
	for _, hint := range []int64{-1, 100} {
		got, err := readAll(io.LimitReader(bytes.NewReader(body), 5000), hint, 5000)
		if err != nil || len(got) != 5000 || cap(got) > 5000 {
			t.Errorf("limit 5000, hint %d: read %d bytes into %d, err %v; want 5000 into at most 5000", hint, len(got), cap(got), err)
		}
	}
	r := bytes.NewReader(body)
	if n := testing.AllocsPerRun(10, func() {
		r.Reset(body)
		readAll(r, int64(len(body)), 1<<30)
	}); n != 1 {
		t.Errorf("reading a body of the announced size took %v allocations, want 1", n)
	}
}

// countingPacer counts permits and records what each was told.
type countingPacer struct {
	mu    sync.Mutex
	sends []time.Time
}

func (p *countingPacer) Wait(context.Context, string) (func(time.Time), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := len(p.sends)
	p.sends = append(p.sends, time.Time{})
	return func(t time.Time) {
		p.mu.Lock()
		p.sends[i] = t
		p.mu.Unlock()
	}, nil
}

// retryingTransport plays net/http's retry of a request whose reused
// connection the server had closed: two connections, a write on each.
type retryingTransport struct{ client *Client }

func (rt retryingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(req.Context())
	for range 2 {
		c1, c2 := net.Pipe()
		go io.Copy(io.Discard, c2)
		conn := &wireConn{Conn: c1, client: rt.client}
		trace.GotConn(httptrace.GotConnInfo{Conn: conn, Reused: true})
		trace.WroteRequest(httptrace.WroteRequestInfo{})
		conn.Write([]byte("GET / HTTP/1.1\\r\\n\\r\\n"))
		c1.Close()
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// TestPacedRetryWaitsItsTurn: a request net/http sends again on a new
// connection is a request of its own to the server: it waits for a permit
// of its own, and both sends are reported.
func TestPacedRetryWaitsItsTurn(t *testing.T) {
	p := &countingPacer{}
	req, _ := http.NewRequestWithContext(WithPacer(context.Background(), p), "GET", "http://example.com/", nil)
	c := New(Config{})
	if _, err := (pacedTransport{rt: retryingTransport{c}, client: c}).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if len(p.sends) != 2 || p.sends[0].IsZero() || p.sends[1].IsZero() || p.sends[1].Before(p.sends[0]) {
		t.Fatalf("permits and send times %v, want two permits, each send reported", p.sends)
	}
}
