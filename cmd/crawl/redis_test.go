package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/internal/redistest"
)

// The tests of `crawl run --redis`: several real crawl processes, one real
// redis-server on a free loopback port, the test web on 127.0.1.x.

// watched is a crawl worker process whose stderr can be waited on for a
// line (an event: no polling of a buffer the process writes to).
type watched struct {
	*proc
	mu    sync.Mutex
	lines []string
	wake  chan struct{} // closed and replaced when a line arrives
}

// startWorker starts `crawl run` with args and a pipe on its stderr.
func startWorker(t *testing.T, args ...string) *watched {
	t.Helper()
	w := &watched{proc: &proc{cmd: exec.Command(crawlBin, args...), done: make(chan struct{})}, wake: make(chan struct{})}
	w.cmd.Stdout = &w.stdout
	errPipe, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			close(w.wake)
			w.wake = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	go func() {
		<-read // Wait closes the pipe: read it all first
		w.err = w.cmd.Wait()
		w.mu.Lock()
		w.stderr.WriteString(strings.Join(w.lines, "\n"))
		w.mu.Unlock()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

// waitLine waits until the worker writes a line containing s to stderr,
// and returns it.
func (w *watched) waitLine(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		w.mu.Lock()
		i := slices.IndexFunc(w.lines, func(l string) bool { return strings.Contains(l, s) })
		wake := w.wake
		var line string
		if i >= 0 {
			line = w.lines[i]
		}
		w.mu.Unlock()
		if i >= 0 {
			return line
		}
		select {
		case <-wake:
		case <-w.done:
			t.Fatalf("worker exited without writing %q; stderr:\n%s", s, w.stderr.String())
		case <-deadline:
			t.Fatalf("worker wrote no %q within a minute", s)
		}
	}
}

// workerArgs are the flags of worker i of a Redis crawl in dir.
func workerArgs(dir, redisURL string, i int, extra ...string) []string {
	return append([]string{"run", "--redis", redisURL, "--db", filepath.Join(dir, fmt.Sprintf("w%d.db", i)),
		"--batch-delay", "20ms", "--workers", "4", "--no-sync", "-v", "--user-agent", workerUA(i),
		filepath.Join(dir, "seeds.txt")}, extra...)
}

// workerUA is worker i's User-Agent, which tells its requests in the log.
func workerUA(i int) string { return fmt.Sprintf("crawltest-worker-%d", i) }

// pagesOf returns the page requests of worker i in the log.
func pagesOf(log []crawltest.Request, i int) []crawltest.Request {
	var rs []crawltest.Request
	for _, r := range log {
		if r.UserAgent == workerUA(i) && r.Path != "/robots.txt" {
			rs = append(rs, r)
		}
	}
	return rs
}

// waitWorkerPages waits until the web has received n page requests from
// worker i (w); it fails the test if w exits first.
func waitWorkerPages(t *testing.T, web *crawltest.Web, w *watched, i, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-w.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := web.WaitRequests(ctx, n, func(r crawltest.Request) bool {
		return r.UserAgent == workerUA(i) && r.Path != "/robots.txt"
	}); err != nil {
		t.Fatalf("waiting for %d page requests of worker %d: %v", n, i, err)
	}
}

// checkRefetched fails unless every request of rs was made again, later,
// by another worker than i.
func checkRefetched(t *testing.T, log []crawltest.Request, rs []crawltest.Request, i int) {
	t.Helper()
	for _, r := range rs {
		if !slices.ContainsFunc(log, func(o crawltest.Request) bool {
			return o.Host == r.Host && o.Path == r.Path && o.UserAgent != workerUA(i) && o.Time.After(r.Time)
		}) {
			t.Errorf("%s%s, in flight at worker %d when it stopped, was not fetched again by another worker", r.Host, r.Path, i)
		}
	}
}

// unionOf returns the URLs stored in the workers' databases of dir, and
// checks them with `crawl export` over all of them: one line per URL.
func unionOf(t *testing.T, dir string, n int) []string {
	t.Helper()
	set := map[string]bool{}
	args := []string{"export", "--fields", "url"}
	for i := range n {
		db := filepath.Join(dir, fmt.Sprintf("w%d.db", i))
		for u := range storedAfterKill(t, db) {
			set[u] = true
		}
		args = append(args, "--db", db)
	}
	code, out, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("crawl export: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(set) {
		t.Errorf("crawl export of %d databases wrote %d records, want %d (one per URL)", n, len(lines), len(set))
	}
	var urls []string
	for u := range set {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	return urls
}

// checkAllPages fails unless urls are exactly the web's pages.
func checkAllPages(t *testing.T, web *crawltest.Web, urls []string) {
	t.Helper()
	want := web.Pages()
	slices.Sort(want)
	if !slices.Equal(urls, want) {
		t.Errorf("union of the workers' stores has %d URLs, want the %d pages of the web:\ngot  %v\nwant %v", len(urls), len(want), urls, want)
	}
}

// checkExits fails unless every worker exits with 0.
func checkExits(t *testing.T, ws ...*watched) {
	t.Helper()
	for i, w := range ws {
		if code := w.wait(t); code != 0 {
			t.Errorf("worker %d: exit %d; stderr:\n%s", i, code, w.stderr.String())
		}
	}
}

// leases returns how many leases the Redis frontier holds, over its shards.
func leases(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "crawl:*:leases").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, k := range keys {
		c, err := rdb.ZCard(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// TestRedisThreeWorkers: three worker processes crawl the test web through
// one Redis. Together they store every page, no page is fetched twice (each
// worker reads robots.txt once for itself), and no host gets two requests
// closer than its interval.
func TestRedisThreeWorkers(t *testing.T) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 6, PagesPerHost: 4})
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	const interval = 500 * time.Millisecond
	var ws []*watched
	for i := range 3 {
		ws = append(ws, startWorker(t, workerArgs(dir, srv.URL(), i, "--rate", "2")...))
	}
	checkExits(t, ws...)
	checkAllPages(t, web, unionOf(t, dir, 3))

	fetched := map[string]int{}
	last := map[string]crawltest.Request{}
	minGap, minPair, short := time.Hour, "", 0
	for _, r := range web.Log() {
		if r.Path != "/robots.txt" {
			if fetched[r.Host+r.Path]++; fetched[r.Host+r.Path] == 2 {
				t.Errorf("%s%s fetched twice", r.Host, r.Path)
			}
		}
		if prev, ok := last[r.Host]; ok {
			gap := r.Time.Sub(prev.Time)
			if gap < interval {
				short++
			}
			if gap < minGap {
				minGap, minPair = gap, prev.Path+" → "+r.Path
			}
		}
		last[r.Host] = r
	}
	// Requests leave at least the interval apart by Redis's clock (paced
	// at send time); the log has their arrival at the test web's handler,
	// which a busy machine (three race-enabled workers on two cores) may
	// delay by tens of milliseconds for one request and not the next.
	// A quarter of the interval of slack for that.
	if slack := interval / 4; minGap < interval-slack {
		t.Errorf("shortest gap between two requests to one host: %v (%s), want at least %v (interval %v)", minGap, minPair, interval-slack, interval)
	}
	t.Logf("%d requests; gaps between two requests to one host: shortest %v (%s), %d shorter than the interval %v",
		len(web.Log()), minGap, minPair, short, interval)
	if n := leases(t, srv.Client(t)); n != 0 {
		t.Errorf("%d leases left in Redis after the crawl", n)
	}
}

// TestRedisKill9Worker: one of three workers is SIGKILLed while fetching;
// its leases expire and the URLs it had in flight are fetched again by the
// others, and the crawl completes.
func TestRedisKill9Worker(t *testing.T) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 12, PagesPerHost: 5})
	web.SetLatency(200 * time.Millisecond) // requests stay in flight a while
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	var ws []*watched
	for i := range 3 {
		ws = append(ws, startWorker(t, workerArgs(dir, srv.URL(), i, "--rate", "20", "--lease", "1s")...))
	}
	// Worker 0's first page request has arrived: it is in flight (its
	// response takes 200 ms), under a lease.
	waitWorkerPages(t, web, ws[0], 0, 1)
	ws[0].cmd.Process.Kill()
	if code := ws[0].wait(t); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("killed worker: exit %d", code)
	}
	var inFlight []crawltest.Request
	for _, r := range pagesOf(web.Log(), 0) {
		if r.Status == 0 { // no response written: the worker was gone
			inFlight = append(inFlight, r)
		}
	}
	if len(inFlight) == 0 {
		t.Fatal("the killed worker had no request in flight")
	}
	web.SetLatency(0)
	checkExits(t, ws[1:]...)
	checkAllPages(t, web, unionOf(t, dir, 3))
	checkRefetched(t, web.Log(), inFlight, 0)
}

