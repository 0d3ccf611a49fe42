package crawler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/internal/storetest"
	"github.com/politecrawl/crawl/store"
)

// openStore opens a store at path (in t.TempDir if ""), checked for
// consistency at the end.
func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	return storetest.Open(t, path, nil)
}

// crawl runs one crawl of seeds into st with cfg and returns its stats.
func crawl(t *testing.T, st *store.Store, cfg crawler.Config, seeds []string) crawler.Stats {
	t.Helper()
	return crawlWith(t, st, cfg, fetch.New(fetch.Config{}), seeds)
}

// crawlWith is crawl with the fetcher f.
func crawlWith(t *testing.T, st *store.Store, cfg crawler.Config, f crawler.Fetcher, seeds []string) crawler.Stats {
	t.Helper()
	c, err := crawler.New(cfg, st, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), seeds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return c.Stats()
}

// storedURLs returns the URLs of every record in st, sorted.
func storedURLs(t *testing.T, st *store.Store) []string {
	t.Helper()
	var urls []string
	err := st.ForEachPage(func(url string, raw []byte) error {
		var p store.Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		if p.URL != url {
			t.Errorf("record under %q has url %q", url, p.URL)
		}
		urls = append(urls, url)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return urls
}

// fast makes cfg quick for tests: no rate limit, short batches, and no
// /sitemap.xml probe (tests of sitemaps are in polite_test.go).
func fast(cfg crawler.Config) crawler.Config {
	cfg.Rate = rate.Inf
	cfg.NoSitemaps = true
	cfg.BatchDelay = 5 * time.Millisecond
	return cfg
}

// TestCommitWhenIdle: a batch that is neither full nor due is committed as
// soon as no worker is busy, so a crawl whose batches never fill and whose
// batch delay never ends still finishes, with every page stored.
func TestCommitWhenIdle(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 20, LinksPerPage: 4})
	st := openStore(t, "")
	cfg := fast(crawler.Config{Workers: 4, PerHost: 2, BatchSize: 1 << 20})
	cfg.BatchDelay = time.Hour
	s := crawl(t, st, cfg, web.Seeds())
	if got, want := storedURLs(t, st), web.Pages(); !slices.Equal(got, want) {
		t.Fatalf("stored %d pages, want the site's %d", len(got), len(want))
	}
	if s.Commits == 0 {
		t.Fatal("no commit")
	}
}

func TestCrawlStoresEveryPageOnce(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 30, LinksPerPage: 8})
	st := openStore(t, "")
	s := crawl(t, st, fast(crawler.Config{Workers: 16, PerHost: 4, BatchSize: 7}), web.Seeds())

	if got, want := storedURLs(t, st), web.Pages(); !slices.Equal(got, want) {
		t.Fatalf("stored %d pages, want the site's %d:\n got %q\nwant %q", len(got), len(want), got, want)
	}
	for u, n := range web.PageRequests() {
		if n != 1 {
			t.Errorf("server saw %d requests for %s, want 1", n, u)
		}
	}
	if s.Stored != len(web.Pages()) || s.Pending != 0 || s.InFlight != 0 || s.Failed != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if s.Commits < 2 {
		t.Errorf("%d commits for %d pages: not batched as configured", s.Commits, s.Stored)
	}
	p, ok, err := st.Page(web.Pages()[0])
	if err != nil || !ok {
		t.Fatalf("Page(%s) = %v, %v", web.Pages()[0], ok, err)
	}
	if p.Status != 200 || p.ContentType != "text/html" || p.Title != "Host 0 page 0" ||
		!strings.Contains(p.Text, "page 0 of host 0") || len(p.Links) == 0 || p.Depth != 0 {
		t.Errorf("root page record = %+v", p)
	}
	if strings.Contains(p.Text, "var x") || strings.Contains(p.Text, "no script text") {
		t.Errorf("text holds script or noscript content: %q", p.Text)
	}
	for _, l := range p.Links {
		if strings.Contains(l, "#") || strings.HasPrefix(l, "HTTP") || strings.Contains(l, "/./") || strings.Contains(l, "..") ||
			strings.HasPrefix(l, "mailto:") || strings.HasPrefix(l, "javascript:") {
			t.Errorf("link %q is not normalised", l)
		}
	}
}

