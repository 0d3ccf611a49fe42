package redisfrontier

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
)

// TestRedisFrontierShared runs three crawlers in one process, each with its
// own store, on one Redis: together they store every page once, fetch no
// page twice and leave Redis without queued URLs or leases.
func TestRedisFrontierShared(t *testing.T) {
	srv := redistest.Start(t)
	testShared(t, srv.Client(t), 3)
}

// TestRedisClusterShared is TestRedisFrontierShared on a Redis Cluster of
// three masters, the frontier's shards spread over them.
func TestRedisClusterShared(t *testing.T) {
	cluster := redistest.StartCluster(t)
	testShared(t, cluster.Client(t), 6)
	holding := 0
	for _, n := range cluster.Nodes {
		if k, err := n.Client(t).DBSize(context.Background()).Result(); err == nil && k > 0 {
			holding++
		}
	}
	if holding < 2 {
		t.Errorf("the frontier's keys are on %d of the 3 masters, want them spread", holding)
	}
}

// TestRedisClusterPoliced is TestRedisPoliced on a Redis Cluster.
func TestRedisClusterPoliced(t *testing.T) {
	testPoliced(t, redistest.StartCluster(t).Client(t))
}

// runWorkers runs n crawlers of cfg (which names the Redis), each with a
// store of its own, from seeds until they end or timeout passes, and
// returns their stores; a crawler's error fails the test.
func runWorkers(t *testing.T, cfg testConfig, seeds []string, n int, timeout time.Duration) []*store.Store {
	t.Helper()
	var wg sync.WaitGroup
	stores := make([]*store.Store, n)
	for i := range stores {
		stores[i] = openStore(t)
		c := newWorker(t, cfg, stores[i])
		if _, err := c.AddSeeds(context.Background(), seeds); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := c.Run(ctx); err != nil {
				t.Errorf("crawler %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return stores
}

// checkStoredOnce fails unless the stores together hold every page of web
// once.
func checkStoredOnce(t *testing.T, web *crawltest.Web, stores []*store.Store) {
	t.Helper()
	var union []string
	for _, st := range stores {
		union = append(union, storedURLs(t, st)...)
	}
	slices.Sort(union)
	want := web.Pages()
	slices.Sort(want)
	if !slices.Equal(union, want) {
		t.Errorf("stored %d records (with repeats), want each of the %d pages once", len(union), len(want))
	}
}

func testShared(t *testing.T, rdb redis.UniversalClient, shards int) {
	web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 10})
	cfg := testConfig{Config: crawler.Config{Workers: 4, Rate: rate.Inf, PerHost: 2, BatchDelay: 10 * time.Millisecond}, Redis: rdb, Lease: 5 * time.Second, Shards: shards}

	checkStoredOnce(t, web, runWorkers(t, cfg, web.Seeds(), 3, time.Minute))
	fetched := map[string]int{}
	for _, r := range web.Log() {
		if r.Path != "/robots.txt" {
			fetched[r.Host+r.Path]++
		}
	}
	for k, n := range fetched {
		if n > 1 {
			t.Errorf("%s fetched %d times", k, n)
		}
	}
	for s := range shards {
		k := fmt.Sprintf("crawl:{%d}:lease", s)
		if n, err := rdb.HLen(context.Background(), k).Result(); err != nil || n != 0 {
			t.Errorf("%s still holds %d leases after the crawl (%v)", k, n, err)
		}
	}
}

// TestRedisPoliced runs three crawlers on one Redis against a rate-limited
// web: the hosts' policers find no request in excess across the workers
// (robots.txt, sitemap probes and pages counted), and each host's
// robots.txt is fetched once for all of them.
func TestRedisPoliced(t *testing.T) {
	testPoliced(t, redistest.Start(t).Client(t))
}

func testPoliced(t *testing.T, rdb redis.UniversalClient) {
	web := crawltest.New(t, crawltest.Config{Hosts: 6, PagesPerHost: 12})
	const every = 50 * time.Millisecond
	cfg := testConfig{Config: crawler.Config{Workers: 8, Rate: rate.Every(every), BatchDelay: 10 * time.Millisecond}, Redis: rdb, Lease: 5 * time.Second, Shards: 3}
	runWorkers(t, cfg, web.Seeds(), 3, time.Minute)
	for host, reqs := range crawltest.ByHost(web.Log()) {
		robots := 0
		for _, r := range reqs {
			if r.Path == "/robots.txt" {
				robots++
			}
		}
		if robots != 1 {
			t.Errorf("%s: robots.txt fetched %d times, want once for all workers", host, robots)
		}
		for _, e := range (crawltest.Policer{Interval: every}).Check(reqs) {
			t.Errorf("excess request: %v", e)
		}
	}
}

// TestRedisPolicedBatch: a short interval, where claims come in batches
// under one permit (TestRedisPermitBatch), holds at the server across
// three workers as a long one does, burst included.
func TestRedisPolicedBatch(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 40})
	const every = 8 * time.Millisecond
	cfg := testConfig{Config: crawler.Config{Workers: 8, Rate: rate.Every(every), Burst: 2, PerHost: 4, BatchDelay: 5 * time.Millisecond, NoSitemaps: true}, Redis: rdb, Lease: 5 * time.Second, Shards: 2}
	runWorkers(t, cfg, web.Seeds(), 3, time.Minute)
	for _, reqs := range crawltest.ByHost(web.Log()) {
		for _, e := range (crawltest.Policer{Interval: every, Burst: 2}).Check(reqs) {
			t.Errorf("excess request: %v", e)
		}
	}
}

