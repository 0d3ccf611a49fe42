// Package crawltest provides a deterministic multi-host test web for
// exercising a crawler over real HTTP, much as net/http/httptest serves a
// single handler for HTTP clients.
//
// A Web owns a set of loopback listeners, one per simulated host, each on its
// own address in 127.0.0.0/8 (127.0.1.1, 127.0.1.2, …, then 127.0.2.1 after
// 127.0.1.254) and on a port chosen by the kernel, so no DNS is involved and
// parallel test processes never collide. With Config.Virtual it owns one
// listener instead and serves any number of hosts on it by name
// (h0.web.test, h1.web.test, … by their Host header), which a client reaches
// through the Web's Resolver. It owns the generated link graph
// served on those hosts (see Config), the per-path overrides installed with
// Handle, the simulated latency and a log of every request it receives.
//
// A Web is safe for concurrent use by multiple goroutines.
package crawltest

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the generated site. The zero value of every field means
// the default given in brackets.
type Config struct {
	Hosts        int           // number of hosts [3]
	PagesPerHost int           // pages per host including the root "/" [20]
	LinksPerPage int           // extra links per page besides the chain link [5]; negative means none
	CrossHost    float64       // fraction of the extra links that point to another host [0.2]; negative means none
	Seed         int64         // seed of the deterministic link graph [1]
	Latency      time.Duration // delay before every response (honours request context cancellation) [0]
	// Port is the TCP port every host listens on; 0 lets the kernel choose
	// a free port per host, which is what tests want [0]. A fixed port
	// gives stable URLs (http://127.0.1.1:PORT/ …) for a seed file.
	Port int
	// NoLog keeps no request log (Log stays empty), for benchmarks whose
	// millions of requests would otherwise fill memory.
	NoLog bool
	// Conditional serves the generated pages through http.ServeContent
	// with an ETag (a hash of the body) and a Last-Modified (which Change
	// moves on), so that conditional requests (If-None-Match,
	// If-Modified-Since) are answered 304 Not Modified as real servers
	// answer them.
	Conditional bool
	// Virtual serves the hosts as virtual hosts named by HostName
	// (h0.web.test, h1.web.test, …), told apart by the Host header, on a
	// few listeners, so that a test may have as many hosts as it wants:
	// host i on 127.0.0.(1 + i mod n), n = min(Hosts, 32). One address
	// would do; n keep a crawl that opens a connection a host from running
	// out of the loopback's ports to one address (each closed connection
	// holds one for a minute). Clients resolve the names with Resolver
	// (for instance through fetch.Config.Resolver).
	Virtual bool
}

// virtualAddrs returns the number of listener addresses of a virtual Web of
// n hosts.
func virtualAddrs(n int) int { return max(1, min(n, 32)) }

// virtualAddr returns the address of a virtual Web's listener j.
func virtualAddr(j int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + j)}) }

// Domain is the domain under which a virtual Web's hosts are named. The
// top-level domain .test is reserved (RFC 2606): no real name is under it.
const Domain = "web.test"

// HostName returns the name of host i (0-based) of a virtual Web:
// "h0.web.test" for host 0.
func HostName(i int) string { return "h" + strconv.Itoa(i) + "." + Domain }

// hostIndex returns the index of a virtual host's name (with or without
// its port), and whether it names one of n hosts.
func hostIndex(name string, n int) (int, bool) {
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	rest, ok := strings.CutPrefix(strings.ToLower(name), "h")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "."+Domain)
	if !ok || num == "" || (num[0] == '0' && num != "0") || num[0] == '+' || num[0] == '-' {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// maxHosts is the number of host addresses hostIP can give: 127.0.1.1
// through 127.0.255.254.
const maxHosts = 254 * 255

// withDefaults returns cfg with zero fields replaced by their defaults, or an
// error if cfg cannot be served.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Hosts == 0 {
		cfg.Hosts = 3
	}
	if cfg.PagesPerHost == 0 {
		cfg.PagesPerHost = 20
	}
	switch {
	case cfg.LinksPerPage == 0:
		cfg.LinksPerPage = 5
	case cfg.LinksPerPage < 0:
		cfg.LinksPerPage = 0
	}
	switch {
	case cfg.CrossHost == 0:
		cfg.CrossHost = 0.2
	case cfg.CrossHost < 0:
		cfg.CrossHost = 0
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Latency < 0 {
		cfg.Latency = 0
	}
	if cfg.Hosts < 0 || (cfg.Hosts > maxHosts && !cfg.Virtual) {
		return cfg, fmt.Errorf("crawltest: Hosts = %d, want 1..%d", cfg.Hosts, maxHosts)
	}
	if cfg.PagesPerHost < 0 {
		return cfg, fmt.Errorf("crawltest: PagesPerHost = %d, want > 0", cfg.PagesPerHost)
	}
	return cfg, nil
}

