package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/frontier/redisfrontier"
	"github.com/politecrawl/crawl/metrics"
	"github.com/politecrawl/crawl/store"
)

// runOptions are the flags of `crawl run`; each maps onto a field of
// crawler.Config, fetch.Config or store.Options.
type runOptions struct {
	db         string
	workers    int
	rate       float64
	burst      int
	perHost    int
	maxDepth   int
	maxPages   int
	noFollow   bool
	anyHost    bool
	include    []string
	exclude    []string
	keepBody   bool
	recrawl    time.Duration // --recrawl
	adaptive   bool          // --recrawl-adaptive
	grace      time.Duration
	timeout    time.Duration
	maxBody    int64
	userAgent  string
	quiet      bool
	verbose    bool
	noSync     bool
	batchSize  int
	batchDelay time.Duration

	noRobots      bool
	noSitemaps    bool
	retries       int
	contact       string
	allowPrivate  bool
	maxPerHost    int
	maxSimilar    int
	perIP         bool
	maxLinks      int
	dialTimeout   time.Duration
	dnsServer     string // --dns-server
	headerTimeout time.Duration
	dropParams    []string
	metricsAddr   string        // --metrics-addr
	logFormat     string        // --log-format
	redis         string        // --redis
	lease         time.Duration // --lease
	shards        int           // --redis-shards
	redisCluster  bool          // --redis-cluster

	extract    extractOptions    // --extract, --extract-url, [[extract]] tables
	configFile string            // --config
	hostRules  hostRules         // [[host]] tables of the config file
	sources    map[string]string // flag name → fromDefault, fromFile or fromFlag
}

// load reads the --config file into the flags not set on the command line.
func (o *runOptions) load(cmd *cobra.Command) error {
	rules, sources, err := loadConfig(cmd, o.configFile)
	if err != nil {
		return err
	}
	o.hostRules, o.sources = rules, sources
	o.extract.file = o.configFile
	o.extract.tables, err = readExtractTables(o.configFile)
	return err
}

