package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
)

// TestBench runs crawl bench on small versions of its scenarios: it serves
// the test site from a child process, crawls it, and reports the figures
// with no page fetched twice.
func TestBench(t *testing.T) {
	code, out, errOut := run(t, "bench", "--scenario", "throughput,polite,slow", "--scale", "0.02")
	if code != 0 {
		t.Fatalf("crawl bench: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"== throughput: 20 hosts × 40 pages", "bare fetch loop", "ratio full/bare", "peak RSS", "allocs/page", "pages/commit",
		"== polite: 100 hosts × 1 pages", "== slow: 50 hosts × 2 pages", "efficiency", "of rate alone", "at the server",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if m := regexp.MustCompile(`refetches\s+0\n`).FindAllString(out, -1); len(m) != 1 {
		t.Errorf("the throughput crawl fetched pages twice:\n%s", out)
	}
	if n := strings.Count(out, ", 0 refetches"); n != 2 {
		t.Errorf("%d of the 2 rate-limited crawls report no refetches:\n%s", n, out)
	}
	if n := strings.Count(out, " 0 in excess of the hosts' policers"); n != 2 {
		t.Errorf("%d of the 2 rate-limited crawls report no request in excess at the server:\n%s", n, out)
	}
}

// TestBenchRedis runs crawl bench --redis on a small polite web: 1, 2 and
// 3 workers crawl it at the scenario's rate (not unlimited), and the line
// under each worker count counts what the hosts saw of all the workers
// together: one robots.txt a host and each page once, none of them in
// excess of the hosts' policers.
func TestBenchRedis(t *testing.T) {
	srv := redistest.Start(t)
	code, out, errOut := run(t, "bench", "--scenario", "polite", "--scale", "0.1", "--redis", srv.URL())
	if code != 0 {
		t.Fatalf("crawl bench: exit %d: %s", code, errOut)
	}
	const hosts, pages = 100, 5
	for _, want := range []string{
		"== redis " + srv.Addr + ", 1 shards: 100 hosts × 5 pages",
		"rate 5/s per host, per-host 1: bound 1s; the hosts' policers: interval 200ms, 5 ms slack",
		"efficiency     wall requests robots excess shortest gap refetches connections",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A worker count's row, then its politeness line: efficiency, wall,
	// requests, robots.txt, excess, shortest gap, refetches, connections.
	row := regexp.MustCompile(`(?m)^(\d) +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+\n +([\d.]+) +\S+ +(\d+) +(\d+) +(\d+) +\S+ +(\d+) +(\d+)$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 3 {
		t.Fatalf("%d worker counts with a politeness line, want 3:\n%s", len(rows), out)
	}
	for i, m := range rows {
		n := func(k int) int { v, _ := strconv.Atoi(m[k]); return v }
		if n(1) != i+1 {
			t.Errorf("row %d is of %s workers", i+1, m[1])
		}
		if n(3) != hosts*(pages+1) || n(4) != hosts {
			t.Errorf("%s workers: %d requests (%d robots.txt) at the server, want %d (%d)", m[1], n(3), n(4), hosts*(pages+1), hosts)
		}
		if n(5) != 0 || n(6) != 0 {
			t.Errorf("%s workers: %d requests in excess, %d refetches, want none", m[1], n(5), n(6))
		}
		// One request at a time a host (--per-host 1): a worker that
		// keeps its connections needs one a host.
		if n(7) > n(1)*hosts {
			t.Errorf("%s workers: %d connections at the server, want at most one a worker and host (%d)", m[1], n(7), n(1)*hosts)
		}
	}
}

// TestStoredOnce: a page in two workers' databases is an error, naming it,
// even when the stored count comes out right (another page missing).
func TestStoredOnce(t *testing.T) {
	open := func(urls ...string) *store.Store {
		st, err := store.Open(filepath.Join(t.TempDir(), "w.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var b store.Batch
		for _, u := range urls {
			b.Done = append(b.Done, store.Done{Entry: store.Entry{URL: u, Host: "a.test"}, Page: &store.Page{URL: u, Status: 200}})
		}
		if err := st.Commit(&b); err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, b := open("http://a.test/", "http://a.test/p/1"), open("http://a.test/p/2")
	if err := storedOnce([]*store.Store{a, b}, 3); err != nil {
		t.Errorf("three pages stored once: %v", err)
	}
	twice := open("http://a.test/p/1")
	err := storedOnce([]*store.Store{a, twice, b}, 4)
	if err == nil || !strings.Contains(err.Error(), "http://a.test/p/1 (workers 1 and 2)") {
		t.Errorf("a page stored by workers 1 and 2: got %v", err)
	}
	if err := storedOnce([]*store.Store{a, b}, 4); err == nil {
		t.Errorf("3 pages stored, 4 wanted: no error")
	}
}
