package crawltest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// newClient returns a client that uses no proxy and its own connections.
func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// get fetches u and returns the response and its body.
func get(t *testing.T, c *http.Client, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var hrefRE = regexp.MustCompile(`<a href="([^"]*)"`)

// links returns the absolute http(s) links of body, a page at base,
// normalised: fragment dropped, lower-case scheme and host.
func links(t *testing.T, base string, body []byte) []string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range hrefRE.FindAllSubmatch(body, -1) {
		ref, err := url.Parse(html.UnescapeString(string(m[1])))
		if err != nil {
			t.Fatalf("%s: bad href %q: %v", base, m[1], err)
		}
		u := b.ResolveReference(ref)
		if u.Scheme != "http" && u.Scheme != "https" {
			continue
		}
		u.Fragment = ""
		u.RawFragment = ""
		u.Host = strings.ToLower(u.Host)
		out = append(out, u.String())
	}
	return out
}

// anonymise replaces every host address of w in s with its host index.
func anonymise(w *Web, s string) string {
	for i, h := range w.Hosts() {
		s = strings.ReplaceAll(s, h, fmt.Sprintf("host%d", i))
	}
	return s
}

func TestHostIP(t *testing.T) {
	for i, want := range map[int]string{
		0:            "127.0.1.1",
		1:            "127.0.1.2",
		253:          "127.0.1.254",
		254:          "127.0.2.1",
		maxHosts - 1: "127.0.255.254",
	} {
		if got := hostIP(i); got != want {
			t.Errorf("hostIP(%d) = %s, want %s", i, got, want)
		}
	}
}

func TestAddresses(t *testing.T) {
	w := New(t, Config{Hosts: 4, PagesPerHost: 2})
	hosts, seeds := w.Hosts(), w.Seeds()
	if len(hosts) != 4 || len(seeds) != 4 {
		t.Fatalf("got %d hosts, %d seeds, want 4", len(hosts), len(seeds))
	}
	for i, h := range hosts {
		ip, _, err := net.SplitHostPort(h)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("127.0.1.%d", i+1); ip != want {
			t.Errorf("host %d on %s, want %s", i, ip, want)
		}
		if want := "http://" + h + "/"; seeds[i] != want {
			t.Errorf("seed %d = %s, want %s", i, seeds[i], want)
		}
	}
	if n := len(w.Pages()); n != 8 {
		t.Errorf("got %d pages, want 8", n)
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Hosts: 3, PagesPerHost: 15, LinksPerPage: 6, CrossHost: 0.3, Seed: 42}
	c := newClient(t)
	site := func() (pages []string, bodies map[string]string) {
		w := New(t, cfg)
		bodies = make(map[string]string)
		for _, p := range w.Pages() {
			_, body := get(t, c, p)
			bodies[anonymise(w, p)] = anonymise(w, string(body))
			pages = append(pages, anonymise(w, p))
		}
		return pages, bodies
	}
	pages1, bodies1 := site()
	pages2, bodies2 := site()
	if !slices.Equal(pages1, pages2) {
		t.Fatalf("pages differ:\n%v\n%v", pages1, pages2)
	}
	for _, p := range pages1 {
		if bodies1[p] != bodies2[p] {
			t.Errorf("%s differs:\n%s\n%s", p, bodies1[p], bodies2[p])
		}
	}

	// A different seed gives a different graph.
	cfg.Seed = 43
	_, bodies3 := site()
	same := 0
	for _, p := range pages1 {
		if bodies1[p] == bodies3[p] {
			same++
		}
	}
	if same == len(pages1) {
		t.Error("seeds 42 and 43 give the same site")
	}
}

func TestCrawl(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Hosts: 1, PagesPerHost: 7, LinksPerPage: -1},
		{Hosts: 5, PagesPerHost: 3, LinksPerPage: 2, CrossHost: 1, Seed: 7},
		{Hosts: 2, PagesPerHost: 1},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			w := New(t, cfg)
			c := newClient(t)
			pages := w.Pages()
			if !slices.IsSorted(pages) {
				t.Errorf("Pages not sorted: %v", pages)
			}
			if len(slices.Compact(slices.Clone(pages))) != len(pages) {
				t.Errorf("Pages has duplicates: %v", pages)
			}
			isPage := make(map[string]bool)
			for _, p := range pages {
				isPage[p] = true
			}

			seen := make(map[string]bool)
			queue := w.Seeds()
			for _, s := range queue {
				seen[s] = true
			}
			var bodies strings.Builder
			for len(queue) > 0 {
				u := queue[0]
				queue = queue[1:]
				resp, body := get(t, c, u)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d", u, resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("%s: Content-Type %q", u, ct)
				}
				bodies.Write(body)
				for _, l := range links(t, u, body) {
					if !isPage[l] {
						t.Errorf("%s links to %s, not a page", u, l)
					}
					if !seen[l] {
						seen[l] = true
						queue = append(queue, l)
					}
				}
			}
			reached := slices.Sorted(func(yield func(string) bool) {
				for u := range seen {
					if !yield(u) {
						return
					}
				}
			})
			if !slices.Equal(reached, pages) {
				t.Errorf("crawl reached\n%v\nwant\n%v", reached, pages)
			}
			for _, s := range []string{`href="mailto:someone@example.invalid"`, `href="javascript:void(0)"`, "<noscript>"} {
				if !strings.Contains(bodies.String(), s) {
					t.Errorf("no page contains %s", s)
				}
			}
		})
	}
}

