package crawler

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

const testUA = "politecrawl/test (+https://example.com/bot)"

// crawlWeb crawls seeds of w into a new store with cfg and fcfg (test
// defaults filled in) and returns the stored records by URL. It fails the
// test unless the crawl ends by itself with nothing pending.
func crawlWeb(t *testing.T, cfg Config, fcfg fetch.Config, seeds ...string) map[string]*store.Page {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "crawl.db"), &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if fcfg.UserAgent == "" {
		fcfg.UserAgent = testUA
	}
	if fcfg.Timeout == 0 {
		fcfg.Timeout = 10 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	if cfg.Rate == 0 {
		cfg.Rate = rate.Inf
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	cfg.BatchDelay = 5 * time.Millisecond
	c, err := New(cfg, st, fetch.New(fcfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), seeds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v (stats %+v)", err, c.Stats())
	}
	counts, err := st.Counts()
	if err != nil || counts.Pending != 0 {
		t.Fatalf("after Run: %+v, %v; want nothing pending", counts, err)
	}
	pages := map[string]*store.Page{}
	err = st.ForEachPage(func(u string, _ []byte) error {
		p, _, err := st.Page(u)
		pages[u] = p
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Stored != len(pages) || s.Pending != 0 || s.InFlight != 0 {
		t.Fatalf("stats %+v, %d records stored", s, len(pages))
	}
	return pages
}

// hostLog returns the requests host i of w received, in arrival order.
func hostLog(w *crawltest.Web, i int) []crawltest.Request {
	var out []crawltest.Request
	for _, r := range w.Log() {
		if r.Host == w.Hosts()[i] {
			out = append(out, r)
		}
	}
	return out
}

func paths(reqs []crawltest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}

func count(reqs []crawltest.Request, path string) int {
	n := 0
	for _, r := range reqs {
		if r.Path == path {
			n++
		}
	}
	return n
}

// checkPoliced fails for every request of reqs (one host's, every path
// counted) that the host's token-bucket policer at interval and burst
// finds in excess, with its 5 ms of slack.
func checkPoliced(t *testing.T, reqs []crawltest.Request, interval time.Duration, burst int) {
	t.Helper()
	for _, e := range (crawltest.Policer{Interval: interval, Burst: burst, Slack: 5 * time.Millisecond}).Check(reqs) {
		t.Errorf("excess request at interval %v, burst %d: %v", interval, burst, e)
	}
}

// checkRobotsFirst fails unless reqs (one host's) start with the only
// robots.txt request.
func checkRobotsFirst(t *testing.T, reqs []crawltest.Request) {
	t.Helper()
	if len(reqs) == 0 || reqs[0].Path != "/robots.txt" || count(reqs, "/robots.txt") != 1 {
		t.Errorf("requests %v: want robots.txt once, first", paths(reqs))
	}
}

func page(title string, links ...string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, "<!doctype html><title>%s</title><body>", title)
		for _, l := range links {
			fmt.Fprintf(rw, "<a href=%q>x</a>\n", l)
		}
	})
}

func text(s string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(rw, s)
	})
}

// sequence answers the i-th request with hs[i], and the last one after.
func sequence(hs ...http.Handler) http.Handler {
	var mu sync.Mutex
	n := 0
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h.ServeHTTP(rw, r)
	})
}

func status(code int, header ...string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			rw.Header().Set(header[i], header[i+1])
		}
		rw.WriteHeader(code)
	})
}

func TestRobotsDisallowAndCrawlDelay(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 6, LinksPerPage: 5, CrossHost: -1})
	w.Handle(0, "/robots.txt", text("User-agent: *\nDisallow: /\n\n"+
		"User-agent: politecrawl\nDisallow: /p/2\nDisallow: /p/3\nCrawl-delay: 0.25\n"))
	pages := crawlWeb(t, Config{}, fetch.Config{}, w.Seeds()...)

	log0 := hostLog(w, 0)
	checkRobotsFirst(t, log0)
	checkRobotsFirst(t, hostLog(w, 1))
	for _, r := range log0 {
		if r.Path == "/p/2" || r.Path == "/p/3" {
			t.Errorf("disallowed %s requested", r.Path)
		}
	}
	checkPoliced(t, log0, 250*time.Millisecond, 1) // Crawl-delay, robots.txt included
	for _, r := range w.Log() {
		if r.UserAgent != testUA {
			t.Errorf("%s sent User-Agent %q, want %q", r.Path, r.UserAgent, testUA)
		}
	}
	for _, p := range []string{"/p/2", "/p/3"} {
		rec, ok := pages[w.Seeds()[0]+p[1:]]
		if !ok || !rec.Skipped || rec.Status != 0 || !strings.Contains(rec.Error, "robots.txt disallows") {
			t.Errorf("record of %s: %+v, want skipped by robots.txt", p, rec)
		}
	}
	for _, p := range w.Pages() {
		if strings.HasPrefix(p, w.Seeds()[1]) {
			if rec, ok := pages[p]; !ok || rec.Status != 200 {
				t.Errorf("%s: %+v, want fetched", p, rec)
			}
		}
	}
}

