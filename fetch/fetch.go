// Package fetch owns the crawler's HTTP: the client and its limits (timeouts,
// body cap, content decoding, user agent, the addresses it may dial) and the
// per-host robots.txt cache. It knows nothing of the crawl: it fetches one URL
// when asked and reports what the server said. It never follows redirects for
// pages: a redirect is a response, and the caller decides whether and when to
// request its target (the crawler queues it, so each hop pays for its own
// politeness token).
//
// A Client is safe for concurrent use by many goroutines.
package fetch

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/politecrawl/crawl/fetch/robotstxt"
)

// DefaultUserAgent names the crawler and where to learn about it.
const DefaultUserAgent = "politecrawl/0.1 (+https://github.com/politecrawl/crawl)"

// Config configures a Client. The zero value means the defaults in brackets.
type Config struct {
	UserAgent     string        // sent on every request, robots.txt included [DefaultUserAgent]
	Timeout       time.Duration // whole fetch, from dial to the last body byte [30s]
	DialTimeout   time.Duration // TCP connect [10s]
	TLSTimeout    time.Duration // TLS handshake [10s]
	HeaderTimeout time.Duration // from the request written to the response headers [Timeout]
	MaxBody       int64         // bytes of decoded body kept; longer bodies are cut and marked [10 MiB]
	// IdleConnsPerHost bounds the keep-alive connections kept per host [64];
	// IdleConns bounds them in all, the least recently used closed first
	// [100] (a wide crawl sets it near its number of workers). See also
	// Client.CloseIdle.
	IdleConnsPerHost int
	IdleConns        int
	// AllowPrivate lets the client dial loopback, private, link-local,
	// unspecified and multicast addresses. Without it only hosts given to
	// AllowHost may reach such addresses; the check is made on the address
	// actually dialled, after DNS.
	AllowPrivate bool
	// OnFetch, if set, is called after each page fetch (Fetch,
	// FetchConditional; not robots.txt) that ended other than by ctx being
	// cancelled, with its response or error and when it started: for
	// metrics. It must be quick and safe for concurrent use.
	OnFetch func(resp *Response, err error, start time.Time)

	// RobotsTTL is how long a fetched robots.txt (or its absence, 4xx) is
	// trusted [24h]. RobotsErrorTTL is how long a host whose robots.txt
	// could not be had (5xx, 429, network error) is treated as disallowing
	// everything before robots.txt is asked for again [1m].
	RobotsTTL      time.Duration
	RobotsErrorTTL time.Duration

	// Resolver looks up host names, for dialling and for LookupIP
	// [net.DefaultResolver]. What it returns is checked by the address
	// guard like any address (see AllowPrivate). A *DNSClient asks the
	// DNS server of one's choice (--dns-server).
	Resolver Resolver
	// DNSCache is how many names' lookups are kept, answers for their TTL
	// (a TTLResolver's, else DNSTTL; at least 30 s, at most 1 h) and
	// failures for DNSErrorTTL [10000; negative: none]. DNSTimeout bounds
	// one lookup [10s].
	DNSCache    int
	DNSTTL      time.Duration // [5m]
	DNSErrorTTL time.Duration // [1m]
	DNSTimeout  time.Duration // [10s]
}

// Resolver looks up the addresses of a host name. *net.Resolver
// implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