// hostIP returns the loopback address of host i (0-based): 127.0.1.1 for
// host 0, 127.0.1.254 for host 253, 127.0.2.1 for host 254, and so on.
func hostIP(i int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+i/254, 1+i%254)
}

// Request is one entry of the request log of a Web.
type Request struct {
	Time      time.Time // when the request arrived: the kernel's receive time of its bytes (Linux), else at handler entry; before latency
	Host      string    // address of the listener that accepted it, such as "127.0.1.1:41234" (not the Host header); for a virtual Web the host's name and port (its Host header)
	Path      string    // r.URL.RequestURI()
	Method    string    // HTTP method
	UserAgent string    // User-Agent header
	Status    int       // status written; 0 if the client went away before a response was written
	Client    string    // the client's end of the connection ("127.0.0.1:54321"): one a connection
}

// TB is the part of testing.TB that New uses. *testing.T and *testing.B
// implement it; the interface keeps the testing package out of binaries that
// only call Start.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// host is one simulated host.
type host struct {
	addr string // "127.0.1.1:41234"
}

// override identifies a path installed with Handle.
type override struct {
	host int
	path string
}

// Web is a running test web of several hosts. Create one with Start or New
// and stop it with Close.
type Web struct {
	hosts  []host
	byAddr map[string]int // listener address → host index; immutable after Start
	cfg    Config         // with defaults; immutable after Start

	srv      *http.Server
	serving  sync.WaitGroup // Serve goroutines
	handlers sync.WaitGroup // running handlers
	latency  atomic.Int64   // time.Duration
	done     chan struct{}  // closed by Close

	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex
	closed    bool
	log       []*Request
	logged    chan struct{} // closed and replaced whenever the log grows
	overrides map[override]http.Handler
	revisions map[target]int    // pages changed by Change, by how many times
	mirrors   map[target]target // pages that serve another's body (Mirror)
}

// Start listens on one loopback address per host, generates the site
// described by cfg and serves it. It returns once every listener is bound, so
// the Web answers requests as soon as Start returns. The caller must Close
// the Web.
func Start(cfg Config) (*Web, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Web{
		byAddr:    make(map[string]int, cfg.Hosts),
		done:      make(chan struct{}),
		overrides: make(map[override]http.Handler),
		revisions: make(map[target]int),
		mirrors:   make(map[target]target),
	}
	w.latency.Store(int64(cfg.Latency))

	listeners := make([]net.Listener, 0, cfg.Hosts)
	if cfg.Virtual {
		w.hosts = make([]host, cfg.Hosts)
		for j := range virtualAddrs(cfg.Hosts) {
			l, err := net.Listen("tcp", net.JoinHostPort(virtualAddr(j).String(), strconv.Itoa(cfg.Port)))
			if err != nil {
				for _, l := range listeners {
					l.Close()
				}
				return nil, fmt.Errorf("crawltest: listen: %w", err)
			}
			listeners = append(listeners, l)
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			for i := j; i < cfg.Hosts; i += virtualAddrs(cfg.Hosts) {
				w.hosts[i].addr = net.JoinHostPort(HostName(i), port)
			}
		}
	}
	for i := range cfg.Hosts {
		if cfg.Virtual {
			break
		}
		l, err := net.Listen("tcp", net.JoinHostPort(hostIP(i), strconv.Itoa(cfg.Port)))
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, fmt.Errorf("crawltest: listen for host %d: %w", i, err)
		}
		listeners = append(listeners, l)
		addr := l.Addr().String()
		w.hosts = append(w.hosts, host{addr: addr})
		w.byAddr[addr] = i
	}
	w.cfg = cfg

	w.srv = &http.Server{
		Handler:           http.HandlerFunc(w.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	for _, l := range listeners {
		if !cfg.NoLog {
			l = listenStamped(l)
		}
		w.serving.Add(1)
		go func() {
			defer w.serving.Done()
			w.srv.Serve(l) // returns http.ErrServerClosed after Close
		}()
	}
	return w, nil
}

// New is like Start but for tests: it calls t.Fatalf if the Web cannot be
// started and registers Close with t.Cleanup.
func New(t TB, cfg Config) *Web {
	t.Helper()
	w, err := Start(cfg)
	if err != nil {
		t.Fatalf("crawltest.Start: %v", err)
		return nil
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// Close stops every listener, closes open connections and waits for running
// handlers to return. Handlers waiting out the latency return at once; a
// handler installed with Handle must return once its request context is
// done. Close is idempotent; later calls return the result of the first.
func (w *Web) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.done)
		w.closeErr = w.srv.Close()
		w.serving.Wait()
		w.handlers.Wait()
	})
	return w.closeErr
}

