package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// exported reads a JSON Lines export and returns its records by URL.
func exported(t *testing.T, db string) map[string]map[string]any {
	t.Helper()
	code, out, errOut := run(t, "export", "--db", db)
	if code != 0 {
		t.Fatalf("export exit %d: %s", code, errOut)
	}
	recs := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		u := m["url"].(string)
		if _, dup := recs[u]; dup {
			t.Errorf("export has %s twice", u)
		}
		recs[u] = m
	}
	return recs
}

func keys(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestInterruptAndResume interrupts a real crawl with SIGINT, checks the exit
// code and summary, resumes it, and compares the result with an uninterrupted
// crawl of the same site: same pages, and no page fetched twice.
func TestInterruptAndResume(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 40, LinksPerPage: 6})
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds())
	db := filepath.Join(dir, "crawl.db")
	args := []string{"run", "--db", db, "--rate", "40", "--quiet", seeds}

	p := start(t, args...)
	waitPages(t, web, 30)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 130 {
		t.Fatalf("exit code after SIGINT = %d, want 130; stderr:\n%s", code, p.stderr.String())
	}
	if s := p.stderr.String(); !strings.Contains(s, "interrupted:") || !strings.Contains(s, "records stored") || !strings.Contains(s, "pending") {
		t.Errorf("no summary after SIGINT; stderr:\n%s", s)
	}
	partial := len(exported(t, db))
	if partial == 0 || partial >= len(web.Pages()) {
		t.Fatalf("after SIGINT the database holds %d of %d pages; want a part", partial, len(web.Pages()))
	}

	// Resume: once with the seed file again, which must add nothing new.
	if code, _, errOut := run(t, args...); code != 0 {
		t.Fatalf("resume exit %d; stderr:\n%s", code, errOut)
	}
	got := exported(t, db)
	for u, n := range web.PageRequests() {
		if n != 1 {
			t.Errorf("server saw %d requests for %s across the two runs, want 1", n, u)
		}
	}
	for host, reqs := range crawltest.ByHost(web.Log()) {
		if n := countPath(reqs, "/robots.txt"); n != 1 {
			t.Errorf("%s: robots.txt requested %d times across the two runs, want once (it is kept)", host, n)
		}
	}

	// An uninterrupted crawl of the same site stores the same pages.
	db2 := filepath.Join(dir, "whole.db")
	if code, _, errOut := run(t, "run", "--db", db2, "--rate", "0", "-q", seeds); code != 0 {
		t.Fatalf("uninterrupted crawl exit %d: %s", code, errOut)
	}
	want := exported(t, db2)
	if !slices.Equal(keys(got), keys(want)) || !slices.Equal(keys(got), web.Pages()) {
		t.Fatalf("interrupted+resumed crawl stored %d pages, uninterrupted %d, site has %d", len(got), len(want), len(web.Pages()))
	}
	for u, w := range want {
		g := got[u]
		for _, f := range []string{"status", "title", "text", "depth"} {
			if g[f] != w[f] && f != "depth" { // depth may differ: the order of discovery differs
				t.Errorf("%s: %s = %v, uninterrupted %v", u, f, g[f], w[f])
			}
		}
	}
}

// blockingWeb serves a site where one page never answers until the client
// gives up, so a crawl of it stays busy until it is stopped.
func blockingWeb(t *testing.T) *crawltest.Web {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	web.Handle(0, "/p/1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	return web
}

func TestSIGTERM(t *testing.T) {
	web := blockingWeb(t)
	dir := t.TempDir()
	p := start(t, "run", "--db", filepath.Join(dir, "c.db"), "--rate", "0", "--grace", "100ms", "-q", writeSeeds(t, dir, web.Seeds()))
	waitPages(t, web, 5)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 143 {
		t.Fatalf("exit code after SIGTERM = %d, want 143; stderr:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "interrupted:") {
		t.Errorf("no summary after SIGTERM:\n%s", p.stderr.String())
	}
}

// TestSecondSignalExitsAtOnce: with a grace period far longer than the test's
// patience, only the second SIGINT can end the process; the database is
// still consistent and the next run finishes the crawl.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	web := blockingWeb(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	p := start(t, "run", "--db", db, "--rate", "0", "--grace", "1h", "-q", seeds)
	waitPages(t, web, 5)
	// Two signals sent back to back may reach the process as one (pending
	// signals coalesce), and the fetch timeout would end the run instead:
	// keep signalling until it exits; every signal after the first one it
	// handles is a second signal.
	p.cmd.Process.Signal(syscall.SIGINT)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case <-p.done:
			running = false
		case <-tick.C:
			p.cmd.Process.Signal(syscall.SIGINT)
		}
	}
	if code := p.wait(t); code != 130 {
		t.Fatalf("exit code after two SIGINTs = %d, want 130; stderr:\n%s", code, p.stderr.String())
	}
	web.Handle(0, "/p/1", nil) // the page answers now
	if code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q"); code != 0 {
		t.Fatalf("resume after a hard exit: exit %d: %s", code, errOut)
	}
	if got := keys(exported(t, db)); !slices.Equal(got, web.Pages()) {
		t.Fatalf("after resume stored %d pages, want %d", len(got), len(web.Pages()))
	}
}