func (c *Config) defaults() {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.TLSTimeout <= 0 {
		c.TLSTimeout = 10 * time.Second
	}
	if c.HeaderTimeout <= 0 {
		c.HeaderTimeout = c.Timeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 10 << 20
	}
	if c.IdleConnsPerHost <= 0 {
		c.IdleConnsPerHost = 64
	}
	if c.RobotsTTL <= 0 {
		c.RobotsTTL = 24 * time.Hour
	}
	if c.RobotsErrorTTL <= 0 {
		c.RobotsErrorTTL = time.Minute
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.IdleConns <= 0 {
		c.IdleConns = 100
	}
	if c.DNSCache == 0 {
		c.DNSCache = 10000
	}
	if c.DNSTTL <= 0 {
		c.DNSTTL = 5 * time.Minute
	}
	if c.DNSErrorTTL <= 0 {
		c.DNSErrorTTL = time.Minute
	}
	if c.DNSTimeout <= 0 {
		c.DNSTimeout = 10 * time.Second
	}
}

// Errors of a fetch, for errors.Is.
var (
	// ErrBlockedAddress means the host resolved to an address the client
	// may not dial (see Config.AllowPrivate).
	ErrBlockedAddress = errors.New("address not allowed (loopback, private, link-local or multicast)")
	// ErrDecode means the body could not be decoded (Content-Encoding).
	ErrDecode = errors.New("cannot decode body")
	// ErrSlowBody means the response came but its body did not arrive
	// within Config.Timeout (a slow drip): asking again would cost as
	// long for the same, so it is not retryable.
	ErrSlowBody = errors.New("body not received within the timeout")
)

// Response is what a fetch brought back.
type Response struct {
	URL         string        // the URL asked for
	FinalURL    string        // the URL that answered (the one asked for: redirects are not followed)
	Status      int           // HTTP status code
	Header      http.Header   // response headers
	ContentType string        // media type without parameters, lower case ("text/html")
	Body        []byte        // decoded (gzip, br), at most Config.MaxBody bytes
	Truncated   bool          // the body was longer than Config.MaxBody and was cut
	Duration    time.Duration // from the request to the last body byte read

	Proto         string      // protocol of the final response, such as "HTTP/1.1"
	StatusText    string      // status as received after the protocol, such as "200 OK"
	RequestHeader http.Header // headers sent with the final request
}

// IsHTML reports whether the response is an HTML document.
func (r *Response) IsHTML() bool {
	return r.ContentType == "text/html" || r.ContentType == "application/xhtml+xml"
}

// Location returns the redirect target of a 3xx response resolved against
// its URL, and whether there is one.
func (r *Response) Location() (*url.URL, bool) {
	if r.Status < 300 || r.Status > 399 {
		return nil, false
	}
	loc := r.Header.Get("Location")
	if loc == "" {
		return nil, false
	}
	base, err := url.Parse(r.FinalURL)
	if err != nil {
		return nil, false
	}
	u, err := base.Parse(loc)
	if err != nil {
		return nil, false
	}
	return u, true
}

// Client fetches URLs over HTTP. The zero value is not usable; call New.
type Client struct {
	cfg    Config
	agent  string       // robots.txt product token (robotstxt.ProductToken)
	http   *http.Client // pages: no redirects followed
	robots *http.Client // robots.txt: up to maxRobotsRedirects followed

	allowMu sync.RWMutex
	allowed map[string]bool // dial addresses ("host:port") exempt from the address check

	resolver Resolver  // cfg.Resolver behind the cache
	dns      *dnsCache // nil: no cache

	connMu sync.Mutex
	conns  map[string]*hostConns // open HTTP/1 connections by host (as Pacer names it)
}

// New returns a Client configured by cfg.
func New(cfg Config) *Client {
	cfg.defaults()
	c := &Client{cfg: cfg, agent: robotstxt.ProductToken(cfg.UserAgent), allowed: map[string]bool{},
		resolver: cfg.Resolver, conns: map[string]*hostConns{}}
	if cfg.DNSCache > 0 {
		c.dns = newDNSCache(cfg.Resolver, cfg.DNSCache, cfg.DNSTTL, cfg.DNSErrorTTL, cfg.DNSTimeout)
		c.resolver = c.dns
	}
	open := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second, Control: checkAddress}
	tr := &http.Transport{
		Proxy: nil, // a crawler talks to the hosts it names
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := guarded
			if c.cfg.AllowPrivate || c.isAllowed(addr) {
				d = open
			}
			conn, err := c.dial(ctx, d, network, addr)
			if err != nil {
				return nil, err
			}
			return &wireConn{Conn: conn, client: c}, nil // tells the Pacer when requests leave
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           cfg.IdleConns,
		MaxIdleConnsPerHost:    cfg.IdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.TLSTimeout,
		ResponseHeaderTimeout:  cfg.HeaderTimeout,
		MaxResponseHeaderBytes: 1 << 20, // net/http's default is 10 MiB
		ExpectContinueTimeout:  time.Second,
		// We ask for gzip and br ourselves and decode both (net/http would
		// only do gzip).
		DisableCompression: true,
	}
	paced := pacedTransport{rt: tr, client: c}
	c.http = &http.Client{
		Transport: paced,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	c.robots = &http.Client{
		Transport: paced,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRobotsRedirects {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return c
}

// dial connects to addr ("host:port"), looking a host name up with the
// configured Resolver and trying its addresses in turn.
func (c *Client) dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.DialContext(ctx, network, addr)
	}
	ips, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	var first error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// LookupIP returns the first address of host ("name" or "name:port", as in a
// URL; an address is its own), with the configured Resolver.
func (c *Client) LookupIP(ctx context.Context, host string) (netip.Addr, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip, nil
	}
	ips, err := c.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return ips[0].Unmap(), nil
}

// Resolved reports whether looking host ("name" or "name:port", as in a
// URL) up before its request would gain nothing: host is an address, the
// DNS cache holds its lookup (an answer or a failure), or there is no
// cache. A crawler looks a host up with LookupIP, away from its workers,
// until it is, so that no worker waits for DNS.
func (c *Client) Resolved(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return c.dns == nil || c.dns.cached("ip", host)
}

// UserAgent returns the User-Agent header the client sends.
func (c *Client) UserAgent() string { return c.cfg.UserAgent }

// Agent returns the product token robots.txt groups are matched against
// (RFC 9309 §2.2.1), in lower case: the name of the User-Agent's first
// product ("politecrawl" in "politecrawl/0.1 (+https://…)"), or the name
// after "compatible;" in a "Mozilla/5.0 (compatible; Name/1.0; …)" one,
// cut at its first character that is not a letter, '_' or '-'.
func (c *Client) Agent() string { return c.agent }

// AllowHost exempts host ("name" or "name:port", as in a URL) from the
// address check, for a crawl whose seed points at a private address. A host
// without a port is allowed on 80 and 443.
func (c *Client) AllowHost(host string) {
	c.allowMu.Lock()
	defer c.allowMu.Unlock()
	if _, _, err := net.SplitHostPort(host); err == nil {
		c.allowed[host] = true
		return
	}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	c.allowed[net.JoinHostPort(h, "80")] = true
	c.allowed[net.JoinHostPort(h, "443")] = true
}

func (c *Client) isAllowed(addr string) bool {
	c.allowMu.RLock()
	defer c.allowMu.RUnlock()
	return c.allowed[addr]
}

// checkAddress is the guarded dialer's Control hook: it runs on the address
// about to be connected to, after name resolution.
func checkAddress(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, address)
	}
	if blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlockedAddress, ap.Addr())
	}
	return nil
}