// TestRobotsRFC9309 crawls a host whose robots.txt temoto/robotstxt
// rejected whole (a rule before the first user-agent line, a Crawl-delay
// with a unit), so that crawl used to fetch everything: each line is now
// read as RFC 9309 says, and the disallowed pages are never requested and
// are stored as skipped.
func TestRobotsRFC9309(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 8, CrossHost: -1})
	w.Handle(0, "/robots.txt", text(`Disallow: /p/1
User-agent: polite
Disallow: /

User-agent: *
Disallow: /

User-agent: PoliteCrawl
Crawl-delay: 50ms
Disallow: /*3$
Disallow: /p/%34#comment
Disallow: /p/5
Allow: /p/5$
Disallow /p/6
`))
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, w.Pages()...)

	log := hostLog(w, 0)
	checkRobotsFirst(t, log)
	checkPoliced(t, log, 50*time.Millisecond, 1)
	disallowed := map[string]bool{"/p/3": true, "/p/4": true, "/p/6": true}
	for _, r := range log {
		if disallowed[r.Path] {
			t.Errorf("disallowed %s requested", r.Path)
		}
	}
	for _, u := range w.Pages() {
		path := strings.TrimPrefix(u, w.Seeds()[0][:len(w.Seeds()[0])-1])
		rec, ok := pages[u]
		switch {
		case !ok:
			t.Errorf("%s: no record", path)
		case disallowed[path]:
			if !rec.Skipped || rec.Status != 0 || rec.Error != "robots.txt disallows "+path || count(log, path) != 0 {
				t.Errorf("%s: record %+v, %d requests; want skipped by robots.txt, never requested", path, rec, count(log, path))
			}
		case rec.Skipped || rec.Status != 200 || count(log, path) != 1:
			t.Errorf("%s: record %+v, %d requests; want fetched once", path, rec, count(log, path))
		}
	}
}

func TestRobotsUnavailable(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 3, CrossHost: -1})
	// Host 0: 503, then a robots.txt that is honoured.
	w.Handle(0, "/robots.txt", sequence(status(503), text("User-agent: *\nDisallow: /p/1\n")))
	// Host 1: always 500; its URLs end as errors, never fetched.
	w.Handle(1, "/robots.txt", status(500))
	ttl := 100 * time.Millisecond
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{RobotsErrorTTL: ttl}, w.Seeds()...)

	log0 := hostLog(w, 0)
	if len(log0) < 3 || log0[0].Path != "/robots.txt" || log0[1].Path != "/robots.txt" || count(log0, "/robots.txt") != 2 {
		t.Fatalf("host 0 requests %v: want robots.txt twice before any page", paths(log0))
	}
	if gap := log0[1].Time.Sub(log0[0].Time); gap < ttl {
		t.Errorf("robots.txt asked again after %v, want at least %v", gap, ttl)
	}
	if count(log0, "/p/1") != 0 {
		t.Error("/p/1 requested although robots.txt disallows it")
	}
	log1 := hostLog(w, 1)
	if n := count(log1, "/robots.txt"); n != len(log1) || n != 4 {
		t.Errorf("host 1 requests %v: want robots.txt only, 4 times (1 + 3 retries)", paths(log1))
	}
	if rec := pages[w.Seeds()[1]]; rec == nil || !strings.Contains(rec.Error, "robots.txt unavailable") || rec.Status != 0 {
		t.Errorf("host 1 seed record %+v, want a robots.txt error", rec)
	}
}

