package main

import (
	"regexp"
	"strings"
	"testing"
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
