package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// scenario is one benchmark setting of issue 5.
type scenario struct {
	name         string
	hosts, pages int // pages per host
	links        int
	latency      time.Duration
	rate         float64 // requests/s per host; 0: no limit
	perHost      int
	workers      int
	bare         bool // also measure a bare fetch loop over the same URLs
	// virtual serves the hosts by name on one listener (crawltest's
	// Config.Virtual), resolved by the crawler's fetch.Config.Resolver.
	virtual bool
}

// rateBound is the time each host's pages take at its rate alone.
func (s scenario) rateBound() time.Duration {
	if s.rate == 0 {
		return 0
	}
	return time.Duration(float64(s.pages) / s.rate * float64(time.Second))
}

// bound is the shortest time a polite crawl of s can take. A host's first
// request is robots.txt, at 0; no page may go before its answer, and only
// the seed page is known until the seed's answer brings links. So the last
// request of a host goes out no sooner than pages intervals after robots.txt
// (the rate) nor sooner than two latencies plus pages−2 intervals (the seed
// page's links go one interval apart), and the crawl ends one latency
// after it. With no latency this is the rate bound.
func (s scenario) bound() time.Duration {
	if s.rate == 0 {
		return 0
	}
	iv := time.Duration(float64(time.Second) / s.rate)
	last := max(time.Duration(s.pages)*iv, 2*s.latency+time.Duration(s.pages-2)*iv)
	return last + s.latency
}

func scenarios(scale float64) map[string][]scenario {
	n := func(x int) int { return max(1, int(float64(x)*scale)) }
	growth := func(total int) scenario {
		return scenario{name: fmt.Sprintf("growth-%d", n(total)), hosts: 20, pages: n(total) / 20, links: 60, perHost: 8, workers: 64}
	}
	return map[string][]scenario{
		"throughput": {{name: "throughput", hosts: 20, pages: n(2000), links: 60, perHost: 8, workers: 64, bare: true}},
		"polite":     {{name: "polite", hosts: 100, pages: n(50), links: 20, rate: 5, perHost: 1, workers: 64}},
		"slow":       {{name: "slow", hosts: 50, pages: n(100), links: 20, latency: 200 * time.Millisecond, rate: 50, perHost: 16, workers: 1000}},
		"growth":     {growth(10_000), growth(100_000), growth(1_000_000)},
		// Wide crawls (issue 20): many hosts, few pages each.
		"wide":      {{name: "wide", hosts: n(8000), pages: 12, links: 8, perHost: 4, workers: 256}},
		"wide-100k": {{name: "wide-100k", hosts: n(100_000), pages: 2, links: 2, perHost: 4, workers: 256, virtual: true}},
	}
}