// Hosts returns the listener address of every host, such as
// "127.0.1.1:41234", in host order.
func (w *Web) Hosts() []string {
	s := make([]string, len(w.hosts))
	for i, h := range w.hosts {
		s[i] = h.addr
	}
	return s
}

// Seeds returns the root URL of every host, such as "http://127.0.1.1:41234/",
// in host order.
func (w *Web) Seeds() []string {
	s := make([]string, len(w.hosts))
	for i, h := range w.hosts {
		s[i] = "http://" + h.addr + "/"
	}
	return s
}

// Pages returns the URL of every page of the generated site, each exactly
// once, sorted, in normalised form: lower-case scheme and host, no fragment,
// no dot segments, such as "http://127.0.1.1:41234/" and
// "http://127.0.1.1:41234/p/3". Paths installed with Handle are not included.
func (w *Web) Pages() []string {
	pages := make([]string, 0, len(w.hosts)*w.cfg.PagesPerHost)
	for _, h := range w.hosts {
		for k := range w.cfg.PagesPerHost {
			pages = append(pages, "http://"+h.addr+pagePath(k))
		}
	}
	slices.Sort(pages)
	return pages
}

// Log returns a copy of the request log in arrival order.
func (w *Web) Log() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := make([]Request, len(w.log))
	for i, r := range w.log {
		s[i] = *r
	}
	return s
}

// WaitRequests blocks until the log holds at least n requests that match
// (all requests if match is nil), or ctx is done. It lets a test act at a
// known point of a crawl without sleeping.
func (w *Web) WaitRequests(ctx context.Context, n int, match func(Request) bool) error {
	for {
		w.mu.Lock()
		count := 0
		for _, r := range w.log {
			if match == nil || match(*r) {
				count++
			}
		}
		if w.logged == nil {
			w.logged = make(chan struct{})
		}
		ch := w.logged
		w.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d requests, saw %d: %w", n, count, context.Cause(ctx))
		}
	}
}

// ResetLog empties the request log.
func (w *Web) ResetLog() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.log = nil
}

// Handle installs h for requests whose URL path is exactly path on host
// index host (0-based), taking precedence over the generated page, if any.
// A nil h removes the override. Requests to h are logged and delayed by the
// latency like any other. Handle panics if host is out of range.
func (w *Web) Handle(host int, path string, h http.Handler) {
	if host < 0 || host >= len(w.hosts) {
		panic("crawltest: Handle: host index " + strconv.Itoa(host) + " out of range")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if h == nil {
		delete(w.overrides, override{host, path})
		return
	}
	w.overrides[override{host, path}] = h
}

// SetLatency sets the delay before every response from now on. Zero or
// negative means none.
func (w *Web) SetLatency(d time.Duration) {
	w.latency.Store(int64(max(d, 0)))
}

// enter registers a running handler, unless the Web is closed.
func (w *Web) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.handlers.Add(1)
	return true
}

type connKey struct{}

// serve is the handler of every listener.
func (w *Web) serve(rw http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		if t, ok := arrivalOf(c); ok {
			arrived = t
		}
	}
	if !w.enter() {
		http.Error(rw, "crawltest: web closed", http.StatusServiceUnavailable)
		return
	}
	defer w.handlers.Done()

	hostIdx, known := -1, false
	var addr string
	if w.cfg.Virtual {
		if hostIdx, known = hostIndex(r.Host, len(w.hosts)); known {
			addr = w.hosts[hostIdx].addr
		} else {
			addr = r.Host
		}
	} else if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		addr = a.String()
		hostIdx, known = w.byAddr[addr]
	}
	entry := &Request{
		Time:      arrived,
		Host:      addr,
		Path:      r.URL.RequestURI(),
		Method:    r.Method,
		UserAgent: r.UserAgent(),
		Client:    r.RemoteAddr,
	}
	w.mu.Lock()
	if !w.cfg.NoLog {
		w.log = append(w.log, entry)
	}
	if w.logged != nil {
		close(w.logged)
		w.logged = nil
	}
	h := w.overrides[override{hostIdx, r.URL.Path}]
	w.mu.Unlock()

	if d := time.Duration(w.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		case <-w.done:
			return
		}
	}

	rec := &recorder{ResponseWriter: rw, web: w, entry: entry}
	switch {
	case !known:
		http.NotFound(rec, r)
	case h != nil:
		h.ServeHTTP(rec, r)
	default:
		w.servePage(rec, r, hostIdx)
	}
	if !rec.wrote {
		// net/http answers 200 for a handler that wrote nothing.
		rec.setStatus(http.StatusOK)
	}
}