// TestRedisRestart: Redis is shut down mid-crawl (its append-only file
// fsynced on every write) and started again; the workers say what they wait
// for, pause, and complete the crawl.
func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always", "--save", "")
	web := crawltest.New(t, crawltest.Config{Hosts: 6, PagesPerHost: 10})
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	var ws []*watched
	for i := range 2 {
		// A claim the server ran just before it stopped, whose reply was
		// lost, leaves a lease no worker knows of: its URL comes back when
		// the lease expires, so the lease is short here.
		ws = append(ws, startWorker(t, workerArgs(dir, srv.URL(), i, "--rate", "20", "--lease", "3s")...))
	}
	waitPages(t, web, 15)
	srv.Stop(t)
	for _, w := range ws {
		t.Log(w.waitLine(t, "waiting for redis"))
	}
	srv.Restart(t)
	for _, w := range ws {
		w.waitLine(t, "redis answers again")
	}
	checkExits(t, ws...)
	checkAllPages(t, web, unionOf(t, dir, 2))
}

// TestRedisInterruptGivesLeasesBack: SIGINT on one of two workers whose
// fetches are slow: it abandons them after its grace period and gives their
// leases back as it exits, so the other worker fetches those URLs at once,
// not when the leases expire (in an hour), and completes the crawl.
func TestRedisInterruptGivesLeasesBack(t *testing.T) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 6, PagesPerHost: 5})
	web.SetLatency(300 * time.Millisecond)
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	var ws []*watched
	for i := range 2 {
		ws = append(ws, startWorker(t, workerArgs(dir, srv.URL(), i, "--rate", "0", "--lease", "1h", "--grace", "1ms")...))
	}
	waitWorkerPages(t, web, ws[0], 0, 1)
	ws[0].cmd.Process.Signal(syscall.SIGINT)
	if code := ws[0].wait(t); code != 130 {
		t.Fatalf("interrupted worker: exit %d, want 130; stderr:\n%s", code, ws[0].stderr.String())
	}
	if !strings.Contains(ws[0].stderr.String(), "gave leases back") {
		t.Errorf("interrupted worker did not say it gave leases back; stderr:\n%s", ws[0].stderr.String())
	}
	var abandoned []crawltest.Request
	for _, r := range pagesOf(web.Log(), 0) {
		if r.Status == 0 {
			abandoned = append(abandoned, r)
		}
	}
	if len(abandoned) == 0 {
		t.Fatal("the interrupted worker abandoned no request")
	}
	checkExits(t, ws[1])
	checkAllPages(t, web, unionOf(t, dir, 2))
	checkRefetched(t, web.Log(), abandoned, 0)
	if n := leases(t, srv.Client(t)); n != 0 {
		t.Errorf("%d leases left in Redis after the crawl", n)
	}
}