func (o *runOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.configFile, "config", "", "read settings from this TOML `FILE` (flags given here win; see crawl config --help)")
	f.StringVar(&o.db, "db", "crawl.db", "database `FILE` (created if missing; an existing crawl resumes)")
	f.IntVar(&o.workers, "workers", 64, "fetch goroutines")
	f.Float64Var(&o.rate, "rate", 1, "requests per second per host (0: no limit)")
	f.IntVar(&o.burst, "burst", 1, "requests a host may receive at once after a pause")
	f.IntVar(&o.perHost, "per-host", 1, "concurrent requests per host")
	f.BoolVar(&o.perIP, "per-ip", false, "hosts at one IP address share one --rate, --burst and --per-host (shared hosting); not with --redis")
	f.IntVar(&o.maxDepth, "max-depth", 0, "follow links at most N hops from a seed (0: no limit)")
	f.IntVar(&o.maxPages, "max-pages", 0, "stop once the database holds N pages (with --redis: all workers together; 0: no limit)")
	f.BoolVar(&o.noFollow, "no-follow", false, "fetch the seeds only, follow no links")
	f.BoolVar(&o.anyHost, "any-host", false, "follow links to any host (default: only the seeds' hosts)")
	f.StringArrayVar(&o.include, "include", nil, "follow only URLs matching this `REGEXP` (repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "never follow URLs matching this `REGEXP` (repeatable)")
	f.BoolVar(&o.keepBody, "keep-body", false, "store response bodies (base64 in exports); crawl export --format warc and the main_text field need them")
	f.DurationVar(&o.recrawl, "recrawl", 0, "fetch again every stored page last fetched more than this `DURATION` ago (24h), conditionally (If-None-Match, If-Modified-Since); changed pages become new versions (0: never)")
	f.BoolVar(&o.adaptive, "recrawl-adaptive", false, "with --recrawl D: each page's interval halves when it changed and doubles when it did not, within D/4 … 8·D")
	f.DurationVar(&o.grace, "grace", 10*time.Second, "on interrupt, how long in-flight fetches may finish")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "whole-fetch timeout, slow bodies included")
	f.Int64Var(&o.maxBody, "max-body", 10<<20, "keep at most `BYTES` of a body; longer ones are cut and marked")
	f.StringVar(&o.userAgent, "user-agent", fetch.DefaultUserAgent, "User-Agent header (name the crawler and a contact URL)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress, only errors and the summary")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every record that failed, whatever the cause (fetch, robots.txt, HTTP status)")
	f.BoolVar(&o.noRobots, "no-robots", false, "neither fetch nor honour robots.txt, and follow the links of nofollow pages (only for sites you run)")
	f.BoolVar(&o.noSitemaps, "no-sitemaps", false, "do not read sitemaps (robots.txt Sitemap: lines and /sitemap.xml)")
	f.IntVar(&o.retries, "retries", 3, "retry a URL this many times after a timeout, connection error, 5xx or 429")
	f.StringVar(&o.contact, "contact", "", "your contact `URL`, in the User-Agent as \"(+URL)\" in place of the project's")
	f.BoolVar(&o.allowPrivate, "allow-private", false, "allow connections to loopback, private and link-local addresses (default: only the seeds' hosts may be there)")
	f.IntVar(&o.maxPerHost, "max-per-host", 0, "queue at most N URLs of one host (0: no limit)")
	f.IntVar(&o.maxSimilar, "max-similar-hops", 4, "follow at most N links in a row between URLs that differ only in their numbers, such as an endless calendar's next month (0: no limit)")
	f.IntVar(&o.maxLinks, "max-links", 2000, "keep (record and follow) at most N links of a page; the record counts the rest (0: no limit)")
	f.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "TCP connect and TLS handshake timeout")
	f.StringVar(&o.dnsServer, "dns-server", "", "resolve host names with the DNS server at `ADDR` (host[:port], port 53 by default) instead of the system's")
	f.DurationVar(&o.headerTimeout, "header-timeout", 0, "timeout for the response headers (0: --timeout)")
	f.StringArrayVar(&o.dropParams, "drop-param", nil, "also drop this query `PARAM` from links (repeatable; utm_*, fbclid, gclid, … always are)")
	f.StringVar(&o.logFormat, "log-format", "text", "log lines on stderr as text or json (log/slog)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics, such as 127.0.0.1:9090")
	f.StringVar(&o.redis, "redis", "", "share the frontier with other crawl workers through this Redis `URL` (redis://host:port/db); --db then keeps this worker's pages")
	f.DurationVar(&o.lease, "lease", 2*time.Minute, "with --redis: a URL a worker claimed returns to the queue if not done in this time (the worker died); keep it above --timeout")
	f.BoolVar(&o.redisCluster, "redis-cluster", false, "with --redis: the URL names a node of a Redis Cluster (more with ?addr=host:port&addr=…); the shards spread over its masters")
	f.IntVar(&o.shards, "redis-shards", 0, "with --redis: hash-tagged shards of a new frontier (Redis Cluster spreads them over its masters); 0: 1 on a single server, 4 a master on a cluster")
	o.extract.addFlags(f)
	f.BoolVar(&o.noSync, "no-sync", false, "skip fsync on commit (faster; a power cut may corrupt the database)")
	f.MarkHidden("no-sync")
	f.IntVar(&o.batchSize, "batch-size", 256, "commit fetched pages in transactions of at most N")
	f.DurationVar(&o.batchDelay, "batch-delay", 200*time.Millisecond, "commit a batch at most this long after its first page (a kill -9 loses only uncommitted fetches)")
}