var (
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	sharedSpace  = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
)

// blocked reports whether a is an address a crawler must not reach unless
// told to: loopback, private, link-local, unspecified, multicast and the
// other non-public IPv4 ranges above.
func blocked(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		thisNetwork.Contains(a) || sharedSpace.Contains(a) || benchmarking.Contains(a)
}

// Fetch GETs rawURL and reads at most Config.MaxBody bytes of its decoded
// body. The whole fetch, a slowly dripping body included, is bounded by
// Config.Timeout and by ctx. A non-2xx status is not an error: it is in
// Response.Status; a redirect is returned as it is, not followed. Under a
// context from WithPacer, the request waits for its Pacer first.
func (c *Client) Fetch(ctx context.Context, rawURL string) (*Response, error) {
	return c.FetchConditional(ctx, rawURL, Validators{})
}

// Validators are what a conditional request sends of a stored response:
// its ETag as If-None-Match and its Last-Modified as If-Modified-Since.
// The zero value makes a plain request.
type Validators struct {
	ETag         string // the stored ETag header, as received
	LastModified string // the stored Last-Modified header, as received
}

// FetchConditional is Fetch with the conditional headers of v: a server
// whose copy has not changed answers 304 Not Modified, without a body.
func (c *Client) FetchConditional(ctx context.Context, rawURL string, v Validators) (*Response, error) {
	if c.cfg.OnFetch == nil {
		return c.get(ctx, c.http, rawURL, c.cfg.MaxBody, v)
	}
	start := time.Now()
	resp, err := c.get(ctx, c.http, rawURL, c.cfg.MaxBody, v)
	if err == nil || ctx.Err() == nil {
		c.cfg.OnFetch(resp, err, start)
	}
	return resp, err
}

