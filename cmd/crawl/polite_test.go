package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

func countPath(reqs []crawltest.Request, path string) int {
	n := 0
	for _, r := range reqs {
		if r.Path == path {
			n++
		}
	}
	return n
}

// once answers the first request with first and the others with then.
func once(first, then http.Handler) http.Handler {
	var mu sync.Mutex
	done := false
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := first
		if done {
			h = then
		}
		done = true
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func robotsTxt(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	})
}

func htmlPage(links ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<title>p</title>")
		for _, l := range links {
			fmt.Fprintf(w, "<a href=%q>x</a>", l)
		}
	})
}

// TestPoliteAtTheServer crawls a realistic web with the crawl binary, as a
// user would, giving only --rate, and judges it as each host does: its
// token-bucket policer at the host's interval (the rate's, or its
// Crawl-delay) with 5 ms of slack counts every request that arrived
// (robots.txt, sitemap probes, redirect hops, retries, pages), timed by the
// kernel of the host. The crawler is its own process, as it is for a real
// site. The crawl ends by itself, cut at an endless calendar.
func TestPoliteAtTheServer(t *testing.T) {
	const every = 50 * time.Millisecond // --rate 20
	web := crawltest.New(t, crawltest.Config{Hosts: 10, PagesPerHost: 15, LinksPerPage: 5})
	delay := map[int]time.Duration{0: 200 * time.Millisecond, 1: 120 * time.Millisecond}
	web.Handle(0, "/robots.txt", robotsTxt("User-agent: *\nCrawl-delay: 0.2\nDisallow: /p/9\n"))
	web.Handle(1, "/robots.txt", robotsTxt("User-agent: politecrawl\nCrawl-delay: 0.12\n"))
	web.Handle(2, "/p/3", once(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}), htmlPage("/")))
	web.Handle(3, "/p/4", once(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}), htmlPage("/")))
	web.Handle(4, "/p/2", http.RedirectHandler("/r/a", http.StatusMovedPermanently))
	web.Handle(4, "/r/a", http.RedirectHandler("/r/b", http.StatusFound))
	web.Handle(4, "/r/b", htmlPage("/p/5"))
	web.Handle(5, "/p/1", htmlPage("/cal?m=2026-11", "/"))
	web.Handle(5, "/cal", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var y, m int
		fmt.Sscanf(r.URL.Query().Get("m"), "%d-%d", &y, &m)
		at := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
		htmlPage("/cal?m="+at.AddDate(0, -1, 0).Format("2006-01"), "/cal?m="+at.AddDate(0, 1, 0).Format("2006-01")).ServeHTTP(w, r)
	}))
	web.Handle(6, "/robots.txt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/real-robots.txt", http.StatusMovedPermanently)
	}))
	web.Handle(6, "/real-robots.txt", robotsTxt("User-agent: *\nDisallow: /p/14\n"))

	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	if code, _, stderr := run(t, "run", "--db", db, "--rate", "20", "-q", writeSeeds(t, dir, web.Seeds())); code != 0 {
		t.Fatalf("crawl exit %d; stderr:\n%s", code, stderr)
	}
	hosts := web.Hosts()
	total := 0
	for i, addr := range hosts {
		var reqs []crawltest.Request
		for _, r := range web.Log() {
			if r.Host == addr {
				reqs = append(reqs, r)
			}
		}
		total += len(reqs)
		interval := max(every, delay[i])
		for _, e := range (crawltest.Policer{Interval: interval, Slack: 5 * time.Millisecond}).Check(reqs) {
			t.Errorf("host %d: excess request at %v: %v", i, interval, e)
		}
		if n := countPath(reqs, "/robots.txt"); n != 1 {
			t.Errorf("host %d: robots.txt requested %d times", i, n)
		}
		cal := 0
		for _, r := range reqs {
			if strings.HasPrefix(r.Path, "/cal?") {
				cal++
			}
		}
		if cal > 10 {
			t.Errorf("host %d: %d calendar pages requested, want at most 10", i, cal)
		}
	}
	pages := exported(t, db)
	for _, u := range web.Pages() {
		if pages[u] == nil {
			t.Errorf("%s not stored", u)
		}
	}
	t.Logf("%d requests policed, %d records", total, len(pages))
}

// TestResumeStaysPolite: a crawl interrupted and resumed at once (and one
// killed with SIGKILL) asks no host sooner than its interval after the
// last run's last request: the host polices both runs as one client.
func TestResumeStaysPolite(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			const every = 250 * time.Millisecond // --rate 4
			web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 6, LinksPerPage: 3})
			dir := t.TempDir()
			args := []string{"run", "--db", filepath.Join(dir, "crawl.db"), "--rate", "4", "-q", writeSeeds(t, dir, web.Seeds())}
			p := start(t, args...)
			waitPages(t, web, 8)
			p.cmd.Process.Signal(sig)
			p.wait(t)
			if code, _, stderr := run(t, args...); code != 0 {
				t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
			}
			for host, reqs := range crawltest.ByHost(web.Log()) {
				for _, e := range (crawltest.Policer{Interval: every, Slack: 5 * time.Millisecond}).Check(reqs) {
					t.Errorf("%s: excess request across the two runs: %v", host, e)
				}
			}
		})
	}
}

// connsByHost counts the connections each host of the log accepted.
func connsByHost(log []crawltest.Request) map[string]int {
	seen := map[string]map[string]bool{}
	for _, r := range log {
		if seen[r.Host] == nil {
			seen[r.Host] = map[string]bool{}
		}
		seen[r.Host][r.Client] = true
	}
	n := make(map[string]int, len(seen))
	for h, cs := range seen {
		n[h] = len(cs)
	}
	return n
}

// TestConnectionsManyHosts: a rate-limited crawl keeps every host it
// rotates over busy, so between two requests to a host it asks many
// others; its idle connections must cover them all, or each host sees a
// new connection for most requests. One request at a time a host: one
// connection a host (and one for a dial that lost its race).
func TestConnectionsManyHosts(t *testing.T) {
	const hosts = 150
	web := crawltest.New(t, crawltest.Config{Hosts: hosts, PagesPerHost: 5, LinksPerPage: 2, CrossHost: -1})
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds())
	code, _, errOut := run(t, "run", "--db", filepath.Join(dir, "c.db"), "--rate", "20", "--workers", "64",
		"--no-sitemaps", "--no-sync", seeds)
	if code != 0 {
		t.Fatalf("crawl run: exit %d: %s", code, errOut)
	}
	total := 0
	for h, n := range connsByHost(web.Log()) {
		total += n
		if n > 2 {
			t.Errorf("%s: %d connections for one request at a time", h, n)
		}
	}
	t.Logf("%d requests, %d connections", len(web.Log()), total)
}