// TestRobotsUnavailableHostWide checks that the retries of an unavailable
// robots.txt count for the host, not for each of its URLs: robots.txt is
// asked for 1 + Retries times in all, then every URL of the host is an error
// record, and the /sitemap.xml probe leaves none.
func TestRobotsUnavailableHostWide(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, CrossHost: -1})
	w.Handle(0, "/robots.txt", status(503))
	root := w.Seeds()[0]
	seeds := []string{root, root + "p/1", root + "p/2", root + "p/3"}
	pages := crawlWeb(t, Config{Retries: 2}, fetch.Config{RobotsErrorTTL: 20 * time.Millisecond}, seeds...)

	log := hostLog(w, 0)
	if n := count(log, "/robots.txt"); n != len(log) || n != 3 {
		t.Errorf("requests %v: want robots.txt only, 3 times (1 + 2 retries) for the 4 seeds", paths(log))
	}
	if len(pages) != len(seeds) {
		t.Errorf("%d records, want one for each of the %d seeds and none for /sitemap.xml", len(pages), len(seeds))
	}
	for _, u := range seeds {
		if rec := pages[u]; rec == nil || !strings.HasPrefix(rec.Error, "robots.txt unavailable") || strings.Contains(rec.Error, "attempts") || rec.Attempts != 3 {
			t.Errorf("%s: record %+v, want robots.txt unavailable, 3 attempts", u, rec)
		}
	}
}

func TestRetryAfterHoldsHost(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 4, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/p/1", sequence(status(429, "Retry-After", "1"), page("ok", "/p/2")))
	var date time.Time
	var mu sync.Mutex
	w.Handle(1, "/p/1", sequence(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		date = time.Now().Add(2 * time.Second).Truncate(time.Second)
		rw.Header().Set("Retry-After", date.UTC().Format(http.TimeFormat))
		mu.Unlock()
		rw.WriteHeader(503)
	}), page("ok", "/p/2")))
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, w.Seeds()...)

	for i, until := range []func(t0 time.Time) time.Time{
		func(t0 time.Time) time.Time { return t0.Add(time.Second) },
		func(time.Time) time.Time { mu.Lock(); defer mu.Unlock(); return date },
	} {
		reqs := hostLog(w, i)
		k := slices.IndexFunc(reqs, func(r crawltest.Request) bool { return r.Status == 429 || r.Status == 503 })
		if k < 0 {
			t.Fatalf("host %d: no 429/503 in %v", i, paths(reqs))
		}
		held := until(reqs[k].Time)
		for _, r := range reqs[k+1:] {
			if r.Time.Before(held) {
				t.Errorf("host %d: %s requested %v before the Retry-After", i, r.Path, held.Sub(r.Time))
			}
		}
		if rec := pages[w.Seeds()[i]+"p/1"]; rec == nil || rec.Status != 200 || rec.Attempts != 2 {
			t.Errorf("host %d /p/1: %+v, want 200 after 2 attempts", i, rec)
		}
	}
}

func TestRetriesAndPermanentErrors(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 8, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", "/p/1", "/p/2", "/p/3", "/p/4", "/p/5", "/p/6"))
	w.Handle(0, "/p/1", sequence(status(500), status(502), page("third time lucky")))
	w.Handle(0, "/p/2", status(500))
	w.Handle(0, "/p/3", status(404))
	w.Handle(0, "/p/4", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(rw).Hijack()
		if err == nil {
			conn.Close() // no response at all
		}
	}))
	w.Handle(0, "/p/5", status(410))
	w.Handle(0, "/p/6", sequence(status(503), page("six")))
	pages := crawlWeb(t, Config{Retries: 2, NoSitemaps: true, MaxBackoff: 50 * time.Millisecond}, fetch.Config{}, w.Seeds()...)
	reqs := hostLog(w, 0)
	seed := w.Seeds()[0]
	for _, tc := range []struct {
		path     string
		status   int
		requests int
		errPart  string
	}{
		{"/p/1", 200, 3, ""},
		{"/p/2", 500, 3, "http 500 Internal Server Error"},
		{"/p/3", 404, 1, "http 404"},
		{"/p/4", 0, 3, "EOF"}, // connection closed without a response
		{"/p/5", 410, 1, "http 410"},
		{"/p/6", 200, 2, ""},
	} {
		rec := pages[seed+tc.path[1:]]
		if rec == nil {
			t.Errorf("%s: no record", tc.path)
			continue
		}
		// net/http itself replays a GET once when a reused connection
		// closes without a response (/p/4): count attempts, not requests.
		n := count(reqs, tc.path)
		if tc.path == "/p/4" {
			n = min(n, tc.requests)
		}
		if n != tc.requests || rec.Attempts != tc.requests {
			t.Errorf("%s: requested %d times, attempts %d; want %d", tc.path, n, rec.Attempts, tc.requests)
		}
		// The error is the error only: attempts are a field.
		if rec.Status != tc.status || (tc.errPart == "") != (rec.Error == "") || !strings.Contains(rec.Error, tc.errPart) || strings.Contains(rec.Error, "attempts") {
			t.Errorf("%s: status %d, error %q; want %d, %q", tc.path, rec.Status, rec.Error, tc.status, tc.errPart)
		}
	}
	// Every URL requested is stored exactly once (store keys are unique;
	// here: nothing requested is missing, nothing stored was not requested).
	var want []string
	for _, r := range reqs {
		if r.Path != "/robots.txt" && !slices.Contains(want, seed+r.Path[1:]) {
			want = append(want, seed+r.Path[1:])
		}
	}
	var got []string
	for u := range pages {
		got = append(got, u)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("stored %v\nrequested %v", got, want)
	}
}

