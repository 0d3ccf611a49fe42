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
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/fetch"
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
	maxLinks      int
	dialTimeout   time.Duration
	headerTimeout time.Duration
	dropParams    []string
	metricsAddr   string        // --metrics-addr
	logFormat     string        // --log-format
	redis         string        // --redis
	lease         time.Duration // --lease
	shards        int           // --redis-shards

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
	f.IntVar(&o.maxDepth, "max-depth", 0, "follow links at most N hops from a seed (0: no limit)")
	f.IntVar(&o.maxPages, "max-pages", 0, "stop once the database holds N pages (0: no limit)")
	f.BoolVar(&o.noFollow, "no-follow", false, "fetch the seeds only, follow no links")
	f.BoolVar(&o.anyHost, "any-host", false, "follow links to any host (default: only the seeds' hosts)")
	f.StringArrayVar(&o.include, "include", nil, "follow only URLs matching this `REGEXP` (repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "never follow URLs matching this `REGEXP` (repeatable)")
	f.BoolVar(&o.keepBody, "keep-body", false, "store response bodies (base64 in exports)")
	f.DurationVar(&o.grace, "grace", 10*time.Second, "on interrupt, how long in-flight fetches may finish")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "whole-fetch timeout, slow bodies included")
	f.Int64Var(&o.maxBody, "max-body", 10<<20, "keep at most `BYTES` of a body; longer ones are cut and marked")
	f.StringVar(&o.userAgent, "user-agent", fetch.DefaultUserAgent, "User-Agent header (name the crawler and a contact URL)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress, only errors and the summary")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log every fetch error")
	f.BoolVar(&o.noRobots, "no-robots", false, "neither fetch nor honour robots.txt, and follow the links of nofollow pages (only for sites you run)")
	f.BoolVar(&o.noSitemaps, "no-sitemaps", false, "do not read sitemaps (robots.txt Sitemap: lines and /sitemap.xml)")
	f.IntVar(&o.retries, "retries", 3, "retry a URL this many times after a timeout, connection error, 5xx or 429")
	f.StringVar(&o.contact, "contact", "", "contact `URL` appended to the User-Agent as \"(+URL)\"")
	f.BoolVar(&o.allowPrivate, "allow-private", false, "allow connections to loopback, private and link-local addresses (default: only the seeds' hosts may be there)")
	f.IntVar(&o.maxPerHost, "max-per-host", 0, "queue at most N URLs of one host (0: no limit)")
	f.IntVar(&o.maxSimilar, "max-similar-hops", 4, "follow at most N links in a row between URLs that differ only in their numbers, such as an endless calendar's next month (0: no limit)")
	f.IntVar(&o.maxLinks, "max-links", 2000, "keep (record and follow) at most N links of a page; the record counts the rest (0: no limit)")
	f.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "TCP connect and TLS handshake timeout")
	f.DurationVar(&o.headerTimeout, "header-timeout", 0, "timeout for the response headers (0: --timeout)")
	f.StringArrayVar(&o.dropParams, "drop-param", nil, "also drop this query `PARAM` from links (repeatable; utm_*, fbclid, gclid, … always are)")
	f.StringVar(&o.logFormat, "log-format", "text", "log lines on stderr as text or json (log/slog)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics, such as 127.0.0.1:9090")
	f.StringVar(&o.redis, "redis", "", "share the frontier with other crawl workers through this Redis `URL` (redis://host:port/db); --db then keeps this worker's pages")
	f.DurationVar(&o.lease, "lease", 2*time.Minute, "with --redis: a URL a worker claimed returns to the queue if not done in this time (the worker died); keep it above --timeout")
	f.IntVar(&o.shards, "redis-shards", 4, "with --redis: hash-tagged shards of a new frontier (Redis Cluster spreads them over its nodes)")
	o.extract.addFlags(f)
	f.BoolVar(&o.noSync, "no-sync", false, "skip fsync on commit (faster; a power cut may corrupt the database)")
	f.MarkHidden("no-sync")
	f.IntVar(&o.batchSize, "batch-size", 256, "commit fetched pages in transactions of at most N")
	f.DurationVar(&o.batchDelay, "batch-delay", 200*time.Millisecond, "commit a batch at most this long after its first page (a kill -9 loses only uncommitted fetches)")
}

