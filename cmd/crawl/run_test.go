package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

func TestRunPoliteFlags(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 5, CrossHost: 0.5})
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds.txt")
	if err := os.WriteFile(seeds, []byte(w.Seeds()[0]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := crawlMain([]string{"run", "-q", "--db", filepath.Join(dir, "c.db"), "--rate", "0", "--any-host",
		"--contact", "https://me.example/bot", "--retries", "0", "--max-per-host", "3", "--no-sitemaps",
		"--drop-param", "sid", seeds}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var host0 int
	for _, r := range w.Log() {
		if !strings.HasSuffix(r.UserAgent, " (+https://me.example/bot)") || !strings.HasPrefix(r.UserAgent, "politecrawl/") {
			t.Errorf("User-Agent %q", r.UserAgent)
		}
		if r.Host == w.Hosts()[1] {
			t.Errorf("%s requested on host 1: a private address that is not a seed's", r.Path)
		}
		if r.Host == w.Hosts()[0] && r.Path != "/robots.txt" {
			host0++
		}
		if r.Path == "/sitemap.xml" {
			t.Error("--no-sitemaps: /sitemap.xml requested")
		}
	}
	if host0 == 0 || host0 > 3 {
		t.Errorf("%d pages of host 0 requested with --max-per-host 3", host0)
	}
}

func TestRunFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--retries", "-1", "x"},
		{"run", "--max-per-host", "-2", "x"},
		{"run", "--timeout", "0s", "x"},
	} {
		var out, errb bytes.Buffer
		if code := crawlMain(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), args[1]) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", args, code, errb.String(), args[1])
		}
	}
}