func TestRedirects(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 6, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", "/p/1", "/p/2", "/p/3", "/p/4"))
	w.Handle(0, "/p/1", http.RedirectHandler("/r/a", http.StatusMovedPermanently))
	w.Handle(0, "/r/a", http.RedirectHandler("/r/b", http.StatusFound))
	w.Handle(0, "/r/b", page("landed", "/p/5"))
	w.Handle(0, "/p/2", http.RedirectHandler("/loop/x", http.StatusMovedPermanently))
	w.Handle(0, "/loop/x", http.RedirectHandler("/loop/y", http.StatusMovedPermanently))
	w.Handle(0, "/loop/y", http.RedirectHandler("/loop/x", http.StatusMovedPermanently))
	w.Handle(0, "/p/3", http.RedirectHandler("/many/0", http.StatusMovedPermanently))
	for i := range 30 {
		w.Handle(0, fmt.Sprintf("/many/%d", i), http.RedirectHandler(fmt.Sprintf("/many/%d", i+1), http.StatusMovedPermanently))
	}
	w.Handle(0, "/p/4", http.RedirectHandler(w.Seeds()[1], http.StatusMovedPermanently)) // out of scope
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, w.Seeds()[0])

	reqs := hostLog(w, 0)
	seed := w.Seeds()[0]
	if rec := pages[seed+"p/1"]; rec == nil || rec.Status != 200 || rec.FinalURL != seed+"r/b" || rec.Title != "landed" {
		t.Errorf("/p/1: %+v, want the page at /r/b", rec)
	}
	for _, p := range []string{"/r/a", "/r/b", "/loop/x", "/loop/y"} {
		if n := count(reqs, p); n != 1 {
			t.Errorf("%s requested %d times, want once", p, n)
		}
		if _, ok := pages[seed+p[1:]]; ok {
			t.Errorf("%s stored on its own: it is a redirect hop", p)
		}
	}
	if _, ok := pages[seed+"p/5"]; !ok {
		t.Error("/p/5, linked from the redirect's target, not crawled")
	}
	if rec := pages[seed+"p/2"]; rec == nil || !strings.Contains(rec.Error, "redirect loop") || rec.Status != 301 {
		t.Errorf("/p/2: %+v, want a redirect loop error", rec)
	}
	many := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/many/") {
			many++
		}
	}
	if rec := pages[seed+"p/3"]; many != 10 || rec == nil || !strings.Contains(rec.Error, "too many redirects") {
		t.Errorf("/p/3: %+v after %d hops, want too many redirects after 10", rec, many)
	}
	if rec := pages[seed+"p/4"]; rec == nil || rec.Status != 301 || rec.Error != "" || rec.Headers["Location"] != w.Seeds()[1] {
		t.Errorf("/p/4: %+v, want the 301 recorded with its Location", rec)
	}
	if n := len(hostLog(w, 1)); n != 0 {
		t.Errorf("out-of-scope redirect target requested %d times", n)
	}
}

func TestRateHoldsForRobotsAndRedirectHops(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", "/p/1", "/p/2"))
	w.Handle(0, "/p/1", http.RedirectHandler("/r/a", http.StatusMovedPermanently))
	w.Handle(0, "/r/a", http.RedirectHandler("/r/b", http.StatusMovedPermanently))
	w.Handle(0, "/r/b", page("landed"))
	w.Handle(0, "/p/2", sequence(status(503), page("two")))
	crawlWeb(t, Config{Rate: 5, Workers: 4}, fetch.Config{}, w.Seeds()...)
	reqs := hostLog(w, 0)
	if len(reqs) < 8 {
		t.Fatalf("only %d requests: %v", len(reqs), paths(reqs))
	}
	checkRobotsFirst(t, reqs)
	checkPoliced(t, reqs, 200*time.Millisecond, 1)
}