// config validates the options and builds the crawler's configuration.
func (o *runOptions) config(logger *slog.Logger) (crawler.Config, error) {
	cfg := crawler.Config{
		Workers: o.workers, Burst: o.burst, PerHost: o.perHost,
		MaxDepth: o.maxDepth, MaxPages: o.maxPages, NoFollow: o.noFollow, AnyHost: o.anyHost,
		KeepBody: o.keepBody, Grace: o.grace, Logger: logger,
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
	case o.shards < 1 || o.shards > 1024:
		return cfg, usageError{fmt.Errorf("--redis-shards %d: need 1 to 1024", o.shards)}
	}
	cfg.Lease, cfg.Shards = o.lease, o.shards
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

// fetchConfig builds the fetcher's configuration.
func (o *runOptions) fetchConfig() fetch.Config {
	ua := o.userAgent
	if o.contact != "" {
		ua += " (+" + o.contact + ")"
	}
	return fetch.Config{
		UserAgent: ua, Timeout: o.timeout, MaxBody: o.maxBody, AllowPrivate: o.allowPrivate,
		DialTimeout: o.dialTimeout, TLSTimeout: o.dialTimeout, HeaderTimeout: o.headerTimeout,
	}
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
func runCrawl(ctx context.Context, o *runOptions, seedFile string, seeds []string, stderr io.Writer) error {
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
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
	st, err := store.Open(o.db, &store.Options{NoSync: o.noSync})
	if err != nil {
		return err
	}
	defer st.Close()

	if o.redis != "" {
		ropts, err := redis.ParseURL(o.redis)
		if err != nil {
			return usageError{fmt.Errorf("--redis %q: %v", o.redis, err)}
		}
		redis.SetLogger(redisLog{logger})
		rdb := redis.NewClient(ropts)
		defer rdb.Close()
		cfg.Redis = rdb
	}

	var fetcher crawler.Fetcher = fetch.New(o.fetchConfig())
	var m *metrics.Metrics
	if o.metricsAddr != "" {
		m = metrics.New()
		fetcher = m.Fetcher(fetcher)
	}
	c, err := crawler.New(cfg, st, fetcher)
	if err != nil {
		return err
	}
	if m != nil {
		m.Watch(c)
		url, stop, err := serveMetrics(o.metricsAddr, m.Handler())
		if err != nil {
			return err
		}
		defer stop()
		logger.Info("serving metrics", "url", url)
	}
	added, err := c.AddSeeds(seeds)
	if err != nil {
		return err
	}
	before := c.Stats()
	if before.Pending == 0 {
		if before.Stored == 0 {
			return crawler.ErrNothingToDo
		}
		fmt.Fprintf(stderr, "crawl: nothing left to crawl in %s: %d pages stored, none pending\n", o.db, before.Stored)
		return nil
	}
	if before.Stored > 0 || added < len(seeds) {
		logger.Info("resuming", "db", o.db, "stored", before.Stored, "pending", before.Pending, "new_seeds", added)
	}

	stopProgress := startProgress(c, stderr, logger, o.quiet, 10*time.Second)
	runErr := c.Run(ctx)
	stopProgress()

	s := c.Stats()
	state := "done"
	if errors.Is(runErr, context.Canceled) {
		state = "interrupted"
		if cause := context.Cause(ctx); cause != nil {
			runErr = cause
		}
	} else if runErr != nil {
		state = "failed"
	} else if o.maxPages > 0 && s.Stored >= o.maxPages && s.Pending > 0 {
		state = "page limit reached"
	}
	if o.logFormat == "json" {
		logger.Info("crawl "+state, "stored", s.Stored, "stored_this_run", s.Stored-before.Stored, "skipped", s.Skipped,
			"pending", s.Pending+s.InFlight, "errors", s.Failed, "elapsed", s.Elapsed.Round(time.Millisecond).String(), "db", o.db)
		return runErr
	}
	fmt.Fprintf(stderr, "crawl: %s: %d records stored (%d this run, %d skipped), %d pending, %d errors, %s elapsed, db %s\n",
		state, s.Stored, s.Stored-before.Stored, s.Skipped, s.Pending+s.InFlight, s.Failed, s.Elapsed.Round(time.Millisecond), o.db)
	if state == "interrupted" {
		fmt.Fprintf(stderr, "crawl: run the same command again to resume\n")
	}
	return runErr
}

// startProgress prints the crawl's progress until the returned function is
// called: on a terminal, one line refreshed in place 4 times a second;
// otherwise a log line (through logger, so text or JSON as --log-format
// says) every period; nothing when quiet.
func startProgress(c *crawler.Crawler, w io.Writer, logger *slog.Logger, quiet bool, period time.Duration) (stop func()) {
	if quiet {
		return func() {}
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	every := period
	if tty {
		every = 250 * time.Millisecond
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case <-t.C:
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
				fmt.Fprint(w, "\r\033[K"+fmt.Sprintf("stored %d · %.0f pages/s · queued %d · in flight %d · hosts %d (%d ready, %d waiting, %d held) · errors %d · %s · %s",
					s.Stored, rate, s.Pending, s.InFlight, s.Hosts, s.Ready, s.Waiting, s.Held, s.Failed, byteSize(s.Bytes), s.Elapsed.Round(time.Second)))
			}
		}
	}()
	return func() { close(done); <-finished }
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

// redisLog turns go-redis's own log lines (a dial that failed, …) into
// debug lines: the crawler says once, clearly, when it waits for Redis.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
