package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

// lineProc is a crawl subprocess whose stderr is read line by line as it
// is written, so that a test can wait for a line and time it.
type lineProc struct {
	cmd   *exec.Cmd
	lines chan string // stderr, closed at its end
	mu    sync.Mutex
	all   []string
}

func startLines(t *testing.T, args ...string) *lineProc {
	t.Helper()
	p := &lineProc{cmd: exec.Command(crawlBin, args...), lines: make(chan string, 1024)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.all = append(p.all, sc.Text())
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// waitLine returns the first line from now on that contains want, failing
// the test if none comes within limit.
func (p *lineProc) waitLine(t *testing.T, want string, limit time.Duration) string {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("stderr ended without a line with %q:\n%s", want, p.stderr())
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q in %v; stderr so far:\n%s", want, limit, p.stderr())
		}
	}
}

func (p *lineProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

// wait drains stderr and returns the exit code.
func (p *lineProc) wait(t *testing.T) int {
	t.Helper()
	for range p.lines {
	}
	err := p.cmd.Wait()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// gate makes path on host 0 of web wait until the test closes the returned
// channel (or the request is abandoned); entered receives the path.
func gate(web *crawltest.Web, path string) (entered chan string, release chan struct{}) {
	entered, release = make(chan string, 1), make(chan struct{})
	web.Handle(0, path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- r.URL.Path:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<title>gated</title>`)
	}))
	return entered, release
}

// TestUnreachableRobots runs a crawl of a seed on a loopback port where
// nothing listens: robots.txt cannot be had, which the log says with the
// next try; after the retries (none here) the seed is an error record, the
// /sitemap.xml probe leaves none, the summary names the reason, and the exit
// code says that nothing succeeded.
func TestUnreachableRobots(t *testing.T) {
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, []string{"http://" + freeLoopbackAddr(t) + "/"})
	db := filepath.Join(dir, "r.db")
	code, _, errOut := run(t, "run", "--db", db, "--retries", "0", seeds)
	if code != 3 {
		t.Errorf("exit %d, want 3 (every URL failed); stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		"robots.txt unavailable, giving up on the host",
		"done: 1 records stored (1 this run, 0 skipped), 0 pending, 1 errors",
		"crawl: 1 error: robots.txt unavailable (connection refused) ×1 — crawl stats --db " + db,
		"crawl: every URL tried failed",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := len(exported(t, db)); n != 1 {
		t.Errorf("%d records, want 1: the seed's error, and none for the /sitemap.xml probe", n)
	}
}

// TestRobotsRetryLogged checks that with retries left the host's first
// robots.txt failure is logged once, with the next try, and that Ctrl-C ends
// the wait at once.
func TestRobotsRetryLogged(t *testing.T) {
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, []string{"http://" + freeLoopbackAddr(t) + "/"})
	p := startLines(t, "run", "--db", filepath.Join(dir, "r.db"), seeds)
	line := p.waitLine(t, "robots.txt unavailable", 10*time.Second)
	if !regexp.MustCompile(`next_try=\d\d:\d\d:\d\d tries_left=3`).MatchString(line) {
		t.Errorf("log line %q does not say when robots.txt is tried again", line)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130", code)
	}
	if n := strings.Count(p.stderr(), "robots.txt unavailable"); n != 1 {
		t.Errorf("robots.txt unavailable said %d times, want once:\n%s", n, p.stderr())
	}
}

// TestFailuresInPlainSight crawls a site where some pages fail: -v logs
// each failed record, the summary names the reasons with counts, and the
// exit code is 0 since some pages succeeded.
func TestFailuresInPlainSight(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1})
	for _, path := range []string{"/gone", "/broken"} {
		status := map[string]int{"/gone": 404, "/broken": 500}[path]
		web.Handle(0, path, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	}
	root := web.Seeds()[0]
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, []string{root, root + "gone", root + "broken"})
	db := filepath.Join(dir, "f.db")
	code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "--retries", "0", "-v", seeds)
	if code != 0 {
		t.Errorf("exit %d, want 0 (one page succeeded); stderr:\n%s", code, errOut)
	}
	for _, want := range []string{
		`msg=failed url=` + root + `gone status=404 err="http 404 Not Found"`,
		`msg=failed url=` + root + `broken status=500 err="http 500 Internal Server Error"`,
		"crawl: 2 errors: http 404 Not Found ×1, http 500 Internal Server Error ×1 — crawl stats --db " + db,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestFirstSignalAnswers sends SIGINT while a fetch is held by the server:
// the crawl says at once that it is stopping and for how many fetches it
// waits, and the summary counts the abandoned URL as pending, as crawl
// stats does. A second SIGINT then exits at once.
func TestFirstSignalAnswers(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, LinksPerPage: -1, CrossHost: -1})
	entered, release := gate(web, "/p/2")
	defer close(release)
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds()[:1])
	db := filepath.Join(dir, "s.db")
	p := startLines(t, "run", "--db", db, "--rate", "0", "--grace", "1m", "--no-sitemaps", seeds)
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatalf("the crawl did not reach the gated page; stderr:\n%s", p.stderr())
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	line := p.waitLine(t, "crawl: stopping:", 5*time.Second)
	if !regexp.MustCompile(`^crawl: stopping: waiting up to 1m0s for (1 fetch|\d+ fetches) in flight \(Ctrl-C again to quit now\)$`).MatchString(line) {
		t.Errorf("first SIGINT answered %q", line)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 130 {
		t.Errorf("exit %d after the second SIGINT, want 130", code)
	}

	// Stopped by the grace period instead, the crawl prints its summary.
	p = startLines(t, "run", "--db", db, "--rate", "0", "--grace", "100ms", "--no-sitemaps")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatalf("the resumed crawl did not reach the gated page; stderr:\n%s", p.stderr())
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130", code)
	}
	m := regexp.MustCompile(`interrupted: .* (\d+) pending`).FindStringSubmatch(p.stderr())
	if m == nil {
		t.Fatalf("no summary:\n%s", p.stderr())
	}
	_, out, _ := run(t, "stats", "--db", db)
	if !regexp.MustCompile(`(?m)^pending +`+m[1]+` `).MatchString(out) || m[1] == "0" {
		t.Errorf("summary says %s pending; crawl stats says:\n%s", m[1], out)
	}
}

// TestProgressLogWithoutTerminal checks that a crawl whose stderr is no
// terminal starts with a start line and logs its first progress line
// within 2 seconds.
func TestProgressLogWithoutTerminal(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 3, CrossHost: -1})
	entered, release := gate(web, "/p/1")
	defer close(release)
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds()[:1])
	db := filepath.Join(dir, "p.db")
	p := startLines(t, "run", "--db", db, "--rate", "0", seeds)
	start := p.waitLine(t, "crawl: crawling into", 10*time.Second)
	t0 := time.Now() // the crawl starts right after its start line
	if want := "crawl: crawling into " + db + ": 1 seed (1 new); no rate limit, 64 workers"; !strings.HasPrefix(start, want) {
		t.Errorf("start line %q, want it to begin %q", start, want)
	}
	<-entered
	p.waitLine(t, "msg=progress", 5*time.Second)
	// Allow for a machine busy with other tests.
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("first progress line after %v, want about 2s", d)
	}
}

func TestProgressLineFits(t *testing.T) {
	s := crawler.Stats{Stored: 123456, Pending: 9876543, InFlight: 64, Hosts: 12345, Ready: 100, Waiting: 2000,
		Held: 30, Failed: 4567, Bytes: 5 << 30, Elapsed: 3*time.Hour + 25*time.Minute}
	for _, width := range []int{20, 40, 60, 80, 100, 200} {
		line := progressLine(s, 1234.5, width)
		if n := utf8.RuneCountInString(line); n >= width {
			t.Errorf("width %d: line of %d columns: %q", width, n, line)
		}
		if !strings.HasPrefix(line, "stored 123456") && width > len("stored 123456") {
			t.Errorf("width %d: %q does not begin with what is stored", width, line)
		}
		if strings.Contains(line, "\n") {
			t.Errorf("width %d: %q spans lines", width, line)
		}
	}
	if line := progressLine(s, 1234.5, 80); !strings.Contains(line, "errors 4567") {
		t.Errorf("80 columns: %q leaves out the errors", line)
	}
}

// TestNoDatabaseLeftBehind checks that a run failing before it crawls
// removes the database it created, and leaves one that was there.
func TestNoDatabaseLeftBehind(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "new.db")
	if code, _, errOut := runIn(t, "run", "--db", db); code != 1 || !strings.Contains(errOut, "nothing to crawl") {
		t.Fatalf("exit %d, stderr %q; want 1 and nothing to crawl", code, errOut)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a run with nothing to crawl left %s behind (%v)", db, err)
	}
}

func TestUserAgentContact(t *testing.T) {
	for _, tc := range []struct{ ua, contact, want string }{
		{"politecrawl/0.1 (+https://github.com/politecrawl/crawl)", "https://example.org/bot", "politecrawl/0.1 (+https://example.org/bot)"},
		{"mybot/2", "mailto:me@example.org", "mybot/2 (+mailto:me@example.org)"},
		{"mybot/2 (+https://a.example)", "", "mybot/2 (+https://a.example)"},
	} {
		if got := userAgent(tc.ua, tc.contact); got != tc.want {
			t.Errorf("userAgent(%q, %q) = %q, want %q", tc.ua, tc.contact, got, tc.want)
		}
	}
}

func TestHelpTexts(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		want, wantNot string
	}{
		{[]string{"help", "demo"}, "(default: a new file in a temporary folder)\n", `(default "crawl.db")`},
		{[]string{"help", "export"}, "--format jsonl|json|warc", ""},
		{[]string{"help"}, "JSON Lines, JSON or WARC", ""},
		{[]string{"help"}, "3 the crawl ran but every", ""},
		{[]string{"help", "run"}, "crawl export --format warc and the main_text field need them", ""},
	} {
		code, out, _ := runIn(t, tc.args...)
		if code != 0 || !strings.Contains(out, tc.want) || (tc.wantNot != "" && strings.Contains(out, tc.wantNot)) {
			t.Errorf("crawl %v: exit %d; want %q and not %q in:\n%s", tc.args, code, tc.want, tc.wantNot, out)
		}
	}
}

func TestExportBadOutputPath(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "e.db")
	st, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	out := filepath.Join(dir, "no", "such", "x.json")
	code, _, errOut := runIn(t, "export", "--db", db, "-o", out)
	if code != 1 || errOut != "crawl: -o "+out+": no such file or directory\n" {
		t.Errorf("exit %d, stderr %q; want 1 and the path given", code, errOut)
	}
}