func TestSlowDripAndBodyCap(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 3, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", "/p/1", "/p/2"))
	w.Handle(0, "/p/1", crawltest.Drip(" ", time.Second))
	w.Handle(0, "/p/2", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprint(rw, "<title>big</title>"+strings.Repeat("<p>filler</p>", 10000))
	}))
	start := time.Now()
	pages := crawlWeb(t, Config{Retries: -1, NoSitemaps: true}, fetch.Config{Timeout: 500 * time.Millisecond, MaxBody: 4096}, w.Seeds()...)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("crawl took %v: the drip held a worker", took)
	}
	seed := w.Seeds()[0]
	if rec := pages[seed+"p/1"]; rec == nil || rec.Error == "" || rec.Attempts != 1 {
		t.Errorf("drip: %+v, want a timeout error after one attempt", rec)
	}
	if rec := pages[seed+"p/2"]; rec == nil || !rec.Truncated || rec.Size != 4096 || rec.Title != "big" {
		t.Errorf("big body: %+v, want cut at 4096 bytes and marked", rec)
	}
}

func TestCharsetsAndContentTypes(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", "/latin1", "/gbk", "/meta-latin1", "/bom", "/doc.pdf"))
	raw := func(ct string, body []byte) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", ct)
			rw.Write(body)
		})
	}
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("<html><head><meta charset=\"gbk\"><title>中文网页</title></head><body>你好</body></html>"))
	if err != nil {
		t.Fatal(err)
	}
	w.Handle(0, "/latin1", raw("text/html; charset=ISO-8859-1", []byte("<title>Caf\xe9 cr\xe8me</title><p>\xfcber</p>")))
	w.Handle(0, "/gbk", raw("text/html", gbk))
	w.Handle(0, "/meta-latin1", raw("text/html", []byte("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><title>na\xefve</title>")))
	w.Handle(0, "/bom", raw("text/html", []byte("\xef\xbb\xbf<title>\xc3\xa9t\xc3\xa9</title>")))
	w.Handle(0, "/doc.pdf", raw("application/pdf", []byte("%PDF-1.4 <a href=/nope>")))
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, w.Seeds()...)
	seed := w.Seeds()[0]
	for path, want := range map[string]string{"latin1": "Café crème", "gbk": "中文网页", "meta-latin1": "naïve", "bom": "été"} {
		if rec := pages[seed+path]; rec == nil || rec.Title != want {
			t.Errorf("%s: title %q, want %q", path, rec.Title, want)
		}
	}
	if rec := pages[seed+"gbk"]; rec == nil || rec.Text != "你好" {
		t.Errorf("gbk text %q", rec.Text)
	}
	rec := pages[seed+"doc.pdf"]
	if rec == nil || rec.ContentType != "application/pdf" || rec.Size == 0 || rec.Title != "" || len(rec.Links) != 0 || rec.Body != nil {
		t.Errorf("pdf: %+v, want metadata only", rec)
	}
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func urlset(locs ...string) string {
	s := `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`
	for _, l := range locs {
		s += "<url><loc>" + l + "</loc></url>"
	}
	return s + "</urlset>"
}