func TestLinkForms(t *testing.T) {
	w := New(t, Config{})
	c := newClient(t)
	var all strings.Builder
	for _, p := range w.Pages() {
		_, body := get(t, c, p)
		all.Write(body)
	}
	body := all.String()
	for _, s := range []string{
		`href="p/`, `href="../p/`, `href="./p/`, `href="/p/../p/`, `href="../"`,
		`href="HTTP://`, `href="http://`, `href="//`, `#section-`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("no link contains %s", s)
		}
	}
	if !regexp.MustCompile(`href="\d+"`).MatchString(body) {
		t.Error(`no link of the form href="3"`)
	}
}

func TestCrossHost(t *testing.T) {
	count := func(cfg Config) (cross, total int) {
		w := New(t, cfg)
		c := newClient(t)
		for _, p := range w.Pages() {
			_, body := get(t, c, p)
			from, _ := url.Parse(p)
			for _, l := range links(t, p, body) {
				u, _ := url.Parse(l)
				total++
				if u.Host != from.Host {
					cross++
				}
			}
		}
		return cross, total
	}
	if cross, total := count(Config{Hosts: 3, CrossHost: 0.5}); cross == 0 || cross == total {
		t.Errorf("3 hosts, CrossHost 0.5: %d of %d links cross hosts", cross, total)
	}
	if cross, _ := count(Config{Hosts: 1, CrossHost: 1}); cross != 0 {
		t.Errorf("1 host: %d cross-host links", cross)
	}
	if cross, _ := count(Config{Hosts: 3, CrossHost: -1}); cross != 0 {
		t.Errorf("CrossHost -1: %d cross-host links", cross)
	}
}