func newBenchCmd() *cobra.Command {
	var (
		names        string
		scale        float64
		cpuprofile   string
		memprofile   string
		noSync       bool
		batchDelay   time.Duration
		redisAddr    string
		redisShards  int
		redisWorkers int
	)
	cmd := &cobra.Command{
		Use:   "bench [--scenario LIST] [--scale F]",
		Short: "Measure crawl speed and memory against the built-in test site",
		Long: `Serve the built-in test site on loopback from a child process and measure, in
one run, for each scenario: a bare fetch loop over the same URLs (net/http GET
and read the body, 64 goroutines) where it applies, and the full crawl (fetch,
parse, extract, store in bbolt with fsync): pages/s of each and their ratio,
peak RSS of the crawl, allocations per page, pages per commit and commit time,
the database's bytes a page and the share of each of its buckets (records,
URL index, frontier, visited set, …) and of its free pages; and for rate-limited scenarios the efficiency (bound / wall) and what the
site's hosts saw: every request (robots.txt included) timed by the kernel on
arrival, how many of them each host's token-bucket policer (its interval,
5 ms of slack) finds in excess, the shortest gap, refetches, and the TCP
connections the hosts accepted (in all, and the most one host did). The bound is the
shortest time any polite crawler can take: robots.txt first, then the seed
page, then the pages its links lead to, one interval apart, and one latency
for the last answer.

Scenarios: throughput (20 hosts × 2,000 pages, no rate limit, 60 links a
page), polite (100 hosts × 50 pages at 5/s per host: bound 10 s), slow (200 ms
latency, 50 hosts × 100 pages at 50/s per host, 1,000 workers: bound 2.56 s,
2 s at the rate alone),
growth (10k, 100k and 1M pages), wide (8,000 hosts × 12 pages, each host on
its own address, no rate limit, per-host 4, 256 workers) and wide-100k
(100,000 hosts × 2 pages, virtual hosts by name on one address). --scale
multiplies the page counts (the host counts of wide and wide-100k).

With --redis, each scenario is then crawled again by 1, 2 and 3 workers
(--redis-workers; crawlers of this process, each with its own database, set
as the embedded crawl is: rate, per-host, fetch goroutines) sharing that
Redis, each run against a site of its own, and the bench prints for each
pages/s, the ratio to the embedded crawl, and what Redis spent a page: CPU µs
(INFO cpu, all of redis-server's threads), commands (INFO commandstats, those
run by scripts included) and script calls. For rate-limited scenarios a
second line under each gives what the embedded crawl's report does, over all
the workers' requests together: efficiency, wall time, requests at the
server, robots.txt among them, those in excess of the hosts' policers, the
shortest gap, refetches (requests beyond one a URL) and connections. Every page must be
stored once across the workers' databases: one stored by two is an error.`,
		Example: `  crawl bench                                   # throughput, polite, slow
  crawl bench --scenario growth
  crawl bench --scenario throughput --cpuprofile cpu.prof
  crawl bench --scenario throughput --redis redis://127.0.0.1:6379/0
  crawl bench --scenario polite --redis redis://127.0.0.1:6379/0`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if redisWorkers < 1 {
				return usageError{fmt.Errorf("--redis-workers %d: need at least 1", redisWorkers)}
			}
			all := scenarios(scale)
			var run []scenario
			for _, name := range strings.Split(names, ",") {
				ss, ok := all[strings.TrimSpace(name)]
				if !ok {
					return usageError{fmt.Errorf("--scenario %q: want throughput, polite, slow, growth, wide or wide-100k", name)}
				}
				run = append(run, ss...)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "machine: %d CPUs, %s/%s, %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
			for _, s := range run {
				r, err := benchScenario(cmd.Context(), s, profiles{cpuprofile, memprofile}, noSync, batchDelay)
				if err != nil {
					return fmt.Errorf("%s: %w", s.name, err)
				}
				r.print(out)
				if redisAddr != "" {
					full := float64(r.pages) / r.full.Seconds()
					if err := benchRedis(cmd.Context(), out, s, redisAddr, redisShards, redisWorkers, noSync, batchDelay, full); err != nil {
						return fmt.Errorf("%s with redis: %w", s.name, err)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&names, "scenario", "throughput,polite,slow", "comma-separated scenarios: throughput, polite, slow, growth, wide, wide-100k")
	cmd.Flags().Float64Var(&scale, "scale", 1, "multiply every scenario's page count")
	cmd.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the full crawls to `FILE`")
	cmd.Flags().StringVar(&memprofile, "memprofile", "", "write an allocation profile of the full crawls to `FILE`")
	cmd.Flags().BoolVar(&noSync, "no-sync", false, "skip fsync on commit")
	cmd.Flags().DurationVar(&batchDelay, "batch-delay", 0, "the crawl's --batch-delay (0: its default)")
	cmd.Flags().IntVar(&redisWorkers, "redis-workers", 3, "with --redis: crawl with 1, 2, … up to `N` workers")
	cmd.Flags().IntVar(&redisShards, "redis-shards", 0, "with --redis: the frontier's shards (as crawl run's --redis-shards; 0: 1 on a single server)")
	cmd.Flags().StringVar(&redisAddr, "redis", "", "also crawl each scenario with 1, 2 and 3 workers sharing the Redis at `URL` (an empty database: the bench deletes its keys after each run), reporting pages/s, Redis CPU and commands a page, and what the hosts saw of a rate-limited crawl")
	return cmd
}

// benchResult holds the figures of one scenario.
type benchResult struct {
	s          scenario
	pages      int
	bare, full time.Duration
	peakRSS    int64 // bytes
	seedRSS    int64 // peak RSS while the seeds were added
	allocs     float64
	commits    int64
	commitT    time.Duration
	twice      int // fetches beyond one per page
	db         store.Usage

	atServer // rate-limited scenarios
}

// atServer is what the site's hosts saw of a crawl: every request,
// robots.txt included, timed by the kernel on arrival.
type atServer struct {
	requests, robots int
	minGap           time.Duration // shortest gap between two arrivals at one host
	excess           int           // requests each host's policer (its interval, 5 ms slack) finds in excess
	refetches        int           // requests beyond one per host and path
	conns, maxConns  int           // connections the hosts accepted, and the most one host did
}

func (r benchResult) print(w io.Writer) {
	s := r.s
	fmt.Fprintf(w, "\n== %s: %d hosts × %d pages, %d links/page, rate %s, per-host %d, %d workers, latency %v\n",
		s.name, s.hosts, s.pages, s.links, rateString(s.rate), s.perHost, s.workers, s.latency)
	fullRate := float64(r.pages) / r.full.Seconds()
	if s.bare {
		bareRate := float64(r.pages) / r.bare.Seconds()
		fmt.Fprintf(w, "bare fetch loop  %8.0f pages/s  (%v)\n", bareRate, r.bare.Round(time.Millisecond))
		fmt.Fprintf(w, "full crawl       %8.0f pages/s  (%v)\n", fullRate, r.full.Round(time.Millisecond))
		fmt.Fprintf(w, "ratio full/bare  %8.2f\n", fullRate/bareRate)
	} else {
		fmt.Fprintf(w, "full crawl       %8.0f pages/s  (%v)\n", fullRate, r.full.Round(time.Millisecond))
	}
	if b := s.bound(); b > 0 {
		fmt.Fprintf(w, "efficiency       %8.3f  (bound %v / wall %v)\n", b.Seconds()/r.full.Seconds(), b, r.full.Round(time.Millisecond))
		if rb := s.rateBound(); rb != b {
			fmt.Fprintf(w, "  of rate alone  %8.3f  (%v at %s per host / wall)\n", rb.Seconds()/r.full.Seconds(), rb, rateString(s.rate))
		}
		fmt.Fprintf(w, "at the server    %d requests (%d robots.txt), %d in excess of the hosts' policers (interval %v, 5 ms slack), shortest gap %v, %d refetches, %d connections (at most %d a host)\n",
			r.requests, r.robots, r.excess, time.Duration(float64(time.Second)/s.rate), r.minGap.Round(time.Microsecond), r.twice, r.conns, r.maxConns)
	} else {
		fmt.Fprintf(w, "refetches        %8d\n", r.twice)
	}
	fmt.Fprintf(w, "peak RSS         %8.1f MB\n", float64(r.peakRSS)/1e6)
	if s.hosts >= 1000 {
		fmt.Fprintf(w, "RAM per host     %8.0f bytes  (peak RSS / hosts)\n", float64(r.peakRSS)/float64(s.hosts))
		fmt.Fprintf(w, "seeding          %8.1f MB peak RSS  (%d seeds added before the crawl)\n", float64(r.seedRSS)/1e6, s.hosts)
	}
	fmt.Fprintf(w, "allocs/page      %8.0f\n", r.allocs)
	if r.commits > 0 {
		fmt.Fprintf(w, "commits          %8d  (%.0f pages/commit, %.1f ms mean commit)\n",
			r.commits, float64(r.pages)/float64(r.commits), float64(r.commitT.Microseconds())/1000/float64(r.commits))
	}
	if r.db.Used > 0 {
		fmt.Fprintf(w, "database         %8.0f bytes/page  (%.1f MB used, %.1f MB file: %s)\n",
			float64(r.db.Used)/float64(r.pages), float64(r.db.Used)/1e6, float64(r.db.File)/1e6, dbShares(r.db))
	}
}

// dbShares says what the used part of a database holds: each bucket's
// share, the free pages' and the rest's (bbolt's meta and freelist pages),
// largest first, as "records 61%, urls 9%, …".
func dbShares(u store.Usage) string {
	type part struct {
		name  string
		bytes int64
	}
	parts := []part{{"free pages", u.Free}}
	other := u.Used - u.Free
	for name, n := range u.Buckets {
		parts = append(parts, part{name, n})
		other -= n
	}
	parts = append(parts, part{"other", other})
	slices.SortStableFunc(parts, func(a, b part) int { return cmp.Compare(b.bytes, a.bytes) })
	var out []string
	for _, p := range parts {
		if share := 100 * float64(p.bytes) / float64(u.Used); share >= 0.5 {
			out = append(out, fmt.Sprintf("%s %.0f%%", p.name, share))
		}
	}
	return strings.Join(out, ", ")
}

func rateString(r float64) string {
	if r == 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(r, 'g', -1, 64) + "/s"
}

// crawlConfig is the crawler's configuration for s: the embedded crawl's
// and each Redis worker's, so that the two measure the same crawl. No
// sitemap probes: the test site has none, and the bare loop fetches pages
// only.
func (s scenario) crawlConfig(batchDelay time.Duration) crawler.Config {
	cfg := crawler.Config{Workers: s.workers, Rate: rate.Inf, Burst: 1, PerHost: s.perHost, NoSitemaps: true, BatchDelay: batchDelay}
	if s.rate > 0 {
		cfg.Rate = rate.Limit(s.rate)
	}
	return cfg
}

// fetchConfig is the fetcher's configuration for a crawler of s, a worker
// of a shared (Redis) frontier if shared, idle connections as crawl run's.
func (s scenario) fetchConfig(shared bool) fetch.Config {
	cfg := fetch.Config{IdleConnsPerHost: max(64, s.perHost), IdleConns: max(100, idleConns(s.workers, shared || s.rate > 0)), AllowPrivate: true} // the site is on loopback
	if s.virtual {
		cfg.Resolver = crawltest.Resolver{Hosts: s.hosts}
	}
	return cfg
}

// benchScenario serves the site of s from a child process and measures it.
func benchScenario(ctx context.Context, s scenario, prof profiles, noSync bool, batchDelay time.Duration) (benchResult, error) {
	r := benchResult{s: s, pages: s.hosts * s.pages}
	dir, err := os.MkdirTemp("", "crawl-bench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	web, err := serveSite(s, dir)
	if err != nil {
		return r, err
	}
	defer web.stop()

	if s.bare {
		var urls []string
		for _, seed := range web.seeds {
			urls = append(urls, seed)
			for k := 1; k < s.pages; k++ {
				urls = append(urls, seed+"p/"+strconv.Itoa(k))
			}
		}
		if r.bare, err = bareLoop(ctx, urls, 64); err != nil {
			return r, err
		}
	}

	st, err := store.Open(filepath.Join(dir, "bench.db"), &store.Options{NoSync: noSync})
	if err != nil {
		return r, err
	}
	defer st.Close()
	rec := &recordingFetcher{
		Client: fetch.New(s.fetchConfig(false)),
	}
	c, err := crawler.New(s.crawlConfig(batchDelay), st, rec)
	if err != nil {
		return r, err
	}
	resetPeakRSS()
	if _, err := c.AddSeeds(ctx, web.seeds); err != nil {
		return r, err
	}
	r.seedRSS = peakRSS()

	// What the seeding freed goes back to the system, so that the peak
	// measured is the crawl's.
	debug.FreeOSMemory()
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if prof.cpu != "" {
		f, err := os.Create(prof.cpu)
		if err != nil {
			return r, err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	start := time.Now()
	err = c.Run(ctx)
	r.full = time.Since(start)
	if prof.cpu != "" {
		pprof.StopCPUProfile()
	}
	if prof.mem != "" {
		if err := writeHeapProfile(prof.mem); err != nil {
			return r, err
		}
	}
	runtime.ReadMemStats(&after)
	r.peakRSS = peakRSS()
	if err != nil {
		return r, err
	}
	stats := c.Stats()
	if stats.Stored != r.pages {
		return r, fmt.Errorf("stored %d pages, want %d", stats.Stored, r.pages)
	}
	r.allocs = float64(after.Mallocs-before.Mallocs) / float64(r.pages)
	r.commits, r.commitT = stats.Commits, stats.CommitT
	if r.db, err = st.Usage(); err != nil {
		return r, err
	}
	// Every page is stored once and fetched at least once; the site has no
	// errors to retry; so fetches beyond the pages are refetches.
	r.twice = int(rec.fetches.Load()) - r.pages
	if r.atServer, err = web.policed(s); err != nil {
		return r, err
	}
	return r, nil
}

// police reads the site's request log of a crawl of s and counts, per
// host, what its token-bucket policer at the scenario's interval finds in
// excess.
func police(logFile string, s scenario) (atServer, error) {
	var a atServer
	f, err := os.Open(logFile)
	if err != nil {
		return a, fmt.Errorf("request log: %w", err)
	}
	defer f.Close()
	var log []crawltest.Request
	dec := json.NewDecoder(bufio.NewReader(f))
	for {
		var req crawltest.Request
		if err := dec.Decode(&req); err == io.EOF {
			break
		} else if err != nil {
			return a, fmt.Errorf("request log %s: %w", logFile, err)
		}
		log = append(log, req)
	}
	iv := time.Duration(float64(time.Second) / s.rate)
	a.requests, a.minGap = len(log), time.Hour
	for _, reqs := range crawltest.ByHost(log) {
		a.excess += len((crawltest.Policer{Interval: iv, Slack: 5 * time.Millisecond}).Check(reqs))
		slices.SortFunc(reqs, func(a, b crawltest.Request) int { return a.Time.Compare(b.Time) })
		paths := make(map[string]bool, len(reqs))
		conns := map[string]bool{}
		for i, q := range reqs {
			conns[q.Client] = true
			if q.Path == "/robots.txt" {
				a.robots++
			}
			if paths[q.Path] {
				a.refetches++
			}
			paths[q.Path] = true
			if i > 0 {
				a.minGap = min(a.minGap, q.Time.Sub(reqs[i-1].Time))
			}
		}
		a.conns += len(conns)
		a.maxConns = max(a.maxConns, len(conns))
	}
	return a, nil
}

// profiles names the files crawl bench writes profiles to ("": none).
type profiles struct{ cpu, mem string }

// writeHeapProfile writes the allocations made so far (pprof's allocs
// profile: look at alloc_space and alloc_objects) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serveSite starts `crawl demo --serve` for s in a child process; a
// rate-limited scenario's site logs its requests in dir.
func serveSite(s scenario, dir string) (site, error) {
	var web site
	exe, err := os.Executable()
	if err != nil {
		return web, err
	}
	args := []string{"demo", "--serve", "--port", "0",
		"--hosts", strconv.Itoa(s.hosts), "--pages", strconv.Itoa(s.pages),
		"--links", strconv.Itoa(s.links), "--latency", s.latency.String()}
	if s.rate > 0 {
		web.log = filepath.Join(dir, "requests.jsonl")
		args = append(args, "--log-file", web.log)
	} else {
		args = append(args, "--no-log")
	}
	if s.virtual {
		args = append(args, "--virtual")
	}
	cmd := exec.Command(exe, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return web, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return web, err
	}
	web.stop = sync.OnceFunc(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for len(web.seeds) < s.hosts && sc.Scan() {
		web.seeds = append(web.seeds, sc.Text())
	}
	if len(web.seeds) < s.hosts {
		web.stop()
		return web, fmt.Errorf("test site printed %d of %d seeds", len(web.seeds), s.hosts)
	}
	return web, nil
}

// site is a scenario's test site, served from a child process.
type site struct {
	seeds []string
	log   string // the request log of a rate-limited scenario's site, else ""
	stop  func() // ends the child process; calls after the first do nothing
}

// policed stops the site and returns what its hosts saw, from its request
// log (nothing if it kept none).
func (web site) policed(s scenario) (atServer, error) {
	if web.log == "" {
		return atServer{}, nil
	}
	web.stop()
	return police(web.log, s)
}

// bareLoop GETs every URL with n goroutines and reads the bodies: the upper
// bound a crawler on this machine can approach.
func bareLoop(ctx context.Context, urls []string, n int) (time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	ch := make(chan string)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	start := time.Now()
	for range n {
		wg.Go(func() {
			for u := range ch {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				resp, err := client.Do(req)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	for _, u := range urls {
		ch <- u
	}
	close(ch)
	wg.Wait()
	return time.Since(start), firstErr
}

// recordingFetcher counts the fetches, in memory that does not grow with
// the crawl (so that the peak RSS measured is the crawler's).
type recordingFetcher struct {
	*fetch.Client
	fetches atomic.Int64
}

func (f *recordingFetcher) Fetch(ctx context.Context, u string) (*fetch.Response, error) {
	f.fetches.Add(1)
	return f.Client.Fetch(ctx, u)
}

var vmHWM = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)

// resetPeakRSS resets the kernel's record of this process's peak RSS
// (Linux: /proc/self/clear_refs), so that peakRSS measures what follows.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns this process's peak resident set size in bytes since the
// last resetPeakRSS, or 0 where /proc is not available.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	m := vmHWM.FindSubmatch(b)
	if m == nil {
		return 0
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