func TestBadSeedFileFetchesNothing(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 3})
	dir := t.TempDir()
	seeds := filepath.Join(dir, "seeds.txt")
	os.WriteFile(seeds, []byte(web.Seeds()[0]+"\n# fine\nnot a url\n"), 0o644)
	db := filepath.Join(dir, "c.db")
	code, _, errOut := run(t, "run", "--db", db, seeds)
	if code != 1 {
		t.Fatalf("exit code = %d, want 1", code)
	}
	if want := seeds + ":3:"; !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("stderr = %q, want one line containing %q", errOut, want)
	}
	if n := len(web.Log()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a bad seed file created the database (stat: %v)", err)
	}
}

func TestExport(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 8})
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	if code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q", writeSeeds(t, dir, web.Seeds())); code != 0 {
		t.Fatalf("crawl exit %d: %s", code, errOut)
	}
	recs := exported(t, db)
	if !slices.Equal(keys(recs), web.Pages()) {
		t.Fatalf("export has %d records, want %d", len(recs), len(web.Pages()))
	}
	for u, m := range recs {
		for _, f := range []string{"url", "final_url", "status", "content_type", "title", "text", "links", "depth", "fetched_at"} {
			if _, ok := m[f]; !ok {
				t.Errorf("%s: no field %q", u, f)
			}
		}
	}

	out := filepath.Join(dir, "pages.json")
	if code, stdout, errOut := run(t, "export", "--db", db, "--format", "json", "-o", out); code != 0 || stdout != "" {
		t.Fatalf("export -o: exit %d, stdout %q, stderr %s", code, stdout, errOut)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) != len(recs) {
		t.Fatalf("JSON array export: %d records, %v", len(arr), err)
	}
}

func TestExportWhileCrawling(t *testing.T) {
	web := blockingWeb(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	start(t, "run", "--db", db, "--rate", "0", "-q", writeSeeds(t, dir, web.Seeds()))
	waitPages(t, web, 5)
	code, stdout, errOut := run(t, "export", "--db", db)
	if code != 1 || stdout != "" || !strings.Contains(errOut, "in use by another crawl") || !strings.Contains(errOut, db) {
		t.Fatalf("export of a held database: exit %d, stdout %q, stderr %q", code, stdout, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"run", "--no-such-flag"},
		{"run", "--workers", "0", "seeds.txt"},
		{"run", "--rate", "-1", "seeds.txt"},
		{"run", "--include", "(", "seeds.txt"},
		{"run", "a.txt", "b.txt"},
		{"export", "--format", "xml", "--db", filepath.Join(dir, "x.db")},
		{"no-such-command"},
	} {
		code, _, errOut := run(t, args...)
		if code != 2 {
			t.Errorf("crawl %q: exit %d, want 2 (stderr %q)", args, code, errOut)
		}
		if !strings.HasPrefix(errOut, "crawl: ") {
			t.Errorf("crawl %q: stderr %q, want a 'crawl: ' error line", args, errOut)
		}
	}
	if code, _, errOut := run(t, "export", "--db", filepath.Join(dir, "missing.db")); code != 1 || !strings.Contains(errOut, "missing.db") {
		t.Errorf("export of a missing database: exit %d, stderr %q", code, errOut)
	}
}

func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	code, _, errOut := run(t, "demo", "--hosts", "3", "--pages", "6", "--rate", "0", "--db", db)
	// The probes of /sitemap.xml (the site has none) leave no record.
	if code != 0 || !strings.Contains(errOut, "done: 18 records stored (18 this run, 0 skipped), 0 pending, 0 errors") {
		t.Fatalf("demo: exit %d, stderr:\n%s", code, errOut)
	}
	if n := len(exported(t, db)); n != 18 {
		t.Fatalf("demo database has %d pages, want 18", n)
	}
}