// TestPoliteness checks from the server's side that each host gets at most
// its rate, and that the scheduler keeps every host busy at once: the crawl
// takes about pages-per-host/rate, not the sum over the hosts.
func TestPoliteness(t *testing.T) {
	const (
		hosts, pages = 8, 5
		r            = 5.0 // requests per second per host
		interval     = time.Duration(float64(time.Second) / r)
		slack        = 50 * time.Millisecond // clock and scheduling jitter on a loaded machine
	)
	web := crawltest.New(t, crawltest.Config{Hosts: hosts, PagesPerHost: pages, LinksPerPage: 3})
	st := openStore(t, "")
	start := time.Now()
	crawl(t, st, crawler.Config{Workers: 64, Rate: r, Burst: 1, PerHost: 1, BatchDelay: 5 * time.Millisecond, NoSitemaps: true}, web.Seeds())
	wall := time.Since(start)

	if got := len(storedURLs(t, st)); got != hosts*pages {
		t.Fatalf("stored %d pages, want %d", got, hosts*pages)
	}
	last := map[string]time.Time{}
	for _, req := range web.Log() {
		if prev, ok := last[req.Host]; ok {
			if gap := req.Time.Sub(prev); gap < interval-slack {
				t.Errorf("host %s: two requests %v apart, want ≥ %v", req.Host, gap, interval)
			}
		}
		last[req.Host] = req.Time
	}
	// Serial would take hosts*(pages-1)*interval = 6.4 s; one host's share
	// is (pages-1)*interval = 0.8 s. Half the serial time proves the hosts
	// ran in parallel with room for a slow machine.
	serial := time.Duration(hosts*(pages-1)) * interval
	if wall > serial/2 {
		t.Errorf("crawl took %v; hosts in parallel should take about %v (serially %v)", wall, time.Duration(pages-1)*interval, serial)
	}
	t.Logf("wall %v for %d hosts × %d pages at %v/s per host (bound %v)", wall, hosts, pages, r, time.Duration(pages-1)*interval)
}

func TestPerHostConcurrencyCap(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 20, LinksPerPage: 6})
	// Count concurrent requests per host on the server side: each page waits
	// until the test lets it go, so overlapping requests really overlap.
	const cap = 3
	type hostCount struct{ cur, max int }
	counts := make(chan map[string]*hostCount, 1)
	counts <- map[string]*hostCount{}
	enter := func(host string) {
		m := <-counts
		if m[host] == nil {
			m[host] = &hostCount{}
		}
		m[host].cur++
		m[host].max = max(m[host].max, m[host].cur)
		counts <- m
	}
	leave := func(host string) {
		m := <-counts
		m[host].cur--
		counts <- m
	}
	for h := range 2 {
		for p := 1; p < 20; p++ {
			path := "/p/" + strconv.Itoa(p)
			web.Handle(h, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				host := web.Hosts()[h]
				enter(host)
				defer leave(host)
				// Hold the request until another arrives or a short time passes,
				// to give the crawler the chance to overlap requests.
				select {
				case <-time.After(20 * time.Millisecond):
				case <-r.Context().Done():
				}
				w.Header().Set("Content-Type", "text/html")
				for next := p + 1; next <= min(p+4, 19); next++ {
					w.Write([]byte(`<a href="/p/` + strconv.Itoa(next) + `">next</a>`))
				}
			}))
		}
	}
	st := openStore(t, "")
	crawl(t, st, fast(crawler.Config{Workers: 32, PerHost: cap}), web.Seeds())
	m := <-counts
	for host, c := range m {
		if c.max > cap {
			t.Errorf("host %s saw %d concurrent requests, cap %d", host, c.max, cap)
		}
		if c.max < 2 {
			t.Errorf("host %s never saw overlapping requests: the test proves nothing", host)
		}
	}
	if got := len(storedURLs(t, st)); got != 40 {
		t.Errorf("stored %d pages, want 40", got)
	}
}

func TestScope(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 15, LinksPerPage: 4, CrossHost: 0.5})
	seed := web.Seeds()[0]
	tests := []struct {
		name string
		cfg  crawler.Config
		want func(page string, depth int) bool // which pages must be stored (nil: check count only)
		n    int
	}{
		{name: "seed host only", cfg: crawler.Config{},
			want: func(p string, _ int) bool { return strings.HasPrefix(p, seed) }},
		{name: "no follow", cfg: crawler.Config{NoFollow: true}, n: 1},
		{name: "max depth 1", cfg: crawler.Config{MaxDepth: 1},
			want: func(p string, d int) bool { return strings.HasPrefix(p, seed) && d <= 1 }},
		{name: "exclude", cfg: crawler.Config{Exclude: []*regexp.Regexp{regexp.MustCompile(`/p/1\d$`)}},
			want: func(p string, _ int) bool {
				return strings.HasPrefix(p, seed) && !regexp.MustCompile(`/p/1\d$`).MatchString(p)
			}},
		{name: "max pages", cfg: crawler.Config{MaxPages: 7}, n: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			web.ResetLog()
			st := openStore(t, "")
			crawl(t, st, fast(tt.cfg), []string{seed})
			got := storedURLs(t, st)
			if tt.want == nil {
				if len(got) != tt.n {
					t.Fatalf("stored %d pages, want %d", len(got), tt.n)
				}
				return
			}
			for _, u := range got {
				p, _, _ := st.Page(u)
				if !tt.want(u, p.Depth) {
					t.Errorf("stored %s (depth %d), out of scope", u, p.Depth)
				}
			}
			if len(got) < 2 {
				t.Errorf("stored only %q", got)
			}
			for _, r := range web.Log() {
				if u := "http://" + r.Host + r.Path; r.Path != "/robots.txt" && !slices.Contains(got, u) {
					t.Errorf("fetched %s but did not store it", u)
				}
			}
		})
	}
}

