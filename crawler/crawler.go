// Package crawler is the crawl engine: Crawler, its Config and Run. It owns
// the run loop — a dispatcher that hands ready hosts' URLs to a fixed pool of
// fetch workers, the workers' processing of a URL (robots.txt, the fetch,
// retries, redirects, the record, the links to follow: process.go), and a
// committer that writes results in batched transactions — with the crawl's
// scope and trap limits, the visited set of URL fingerprints, the seeds,
// robots.txt kept per origin, and recrawls.
//
// What it uses lives beside it: the frontier (which URL next, and when, per
// host) in package frontier, or a shared one from frontier/redisfrontier,
// consumed through the Frontier interface declared here; the HTTP client
// in fetch (the Fetcher interface); pages are read by extract and URLs
// made comparable by urlnorm; records go to store.
//
// One Crawler runs one crawl over one store. Whatever stops the process,
// each URL is either still pending or stored, and a new Run continues the
// crawl. Politeness: a host's robots.txt is fetched (as one of its paced
// requests) before its first page and honoured; every request the fetcher
// sends, robots.txt, redirect hops and retries included, waits for its
// host's turn at the frontier. No worker ever sleeps: a URL to retry and
// the next hop of a redirect go back to the front of their host's queue.
package crawler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

// Fetcher is what the crawl asks of its HTTP client; *fetch.Client is it.
// Every request it sends is paced by the fetch.Pacer of its context.
type Fetcher interface {
	// Fetch fetches one URL without following redirects;
	// FetchConditional asks with a stored copy's validators (a recrawl).
	Fetch(ctx context.Context, url string) (*fetch.Response, error)
	FetchConditional(ctx context.Context, url string, v fetch.Validators) (*fetch.Response, error)
	// FetchRobots fetches an origin's robots.txt; RobotsFrom reads a kept
	// answer again.
	FetchRobots(ctx context.Context, origin string) (*fetch.Robots, error)
	RobotsFrom(status int, body []byte, fetchErr error, fetched time.Time) *fetch.Robots
	// Agent is the product token that robots.txt groups, meta tags and
	// X-Robots-Tag values are matched against.
	Agent() string
	// AllowHost lets a seed's host be reached even at a private address:
	// the user pointed the crawl there.
	AllowHost(host string)
	// LookupIP returns a host's address as the fetcher would dial it, and
	// keeps it; Resolved says whether a host's lookup is kept, so that the
	// frontier looks the others up before their turn, away from the
	// workers. CloseIdle closes the idle connections of a host left with
	// nothing to fetch.
	LookupIP(ctx context.Context, host string) (netip.Addr, error)
	Resolved(host string) bool
	CloseIdle(host string)
}

var _ Fetcher = (*fetch.Client)(nil)