// TestRedisClusterWorkers: three worker processes crawl the test web
// through a three-master Redis Cluster (--redis-cluster): together they
// store every page once, and no page is fetched twice.
func TestRedisClusterWorkers(t *testing.T) {
	cluster := redistest.StartCluster(t)
	addrs := cluster.Addrs()
	url := "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	web := crawltest.New(t, crawltest.Config{Hosts: 6, PagesPerHost: 4})
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	var ws []*watched
	for i := range 3 {
		ws = append(ws, startWorker(t, workerArgs(dir, url, i, "--rate", "20", "--redis-cluster", "--redis-shards", "6")...))
	}
	checkExits(t, ws...)
	checkAllPages(t, web, unionOf(t, dir, 3))
	fetched := map[string]int{}
	for _, r := range web.Log() {
		if fetched[r.Host+r.Path]++; fetched[r.Host+r.Path] == 2 {
			t.Errorf("%s%s fetched twice", r.Host, r.Path)
		}
	}
}

// TestRedisInterruptWhileDown: Ctrl-C on a worker whose Redis has stopped
// answering ends it as an interrupt (exit 130), within its grace period
// and the second it may spend giving leases back, not after the calls'
// own timeouts.
func TestRedisInterruptWhileDown(t *testing.T) {
	testInterruptWhileDown(t, "", 5*time.Second, func(srv *redistest.Server) { srv.Stop(t) })
}