func TestScopeAnyHostFollowsAllHosts(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 10, CrossHost: 0.5})
	st := openStore(t, "")
	// The other hosts are loopback addresses that no seed names: the
	// fetcher refuses them unless private addresses are allowed.
	crawlWith(t, st, fast(crawler.Config{AnyHost: true, PerHost: 2}), fetch.New(fetch.Config{AllowPrivate: true}), web.Seeds()[:1])
	if got, want := storedURLs(t, st), web.Pages(); !slices.Equal(got, want) {
		t.Fatalf("from one seed with AnyHost stored %d pages, want all %d", len(got), len(want))
	}
}

// TestResume stops a crawl at a page limit and continues it in a new Crawler
// on the reopened store: every page ends up stored, none fetched twice.
func TestResume(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 40, LinksPerPage: 5})
	path := filepath.Join(t.TempDir(), "crawl.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Window 4 makes the queues spill to the store and reload from it.
	cfg := fast(crawler.Config{Workers: 8, PerHost: 2, Window: 4})
	first := cfg
	first.MaxPages = 25
	s := crawl(t, st, first, web.Seeds())
	if s.Stored != 25 || s.Pending == 0 {
		t.Fatalf("first run stats %+v, want 25 stored and some pending", s)
	}
	st.Close()

	st = openStore(t, path)
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	// Giving the seeds again adds none of them: they were crawled.
	if n, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil || n != 0 {
		t.Fatalf("AddSeeds again = %d, %v; want 0 new", n, err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := storedURLs(t, st), web.Pages(); !slices.Equal(got, want) {
		t.Fatalf("after resume stored %d pages, want %d", len(got), len(want))
	}
	for u, n := range web.PageRequests() {
		if n != 1 {
			t.Errorf("server saw %d requests for %s, want 1", n, u)
		}
	}
}

// TestCancelLeavesUnfinishedPending cancels a crawl whose fetches hang: after
// the grace period they are abandoned, not stored as errors, and a second
// run fetches them.
func TestCancelLeavesUnfinishedPending(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	st := openStore(t, "")
	hang := make(chan struct{})
	release := make(chan struct{})
	web.Handle(0, "/p/1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hang <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("<title>late</title>"))
	}))
	c, err := crawler.New(fast(crawler.Config{Grace: 50 * time.Millisecond}), st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	c.AddSeeds(context.Background(), web.Seeds())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	<-hang
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if _, ok, _ := st.Page(web.Seeds()[0] + "p/1"); ok {
		t.Fatal("an abandoned fetch was stored")
	}
	close(release)
	crawl(t, st, fast(crawler.Config{}), nil)
	if got := len(storedURLs(t, st)); got != len(web.Pages()) {
		t.Fatalf("after the second run stored %d pages, want %d", got, len(web.Pages()))
	}
}

func TestErrorsAreStored(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 3, LinksPerPage: -1})
	web.Handle(0, "/p/1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<base href="/deep/dir/"><a href="rel">r</a><a href="http://127.0.0.1:1/refused">x</a>`))
	}))
	web.Handle(0, "/deep/dir/rel", http.RedirectHandler("/p/2", http.StatusFound))
	st := openStore(t, "")
	s := crawl(t, st, fast(crawler.Config{AnyHost: true}), web.Seeds())
	rel, ok, _ := st.Page(web.Seeds()[0] + "deep/dir/rel")
	if !ok || rel.Status != 200 || rel.FinalURL != web.Seeds()[0]+"p/2" {
		t.Errorf("redirected page record = %+v, %v; want status 200 and final_url …/p/2", rel, ok)
	}
	bad, ok, _ := st.Page("http://127.0.0.1:1/refused")
	if !ok || bad.Error == "" || bad.Status != 0 || !strings.Contains(bad.Error, "127.0.0.1:1") {
		t.Errorf("refused connection record = %+v, %v; want an error naming the URL", bad, ok)
	}
	if s.Failed != 1 {
		t.Errorf("Stats.Failed = %d, want 1", s.Failed)
	}
}

