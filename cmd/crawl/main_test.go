package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// articleHTML is a page with boilerplate around its article, for main-text
// extraction.
const articleHTML = `<!doctype html>
<html><head><title>Night trains return</title></head><body>
<header><nav><a href="/">Home</a> <a href="/p/1">News</a> <a href="/p/2">Sport</a> <a href="/p/3">Weather</a>
<a href="/p/4">Subscribe to our newsletter</a></nav></header>
<main><article>
<h1>Night trains return to the northern line</h1>
<p>After a pause of eleven years, the overnight service between the capital and the northern
coast runs again from Monday. The operator bought twelve refurbished sleeper carriages and
expects most cabins to be booked through the winter season.</p>
<p>Passengers boarding at the central station at ten in the evening will arrive at the coast
shortly after seven in the morning, in time for the first ferries to the islands. Tickets
include breakfast, served in the restored dining car.</p>
<p>Local councils along the route welcomed the decision and said that the service would bring
visitors to towns that lost their daily connection when the line was cut back.</p>
</article></main>
<footer>Copyright 2026 Example Gazette. All rights reserved. Privacy policy. Cookie settings.</footer>
</body></html>
`

// testDB is a database built by a real crawl of a small test web.
type testDB struct {
	path string
	web  *crawltest.Web
}

// anonymise replaces the test web's host addresses (whose ports vary) in s
// with "host0", "host1", ….
func (d *testDB) anonymise(s string) string {
	for i, h := range d.web.Hosts() {
		s = strings.ReplaceAll(s, h, fmt.Sprintf("host%d", i))
	}
	return s
}

// buildDB crawls a deterministic test web into a new database and returns
// it closed. The crawl runs with one worker and no cross-host links, so that
// every page gets the same depth on every run; some paths are overridden to
// give a 404, a 410, a plain-text file, a redirect loop, a connection
// dropped before any response and an article with boilerplate. One URL is
// left pending.
func buildDB(t *testing.T, keepBody bool) *testDB {
	t.Helper()
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 8, LinksPerPage: 3, CrossHost: -1, Seed: 6})
	web.Handle(0, "/p/3", http.NotFoundHandler())
	web.Handle(0, "/p/6", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Test", "article")
		w.Write([]byte(articleHTML))
	}))
	web.Handle(1, "/p/2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("just a text file\n"))
	}))
	web.Handle(1, "/p/5", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	web.Handle(2, "/p/4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/p/4", http.StatusFound)
	}))
	web.Handle(2, "/p/6", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // drop the connection: no response at all
	}))

	path := filepath.Join(t.TempDir(), "crawl.db")
	st, err := store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := crawler.Config{Workers: 1, Rate: rate.Inf, PerHost: 1, KeepBody: keepBody, BatchDelay: time.Millisecond,
		Retries: -1} // the dropped connection fails at once
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Leave one URL pending: a new crawler queues it without running.
	c, err = crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), []string{"http://" + web.Hosts()[2] + "/later"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	return &testDB{path: path, web: web}
}

// runIn runs the command line in this process (faster than the binary, for
// tests that need no signals) and returns its exit code, stdout and stderr.
func runIn(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = crawlMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestTuneGC: crawl runs with gcPercent unless GOGC is set.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	tuneGC()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, gcPercent)
	}
	t.Setenv("GOGC", "50")
	tuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: tuneGC changed the GC percent to %d", got)
	}
}