func (c *Client) get(ctx context.Context, hc *http.Client, rawURL string, maxBody int64, v Validators) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Accept-Encoding", "gzip, br")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}

	st := &sendTimes{granted: time.Now()} // moved on by each paced round trip
	req = req.WithContext(context.WithValue(ctx, sendTimesKey{}, st))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, unwrapURLError(err))
	}
	defer resp.Body.Close()

	body, err := decodedBody(resp, maxBody+1)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("fetch %s: %w: %d bytes in %v", rawURL, ErrSlowBody, len(body), c.cfg.Timeout)
		}
		return nil, fmt.Errorf("fetch %s: read body: %w", rawURL, err)
	}
	r := &Response{
		URL:      rawURL,
		FinalURL: resp.Request.URL.String(),
		Status:   resp.StatusCode,
		Header:   resp.Header,
		Body:     body,
		Duration: time.Since(st.granted),

		Proto:         resp.Proto,
		StatusText:    resp.Status,
		RequestHeader: resp.Request.Header,
	}
	if int64(len(body)) > maxBody {
		r.Body, r.Truncated = body[:maxBody], true
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			r.ContentType = mt
		} else {
			r.ContentType = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
		}
	} else {
		mt, _, _ := mime.ParseMediaType(http.DetectContentType(r.Body))
		r.ContentType = mt
	}
	return r, nil
}

// decodedBody reads at most limit bytes of resp's body after undoing its
// Content-Encoding (gzip or br; an unknown coding is kept as it is).
func decodedBody(resp *http.Response, limit int64) ([]byte, error) {
	var rd io.Reader = resp.Body
	hint := resp.ContentLength // the size of the body as sent; -1: unknown
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "gzip", "x-gzip":
		gz, err := gzip.NewReader(resp.Body)
		if errors.Is(err, io.EOF) {
			return nil, nil // empty body (HEAD-like, 204, 304)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrDecode, err)
		}
		defer gz.Close()
		rd = gz
	case "br":
		rd = brotli.NewReader(resp.Body)
	}
	if rd != io.Reader(resp.Body) {
		hint = -1 // decoded: larger
	}
	body, err := readAll(io.LimitReader(rd, limit), min(hint, limit, maxHint), limit)
	if err != nil && rd != io.Reader(resp.Body) && !isNetwork(err) {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return body, err
}

// maxHint bounds the buffer a body's announced size makes readAll allocate
// before a byte has arrived.
const maxHint = 1 << 20

// readAll reads r, which gives at most limit bytes, to its end, like
// io.ReadAll, into a buffer of hint+1 bytes when the size is known (hint ≥
// 0), so that a body of that size is read into one allocation rather than
// a series of growing ones. The buffer never grows past limit: doubling
// toward a 10 MiB cap would otherwise hold 16 MiB (and the 8 it grew from)
// for each of a few hostile bodies read at once.
func readAll(r io.Reader, hint, limit int64) ([]byte, error) {
	if hint < 0 {
		hint = 512 - 1
	}
	b := make([]byte, 0, min(hint+1, limit)) // +1: room to see the end without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return b, err
		}
		if int64(len(b)) >= limit {
			return b, nil
		}
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(int64(max(2*cap(b), 512)), limit))
			copy(nb, b)
			b = nb
		}
	}
}

// isNetwork reports whether err comes from the connection or a deadline,
// not from a decoder.
func isNetwork(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL that the caller already names.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// Retryable reports whether a failed fetch may succeed if tried again later:
// timeouts, refused or reset connections, bodies cut off by the network and
// temporary DNS failures. Unknown hosts, blocked addresses, malformed URLs,
// undecodable bodies and TLS certificate errors are permanent.
func Retryable(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrBlockedAddress), errors.Is(err, ErrDecode), errors.Is(err, ErrSlowBody):
		return false
	case errors.Is(err, context.DeadlineExceeded):
		return true
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		return !de.IsNotFound && (de.IsTimeout || de.IsTemporary)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true // refused, reset, unreachable
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// RetryAfter parses the Retry-After header of h (delay-seconds or an HTTP
// date) relative to now, and reports whether there was a valid one. A date in
// the past gives zero.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(1<<33))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