func TestLog(t *testing.T) {
	w := New(t, Config{Hosts: 2, PagesPerHost: 3})
	c := newClient(t)
	do := func(method, u, ua string) int {
		t.Helper()
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", ua)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	h := w.Hosts()
	start := time.Now()
	do("GET", "http://"+h[0]+"/", "bot/1")
	do("GET", "http://"+h[1]+"/p/2?q=1", "bot/2")
	do("HEAD", "http://"+h[1]+"/p/1", "bot/3")
	do("GET", "http://"+h[0]+"/robots.txt", "bot/4")
	do("POST", "http://"+h[0]+"/p/1", "bot/5")
	want := []Request{
		{Host: h[0], Path: "/", Method: "GET", UserAgent: "bot/1", Status: 200},
		{Host: h[1], Path: "/p/2?q=1", Method: "GET", UserAgent: "bot/2", Status: 200},
		{Host: h[1], Path: "/p/1", Method: "HEAD", UserAgent: "bot/3", Status: 200},
		{Host: h[0], Path: "/robots.txt", Method: "GET", UserAgent: "bot/4", Status: 404},
		{Host: h[0], Path: "/p/1", Method: "POST", UserAgent: "bot/5", Status: 405},
	}
	got := w.Log()
	if len(got) != len(want) {
		t.Fatalf("log has %d entries, want %d: %+v", len(got), len(want), got)
	}
	// One keep-alive connection a host: the log tells them apart.
	if c := got[0].Client; c == "" || got[3].Client != c || got[4].Client != c || got[1].Client == c || got[2].Client != got[1].Client {
		t.Errorf("connections of the entries: %q %q %q %q %q, want one for host 0 (entries 0, 3, 4) and another for host 1 (1, 2)",
			got[0].Client, got[1].Client, got[2].Client, got[3].Client, got[4].Client)
	}
	prev := start
	for i := range got {
		if got[i].Time.Before(prev) || got[i].Time.After(time.Now()) {
			t.Errorf("entry %d: time %v out of order", i, got[i].Time)
		}
		prev = got[i].Time
		got[i].Time, got[i].Client = time.Time{}, ""
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Log returns a copy.
	got[0].Status = 999
	if w.Log()[0].Status != 200 {
		t.Error("Log shares its entries with the caller")
	}

	w.ResetLog()
	if n := len(w.Log()); n != 0 {
		t.Fatalf("after ResetLog, log has %d entries", n)
	}
	do("GET", "http://"+h[1]+"/", "bot/6")
	if got := w.Log(); len(got) != 1 || got[0].UserAgent != "bot/6" {
		t.Errorf("after ResetLog and one request, log = %+v", got)
	}
}

func TestHead(t *testing.T) {
	w := New(t, Config{Hosts: 1, PagesPerHost: 2})
	c := newClient(t)
	_, body := get(t, c, w.Seeds()[0])
	resp, err := c.Head(w.Seeds()[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) {
		t.Errorf("HEAD: status %d, length %d, want 200, %d", resp.StatusCode, resp.ContentLength, len(body))
	}
}

func TestHandle(t *testing.T) {
	w := New(t, Config{Hosts: 2, PagesPerHost: 3})
	c := newClient(t)
	w.Handle(1, "/robots.txt", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte("User-agent: *\nDisallow: /p/\n"))
	}))
	w.Handle(0, "/p/1", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusTooManyRequests)
	}))
	w.Handle(0, "/empty", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h := w.Hosts()

	check := func(u string, status int, body string) {
		t.Helper()
		resp, b := get(t, c, u)
		if resp.StatusCode != status || (body != "" && string(b) != body) {
			t.Errorf("%s: %d %q, want %d %q", u, resp.StatusCode, b, status, body)
		}
	}
	check("http://"+h[1]+"/robots.txt", 200, "User-agent: *\nDisallow: /p/\n")
	check("http://"+h[0]+"/robots.txt", 404, "")
	check("http://"+h[0]+"/p/1", 429, "")
	check("http://"+h[1]+"/p/1", 200, "")
	check("http://"+h[0]+"/empty", 200, "")
	check("http://"+h[0]+"/nope", 404, "")
	check("http://"+h[0]+"/p/../p/1", 404, "") // not normalised by the server
	w.Handle(0, "/p/1", nil)
	check("http://"+h[0]+"/p/1", 200, "")

	var statuses []int
	for _, r := range w.Log() {
		statuses = append(statuses, r.Status)
	}
	if want := []int{200, 404, 429, 200, 200, 404, 404, 200}; !slices.Equal(statuses, want) {
		t.Errorf("logged statuses %v, want %v", statuses, want)
	}
}

