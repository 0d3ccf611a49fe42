// Package crawler is the crawl engine: the frontier of per-host queues, the
// scheduler that hands ready hosts' URLs to a fixed pool of fetch workers, the
// visited set, the crawl scope and URL normalisation.
//
// One Crawler runs one crawl over one store. Run dispatches only URLs of hosts
// whose rate limiter allows a request now and whose concurrency cap has room,
// so no worker ever waits on one host while another is ready. Fetched pages,
// the removal of their frontier entries and the links they add are committed
// to the store in batched transactions: whatever stops the process, each URL
// is either still pending or stored, and a new Run continues the crawl.
package crawler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// Fetcher fetches one URL. *fetch.Client implements it.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (*fetch.Response, error)
}

var _ Fetcher = (*fetch.Client)(nil)

// Config configures a Crawler. The zero value means the defaults in brackets;
// flags of `crawl run` map one to one onto these fields.
type Config struct {
	Workers  int        // fetch goroutines [64]
	Rate     rate.Limit // requests per second per host; rate.Inf for no limit [1]
	Burst    int        // requests a host may receive at once after a pause [1]
	PerHost  int        // concurrent requests per host [1]
	MaxDepth int        // follow links at most this many hops from a seed; 0: no limit
	MaxPages int        // stop after storing this many records in the database; 0: no limit
	NoFollow bool       // store the seeds only, follow no links
	AnyHost  bool       // follow links to any host, not only the seeds' hosts
	Include  []*regexp.Regexp
	Exclude  []*regexp.Regexp
	KeepBody bool // store response bodies

	// HostLimits, if set, gives a host's rate, burst and concurrency in
	// place of Rate, Burst and PerHost (a result ≤ 0 keeps the Config's).
	// It is called once per host, when the crawl first meets the host.
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
	// record of a URL whose fetch failed without a response (store.Page.Error
	// is set); err's message is that field.
	OnError func(url string, err error)
	// URLFilter is asked about every link in scope before it is queued; a
	// link is followed only if it returns true. It is called from the fetch
	// workers, concurrently. Seeds are not filtered.
	URLFilter func(*url.URL) bool

	// Grace is how long in-flight fetches may run on after Run's context is
	// cancelled; those still running then are abandoned and stay pending [10s].
	Grace time.Duration
	// BatchSize and BatchDelay bound a commit: it happens when this many
	// pages are waiting or the oldest has waited this long [256, 200ms].
	BatchSize  int
	BatchDelay time.Duration
	// Window is how many entries of each host's queue are kept in memory [64].
	Window int

	Logger *slog.Logger // [discard]
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 64
	}
	if c.Rate <= 0 {
		c.Rate = 1
	}
	if c.Burst <= 0 {
		c.Burst = 1
	}
	if c.PerHost <= 0 {
		c.PerHost = 1
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.BatchDelay <= 0 {
		c.BatchDelay = 200 * time.Millisecond
	}
	if c.Window <= 0 {
		c.Window = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Crawler crawls into one store. Its methods are safe for concurrent use, but
// Run must not be called twice at once.
type Crawler struct {
	cfg     Config
	store   *store.Store
	fetcher Fetcher
	log     *slog.Logger
	front   *frontier
	visited *visited

	scopeMu sync.RWMutex
	hosts   map[string]bool // the seeds' hosts

	fetched atomic.Int64 // fetches finished this run
	failed  atomic.Int64 // of which errors or status ≥ 400
	bytes   atomic.Int64 // body bytes read this run
	commits atomic.Int64 // transactions committed this run
	started atomic.Int64 // unix nanoseconds Run started
}

// New returns a Crawler that continues the crawl held by st: the pending URLs,
// the visited set and the seeds' hosts are loaded from it.
func New(cfg Config, st *store.Store, f Fetcher) (*Crawler, error) {
	cfg.defaults()
	c := &Crawler{cfg: cfg, store: st, fetcher: f, log: cfg.Logger, hosts: map[string]bool{}}
	counts, err := st.Counts()
	if err != nil {
		return nil, err
	}
	c.visited = newVisited(counts.Seen)
	if err := st.ForEachSeen(func(fp uint64) { c.visited.set[fp] = struct{}{} }); err != nil {
		return nil, err
	}
	seeds, err := st.Seeds()
	if err != nil {
		return nil, err
	}
	for _, s := range seeds {
		if h, err := hostOf(s); err == nil {
			c.hosts[h] = true
		}
	}
	hosts, err := st.Hosts()
	if err != nil {
		return nil, err
	}
	c.front = newFrontier(frontierConfig{
		window: cfg.Window, perHost: cfg.PerHost, limit: cfg.Rate, burst: cfg.Burst, maxPages: cfg.MaxPages,
		limits: cfg.HostLimits,
	}, st.Queue)
	c.front.restore(hosts, counts.Pending, counts.Pages)
	return c, nil
}

// AddSeeds queues the seeds (normalised URLs, see ParseSeeds) that the crawl
// has not seen before, and adds their hosts to the scope. It returns how many
// were new. Call it before Run.
func (c *Crawler) AddSeeds(seeds []string) (int, error) {
	var b store.Batch
	var fps []uint64
	for _, s := range seeds {
		u, err := url.Parse(s)
		if err != nil || normalizeURL(u) != nil || u.String() != s {
			return 0, fmt.Errorf("seed %q is not a normalised absolute URL", s)
		}
		c.scopeMu.Lock()
		c.hosts[hostKey(u)] = true
		c.scopeMu.Unlock()
		b.Seeds = append(b.Seeds, s)
		if fp := Fingerprint(s); c.visited.add(fp) {
			fps = append(fps, fp)
			b.Add = append(b.Add, store.Entry{URL: s, Host: hostKey(u)})
			b.Seen = append(b.Seen, fp)
		}
	}
	if err := c.store.Commit(&b); err != nil {
		for _, fp := range fps {
			c.visited.forget(fp)
		}
		return 0, err
	}
	c.front.complete(0, b.Add)
	return len(b.Add), nil
}

// inScope reports whether the crawl follows a link to u.
func (c *Crawler) inScope(u *url.URL, s string) bool {
	if c.cfg.URLFilter != nil && !c.cfg.URLFilter(u) {
		return false
	}
	if !c.cfg.AnyHost {
		c.scopeMu.RLock()
		ok := c.hosts[hostKey(u)]
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

// result is one fetched URL on its way to the committer.
type result struct {
	done store.Done
	add  []store.Entry
	seen []uint64
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
	failCtx, fail := context.WithCancelCause(context.Background())
	defer fail(nil)

	jobs := make(chan store.Entry, c.cfg.Workers)
	results := make(chan result, c.cfg.Workers)
	slots := make(chan struct{}, c.cfg.Workers) // one per busy worker

	var workers sync.WaitGroup
	for range c.cfg.Workers {
		workers.Go(func() {
			for e := range jobs {
				r, ok := c.process(fetchCtx, e)
				if ok {
					select {
					case results <- r:
					case <-failCtx.Done():
						ok = false
					}
				}
				if !ok {
					c.front.abandon(1)
				}
				<-slots
			}
		})
	}
	committed := make(chan error, 1)
	go func() {
		err := c.commitLoop(results)
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

	switch {
	case commitErr != nil:
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
func (c *Crawler) dispatch(ctx, failCtx context.Context, jobs chan<- store.Entry, slots chan struct{}) error {
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
			if c.front.finished() {
				<-slots
				return nil
			}
			e, ok, wake, err := c.front.next(time.Now())
			if err != nil {
				<-slots
				return fmt.Errorf("frontier: %w", err)
			}
			if ok {
				jobs <- e // never blocks: at most cap(slots) jobs are out
				break
			}
			var tick <-chan time.Time
			if !wake.IsZero() {
				timer.Reset(time.Until(wake))
				tick = timer.C
			}
			select {
			case <-c.front.changed:
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

// process fetches one URL and prepares its record and new links. It reports
// false when the fetch was abandoned because the crawl is stopping.
func (c *Crawler) process(ctx context.Context, e store.Entry) (result, bool) {
	start := time.Now()
	resp, err := c.fetcher.Fetch(ctx, e.URL)
	c.front.release(e.Host)
	if err != nil && ctx.Err() != nil {
		return result{}, false // stopped by us: the URL stays pending
	}
	c.fetched.Add(1)
	p := &store.Page{URL: e.URL, FinalURL: e.URL, Depth: e.Depth, FetchedAt: start.UTC().Truncate(time.Millisecond)}
	r := result{done: store.Done{Entry: e, Page: p}}
	if err != nil {
		c.failed.Add(1)
		p.Error = err.Error()
		p.DurationMS = msSince(start)
		c.log.Debug("fetch failed", "url", e.URL, "err", err)
		return r, true
	}
	c.bytes.Add(int64(len(resp.Body)))
	p.FinalURL = resp.FinalURL
	p.Status = resp.Status
	p.ContentType = resp.ContentType
	p.Headers = keptHeaders(resp)
	p.Size = int64(len(resp.Body))
	p.Truncated = resp.Truncated
	p.DurationMS = float64(resp.Duration.Microseconds()) / 1000
	if c.cfg.KeepBody {
		p.Body = resp.Body
		p.HTTP = exchangeOf(resp)
	}
	if p.Failed() {
		c.failed.Add(1)
	}
	if resp.IsHTML() && resp.Status < 300 {
		final, err := url.Parse(resp.FinalURL)
		if err != nil {
			final, _ = url.Parse(e.URL)
		}
		x, err := extract(resp.Body, final)
		if err != nil {
			p.Error = "parse: " + err.Error()
			return r, true
		}
		p.Title, p.Text = x.title, x.text
		p.Links = make([]string, 0, len(x.links))
		for _, u := range x.links {
			p.Links = append(p.Links, u.String())
		}
		c.follow(&r, x.links, p.Links, e.Depth+1)
	}
	return r, true
}

// follow queues the links that are in scope, within depth and not seen.
func (c *Crawler) follow(r *result, links []*url.URL, strs []string, depth int) {
	if c.cfg.NoFollow || (c.cfg.MaxDepth > 0 && depth > c.cfg.MaxDepth) {
		return
	}
	for i, u := range links {
		s := strs[i]
		if !c.inScope(u, s) {
			continue
		}
		fp := Fingerprint(s)
		if !c.visited.add(fp) {
			continue
		}
		r.add = append(r.add, store.Entry{URL: s, Host: hostKey(u), Depth: depth})
		r.seen = append(r.seen, fp)
	}
}

// keptHeaders picks the response headers worth storing.
func keptHeaders(resp *fetch.Response) map[string]string {
	var m map[string]string
	for _, k := range []string{"Content-Length", "Content-Language", "Last-Modified", "Etag", "Server", "X-Robots-Tag"} {
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

// commitLoop commits results in batches of at most Config.BatchSize, at most
// Config.BatchDelay after the first result of a batch arrived, and hands the
// links each batch queued to the frontier once they are durable.
func (c *Crawler) commitLoop(results <-chan result) error {
	var (
		b     store.Batch
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	flush := func() error {
		timer.Stop()
		n := len(b.Done)
		if n == 0 {
			return nil
		}
		if err := c.store.Commit(&b); err != nil {
			return err
		}
		c.commits.Add(1)
		c.front.complete(n, b.Add)
		c.committed(b.Done)
		b = store.Batch{}
		return nil
	}
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return flush()
			}
			b.Done = append(b.Done, r.done)
			b.Add = append(b.Add, r.add...)
			b.Seen = append(b.Seen, r.seen...)
			if len(b.Done) == 1 {
				timer.Reset(c.cfg.BatchDelay)
			}
			if len(b.Done) >= c.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		}
	}
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
	Hosts    int           // hosts known
	Ready    int           // hosts with work and a free slot
	Waiting  int           // hosts with work and a free slot, waiting for their rate limit
	Held     int           // hosts with work and no free slot (at their concurrency cap)
	Elapsed  time.Duration // since Run started
}

// Stats returns the crawl's progress. It is safe to call during Run.
func (c *Crawler) Stats() Stats {
	fs := c.front.stats()
	s := Stats{
		Stored: fs.done, Pending: fs.queued, InFlight: fs.open, Hosts: fs.hosts, Ready: fs.ready,
		Fetched: c.fetched.Load(), Failed: c.failed.Load(), Bytes: c.bytes.Load(), Commits: c.commits.Load(),
	}
	s.Ready, s.Waiting, s.Held = c.front.hostStates(time.Now())
	if t := c.started.Load(); t != 0 {
		s.Elapsed = time.Since(time.Unix(0, t))
	}
	return s
}

// ErrNothingToDo is returned by callers that find neither seeds nor pending
// URLs; the crawler itself treats an empty frontier as a finished crawl.
var ErrNothingToDo = errors.New("nothing to crawl: no seeds given and no pending URLs in the database")