func TestSitemaps(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 2, LinksPerPage: -1, CrossHost: -1})
	seed := w.Seeds()[0]
	xml := func(ct string, body []byte) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", ct)
			rw.Write(body)
		})
	}
	w.Handle(0, "/robots.txt", text("User-agent: *\nAllow: /\nSitemap: "+seed+"sm/index.xml\n"))
	w.Handle(0, "/sm/index.xml", xml("application/xml", []byte(`<?xml version="1.0"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>`+seed+`sm/a.xml.gz</loc></sitemap><sitemap><loc>/sm/b.xml</loc></sitemap></sitemapindex>`)))
	w.Handle(0, "/sm/a.xml.gz", xml("application/gzip", gzipped(t, urlset(seed+"hidden/1", seed+"hidden/2?utm_source=sitemap"))))
	w.Handle(0, "/sm/b.xml", xml("text/xml", []byte(urlset(seed+"hidden/3", w.Seeds()[1]+"elsewhere"))))
	w.Handle(0, "/sitemap.xml", xml("application/xml", []byte(urlset(seed+"hidden/4"))))
	for i := 1; i <= 4; i++ {
		w.Handle(0, fmt.Sprintf("/hidden/%d", i), page(fmt.Sprintf("hidden %d", i)))
	}
	hidden := func(pages map[string]*store.Page) int {
		n := 0
		for i := 1; i <= 4; i++ {
			if rec, ok := pages[fmt.Sprintf("%shidden/%d", seed, i)]; ok && rec.Status == 200 {
				n++
			}
		}
		return n
	}

	pages := crawlWeb(t, Config{}, fetch.Config{}, seed)
	if n := hidden(pages); n != 4 {
		t.Errorf("%d of 4 pages found only in sitemaps were crawled", n)
	}
	if n := len(hostLog(w, 1)); n != 0 {
		t.Errorf("out-of-scope sitemap URL requested (%d requests)", n)
	}
	checkRobotsFirst(t, hostLog(w, 0))

	w.ResetLog()
	pages = crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, seed)
	if n := hidden(pages); n != 0 {
		t.Errorf("NoSitemaps: %d hidden pages crawled", n)
	}
	for _, r := range w.Log() {
		if strings.Contains(r.Path, "sitemap") || strings.HasPrefix(r.Path, "/sm/") {
			t.Errorf("NoSitemaps: %s requested", r.Path)
		}
	}

	pages = crawlWeb(t, Config{SitemapURLs: 3}, fetch.Config{}, seed)
	if n := hidden(pages); n > 3 {
		t.Errorf("SitemapURLs 3: %d hidden pages crawled", n)
	}
}

func TestTraps(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	deep := "/d" + strings.Repeat("/x", 40)
	w.Handle(0, "/", page("root", "/cal/1", "/a/", "/long?q="+strings.Repeat("z", 3000), deep,
		"/t?utm_source=news&id=3&fbclid=abc&sessionid=42", "/t?id=3&utm_medium=mail"))
	// A calendar: every month links to the next, for ever.
	for m := 1; m <= 500; m++ {
		w.Handle(0, fmt.Sprintf("/cal/%d", m), page("month", fmt.Sprintf("/cal/%d", m+1)))
	}
	// Relative links that nest the same segment without end.
	for p := "/a/"; len(p) < 40; p += "a/" {
		w.Handle(0, p, page("a", "a/"))
	}
	w.Handle(0, "/t", page("tracked"))
	pages := crawlWeb(t, Config{MaxPerHost: 30, DropParams: []string{"sessionid"}}, fetch.Config{}, w.Seeds()...)

	reqs := hostLog(w, 0)
	if len(pages) > 30 || len(reqs) > 31 { // robots.txt is not a page
		t.Errorf("%d records, %d requests with MaxPerHost 30", len(pages), len(reqs))
	}
	for _, r := range reqs {
		switch {
		case len(r.Path) > 2048:
			t.Errorf("URL of %d bytes requested", len(r.Path))
		case strings.Count(r.Path, "/") > 33:
			t.Errorf("path of %d segments requested", strings.Count(r.Path, "/"))
		case strings.Contains(r.Path, "/a/a/a/a/"):
			t.Errorf("%s requested: a segment repeated more than 3 times", r.Path)
		case strings.Contains(r.Path, "utm_") || strings.Contains(r.Path, "fbclid") || strings.Contains(r.Path, "sessionid"):
			t.Errorf("%s requested with tracking parameters", r.Path)
		}
	}
	if count(reqs, "/t?id=3") != 1 || count(reqs, "/a/a/a/") != 1 {
		t.Errorf("requests %v: want /t?id=3 once (both links) and /a/a/a/", paths(reqs))
	}
}

func TestPrivateAddressesNeedTheSeed(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	w.Handle(0, "/", page("root", w.Seeds()[1]))
	pages := crawlWeb(t, Config{AnyHost: true, NoSitemaps: true}, fetch.Config{}, w.Seeds()[0])
	if n := len(hostLog(w, 1)); n != 0 {
		t.Errorf("host 1 (loopback, not a seed) got %d requests", n)
	}
	if rec := pages[w.Seeds()[1]]; rec == nil || !strings.Contains(rec.Error, "not allowed") || rec.Attempts != 1 {
		t.Errorf("host 1 record %+v, want a blocked-address error, not retried", rec)
	}
	if rec := pages[w.Seeds()[0]]; rec == nil || rec.Status != 200 {
		t.Errorf("seed %+v, want fetched", rec)
	}

	w.ResetLog()
	crawlWeb(t, Config{AnyHost: true, NoSitemaps: true}, fetch.Config{AllowPrivate: true}, w.Seeds()[0])
	if len(hostLog(w, 1)) == 0 {
		t.Error("AllowPrivate: host 1 not requested")
	}
}