// config validates the options and builds the crawler's configuration.
func (o *runOptions) config(logger *slog.Logger) (crawler.Config, error) {
	cfg := crawler.Config{
		Workers: o.workers, Burst: o.burst, PerHost: o.perHost, PerIP: o.perIP,
		MaxDepth: o.maxDepth, MaxPages: o.maxPages, NoFollow: o.noFollow, AnyHost: o.anyHost,
		KeepBody: o.keepBody, Grace: o.grace, Logger: logger,
		Recrawl: o.recrawl, RecrawlAdaptive: o.adaptive,
		NoRobots: o.noRobots, NoSitemaps: o.noSitemaps, Retries: o.retries, MaxPerHost: o.maxPerHost,
		MaxSimilarHops: offIfZero(o.maxSimilar), MaxLinks: offIfZero(o.maxLinks),
		DropParams: o.dropParams, BatchSize: o.batchSize, BatchDelay: o.batchDelay,
	}
	if o.retries == 0 {
		cfg.Retries = -1 // Config: zero means the default
	}
	switch {
	case o.workers < 1:
		return cfg, usageError{fmt.Errorf("--workers %d: need at least 1", o.workers)}
	case o.rate < 0 || math.IsNaN(o.rate):
		return cfg, usageError{fmt.Errorf("--rate %v: need 0 (no limit) or more", o.rate)}
	case o.burst < 1:
		return cfg, usageError{fmt.Errorf("--burst %d: need at least 1", o.burst)}
	case o.perHost < 1:
		return cfg, usageError{fmt.Errorf("--per-host %d: need at least 1", o.perHost)}
	case o.maxDepth < 0:
		return cfg, usageError{fmt.Errorf("--max-depth %d: need 0 (no limit) or more", o.maxDepth)}
	case o.maxPages < 0:
		return cfg, usageError{fmt.Errorf("--max-pages %d: need 0 (no limit) or more", o.maxPages)}
	case o.retries < 0:
		return cfg, usageError{fmt.Errorf("--retries %d: need 0 (no retries) or more", o.retries)}
	case o.maxPerHost < 0:
		return cfg, usageError{fmt.Errorf("--max-per-host %d: need 0 (no limit) or more", o.maxPerHost)}
	case o.maxSimilar < 0:
		return cfg, usageError{fmt.Errorf("--max-similar-hops %d: need 0 (no limit) or more", o.maxSimilar)}
	case o.maxLinks < 0:
		return cfg, usageError{fmt.Errorf("--max-links %d: need 0 (no limit) or more", o.maxLinks)}
	case o.timeout <= 0:
		return cfg, usageError{fmt.Errorf("--timeout %v: need more than 0", o.timeout)}
	case o.maxBody < 1:
		return cfg, usageError{fmt.Errorf("--max-body %d: need at least 1", o.maxBody)}
	case o.logFormat != "text" && o.logFormat != "json":
		return cfg, usageError{fmt.Errorf("--log-format %q: want text or json", o.logFormat)}
	case o.batchSize < 1:
		return cfg, usageError{fmt.Errorf("--batch-size %d: need at least 1", o.batchSize)}
	case o.batchDelay <= 0:
		return cfg, usageError{fmt.Errorf("--batch-delay %v: need more than 0", o.batchDelay)}
	case o.lease < time.Second:
		return cfg, usageError{fmt.Errorf("--lease %v: need at least 1s", o.lease)}
	case o.recrawl < 0:
		return cfg, usageError{fmt.Errorf("--recrawl %v: need 0 (never) or more", o.recrawl)}
	case o.adaptive && o.recrawl == 0:
		return cfg, usageError{errors.New("--recrawl-adaptive: give the base interval with --recrawl D")}
	case o.recrawl > 0 && o.redis != "":
		return cfg, usageError{errors.New("--recrawl: not with --redis (recrawl one worker's database at a time)")}
	case o.shards < 0 || o.shards > 1024:
		return cfg, usageError{fmt.Errorf("--redis-shards %d: need 1 to 1024 (0: chosen for the server)", o.shards)}
	}
	cfg.Rate = rate.Limit(o.rate)
	if o.rate == 0 || math.IsInf(o.rate, 1) {
		cfg.Rate = rate.Inf
	}
	if len(o.hostRules) > 0 {
		cfg.HostLimits = o.hostRules.limits
	}
	rules, err := o.extract.rules()
	if err != nil {
		return cfg, err
	}
	cfg.Extract = rules
	for _, p := range o.include {
		re, err := regexp.Compile(p)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--include %q: %v", p, err)}
		}
		cfg.Include = append(cfg.Include, re)
	}
	for _, p := range o.exclude {
		re, err := regexp.Compile(p)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--exclude %q: %v", p, err)}
		}
		cfg.Exclude = append(cfg.Exclude, re)
	}
	return cfg, nil
}

// offIfZero maps a flag's 0 (no limit) to the Config's negative (a
// Config's zero means its default).
func offIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// userAgent returns ua with contact as its contact URL: it takes the place
// of ua's own "(+URL)", the project's in the default, so that site owners
// see one address, the one that answers for this crawl.
func userAgent(ua, contact string) string {
	if contact == "" {
		return ua
	}
	if i := strings.LastIndex(ua, " (+"); i >= 0 && strings.HasSuffix(ua, ")") {
		ua = ua[:i]
	}
	return ua + " (+" + contact + ")"
}