// Config configures a Crawler. The zero value means the defaults in brackets;
// flags of `crawl run` map one to one onto these fields.
type Config struct {
	Workers int        // fetch goroutines [64]
	Rate    rate.Limit // requests per second per host; rate.Inf for no limit [1]
	Burst   int        // requests a host may receive at once after a pause [1]
	PerHost int        // concurrent requests per host [1]
	// PerIP makes the hosts that resolve to one address share one rate
	// and one concurrency cap (shared hosting puts hundreds of names on one
	// server): Rate, Burst and PerHost then apply per address. Each host's
	// address is looked up before its first request. Not with Redis.
	PerIP    bool
	MaxDepth int  // follow links at most this many hops from a seed; 0: no limit
	MaxPages int  // stop after storing this many records in the database (with Redis: in all the workers' databases together); 0: no limit
	NoFollow bool // store the seeds only, follow no links
	AnyHost  bool // follow links to any host, not only the seeds' hosts
	Include  []*regexp.Regexp
	Exclude  []*regexp.Regexp
	KeepBody bool // store response bodies
	// Recrawl, if positive, makes QueueRecrawl queue again every stored
	// URL last fetched more than this long ago (see recrawl.go).
	Recrawl time.Duration
	// RecrawlAdaptive gives each URL its own interval within
	// [Recrawl/4, 8·Recrawl]: shorter when it changed, longer when it did
	// not (see RecrawlInterval).
	RecrawlAdaptive bool

	NoRobots   bool // neither fetch nor honour robots.txt, nor nofollow in pages and headers (still recorded)
	NoSitemaps bool // do not read robots.txt Sitemap: lines and /sitemap.xml
	// Retries is how many times a URL is tried again after a retryable
	// failure (timeout, connection error, 5xx, 429) before its error is
	// stored [3]; negative means never.
	Retries int
	// RetryBackoff is the host's hold before the first retry, doubled for
	// each further one, with jitter, up to MaxHold [1s].
	RetryBackoff time.Duration
	// MaxHold caps a host's hold, whether from back-off or Retry-After [10m].
	MaxHold time.Duration
	// MaxBackoff caps the interval to which errors and slow responses
	// stretch a host's rate (never below the configured rate or
	// Crawl-delay) [60s].
	MaxBackoff time.Duration
	// MaxRedirects is how many redirects are followed from one URL [10].
	MaxRedirects int
	// Trap limits: links whose URL is longer than MaxURLLength, whose path has
	// more than MaxPathDepth segments or one segment more than MaxRepeats
	// times are not followed [2048, 32, 3]; at most MaxPerHost URLs of a
	// host are queued (0: no limit).
	MaxURLLength int
	MaxPathDepth int
	MaxRepeats   int
	MaxPerHost   int
	// MaxSimilarHops bounds crawler traps that no fixed rule names: a link
	// is not followed if it would be the MaxSimilarHops+1-th in a row
	// between URLs that differ only in their numbers, as an endless
	// calendar's "next month" or a generated "next page" are [4];
	// negative means no limit. A host's real pages, which link to many of
	// one shape, are a few such hops from where the crawl enters them.
	MaxSimilarHops int
	// MaxLinks caps the links kept from one page (recorded and followed)
	// [2000, within Heritrix's 6,000 and Nutch's 100]; negative means no
	// limit. The record counts the rest (store.Page.LinksCut).
	MaxLinks int
	// DropParams are query parameters removed from links besides utm_* and
	// the well-known trackers urlnorm.Normalize always drops.
	DropParams []string
	// SitemapURLs caps the URLs read from sitemaps per host [50000];
	// SitemapBytes caps the decompressed bytes read from one sitemap [50 MiB].
	SitemapURLs  int
	SitemapBytes int64

	// HostLimits, if set, gives a host's rate, burst and concurrency in
	// place of Rate, Burst and PerHost (a result ≤ 0 keeps the Config's).
	// It is called when a host's politeness is made: at the host's first
	// turn, and again if the host was dropped from memory while idle (see
	// README, "Wide crawls").
	HostLimits func(host string) (r rate.Limit, burst, perHost int)

	// Hooks for programs that embed the crawler; each may be nil. They run
	// on the crawl's own goroutines, so they must be quick and safe for
	// concurrent use; a slow hook slows the crawl.
	//
	// OnPage is called with every record once it is durably stored (errors
	// included: see store.Page.Failed), in commit order, from the
	// committer goroutine. The page must not be modified or retained after
	// the call returns.
	OnPage func(*store.Page)
	// OnError is called, like OnPage and just before it, for each stored
	// record that failed (store.Page.Failed: no response, a status of 400
	// or more, a redirect loop); err's message is the record's error field.
	OnError func(url string, err error)
	// URLFilter is asked about every link in scope before it is queued; a
	// link is followed only if it returns true. It is called from the fetch
	// workers, concurrently. Seeds are not filtered.
	URLFilter func(*url.URL) bool
	// OnHTML is called from the fetch workers, concurrently, with every
	// HTML page fetched with a 2xx status, as a goquery document of its
	// body decoded to UTF-8 (doc.Url is the final URL), before its record
	// is stored: it may add to p.Fields (never nil here; values that
	// encoding/json writes), which are stored with the record. Setting it costs every
	// HTML page a DOM parse, about five times the crawl's own extraction.
	// A page nested deeper than 512 elements, which x/net/html refuses,
	// is not given to it.
	OnHTML func(p *store.Page, doc *goquery.Document)

	// Extract gives fields to extract from HTML pages with CSS selectors
	// into store.Page.Fields (crawl run --extract, [[extract]] tables).
	// Every rule whose Match matches a page's final URL applies; a page
	// that no rule applies to is not parsed into a DOM.
	Extract []extract.Rule

	// Grace is how long in-flight fetches may run on after Run's context is
	// cancelled; those still running then are abandoned and stay pending [10s].
	Grace time.Duration
	// BatchSize and BatchDelay bound a commit: it happens when this many
	// pages are waiting or the oldest has waited this long [256, 200ms].
	BatchSize  int
	BatchDelay time.Duration
	// Window is how many entries of each host's queue are kept in memory
	// [64]; in a wide crawl (hundreds of hosts ready at once), what one
	// turn of the host hands out.
	Window int

	// Frontier, if set, is the frontier the crawl uses in place of the
	// embedded one over the store (for example a redisfrontier.Frontier
	// that several processes share; the store then keeps this process's
	// pages only). It paces hosts by its own limits: Rate, Burst,
	// PerHost, MaxBackoff, HostLimits, MaxPages and PerIP are the embedded
	// frontier's, and the caller gives a shared one its own.
	Frontier Frontier
	// Robots, if set, keeps robots.txt answers where the other processes
	// of a shared crawl find them (redisfrontier.Frontier); by default
	// they are kept in the store, with the results that fetched them.
	Robots RobotsKeeper
	// ScopeFrom, if set, is how the hosts that other processes put in the
	// crawl's scope reach this one (redisfrontier.Frontier.Scope): New
	// calls it once with a function that puts a host in scope.
	ScopeFrom func(add func(host string))
	// SeenFrom, if set, is how the URLs that other processes queue reach
	// this one's visited set, so that it does not offer them again when
	// it finds them (redisfrontier.Frontier.Seen): New calls it once with
	// a function that marks fingerprints visited. The marks stay in memory.
	SeenFrom func(mark func(fps []uint64))

	Logger *slog.Logger // [discard]
}