func TestRobotsOncePerHostUnderConcurrency(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 30, LinksPerPage: 8})
	for i := range 3 {
		w.Handle(i, "/robots.txt", text("User-agent: *\nDisallow: /p/7\n"))
	}
	w.SetLatency(5 * time.Millisecond)
	crawlWeb(t, Config{Workers: 32, PerHost: 8, Burst: 8}, fetch.Config{}, w.Seeds()...)
	for i := range 3 {
		reqs := hostLog(w, i)
		checkRobotsFirst(t, reqs)
		if count(reqs, "/p/7") != 0 {
			t.Errorf("host %d: disallowed /p/7 requested", i)
		}
		// Every page request arrived after robots.txt was answered.
		for _, r := range reqs[1:] {
			if r.Time.Before(reqs[0].Time.Add(5 * time.Millisecond)) {
				t.Errorf("host %d: %s arrived %v after robots.txt, before its answer", i, r.Path, r.Time.Sub(reqs[0].Time))
			}
		}
	}
}

// TestPolicedAtTheServer crawls webs under the load of a full crawl and
// polices every host's log as the host would (every request counted:
// robots.txt, the sitemap probe, pages; 5 ms of slack).
func TestPolicedAtTheServer(t *testing.T) {
	cases := []struct {
		name    string
		web     crawltest.Config
		latency time.Duration
		cfg     Config
	}{
		{"many hosts", crawltest.Config{Hosts: 40, PagesPerHost: 12, LinksPerPage: 6},
			0, Config{Rate: 10, Workers: 64}},
		{"slow servers, concurrency 8", crawltest.Config{Hosts: 6, PagesPerHost: 40, LinksPerPage: 8},
			40 * time.Millisecond, Config{Rate: 50, PerHost: 8, Workers: 200}},
		{"burst 3", crawltest.Config{Hosts: 8, PagesPerHost: 20, LinksPerPage: 6},
			0, Config{Rate: 20, Burst: 3, PerHost: 3, Workers: 64}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := crawltest.New(t, tc.web)
			w.SetLatency(tc.latency)
			pages := crawlWeb(t, tc.cfg, fetch.Config{}, w.Seeds()...)
			if len(pages) != tc.web.Hosts*tc.web.PagesPerHost {
				t.Errorf("%d records, want %d", len(pages), tc.web.Hosts*tc.web.PagesPerHost)
			}
			every := time.Duration(float64(time.Second) / float64(tc.cfg.Rate))
			n := 0
			for i := range tc.web.Hosts {
				reqs := hostLog(w, i)
				n += len(reqs)
				checkRobotsFirst(t, reqs)
				checkPoliced(t, reqs, every, max(tc.cfg.Burst, 1))
			}
			t.Logf("%d requests policed", n)
		})
	}
}

// calendar serves an endless calendar at /cal?m=YYYY-MM: each month links to
// the month before and the month after, forever.
func calendar() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var y, m int
		if _, err := fmt.Sscanf(r.URL.Query().Get("m"), "%d-%d", &y, &m); err != nil {
			y, m = 2026, 11
		}
		at := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(rw, "<title>%s</title><a href=\"/cal?m=%s\">prev</a> <a href=\"/cal?m=%s\">next</a>",
			at.Format("2006-01"), at.AddDate(0, -1, 0).Format("2006-01"), at.AddDate(0, 1, 0).Format("2006-01"))
	})
}

// TestTrapsBoundedByDefault: with no limit set, a crawl of a host with an
// endless calendar ends by itself, with at most 10 calendar pages and every
// real page; the record where the chain was cut says so.
func TestTrapsBoundedByDefault(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 40, LinksPerPage: 4, CrossHost: -1})
	real := w.Pages()
	w.Handle(0, "/p/7", page("has the calendar", "/cal?m=2026-11", "/"))
	w.Handle(0, "/cal", calendar())
	pages := crawlWeb(t, Config{}, fetch.Config{}, w.Seeds()...)
	cal, cut := 0, 0
	for u, p := range pages {
		if strings.Contains(u, "/cal?") {
			cal++
			cut += p.NotFollowed["similar-hops"]
		}
	}
	if cal == 0 || cal > 10 {
		t.Errorf("%d calendar pages stored, want 1 to 10", cal)
	}
	if cut == 0 {
		t.Error("no calendar record counts links cut by similar-hops")
	}
	for _, u := range real {
		if p, ok := pages[u]; !ok || p.Status != 200 {
			t.Errorf("real page %s: %+v, want it stored", u, p)
		}
	}

	// The limit is what ends it: at 12 hops, 12 months each way.
	pages = crawlWeb(t, Config{MaxSimilarHops: 12}, fetch.Config{}, w.Seeds()...)
	cal = 0
	for u := range pages {
		if strings.Contains(u, "/cal?") {
			cal++
		}
	}
	if cal != 25 {
		t.Errorf("MaxSimilarHops 12: %d calendar pages, want 25", cal)
	}
}