// TestMissingSitemapLeavesNoRecord: with sitemap discovery on (the default),
// each host's /sitemap.xml is asked for once; where a host has none (404),
// the probe leaves no record, so the database holds exactly the site's pages.
func TestMissingSitemapLeavesNoRecord(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 6})
	st := openStore(t, "")
	cfg := fast(crawler.Config{})
	cfg.NoSitemaps = false
	s := crawl(t, st, cfg, web.Seeds())
	if got, want := storedURLs(t, st), web.Pages(); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want the site's pages %q", got, want)
	}
	if s.Stored != len(web.Pages()) || s.Failed != 0 {
		t.Errorf("Stats = %+v, want %d stored and no failures", s, len(web.Pages()))
	}
	probes := 0
	for _, r := range web.Log() {
		if r.Path == "/sitemap.xml" {
			probes++
		}
	}
	if probes != 2 {
		t.Errorf("%d requests for /sitemap.xml, want one per host (2)", probes)
	}
}

// TestCrawlExtract: the rules' fields are stored with the records of the
// pages they apply to, and only those; a selector that matches nothing
// leaves no field.
func TestCrawlExtract(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	var rules []extract.Rule
	for _, r := range []struct {
		match string
		specs []string
	}{
		{`/p/\d+$`, []string{"h1=h1", "nav[]=nav a@href", "none=.absent"}},
		{`/p/[1-3]$`, []string{"h1=title", "para=p"}},
	} {
		rule := extract.Rule{Match: regexp.MustCompile(r.match)}
		for _, s := range r.specs {
			f, err := extract.ParseField(s)
			if err != nil {
				t.Fatal(err)
			}
			rule.Fields = append(rule.Fields, f)
		}
		rules = append(rules, rule)
	}
	var (
		mu    sync.Mutex
		pages = map[string]*store.Page{}
	)
	st := openStore(t, "")
	crawl(t, st, crawler.Config{Rate: rate.Inf, NoSitemaps: true, Extract: rules,
		OnPage: func(p *store.Page) { mu.Lock(); pages[p.URL] = p; mu.Unlock() }}, web.Seeds())
	if len(pages) != 20 {
		t.Fatalf("got %d pages, want 20", len(pages))
	}
	for u, p := range pages {
		path := u[strings.Index(u[len("http://"):], "/")+len("http://"):]
		switch {
		case path == "/":
			if p.Fields != nil {
				t.Errorf("%s: got fields %v, want none (no rule applies)", u, p.Fields)
			}
			continue
		case len(p.Fields) != 2 && path > "/p/3" || len(p.Fields) != 3 && path <= "/p/3":
			t.Errorf("%s: got fields %v", u, p.Fields)
		}
		if p.Fields["h1"] != p.Title {
			t.Errorf("%s: got h1 %v, want %q", u, p.Fields["h1"], p.Title)
		}
		if nav, _ := p.Fields["nav"].([]string); len(nav) < 3 || nav[len(nav)-1] != "javascript:void(0)" {
			t.Errorf("%s: got nav %v", u, p.Fields["nav"])
		}
		if para, _ := p.Fields["para"].(string); path <= "/p/3" && !strings.HasPrefix(para, "This is page ") {
			t.Errorf("%s: got para %q", u, para)
		}
	}
	// Read back from the store, arrays are []any.
	p, ok, err := st.Page(web.Seeds()[0] + "p/1")
	if err != nil || !ok {
		t.Fatalf("Page: %v, %v", ok, err)
	}
	if nav, _ := p.Fields["nav"].([]any); len(nav) < 3 || p.Fields["h1"] != "Host 0 page 1" {
		t.Errorf("stored fields %v", p.Fields)
	}
}

// TestRobotsKeptAcrossRuns: a crawl stopped (here by its page limit) and
// resumed does not fetch robots.txt again while the answer is fresh, and
// still honours it.
func TestRobotsKeptAcrossRuns(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	for i := range 2 {
		web.Handle(i, "/robots.txt", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			fmt.Fprint(rw, "User-agent: *\nDisallow: /p/9\n")
		}))
	}
	st := openStore(t, "")
	for i, limit := range []int{5, 0} {
		c, err := crawler.New(crawler.Config{Workers: 4, Rate: rate.Inf, MaxPages: limit, BatchDelay: 5 * time.Millisecond},
			st, fetch.New(fetch.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for host, reqs := range crawltest.ByHost(web.Log()) {
		n := 0
		for _, r := range reqs {
			switch r.Path {
			case "/robots.txt":
				n++
			case "/p/9":
				t.Errorf("%s: disallowed /p/9 requested", host)
			}
		}
		if n != 1 {
			t.Errorf("%s: robots.txt fetched %d times over two runs, want once", host, n)
		}
	}
	if c, _ := st.Counts(); c.Pages != 20 || c.Pending != 0 {
		t.Errorf("after the second run: %+v, want 20 records and nothing pending", c)
	}
}
