package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metricValue returns the value of the sample named by series (name with
// labels, as exposed), or -1 if it is absent.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// TestMetricsDuringCrawl scrapes --metrics-addr over loopback while a crawl
// of the test web is held on a page, twice, and checks that the counters
// moved between the two scrapes.
func TestMetricsDuringCrawl(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 6, CrossHost: -1})
	entered := make(chan string)
	release := make(chan struct{})
	for _, k := range []int{2, 4} {
		web.Handle(0, fmt.Sprintf("/p/%d", k), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case entered <- r.URL.Path:
			case <-r.Context().Done():
				return
			}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<title>gated</title><a href="/p/%d">next</a>`, k+1)
		}))
	}
	seeds := writeFile(t, "seeds.txt", web.Seeds()[0]+"\n")
	addr := freeLoopbackAddr(t)
	db := filepath.Join(t.TempDir(), "m.db")
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() {
		done <- crawlMain([]string{"run", "--db", db, "--rate", "0", "--quiet", "--metrics-addr", addr, seeds}, io.Discard, &stderr)
	}()

	waitGate := func() {
		t.Helper()
		select {
		case <-entered:
		case code := <-done:
			t.Fatalf("crawl ended (exit %d) before reaching a gated page", code)
		case <-time.After(30 * time.Second):
			t.Fatal("crawl did not reach a gated page in 30s")
		}
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("scrape: %s", resp.Status)
		}
		return string(b)
	}

	// With one host and one request at a time, every fetch before the gated
	// one has finished, and been counted, when the gate is entered.
	waitGate()
	first := scrape()
	// The pages fetched before the gate are committed within BatchDelay of
	// their fetch, not when the gate is entered; the status page lists a
	// host once a record of it is stored. Nothing in the crawl signals that
	// commit to this test, so it asks the metrics until it shows.
	for deadline := time.Now().Add(30 * time.Second); metricValue(t, scrape(), "crawl_stored_pages") < 1; {
		if time.Now().After(deadline) {
			t.Fatal("no page stored 30s after the gate was entered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkStatusPage(t, addr, web.Hosts()[0])
	ok1 := metricValue(t, first, `crawl_fetches_total{status="200"}`)
	if ok1 < 1 {
		t.Errorf("first scrape: crawl_fetches_total{status=\"200\"} = %v, want at least 1 (the page linking to the gate)", ok1)
	}
	for _, series := range []string{
		"crawl_fetched_bytes_total", "crawl_fetch_duration_seconds_count", "crawl_queued_urls",
		"crawl_inflight_urls", "crawl_stored_pages", `crawl_hosts{state="ready"}`, `crawl_hosts{state="waiting"}`,
		`crawl_hosts{state="held"}`, "crawl_hosts_known", "crawl_commits_total",
		"crawl_robots_denials_total", "crawl_retries_total", "go_goroutines",
	} {
		if metricValue(t, first, series) < 0 {
			t.Errorf("first scrape lacks %s", series)
		}
	}
	if v := metricValue(t, first, "crawl_inflight_urls"); v < 1 {
		t.Errorf("crawl_inflight_urls = %v while a fetch is held, want ≥ 1", v)
	}
	release <- struct{}{}

	waitGate()
	second := scrape()
	if ok2 := metricValue(t, second, `crawl_fetches_total{status="200"}`); ok2 <= ok1 {
		t.Errorf("crawl_fetches_total{status=\"200\"} went from %v to %v, want more", ok1, ok2)
	}
	for _, series := range []string{"crawl_fetched_bytes_total", "crawl_fetch_duration_seconds_count"} {
		if a, b := metricValue(t, first, series), metricValue(t, second, series); b <= a {
			t.Errorf("%s went from %v to %v, want more", series, a, b)
		}
	}
	release <- struct{}{}

	if code := <-done; code != 0 {
		t.Fatalf("crawl: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving the status page and metrics") {
		t.Errorf("stderr does not say where the metrics are: %s", stderr.String())
	}
	// The endpoint is gone once the crawl has finished.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Error("metrics still served after the crawl ended")
	}
}

// checkStatusPage fetches the status page at addr during a crawl of host,
// which has stored a page by now.
func checkStatusPage(t *testing.T, addr, host string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"<!DOCTYPE html>", `<meta http-equiv="refresh" content="3">`, "<h1>crawl: crawling</h1>",
		"Busiest hosts", "<td>" + host + "</td>", "Hosts held back", "Errors by reason",
		`<a href="/metrics">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q:\n%s", want, page)
		}
	}
	// A fetch is held: at least one URL is in flight (a page fetched and
	// not yet committed may be counted too).
	if !regexp.MustCompile(`<th>in flight</th><td class="n">[1-9]\d*</td>`).MatchString(page) {
		t.Errorf("status page does not show the fetch in flight:\n%s", page)
	}
	if strings.Contains(page, "<script") {
		t.Error("status page has a script")
	}
	// Only / is the page: other paths are not found.
	if resp, err := http.Get("http://" + addr + "/nope"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("/nope: %s, want 404", resp.Status)
		}
	}
}

func TestMetricsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 2})
	seeds := writeFile(t, "seeds.txt", web.Seeds()[0]+"\n")
	db := filepath.Join(t.TempDir(), "x.db")
	code, _, errOut := runIn(t, "run", "--db", db, "--metrics-addr", ln.Addr().String(), seeds)
	if code != 1 || !strings.Contains(errOut, "--metrics-addr") || len(web.Log()) != 0 {
		t.Errorf("exit %d, stderr %q, %d requests; want 1, a message naming --metrics-addr, and no fetch", code, errOut, len(web.Log()))
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed run left %s behind (%v)", db, err)
	}
}
