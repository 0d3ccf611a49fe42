package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

// TestRecrawlKill9: the real binary recrawls a database and is SIGKILLed
// midway; the same command run again finishes the recrawl. Every page ends
// with exactly two versions (none fetched again twice, none missed), the
// database is consistent, and the exports of versions, CDXJ and WACZ work
// on the result.
func TestRecrawlKill9(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 40, Conditional: true})
	pages := web.Pages()
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	if code, _, stderr := run(t, "run", "--db", db, "--rate", "0", "--keep-body", "-q", seeds); code != 0 {
		t.Fatalf("first pass: exit %d\n%s", code, stderr)
	}
	// The first pass's pages are due after 2 s; the recrawl's own fetches
	// are not due again before the second run has started.
	const every = "2s"
	time.Sleep(2 * time.Second)
	web.ResetLog()
	args := []string{"run", "--db", db, "--recrawl", every, "--rate", "40", "--workers", "4",
		"--batch-size", "4", "--batch-delay", "50ms", "--keep-body"}
	p := start(t, args...)
	if !waitPagesOrExit(t, web, p, len(pages)/3) {
		t.Fatalf("the recrawl ended before the kill; stderr:\n%s", p.stderr.String())
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	if code := p.wait(t); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed recrawl: exit %d", code)
	}
	code, _, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("resumed recrawl: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "not modified (304)") {
		t.Errorf("no recrawl summary in:\n%s", stderr)
	}

	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	for _, u := range pages {
		vs, err := st.Versions(u)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || !vs[1].NotModified || vs[1].Digest != vs[0].Digest {
			t.Errorf("%s: %d versions, want the first pass's and one not modified", u, len(vs))
		}
	}
	st.Close()

	code, out, stderr := run(t, "export", "--db", db, "--versions", "all", "--fields", "url,not_modified,digest")
	if code != 0 || strings.Count(out, "\n") != 2*len(pages) || strings.Count(out, `"not_modified":true`) != len(pages) {
		t.Errorf("export --versions all: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), stderr)
	}
	code, out, _ = run(t, "stats", "--db", db)
	if code != 0 || !strings.Contains(out, "not modified (304)") {
		t.Errorf("stats: exit %d\n%s", code, out)
	}
	warc := filepath.Join(dir, "crawl.warc.gz")
	if code, _, stderr := run(t, "export", "--db", db, "--format", "warc", "-o", warc); code != 0 || !strings.Contains(stderr, "revisit") {
		t.Fatalf("export warc: exit %d\n%s", code, stderr)
	}
	code, out, stderr = run(t, "export", "--format", "cdxj", "--warc", warc)
	if code != 0 || strings.Count(out, "\n") != 2*len(pages) || strings.Count(out, `"mime":"warc/revisit"`) != len(pages) {
		t.Errorf("export cdxj: exit %d, %d lines\n%s", code, strings.Count(out, "\n"), stderr)
	}
	wacz := filepath.Join(dir, "crawl.wacz")
	code, _, stderr = run(t, "export", "--db", db, "--format", "wacz", "-o", wacz)
	if fi, err := os.Stat(wacz); code != 0 || err != nil || fi.Size() == 0 || !strings.Contains(stderr, "datapackage.json") {
		t.Errorf("export wacz: exit %d, %v\n%s", code, err, stderr)
	}
	for _, bad := range [][]string{
		{"export", "--db", db, "--format", "cdxj"},
		{"export", "--db", db, "--format", "wacz"},
		{"export", "--db", db, "--versions", "some"},
		{"run", "--db", db, "--recrawl-adaptive"},
		{"run", "--db", db, "--recrawl", "-1h"},
	} {
		if code, _, stderr := run(t, bad...); code != 2 {
			t.Errorf("crawl %q: exit %d, want 2 (usage)\n%s", bad, code, stderr)
		}
	}
}
