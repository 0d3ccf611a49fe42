package crawler

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// robotsCache holds the robots.txt rules of the origins this process has
// met. Behind it, the frontier keeps each answer (the store's robots bucket,
// or Redis for all workers), so that neither a resumed crawl nor another
// worker asks a host again while its answer is fresh (24 h, RFC 9309).
//
// It holds at most about max origins' rules: beyond, the least recently
// used whose answer is kept behind it (or that have none worth keeping) are
// evicted, and read back from the frontier when their host's turn comes
// again. A wide crawl so holds the rules of the hosts in play, not of every
// host met.
type robotsCache struct {
	mu      sync.Mutex
	max     int // [robotsInMemory]
	entries map[string]*robotsEntry
	lru     list.List // of *robotsEntry; front: most recently used
}

// robotsInMemory is the default bound of a robotsCache.
const robotsInMemory = 4096

// robotsEntry is one origin's robots.txt. sem is held by the goroutine
// getting it, so that the others wait for its result instead of fetching
// too; r is only read or written while sem is held.
type robotsEntry struct {
	sem    chan struct{}
	r      *fetch.Robots
	origin string
	elem   *list.Element // rc.mu
	kept   bool          // rc.mu: r is kept behind the cache and may be read back
}

func (rc *robotsCache) entry(origin string) *robotsEntry {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.entries == nil {
		rc.entries = map[string]*robotsEntry{}
	}
	e := rc.entries[origin]
	if e != nil {
		rc.lru.MoveToFront(e.elem)
		return e
	}
	e = &robotsEntry{sem: make(chan struct{}, 1), origin: origin}
	e.elem = rc.lru.PushFront(e)
	rc.entries[origin] = e
	rc.evict()
	return e
}

// evict drops least recently used entries while there are more than
// rc.max, among the last few: those whose rules are kept behind the cache,
// have none or are stale, and that nobody is using. rc.mu is held.
func (rc *robotsCache) evict() {
	limit := rc.max
	if limit <= 0 {
		limit = robotsInMemory
	}
	now := time.Now()
	el := rc.lru.Back()
	for tries := 0; len(rc.entries) > limit && el != nil && tries < 16; tries++ {
		e := el.Value.(*robotsEntry)
		el = el.Prev()
		select {
		case e.sem <- struct{}{}:
		default:
			continue // in use
		}
		if e.kept || e.r == nil || !now.Before(e.r.Expires) {
			// A goroutine that holds e already reads the rules back.
			e.r = nil
			rc.lru.Remove(e.elem)
			delete(rc.entries, e.origin)
		}
		<-e.sem
	}
}

// kept notes that origin's rules are kept behind the cache (the store has
// committed them): its entry may be evicted.
func (rc *robotsCache) kept(origin string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if e := rc.entries[origin]; e != nil {
		e.kept = true
	}
}

// len returns the number of origins held, for tests.
func (rc *robotsCache) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.entries)
}

// robotsOf returns origin's robots.txt rules: from memory, else from the
// frontier's keeping while fresh, else fetched now (and kept). met is true
// when this process had not had them (so their Crawl-delay is to be set),
// fetched when this call made the request. However many workers ask at
// once, one gets them. The error is ctx's, or the frontier's.
func (c *Crawler) robotsOf(ctx context.Context, origin string) (r *fetch.Robots, met, fetched bool, err error) {
	e := c.robotsTxt.entry(origin)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, false, ctx.Err()
	}
	defer func() { <-e.sem }()
	now := time.Now()
	if e.r != nil && now.Before(e.r.Expires) {
		return e.r, false, false, nil
	}
	kept, ok, err := c.robotsKeeper().LoadRobots(ctx, origin)
	switch {
	case errors.Is(err, store.ErrBadRobots):
		c.log.Warn("stored robots.txt cannot be read: fetching it again", "origin", origin, "err", err)
	case err != nil:
		return nil, false, false, err
	case ok:
		if r := c.robotsFrom(origin, kept); now.Before(r.Expires) {
			e.r = r
			c.robotsTxt.kept(origin)
			return r, true, false, nil
		}
	}
	r, err = c.fetcher.FetchRobots(ctx, origin)
	if err != nil {
		return nil, false, false, err
	}
	if r.Status != 0 {
		// An answer is kept for its TTL (an unreachable robots.txt is
		// asked for again a minute later in any case): here for the other
		// workers at once; the caller's result takes it to the store.
		rec := store.Robots{Status: r.Status, Fetched: r.Fetched, Body: r.Body}
		if err := c.robotsKeeper().KeepRobots(ctx, origin, rec); err != nil {
			return nil, false, false, err
		}
	}
	slim := *r
	slim.Body = nil // the rules are parsed: the body stays in the store only
	e.r = &slim
	return r, true, true, nil
}

// robotsFrom reads a kept robots.txt answer again.
func (c *Crawler) robotsFrom(origin string, kept store.Robots) *fetch.Robots {
	r := c.fetcher.RobotsFrom(kept.Status, kept.Body, nil, kept.Fetched)
	if r.Err != nil {
		r.Err = fmt.Errorf("%s/robots.txt: %w", origin, r.Err)
	}
	r.Body = nil
	return r
}

// agent returns the crawler's product token (the fetcher's), in lower case:
// meta tags and X-Robots-Tag values addressed to it apply to this crawler.
func (c *Crawler) agent() string { return strings.ToLower(c.fetcher.Agent()) }

// RobotsKeeper keeps robots.txt answers where every process of a crawl
// finds them (redisfrontier.Frontier: in Redis, at once); see
// Config.Robots.
type RobotsKeeper interface {
	// LoadRobots returns the answer kept for origin, if any.
	LoadRobots(ctx context.Context, origin string) (store.Robots, bool, error)
	// KeepRobots keeps one, as soon as it was fetched.
	KeepRobots(ctx context.Context, origin string, r store.Robots) error
}

// robotsKeeper returns Config.Robots, or the crawl's own store.
func (c *Crawler) robotsKeeper() RobotsKeeper {
	if c.cfg.Robots != nil {
		return c.cfg.Robots
	}
	return storeRobots{c.store}
}

// storeRobots reads robots.txt answers from the store. It keeps none at
// once: an answer reaches the store with the batch of the result that
// fetched it (a transaction a host would cost a wide crawl an fsync each;
// an answer lost to a crash is only fetched again).
type storeRobots struct{ st *store.Store }

func (s storeRobots) LoadRobots(_ context.Context, origin string) (store.Robots, bool, error) {
	return s.st.Robots(origin)
}

func (storeRobots) KeepRobots(context.Context, string, store.Robots) error { return nil }