func TestLatencyCancel(t *testing.T) {
	w, err := Start(Config{Hosts: 1, Latency: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	c.Timeout = 50 * time.Millisecond
	_, err = c.Get(w.Seeds()[0])
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("Get with latency 1h: err = %v, want a timeout", err)
	}
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, r := range w.Log() {
		if r.Status != 0 {
			t.Errorf("cancelled request logged with status %d", r.Status)
		}
	}
}

// TestLatencyContext checks that a handler waiting out the latency returns
// when its request context is done, without Close.
func TestLatencyContext(t *testing.T) {
	w := New(t, Config{Hosts: 1, Latency: time.Hour})
	addr, err := net.ResolveTCPAddr("tcp", w.Hosts()[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, addr))
	cancel()
	rec := httptest.NewRecorder()
	w.serve(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
	if log := w.Log(); len(log) != 1 || log[0].Status != 0 || log[0].Host != w.Hosts()[0] {
		t.Errorf("log = %+v, want one entry for host 0 with status 0", log)
	}

	// SetLatency takes effect at once.
	w.SetLatency(0)
	rec = httptest.NewRecorder()
	w.serve(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
	if rec.Code != 200 {
		t.Errorf("after SetLatency(0): status %d", rec.Code)
	}
}

func TestLatencyDelays(t *testing.T) {
	const d = 30 * time.Millisecond
	w := New(t, Config{Hosts: 1, PagesPerHost: 1, Latency: d})
	c := newClient(t)
	start := time.Now()
	get(t, c, w.Seeds()[0])
	if el := time.Since(start); el < d {
		t.Errorf("response after %v, want at least %v", el, d)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{Hosts: -1}, {PagesPerHost: -1}, {Hosts: maxHosts + 1}} {
		if w, err := Start(cfg); err == nil {
			w.Close()
			t.Errorf("Start(%+v) succeeded", cfg)
		}
	}
}

func TestCloseIdempotent(t *testing.T) {
	w, err := Start(Config{Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	if _, err := c.Get(w.Seeds()[0]); err == nil {
		t.Error("Get after Close succeeded")
	}
}

func TestWaitRequests(t *testing.T) {
	w := New(t, Config{Hosts: 1, PagesPerHost: 3})
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		got <- w.WaitRequests(ctx, 2, func(r Request) bool { return r.Path == "/p/1" })
	}()
	for range 2 {
		resp, err := http.Get(w.Seeds()[0] + "p/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := <-got; err != nil {
		t.Fatalf("WaitRequests after 2 matching requests: %v", err)
	}
	cancel()
	if err := w.WaitRequests(ctx, 3, nil); err == nil {
		t.Fatal("WaitRequests for a 3rd request with a cancelled context: got nil error")
	}
}

func TestPolicer(t *testing.T) {
	at := func(ms ...int) []Request {
		var out []Request
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, m := range ms {
			out = append(out, Request{Time: t0.Add(time.Duration(m) * time.Millisecond), Path: fmt.Sprint("/", i)})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		p      Policer
		reqs   []Request
		excess []string
	}{
		{"spaced", Policer{Interval: 100 * time.Millisecond}, at(0, 100, 200, 400), nil},
		{"within slack", Policer{Interval: 100 * time.Millisecond}, at(0, 96, 200), nil},
		{"early", Policer{Interval: 100 * time.Millisecond}, at(0, 94, 200), []string{"/1"}},
		{"excess takes no token", Policer{Interval: 100 * time.Millisecond}, at(0, 50, 100), []string{"/1"}},
		{"out of order", Policer{Interval: 100 * time.Millisecond}, at(100, 0, 200), nil},
		{"burst 3 full at start", Policer{Interval: 100 * time.Millisecond, Burst: 3}, at(0, 0, 0, 100), nil},
		{"burst 3 then too fast", Policer{Interval: 100 * time.Millisecond, Burst: 3}, at(0, 0, 0, 50), []string{"/3"}},
		{"burst 3 empty stays empty", Policer{Interval: 100 * time.Millisecond, Burst: 3}, at(0, 0, 0, 100, 200, 250), []string{"/5"}},
		{"burst 3 refills", Policer{Interval: 100 * time.Millisecond, Burst: 3}, at(0, 0, 0, 300, 300, 300), nil},
	} {
		var got []string
		for _, e := range tc.p.Check(tc.reqs) {
			got = append(got, e.Path)
		}
		if !slices.Equal(got, tc.excess) {
			t.Errorf("%s: excess %v, want %v", tc.name, got, tc.excess)
		}
	}
}

// TestVirtual serves many hosts on one listener by name: each answers its
// own pages, the resolver knows only the Web's names, and the log names
// the host asked for.
func TestVirtual(t *testing.T) {
	w := New(t, Config{Hosts: 70_000, PagesPerHost: 2, Virtual: true})
	res := w.Resolver()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, _ := net.SplitHostPort(addr)
			ips, err := res.LookupNetIP(ctx, "ip", host)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(ips[0].String(), port))
		},
	}}
	defer client.CloseIdleConnections()
	seeds := w.Seeds()
	if len(seeds) != 70_000 || !strings.HasPrefix(seeds[69_999], "http://h69999.web.test:") {
		t.Fatalf("seeds: %d, last %q", len(seeds), seeds[len(seeds)-1])
	}
	for _, i := range []int{0, 1, 69_999} {
		resp, err := client.Get(seeds[i] + "p/1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("Host %d page 1", i); resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("host %d: status %d, body lacks %q", i, resp.StatusCode, want)
		}
	}
	for _, name := range []string{"h70000.web.test", "h01.web.test", "h-1.web.test", "h1.web.test.evil", "example.com"} {
		if ips, err := res.LookupNetIP(context.Background(), "ip", name); err == nil {
			t.Errorf("LookupNetIP(%q) = %v, want an error", name, ips)
		}
	}
	if log := w.Log(); len(log) != 3 || log[2].Host != w.Hosts()[69_999] || log[2].Path != "/p/1" {
		t.Errorf("log: %+v", log)
	}
	if ips, _ := res.LookupNetIP(context.Background(), "ip", "h33.web.test"); len(ips) != 1 || ips[0] != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("h33.web.test resolves to %v, want 127.0.0.2 (33 mod 32 + 1)", ips)
	}
	if New(t, Config{Hosts: 1}).Resolver().Hosts != 0 {
		t.Error("a Web on addresses has a resolver")
	}
}