// seedWait bounds how long the seeds wait for a shared frontier, and a
// worker's start for Redis to answer.
const seedWait = 10 * time.Second

// withRedis returns cfg with the frontier shared through rdb in place of
// the embedded one: paced by the same limits, for all the workers together.
func withRedis(ctx context.Context, cfg crawler.Config, rdb redis.UniversalClient, st *store.Store, lease time.Duration, shards int) (crawler.Config, error) {
	if cfg.PerIP {
		return cfg, errors.New("politeness per IP address is not available with a Redis frontier")
	}
	counts, err := st.Counts()
	if err != nil {
		return cfg, err
	}
	ctx, cancel := context.WithTimeout(ctx, seedWait)
	defer cancel()
	rf, err := redisfrontier.New(ctx, rdb, redisfrontier.Config{
		Limits: frontier.Limits{Rate: cfg.Rate, Burst: cfg.Burst, PerHost: cfg.PerHost,
			MaxBackoff: cfg.MaxBackoff, Host: cfg.HostLimits},
		MaxPerHost: cfg.MaxPerHost, MaxPages: cfg.MaxPages, Lease: lease, Shards: shards,
		Workers: cfg.Workers, Stored: counts.Pages, Logger: cfg.Logger,
	})
	if err != nil {
		return cfg, err
	}
	cfg.Frontier, cfg.ScopeFrom, cfg.SeenFrom, cfg.Robots = rf, rf.Scope, rf.Seen, rf
	return cfg, nil
}

// idleConns is the fetcher's cap on idle keep-alive connections in all.
// It must hold one for every host the crawl rotates over between two
// requests to a host, or the least recently used is closed just before
// its host's turn and the host sees a new connection for most requests.
// Without a rate limit the embedded frontier finishes the hosts in play
// before it starts others and closes a host's connections once it is done
// with it (fetch.Client.CloseIdle), so --workers of them serve, and a wide
// crawl holds no more. With a rate limit (rotating), each host waits its
// interval between requests and the workers go round many hosts meanwhile;
// a --redis worker claims across every ready host and is never told that
// one is done. Capped at --workers, 64 workers on 150 hosts at 20 requests
// a second each dialled for 882 of 900 requests (TestConnectionsManyHosts),
// and a --redis worker of 16 for 200 of 492 on 12 hosts × 4 at once
// (TestRedisConnections). An idle connection costs some 40 KB (its buffers
// and two goroutines) and a file descriptor.
func idleConns(workers int, rotating bool) int {
	if rotating {
		return min(4*workers, 1024)
	}
	return workers
}

// fetchConfig builds the fetcher's configuration.
func (o *runOptions) fetchConfig() fetch.Config {
	ua := userAgent(o.userAgent, o.contact)
	cfg := fetch.Config{
		UserAgent: ua, Timeout: o.timeout, MaxBody: o.maxBody, AllowPrivate: o.allowPrivate,
		DialTimeout: o.dialTimeout, TLSTimeout: o.dialTimeout, HeaderTimeout: o.headerTimeout,
		IdleConns: idleConns(o.workers, o.redis != "" || o.rate > 0),
	}
	if o.dnsServer != "" {
		cfg.Resolver = &fetch.DNSClient{Server: o.dnsServer}
	}
	return cfg
}

func newRunCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] [SEEDFILE]",
		Short: "Crawl from a seed file into a database, or resume a crawl",
		Long: `Crawl from SEEDFILE into the database --db, politely: each host gets at most
--rate requests per second (bursts of --burst) and --per-host requests at once.

The seed file has one absolute http(s) URL a line; blank lines and lines
starting with # are skipped. A bad line stops the run before anything is
fetched, naming the file and line.

By default only the seeds' hosts are crawled. Ctrl-C (SIGINT) or SIGTERM stops
the crawl: in-flight fetches may finish for --grace, what finished is committed,
and a summary is printed (exit 130 or 143). A second signal exits at once.
Run the same command again to resume: stored pages are not fetched again and
pending URLs are not lost. SEEDFILE may be omitted when resuming; given again,
only its new seeds are added.

With --redis, several workers (on one or several machines) crawl as one:
the frontier, the hosts' politeness and the visited set live in Redis, each
worker stores its pages in its own --db, and crawl export merges them (give
it every --db). Give every worker the same seed file and politeness flags.
A URL a worker claims is leased for --lease: Ctrl-C gives its leases back at
once; a worker killed outright loses them when they expire, and the URL
goes to another. If Redis stops answering, workers pause, say so once, and
go on when it is back.`,
		Example: `  crawl run --db news.db --rate 0.5 --max-depth 3 seeds/public.txt
  crawl run --db news.db                      # resume
  crawl run --redis redis://10.0.0.5:6379/0 --db worker1.db seeds.txt   # one of several workers
  crawl export --db news.db | jq -r .title`,
		Args: argsUsage(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.load(cmd); err != nil {
				return err
			}
			var seedFile string
			if len(args) == 1 {
				seedFile = args[0]
			}
			return runCrawl(cmd.Context(), &o, seedFile, nil, cmd.ErrOrStderr())
		},
	}
	o.addFlags(cmd)
	return cmd
}