func (c *Config) defaults() {
	orDefault(&c.Workers, 64)
	orDefault(&c.Rate, 1)
	orDefault(&c.Burst, 1)
	orDefault(&c.PerHost, 1)
	orDefault(&c.Grace, 10*time.Second)
	orDefault(&c.BatchSize, 256)
	orDefault(&c.BatchDelay, 200*time.Millisecond)
	orDefault(&c.Window, 64)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Retries == 0:
		c.Retries = 3
	case c.Retries < 0:
		c.Retries = 0
	}
	orDefault(&c.RetryBackoff, time.Second)
	orDefault(&c.MaxHold, 10*time.Minute)
	orDefault(&c.MaxRedirects, 10)
	orDefault(&c.MaxURLLength, 2048)
	orDefault(&c.MaxPathDepth, 32)
	orDefault(&c.MaxRepeats, 3)
	if c.MaxSimilarHops == 0 {
		c.MaxSimilarHops = 4
	}
	if c.MaxLinks == 0 {
		c.MaxLinks = 2000
	}
	orDefault(&c.SitemapURLs, 50000)
	orDefault(&c.SitemapBytes, 50<<20)
}

// orDefault sets *v to def if it is zero or negative: the zero value of a
// Config field means its default.
func orDefault[T ~int | ~int64 | ~float64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Crawler crawls into one store. Its methods are safe for concurrent use, but
// Run must not be called twice at once.
type Crawler struct {
	cfg       Config
	store     *store.Store
	fetcher   Fetcher
	log       *slog.Logger
	front     Frontier
	visited   *visited
	robotsTxt robotsCache

	scopeMu sync.RWMutex
	hosts   map[string]bool // the seeds' hosts

	hostMu   sync.Mutex
	perHost  map[string]int  // URLs queued per host, for MaxPerHost
	sitemaps map[string]int  // URLs read from sitemaps per host
	met      map[string]bool // hosts met this run (sitemap discovery without robots)
	drop     map[string]bool // Config.DropParams
	notes    hostNotes       // hosts held back and why; robots.txt failures

	fetched     atomic.Int64 // fetches finished this run
	failed      atomic.Int64 // of which errors or status ≥ 400
	bytes       atomic.Int64 // body bytes read this run
	commits     atomic.Int64 // transactions committed this run
	commitT     atomic.Int64 // nanoseconds spent committing this run
	skipped     atomic.Int64 // URLs stored unfetched (robots.txt) or skipped (no /sitemap.xml) this run
	denied      atomic.Int64 // of which robots.txt denials
	retried     atomic.Int64 // retries queued this run
	notModified atomic.Int64 // recrawl fetches answered 304 Not Modified this run
	started     atomic.Int64 // unix nanoseconds Run started
	working     atomic.Int64 // workers processing a job
}

// New returns a Crawler that continues the crawl held by st: the pending URLs,
// the visited set and the seeds' hosts are loaded from it.
func New(cfg Config, st *store.Store, f Fetcher) (*Crawler, error) {
	cfg.defaults()
	c := &Crawler{cfg: cfg, store: st, fetcher: f, log: cfg.Logger, hosts: map[string]bool{},
		perHost: map[string]int{}, sitemaps: map[string]int{}, met: map[string]bool{}, drop: map[string]bool{}}
	c.robotsTxt.max = max(robotsInMemory, 4*cfg.Workers)
	for _, p := range cfg.DropParams {
		c.drop[p] = true
	}
	counts, err := st.Counts()
	if err != nil {
		return nil, err
	}
	c.visited = newVisited()
	if err := st.ForEachSeen(c.visited.load); err != nil { // before any concurrent use
		return nil, err
	}
	c.visited.loaded()
	seeds, err := st.Seeds()
	if err != nil {
		return nil, err
	}
	for _, s := range seeds {
		if h, err := hostOf(s); err == nil {
			c.addSeedHost(h)
		}
	}
	hosts, err := st.Hosts()
	if err != nil {
		return nil, err
	}
	if cfg.ScopeFrom != nil {
		cfg.ScopeFrom(c.addSeedHost)
	}
	if cfg.SeenFrom != nil {
		cfg.SeenFrom(c.visited.mark)
	}
	c.front = cfg.Frontier
	if c.front == nil {
		c.front = c.embedded(counts, hosts)
	}
	if cfg.MaxPerHost > 0 {
		if err := c.countPerHost(hosts); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// embedded returns the frontier of this process over its store.
func (c *Crawler) embedded(counts store.Counts, hosts []string) *frontier.Embedded {
	cfg := frontier.Config{
		Limits: frontier.Limits{Rate: c.cfg.Rate, Burst: c.cfg.Burst, PerHost: c.cfg.PerHost,
			MaxBackoff: c.cfg.MaxBackoff, Host: c.cfg.HostLimits},
		Window: c.cfg.Window, MaxPages: c.cfg.MaxPages,
		LookupIP: c.fetcher.LookupIP, PerIP: c.cfg.PerIP, MaxLookups: c.cfg.Workers,
		Resolved: c.fetcher.Resolved, OnEmpty: c.fetcher.CloseIdle,
	}
	if counts.Pages > 0 || counts.Pending > 0 {
		// The last run's requests are not known (it may have been killed):
		// a host is asked again no sooner than an interval from now.
		cfg.Resumed = time.Now()
	}
	f := frontier.New(cfg, c.store.Queue)
	f.Restore(hosts, counts.Pending, counts.Pages, counts.LastSeq)
	return f
}

// stopWait bounds how long the end of a run waits for the frontier to
// take back what was claimed and not done (a shared frontier may be
// unreachable).
const stopWait = 10 * time.Second

// seedChunk is how many seeds AddSeeds commits in one transaction: a list of
// a million domains is not one transaction's worth of memory.
const seedChunk = 10_000

// AddSeeds queues the seeds (normalised URLs, see ParseSeeds) that the crawl
// has not seen before, and adds their hosts to the scope. It returns how many
// were new. Call it before Run. Seeds are committed seedChunk at a time: on
// an error, those of the chunks before are queued. ctx bounds the wait for
// a shared frontier.
func (c *Crawler) AddSeeds(ctx context.Context, seeds []string) (int, error) {
	added := 0
	for len(seeds) > 0 {
		n, err := c.addSeeds(ctx, seeds[:min(len(seeds), seedChunk)])
		added += n
		if err != nil {
			return added, err
		}
		seeds = seeds[min(len(seeds), seedChunk):]
	}
	return added, nil
}

// addSeeds adds seeds in one transaction.
func (c *Crawler) addSeeds(ctx context.Context, seeds []string) (int, error) {
	var b store.Batch
	var fps []uint64
	for _, s := range seeds {
		u, err := url.Parse(s)
		if err != nil || urlnorm.NormalizeURL(u) != nil || u.String() != s {
			return 0, fmt.Errorf("seed %q is not a normalised absolute URL", s)
		}
		c.addSeedHost(hostKey(u))
		b.Seeds = append(b.Seeds, s)
		if fp := urlnorm.Fingerprint(s); c.visited.add(fp) {
			c.hostMu.Lock()
			c.perHost[hostKey(u)]++
			c.hostMu.Unlock()
			fps = append(fps, fp)
			b.Add = append(b.Add, store.Entry{URL: s, Host: hostKey(u)})
			b.Seen = append(b.Seen, fp)
		}
	}
	if err := c.front.Commit(ctx, c.store, &b); err != nil {
		for _, fp := range fps {
			c.visited.forget(fp)
		}
		return 0, err
	}
	return len(b.Add), nil
}

// addSeedHost puts host in scope and lets the fetcher reach it even at a
// private address: the user pointed the crawl there.
func (c *Crawler) addSeedHost(host string) {
	c.scopeMu.Lock()
	c.hosts[host] = true
	c.scopeMu.Unlock()
	c.fetcher.AllowHost(host)
}

// inScope reports whether the crawl follows a link.
func (c *Crawler) inScope(l urlnorm.Link) bool {
	s := l.URL
	if c.cfg.URLFilter != nil {
		if u, err := url.Parse(s); err != nil || !c.cfg.URLFilter(u) {
			return false
		}
	}
	if !c.cfg.AnyHost {
		c.scopeMu.RLock()
		ok := c.hosts[l.Host]
		c.scopeMu.RUnlock()
		if !ok {
			return false
		}
	}
	for _, re := range c.cfg.Exclude {
		if re.MatchString(s) {
			return false
		}
	}
	if len(c.cfg.Include) == 0 {
		return true
	}
	for _, re := range c.cfg.Include {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// result is what a worker hands the committer: the record of a URL that is
// done (nil when the URL went back to the frontier) and the URLs it found.
type result struct {
	done   *store.Done
	add    []store.Entry
	seen   []uint64
	robots []store.RobotsAnswer // robots.txt answers fetched, to keep
}

func (r *result) empty() bool {
	return r.done == nil && len(r.add) == 0 && len(r.seen) == 0 && len(r.robots) == 0
}

// Run crawls until no URL is pending (or MaxPages is reached), ctx is
// cancelled, or the store fails. On cancellation it stops dispatching, lets
// in-flight fetches finish for up to Config.Grace, commits what finished and
// returns ctx's error; URLs not stored stay pending for the next Run.
//
// Run owns its goroutines: the dispatcher (this goroutine), Config.Workers
// workers ranging over the jobs channel it closes, and one committer ranging
// over the results channel closed once the workers have stopped. All have
// returned when Run returns.
func (c *Crawler) Run(ctx context.Context) error {
	c.started.Store(time.Now().UnixNano())
	// Fetches outlive ctx by the grace period; failures of the store stop
	// everything at once.
	fetchCtx, cancelFetch := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelFetch()
	pacedCtx := fetch.WithPacer(fetchCtx, c.front) // every request the fetcher sends waits for its host's turn
	failCtx, fail := context.WithCancelCause(context.Background())
	defer fail(nil)

	jobs := make(chan job, c.cfg.Workers)
	results := make(chan result, c.cfg.Workers)
	slots := make(chan struct{}, c.cfg.Workers) // one per busy worker

	var workers sync.WaitGroup
	for range c.cfg.Workers {
		workers.Go(func() {
			for j := range jobs {
				r, ok := c.process(pacedCtx, j)
				if r.done != nil && r.done.Page != nil {
					// Off the commit path; on an error Commit reports it.
					r.done.Value, _ = store.EncodePage(r.done.Page)
				}
				c.working.Add(-1) // before the result is sent: see commitLoop
				if ok && !r.empty() {
					select {
					case results <- r:
					case <-failCtx.Done():
						ok = r.done == nil // a requeued URL is no longer handed out
					}
				}
				if !ok {
					c.front.Abandon(1)
				}
				<-slots
			}
		})
	}
	committed := make(chan error, 1)
	go func() {
		err := c.commitLoop(fetchCtx, results)
		if err != nil {
			fail(err)
		}
		committed <- err
	}()

	dispatchErr := c.dispatch(ctx, failCtx, jobs, slots)
	close(jobs)
	if ctx.Err() != nil {
		grace := time.AfterFunc(c.cfg.Grace, cancelFetch)
		defer grace.Stop()
	}
	if dispatchErr != nil {
		cancelFetch()
	}
	workers.Wait()
	close(results)
	commitErr := <-committed
	// Give back at once what was claimed and not done (a Redis lease would
	// otherwise keep those URLs from the other workers until it expired).
	wait := stopWait
	if ctx.Err() != nil {
		// Interrupted: the user waits, whatever is unreachable.
		wait = min(wait, max(c.cfg.Grace, time.Second))
	}
	stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), wait)
	c.front.Stop(stopCtx)
	cancelStop()

	switch {
	case commitErr != nil && (ctx.Err() == nil || !errors.Is(commitErr, context.Canceled)):
		return commitErr
	case dispatchErr != nil:
		return dispatchErr
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}

// dispatch hands URLs of ready hosts to free workers until the crawl is
// finished or stopped. A worker slot is taken before a host's token, so a
// token is never spent while the request waits for a worker.
func (c *Crawler) dispatch(ctx, failCtx context.Context, jobs chan<- job, slots chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-failCtx.Done():
			return nil
		}
		for {
			if c.front.Finished() {
				<-slots
				return nil
			}
			e, ok, wake, err := c.front.Next(ctx, time.Now())
			if err != nil {
				<-slots
				return fmt.Errorf("frontier: %w", err)
			}
			if ok {
				c.working.Add(1)
				jobs <- e // never blocks: at most cap(slots) jobs are out
				break
			}
			var tick <-chan time.Time
			if !wake.IsZero() {
				timer.Reset(time.Until(wake))
				tick = timer.C
			}
			select {
			case <-c.front.Changes():
			case <-tick:
			case <-ctx.Done():
				<-slots
				return nil
			case <-failCtx.Done():
				<-slots
				return nil
			}
			timer.Stop()
		}
	}
}

// exchangeOf returns what a WARC export needs besides the body: the status
// line and every header of the response, and the request's headers. It is
// only called when bodies are kept, so the default crawl stores none of it.
func exchangeOf(resp *fetch.Response) *store.HTTPExchange {
	proto, status := resp.Proto, resp.StatusText
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if status == "" {
		status = strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status)
	}
	return &store.HTTPExchange{
		StatusLine:    proto + " " + status,
		Header:        resp.Header.Clone(),
		RequestHeader: resp.RequestHeader.Clone(),
	}
}

// keptHeaders picks the response headers worth storing.
func keptHeaders(resp *fetch.Response) map[string]string {
	var m map[string]string
	for _, k := range []string{"Content-Length", "Content-Language", "Content-Encoding", "Last-Modified", "Etag",
		"Server", "X-Robots-Tag", "Location", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			if m == nil {
				m = make(map[string]string, 4)
			}
			m[k] = v
		}
	}
	return m
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// commitLoop takes the workers' results in order, offers the links each
// found to the frontier at once (so they are fetched while their batch is
// still being written), and commits the results in batches through the
// frontier, one batch at a time while the next one fills. A batch is
// committed when it holds Config.BatchSize results, Config.BatchDelay after
// its first result arrived, or as soon as no worker is busy and no result is
// waiting (nothing more would join it: the end of a crawl, a polite crawl's
// quiet moments). While a batch is written and a full one waits, results
// wait in their channel. ctx bounds the wait for a frontier that is
// unreachable.
func (c *Crawler) commitLoop(ctx context.Context, results <-chan result) error {
	var (
		b       store.Batch
		nres    int  // results in b
		due     bool // commit b as soon as the last batch is written
		writing bool // a batch is being committed
		closed  bool // no more results
		written = make(chan error, 1)
		timer   = time.NewTimer(time.Hour)
	)
	timer.Stop()
	for {
		if due && !writing && nres > 0 {
			batch := b
			b, nres, due, writing = store.Batch{}, 0, false, true
			timer.Stop()
			go func() { written <- c.commitBatch(ctx, &batch) }()
		}
		if closed && !writing && nres == 0 {
			return nil
		}
		in := results
		if closed || (writing && nres >= c.cfg.BatchSize) {
			in = nil
		}
		select {
		case r, ok := <-in:
			if !ok {
				closed, due = true, true
				continue
			}
			c.front.Offer(r.add)
			if r.done != nil {
				b.Done = append(b.Done, *r.done)
			}
			b.Add = append(b.Add, r.add...)
			b.Seen = append(b.Seen, r.seen...)
			b.Robots = append(b.Robots, r.robots...)
			if nres++; nres == 1 {
				timer.Reset(c.cfg.BatchDelay)
			}
			if nres >= c.cfg.BatchSize || (c.working.Load() == 0 && len(results) == 0) {
				due = true
			}
		case <-timer.C:
			due = true
		case err := <-written:
			writing = false
			if err != nil {
				return err
			}
		}
	}
}

// commitBatch commits b through the frontier and reports it done.
func (c *Crawler) commitBatch(ctx context.Context, b *store.Batch) error {
	t0 := time.Now()
	if err := c.front.Commit(ctx, c.store, b); err != nil {
		return err
	}
	c.commitT.Add(int64(time.Since(t0)))
	c.commits.Add(1)
	for _, r := range b.Robots {
		c.robotsTxt.kept(r.Origin) // now its rules may leave memory
	}
	c.committed(b.Done)
	return nil
}

// Stats is a snapshot of a crawl's progress.
type Stats struct {
	Stored   int           // records in the database (this run and before)
	Pending  int           // URLs queued, not yet handed out
	InFlight int           // URLs handed out, not yet committed
	Fetched  int64         // fetches finished this run
	Failed   int64         // of which errors or status ≥ 400
	Bytes    int64         // body bytes read this run
	Commits  int64         // transactions committed this run
	CommitT  time.Duration // time spent committing this run
	Skipped  int64         // URLs stored as skipped this run: robots.txt denials, absent /sitemap.xml
	Denied   int64         // URLs robots.txt did not allow this run
	Retries  int64         // retries queued this run
	// NotModified counts the recrawl fetches answered 304 Not Modified
	// this run (their stored content kept).
	NotModified int64
	Hosts       int           // hosts in memory: with work, in flight, or met a moment ago
	Ready       int           // hosts with work and a free slot
	Waiting     int           // hosts with work and a free slot, waiting for their rate limit
	Held        int           // hosts with work and no free slot (at their concurrency cap)
	Elapsed     time.Duration // since Run started
}

// Stats returns the crawl's progress. It is safe to call during Run.
func (c *Crawler) Stats() Stats {
	fs := c.front.Stats(time.Now())
	s := Stats{
		Stored: fs.Done, Pending: fs.Queued, InFlight: fs.Open, Hosts: fs.Hosts,
		Ready: fs.Ready, Waiting: fs.Waiting, Held: fs.Held,
		Fetched: c.fetched.Load(), Failed: c.failed.Load(), Bytes: c.bytes.Load(), Commits: c.commits.Load(),
		CommitT: time.Duration(c.commitT.Load()), Skipped: c.skipped.Load(), Denied: c.denied.Load(), Retries: c.retried.Load(),
		NotModified: c.notModified.Load(),
	}
	if t := c.started.Load(); t != 0 {
		s.Elapsed = time.Since(time.Unix(0, t))
	}
	return s
}

// ErrNothingToDo is returned by callers that find neither seeds nor pending
// URLs; the crawler itself treats an empty frontier as a finished crawl.
var ErrNothingToDo = errors.New("nothing to crawl: no seeds given and no pending URLs in the database")