// TestRedisBurst: Burst applies across workers on one Redis: a host's
// policer with that burst finds no excess, and the burst is used (requests
// closer than the interval at the start).
func TestRedisBurst(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	const every = 100 * time.Millisecond
	cfg := testConfig{Config: crawler.Config{Workers: 4, Rate: rate.Every(every), Burst: 3, PerHost: 3, BatchDelay: 5 * time.Millisecond, NoSitemaps: true}, Redis: rdb, Lease: 5 * time.Second, Shards: 2}
	runWorkers(t, cfg, web.Seeds(), 2, time.Minute)
	for host, reqs := range crawltest.ByHost(web.Log()) {
		for _, e := range (crawltest.Policer{Interval: every, Burst: 3}).Check(reqs) {
			t.Errorf("excess request: %v", e)
		}
		close := 0
		for i := 1; i < len(reqs); i++ {
			if reqs[i].Time.Sub(reqs[i-1].Time) < every/2 {
				close++
			}
		}
		if close == 0 {
			t.Errorf("%s: no two requests closer than the interval: burst 3 not used", host)
		}
	}
}

var politePages = flag.Int("redis.polite-pages", 10, "pages a host of TestRedisPoliteWeb (issue 14 measures 50)")

// TestRedisPoliteWeb: three workers on one Redis crawl the 100-host polite
// web at 5 requests a second a host: every page is stored once across their
// databases, no URL is fetched twice, the hosts' policers find no excess,
// and the crawl takes little more than the rate allows.
func TestRedisPoliteWeb(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 100, PagesPerHost: *politePages, LinksPerPage: 20})
	const every = 200 * time.Millisecond
	cfg := testConfig{Config: crawler.Config{Workers: 64, Rate: rate.Every(every), PerHost: 1, NoSitemaps: true}, Redis: rdb, Lease: 30 * time.Second}
	start := time.Now()
	checkStoredOnce(t, web, runWorkers(t, cfg, web.Seeds(), 3, 5*time.Minute))
	wall := time.Since(start)
	fetched := map[string]int{}
	excess := 0
	for _, reqs := range crawltest.ByHost(web.Log()) {
		for _, r := range reqs {
			if fetched[r.Host+r.Path]++; fetched[r.Host+r.Path] == 2 {
				t.Errorf("%s%s fetched twice", r.Host, r.Path)
			}
		}
		for _, e := range (crawltest.Policer{Interval: every}).Check(reqs) {
			t.Errorf("excess request: %v", e)
			excess++
		}
	}
	// The bound: robots.txt at 0, then the pages one interval apart.
	bound := time.Duration(*politePages) * every
	eff := bound.Seconds() / wall.Seconds()
	t.Logf("100 hosts × %d pages at 5/s, 3 workers: wall %v, bound %v, efficiency %.3f, %d excess",
		*politePages, wall.Round(time.Millisecond), bound, eff, excess)
	// At 10 pages a host the start (robots.txt, then the seed page, before
	// any link is known) weighs too much, and the full suite loads the
	// machine: the efficiency is held at issue 14's size only.
	if *politePages >= 50 && eff < 0.9 {
		t.Errorf("efficiency %.3f: the crawl took %v for a bound of %v", eff, wall, bound)
	}
}