// runCrawl crawls seedFile (or the seeds given, or only the pending URLs)
// into o.db and prints a summary to stderr.
func runCrawl(ctx context.Context, o *runOptions, seedFile string, seeds []string, stderr io.Writer) (err error) {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	tw := &stderrLine{w: stderr}
	stderr = tw
	var logger *slog.Logger
	switch o.logFormat {
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	default: // "text"; o.config rejects others
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	cfg, err := o.config(logger)
	if err != nil {
		return err
	}
	// Read the seeds before touching the database: a bad seed file changes
	// nothing and fetches nothing.
	if seedFile != "" {
		if seeds, err = crawler.ReadSeedFile(seedFile); err != nil {
			return err
		}
	}
	// A run that fails before it crawls leaves no database it created
	// behind: an empty file would only puzzle the next command.
	_, statErr := os.Stat(o.db)
	created := errors.Is(statErr, os.ErrNotExist)
	crawling := false
	st, err := store.Open(o.db, &store.Options{NoSync: o.noSync})
	if err != nil {
		return damagedHint(o.db, err, false)
	}
	defer func() {
		st.Close()
		if err != nil && created && !crawling {
			os.Remove(o.db)
		}
	}()

	switch {
	case o.redis != "" && o.redisCluster:
		copts, err := redis.ParseClusterURL(o.redis)
		if err != nil {
			return usageError{fmt.Errorf("--redis %q: %v", o.redis, err)}
		}
		redis.SetLogger(redisLog{logger})
		rdb := redis.NewClusterClient(copts)
		defer rdb.Close()
		if cfg, err = withRedis(ctx, cfg, rdb, st, o.lease, o.shards); err != nil {
			return err
		}
	case o.redis != "":
		ropts, err := redis.ParseURL(o.redis)
		if err != nil {
			return usageError{fmt.Errorf("--redis %q: %v", o.redis, err)}
		}
		redis.SetLogger(redisLog{logger})
		rdb := redis.NewClient(ropts)
		defer rdb.Close()
		if cfg, err = withRedis(ctx, cfg, rdb, st, o.lease, o.shards); err != nil {
			return err
		}
	}

	report := newRunReport(logger)
	cfg.OnPage = report.page
	fc := o.fetchConfig()
	var m *metrics.Metrics
	if o.metricsAddr != "" {
		m = metrics.New()
		fc.OnFetch = m.ObserveFetch
	}
	fetcher := fetch.New(fc)
	c, err := crawler.New(cfg, st, fetcher)
	if err != nil {
		return err
	}
	var state atomic.Value // what the status page says the crawl is doing
	state.Store("starting")
	if m != nil {
		m.Watch(c)
		status := &statusPage{c: c, report: report, db: o.db, state: func() string { return state.Load().(string) }}
		url, stop, err := serveMetrics(o.metricsAddr, m.Handler(), status)
		if err != nil {
			return err
		}
		defer stop()
		logger.Info("serving the status page and metrics", "url", url, "metrics", url+"metrics")
	}
	seedCtx, cancelSeeds := context.WithTimeout(ctx, seedWait)
	added, err := c.AddSeeds(seedCtx, seeds)
	cancelSeeds()
	if err != nil {
		return err
	}
	requeued, err := c.QueueRecrawl(ctx, time.Now())
	if err != nil {
		return err
	}
	if o.recrawl > 0 && !o.quiet {
		how := fmt.Sprintf("last fetched more than %v ago", o.recrawl)
		if o.adaptive {
			how = fmt.Sprintf("adaptive intervals of %v to %v", o.recrawl/4, 8*o.recrawl)
		}
		fmt.Fprintf(stderr, "crawl: recrawl: %d stored %s due again (%s)\n", requeued, pluralWord(requeued, "page"), how)
	}
	before := c.Stats()
	if before.Pending == 0 {
		if before.Stored == 0 {
			return crawler.ErrNothingToDo
		}
		fmt.Fprintf(stderr, "crawl: nothing left to crawl in %s: %d pages stored, none pending\n", o.db, before.Stored)
		return nil
	}
	crawling = true
	if !o.quiet {
		startLine(stderr, logger, o, len(seeds), added, before)
	}

	state.Store("crawling")
	stopProgress := startProgress(c, tw, logger, o.quiet, 10*time.Second)
	stopping := make(chan struct{})
	answered := make(chan struct{})
	go func() {
		// The first Ctrl-C answers at once, though in-flight fetches may
		// keep the crawl for --grace.
		defer close(answered)
		select {
		case <-ctx.Done():
		case <-stopping:
			return
		}
		state.Store("stopping")
		stopProgress()
		if n := c.Stats().InFlight; n > 0 && o.logFormat != "json" {
			fmt.Fprintf(stderr, "crawl: stopping: waiting up to %v for %s in flight (Ctrl-C again to quit now)\n",
				o.grace, fetches(n))
		} else if n > 0 {
			logger.Info("stopping: waiting for the fetches in flight (Ctrl-C again to quit now)", "in_flight", n, "grace", o.grace.String())
		} else if o.logFormat != "json" {
			fmt.Fprintf(stderr, "crawl: stopping\n")
		}
	}()
	runErr := c.Run(ctx)
	close(stopping)
	<-answered // the answer to Ctrl-C comes before the summary
	stopProgress()
	state.Store("finished")

	s := c.Stats()
	pending := s.Pending + s.InFlight
	if o.redis == "" {
		// URLs abandoned in flight are still in the database's queues:
		// count them as crawl stats will.
		if counts, err := st.Counts(); err == nil {
			pending = counts.Pending
		}
	}
	st8 := "done"
	if errors.Is(runErr, context.Canceled) {
		st8 = "interrupted"
		if cause := context.Cause(ctx); cause != nil {
			runErr = cause
		}
	} else if runErr != nil {
		st8 = "failed"
	} else if o.maxPages > 0 && s.Stored >= o.maxPages && pending > 0 {
		st8 = "page limit reached"
	}
	if runErr == nil && report.noneSucceeded() {
		runErr = errNoneSucceeded
	}
	errLine := report.errorLine(s.Failed, o.db)
	if o.logFormat == "json" {
		top, _ := report.topReasons(5)
		reasons := map[string]int{}
		for _, r := range top {
			reasons[r.Key] = r.N
		}
		logger.Info("crawl "+st8, "stored", s.Stored, "requests", s.Fetched, "not_modified", s.NotModified, "bytes", s.Bytes, "stored_this_run", s.Stored-before.Stored, "skipped", s.Skipped,
			"pending", pending, "errors", s.Failed, "error_reasons", reasons, "elapsed", s.Elapsed.Round(time.Millisecond).String(), "db", o.db)
		return runErr
	}
	fmt.Fprintf(stderr, "crawl: %s: %d records stored (%d this run, %d skipped), %d pending, %d errors, %s elapsed, db %s\n",
		st8, s.Stored, s.Stored-before.Stored, s.Skipped, pending, s.Failed, s.Elapsed.Round(time.Millisecond), o.db)
	if errLine != "" {
		fmt.Fprintf(stderr, "crawl: %s\n", errLine)
	}
	if o.recrawl > 0 {
		fmt.Fprintf(stderr, "crawl: recrawl: %d requests, %d not modified (304), %d body bytes read\n",
			s.Fetched, s.NotModified, s.Bytes)
	}
	if st8 == "interrupted" {
		fmt.Fprintf(stderr, "crawl: run the same command again to resume\n")
	}
	return runErr
}

// errNoneSucceeded ends a crawl in which every record stored failed (exit
// code 3): nothing was fetched, though the crawl itself ran to its end.
var errNoneSucceeded = errors.New("every URL tried failed: nothing was fetched (see the reasons above)")

// startLine says what the crawl is about to do: seeds, database, rate and
// workers, so that every run begins with a line even before any progress.
func startLine(w io.Writer, logger *slog.Logger, o *runOptions, seeds, added int, before crawler.Stats) {
	rate := fmt.Sprintf("%g %s/s per host", o.rate, pluralWord(int(math.Ceil(o.rate)), "request"))
	if o.rate == 0 || math.IsInf(o.rate, 1) {
		rate = "no rate limit"
	}
	if o.logFormat == "json" {
		logger.Info("crawl starting", "db", o.db, "seeds", seeds, "new_seeds", added, "stored", before.Stored,
			"pending", before.Pending, "rate", o.rate, "workers", o.workers)
		return
	}
	what := fmt.Sprintf("%s (%d new)", plural(seeds, "seed"), added)
	if before.Stored > 0 || added < seeds {
		what = fmt.Sprintf("resuming: %d stored, %d pending, %d new %s", before.Stored, before.Pending, added, pluralWord(added, "seed"))
	} else if seeds == 0 {
		what = fmt.Sprintf("%d pending", before.Pending)
	}
	fmt.Fprintf(w, "crawl: crawling into %s: %s; %s, %d workers; Ctrl-C stops\n", o.db, what, rate, o.workers)
}

// fetches returns "1 fetch" or "3 fetches".
func fetches(n int) string {
	if n == 1 {
		return "1 fetch"
	}
	return fmt.Sprintf("%d fetches", n)
}

// pluralWord returns noun, or its plural when n is not 1.
func pluralWord(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// startProgress prints the crawl's progress until the returned function is
// called (which may be called more than once): on a terminal, one line
// refreshed in place 4 times a second, cut to the terminal's width so that
// it never wraps; otherwise a log line (through logger, so text or JSON as
// --log-format says) within 2 seconds, then every period; nothing when
// quiet.
func startProgress(c *crawler.Crawler, w *stderrLine, logger *slog.Logger, quiet bool, period time.Duration) (stop func()) {
	if quiet {
		return func() {}
	}
	fd, tty := -1, false
	if f, ok := w.w.(*os.File); ok {
		fd = int(f.Fd())
		tty = term.IsTerminal(fd)
	}
	first, every := min(2*time.Second, period), period
	if tty {
		first, every = 250*time.Millisecond, 250*time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-done:
				w.clear()
				return
			case <-t.C:
				t.Reset(every)
				s := c.Stats()
				rate := 0.0
				if sec := s.Elapsed.Seconds(); sec > 0 {
					rate = float64(s.Fetched) / sec
				}
				if !tty {
					logger.Info("progress", "stored", s.Stored, "pages_per_s", math.Round(rate*10)/10,
						"queued", s.Pending, "in_flight", s.InFlight, "hosts", s.Hosts, "ready", s.Ready,
						"waiting", s.Waiting, "held", s.Held, "errors", s.Failed, "bytes", s.Bytes,
						"elapsed", s.Elapsed.Round(time.Second).String())
					continue
				}
				width, _, err := term.GetSize(fd)
				if err != nil || width <= 0 {
					width = 80
				}
				w.status(progressLine(s, rate, width))
			}
		}
	}()
	return sync.OnceFunc(func() { close(done); <-finished })
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// stderrLine is stderr shared by the log and the terminal's progress line:
// a write first clears the progress line, which the next refresh redraws,
// so that log lines never run on from it. It is safe for concurrent use.
type stderrLine struct {
	w     io.Writer
	mu    sync.Mutex
	shown bool // a progress line is on the screen
}

func (l *stderrLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		l.shown = false
		if _, err := io.WriteString(l.w, "\r\033[K"); err != nil {
			return 0, err
		}
	}
	return l.w.Write(p)
}

// status shows line in place of the progress line on the screen.
func (l *stderrLine) status(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, "\r\033[K"+line)
	l.shown = true
}

// clear removes the progress line from the screen.
func (l *stderrLine) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		l.shown = false
		io.WriteString(l.w, "\r\033[K")
	}
}

// redisLog turns go-redis's own log lines (a dial that failed, …) into
// debug lines: the crawler says once, clearly, when it waits for Redis.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
