package redisfrontier

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/internal/storetest"
	"github.com/politecrawl/crawl/store"
)

// testConfig is a test worker's crawler configuration and what its
// frontier is given besides: its Redis (newRedisCrawler's server if nil),
// lease and shards.
type testConfig struct {
	crawler.Config
	Redis  redis.UniversalClient
	Lease  time.Duration
	Shards int
}

// worker is one crawl process of a test: a crawler over its own store and
// the frontier it shares through Redis.
type worker struct {
	*crawler.Crawler
	front *Frontier
	store *store.Store
}

// newWorker returns a worker of cfg over st, its frontier made as
// cmd/crawl makes it (withRedis).
func newWorker(tb testing.TB, cfg testConfig, st *store.Store) *worker {
	tb.Helper()
	counts, err := st.Counts()
	if err != nil {
		tb.Fatal(err)
	}
	c := cfg.Config
	f, err := New(context.Background(), cfg.Redis, Config{
		Limits:     frontier.Limits{Rate: c.Rate, Burst: c.Burst, PerHost: c.PerHost, MaxBackoff: c.MaxBackoff, Host: c.HostLimits},
		MaxPerHost: c.MaxPerHost, MaxPages: c.MaxPages, Lease: cfg.Lease, Shards: cfg.Shards,
		Workers: c.Workers, Stored: counts.Pages, Logger: c.Logger,
	})
	if err != nil {
		tb.Fatal(err)
	}
	c.Frontier, c.ScopeFrom, c.SeenFrom, c.Robots = f, f.Scope, f.Seen, f
	cr, err := crawler.New(c, st, fetch.New(fetch.Config{}))
	if err != nil {
		tb.Fatal(err)
	}
	return &worker{Crawler: cr, front: f, store: st}
}

// newRedisCrawler returns a worker on the Redis of srv (unless cfg names
// one) with a store of its own. Its leases are renewed only while the test
// runs keepLeases, so that a test can let them expire as a dead worker's.
func newRedisCrawler(tb testing.TB, srv *redistest.Server, cfg testConfig) *worker {
	tb.Helper()
	if cfg.Redis == nil {
		cfg.Redis = srv.Client(tb)
	}
	w := newWorker(tb, cfg, openStore(tb))
	w.front.noRenew = true
	return w
}

// openStore opens a store in a temporary folder, checked when the test ends.
func openStore(tb testing.TB) *store.Store {
	tb.Helper()
	return storetest.Open(tb, "", &store.Options{NoSync: true})
}

// storedURLs returns the URLs of st's records.
func storedURLs(t *testing.T, st *store.Store) []string {
	t.Helper()
	var urls []string
	err := st.ForEachPage(func(url string, raw []byte) error {
		var p store.Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		urls = append(urls, url)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return urls
}
