package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