// TestMaxLinks: a page's links beyond MaxLinks are neither recorded nor
// followed, and the record counts them.
func TestMaxLinks(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	var links []string
	for i := range 300 {
		links = append(links, fmt.Sprintf("/item/%d", i))
	}
	w.Handle(0, "/", page("many links", links...))
	pages := crawlWeb(t, Config{MaxLinks: 100, NoSitemaps: true}, fetch.Config{}, w.Seeds()...)
	root := pages[w.Seeds()[0]]
	if root == nil || len(root.Links) != 100 || root.LinksCut != 200 {
		t.Fatalf("root record: %d links, %d cut; want 100 and 200", len(root.Links), root.LinksCut)
	}
	if n := len(pages); n != 101 {
		t.Errorf("%d records, want the root and its first 100 links", n)
	}
}

// mapResolver resolves the names it holds, for tests of names that share an
// address.
type mapResolver map[string]netip.Addr

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := m[host]; ok {
		return []netip.Addr{ip}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestPerIP: three names on one address are one server. With PerIP they
// share its rate, as the server polices it; without, each name has its own
// and the server sees three times the rate.
func TestPerIP(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	var links []string
	for i := range 6 {
		links = append(links, fmt.Sprintf("/x/%d", i))
		w.Handle(0, links[i], page("x"))
	}
	w.Handle(0, "/", page("root", links...))
	addr := netip.MustParseAddrPort(w.Hosts()[0])
	res := mapResolver{}
	var seeds []string
	for _, name := range []string{"a.test", "b.test", "c.test"} {
		res[name] = addr.Addr()
		seeds = append(seeds, fmt.Sprintf("http://%s:%d/", name, addr.Port()))
	}
	const every = 50 * time.Millisecond
	for _, perIP := range []bool{true, false} {
		w.ResetLog()
		pages := crawlWeb(t, Config{Rate: rate.Every(every), PerIP: perIP, NoSitemaps: true}, fetch.Config{Resolver: res}, seeds...)
		if len(pages) != 3*7 {
			t.Errorf("PerIP %v: %d records, want 21", perIP, len(pages))
		}
		excess := (crawltest.Policer{Interval: every, Slack: 5 * time.Millisecond}).Check(w.Log())
		switch {
		case perIP && len(excess) > 0:
			t.Errorf("PerIP: %d requests in excess at the shared address, first %v", len(excess), excess[0])
		case !perIP && len(excess) == 0:
			t.Error("without PerIP: no excess at the shared address; the test cannot tell")
		}
	}
}

// TestSimilarHopsSpareRealGraphs: a site whose pages link to several pages
// of their own shape (a chain of next links plus others) loses no page to
// the similar-hop limit, even where a page is reached only through a long
// chain; a calendar's chain is still cut.
func TestSimilarHopsSpareRealGraphs(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	const n = 30
	w.Handle(0, "/", page("root", "/p/1", "/cal?m=2026-11"))
	w.Handle(0, "/cal", calendar())
	for k := 1; k <= n; k++ {
		// The next page, and four pages already behind: /p/k+1 is found only
		// through the chain.
		links := []string{fmt.Sprintf("/p/%d", k+1)}
		for b := 1; b <= 4; b++ {
			links = append(links, fmt.Sprintf("/p/%d", max(1, k-b)))
		}
		if k == n {
			links = links[1:]
		}
		w.Handle(0, fmt.Sprintf("/p/%d", k), page(fmt.Sprint(k), links...))
	}
	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, w.Seeds()...)
	cal := 0
	for u := range pages {
		if strings.Contains(u, "/cal?") {
			cal++
		}
	}
	for k := 1; k <= n; k++ {
		if p := pages[fmt.Sprintf("%sp/%d", w.Seeds()[0], k)]; p == nil || p.Status != 200 {
			t.Errorf("/p/%d not stored", k)
		}
	}
	if cal == 0 || cal > 10 {
		t.Errorf("%d calendar pages, want 1 to 10", cal)
	}
}