// TestRedisInterruptWhileFrozen is TestRedisInterruptWhileDown with a Redis
// that accepts and never answers (SIGSTOP), so that each call waits out
// the client's read timeout (here 60 s) unless the crawl's context ends it:
// the bound can leave a loaded machine room and still tell the two apart.
func TestRedisInterruptWhileFrozen(t *testing.T) {
	testInterruptWhileDown(t, "?read_timeout=60s", 20*time.Second, func(srv *redistest.Server) { srv.Freeze(t) })
}

// testInterruptWhileDown runs a worker on the Redis of a URL with query,
// takes Redis down with down, and expects the worker to end within bound
// of a SIGINT.
func testInterruptWhileDown(t *testing.T, query string, bound time.Duration, down func(*redistest.Server)) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 30})
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	w := startWorker(t, workerArgs(dir, srv.URL()+query, 0, "--rate", "5", "--grace", "1s")...)
	waitPages(t, web, 5)
	down(srv)
	w.waitLine(t, "waiting for redis")
	start := time.Now()
	w.cmd.Process.Signal(syscall.SIGINT)
	if code := w.wait(t); code != 130 {
		t.Fatalf("exit %d after SIGINT with Redis down, want 130; stderr:\n%s", code, w.stderr.String())
	}
	// 1 s of grace, at most 1 s to give leases back, and room for a busy
	// machine: the calls' own timeouts (5 s each, 10 s for the leases, the
	// client's read timeout) would take far longer.
	t.Logf("exit %v after SIGINT", time.Since(start))
	if d := time.Since(start); d > bound {
		t.Errorf("exit %v after SIGINT with Redis down; want it within the grace period and the leases' second", d)
	}
}

// TestRedisConnections: a worker claims across every ready host, so its
// idle connections must cover them all, or it closes one host's to keep
// another's and dials again: a host would see a new connection every few
// requests. Each host sees at most its concurrency cap of connections (and
// two for robots.txt and a dial that lost its race to an idle one).
func TestRedisConnections(t *testing.T) {
	srv := redistest.Start(t)
	const hosts, perHost = 12, 4
	web := crawltest.New(t, crawltest.Config{Hosts: hosts, PagesPerHost: 40, LinksPerPage: 10})
	dir := t.TempDir()
	writeSeeds(t, dir, web.Seeds())
	w := startWorker(t, append(workerArgs(dir, srv.URL(), 0, "--rate", "0", "--per-host", fmt.Sprint(perHost)),
		"--workers", "16", "--no-sitemaps")...)
	checkExits(t, w)
	checkAllPages(t, web, unionOf(t, dir, 1))
	total := 0
	for h, n := range connsByHost(web.Log()) {
		total += n
		if n > perHost+2 {
			t.Errorf("%s: %d connections for %d requests at most %d at once", h, n, len(web.Log())/hosts, perHost)
		}
	}
	t.Logf("%d requests, %d connections", len(web.Log()), total)
}