// servePage serves the generated page at r.URL.Path of host i, or 404.
func (w *Web) servePage(rw http.ResponseWriter, r *http.Request, i int) {
	k, ok := w.pageIndex(r.URL.Path)
	if !ok {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		http.Error(rw, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	t := target{i, k}
	w.mu.Lock()
	if m, ok := w.mirrors[t]; ok {
		t = m
	}
	rev := w.revisions[t]
	w.mu.Unlock()
	body := w.page(t.host, t.page)
	if rev > 0 {
		body = bytes.Replace(body, []byte("</body>"), []byte("<p>Revision "+strconv.Itoa(rev)+".</p>\n</body>"), 1)
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	if w.cfg.Conditional {
		h := fnv.New64a()
		h.Write(body)
		rw.Header().Set("Etag", fmt.Sprintf(`"%016x"`, h.Sum64()))
		http.ServeContent(rw, r, "", modTime.Add(time.Duration(rev)*time.Hour), bytes.NewReader(body))
		return
	}
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		rw.Write(body)
	}
}

// modTime is the Last-Modified of a page never changed (Config.Conditional).
var modTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Change changes page k of host i (its body and, with Config.Conditional,
// its ETag and Last-Modified), as a site's edit does between two crawls.
// It panics if host is out of range.
func (w *Web) Change(host, k int) {
	if host < 0 || host >= len(w.hosts) {
		panic("crawltest: Change: host index " + strconv.Itoa(host) + " out of range")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.revisions[target{host, k}]++
}

// Mirror makes page k of host i serve exactly the body of page ofK of host
// ofHost (the same bytes under another URL, as a copied article or a page
// reachable by two paths is). It panics if a host is out of range.
func (w *Web) Mirror(host, k, ofHost, ofK int) {
	if host < 0 || host >= len(w.hosts) || ofHost < 0 || ofHost >= len(w.hosts) {
		panic("crawltest: Mirror: host index out of range")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mirrors[target{host, k}] = target{ofHost, ofK}
}

// recorder records the status of a response in its log entry before the
// status reaches the client, so that a client that has seen the response
// also sees its log entry complete.
type recorder struct {
	http.ResponseWriter
	web   *Web
	entry *Request
	wrote bool
}

func (rec *recorder) setStatus(code int) {
	rec.wrote = true
	rec.web.mu.Lock()
	rec.entry.Status = code
	rec.web.mu.Unlock()
}

// WriteHeader records the first final (non-1xx) status.
func (rec *recorder) WriteHeader(code int) {
	if !rec.wrote && code >= 200 {
		rec.setStatus(code)
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	return rec.ResponseWriter.Write(b)
}

// Flush implements http.Flusher when the underlying writer does.
func (rec *recorder) Flush() {
	if !rec.wrote {
		rec.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush() // best effort
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter {
	return rec.ResponseWriter
}

// Resolver resolves the names of the hosts of a virtual Web of Hosts hosts
// (see Config.Virtual) to their listener's address, and no other name: a
// lookup of any other name fails as a name that does not exist does. It has
// the method of fetch.Resolver (and of *net.Resolver) that a client
// resolves with, and needs nothing of the Web but its number of hosts, so a
// client in another process can have it. Its zero value resolves nothing;
// it is safe for concurrent use.
type Resolver struct {
	Hosts int // the Web's number of hosts
}

// Resolver returns the resolver of a virtual Web's host names; that of
// another Web resolves nothing.
func (w *Web) Resolver() Resolver {
	if !w.cfg.Virtual {
		return Resolver{}
	}
	return Resolver{Hosts: len(w.hosts)}
}

// LookupNetIP returns the listener's address for the name of one of the
// Web's hosts, else a *net.DNSError that says the name is not found.
func (r Resolver) LookupNetIP(_ context.Context, network, name string) ([]netip.Addr, error) {
	i, ok := hostIndex(name, r.Hosts)
	if !ok || network == "ip6" {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return []netip.Addr{virtualAddr(i % virtualAddrs(r.Hosts))}, nil
}
