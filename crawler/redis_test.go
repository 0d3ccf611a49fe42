package crawler_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
)

// TestRedisFrontierShared runs three crawlers in one process, each with its
// own store, on one Redis: together they store every page once, fetch no
// page twice and leave Redis without queued URLs or leases.
func TestRedisFrontierShared(t *testing.T) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 10})
	cfg := crawler.Config{Workers: 4, Rate: rate.Inf, PerHost: 2, BatchDelay: 10 * time.Millisecond,
		Redis: srv.Client(t), Lease: 5 * time.Second, Shards: 3}

	var (
		wg     sync.WaitGroup
		stores = make([]*store.Store, 3)
		errs   = make([]error, 3)
	)
	for i := range stores {
		stores[i] = openStore(t, "")
		c, err := crawler.New(cfg, stores[i], fetch.New(fetch.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AddSeeds(web.Seeds()); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs[i] = c.Run(ctx)
		})
	}
	wg.Wait()
	var union []string
	for i, st := range stores {
		if errs[i] != nil {
			t.Errorf("crawler %d: %v", i, errs[i])
		}
		union = append(union, storedURLs(t, st)...)
	}
	slices.Sort(union)
	want := web.Pages()
	slices.Sort(want)
	if !slices.Equal(union, want) {
		t.Errorf("stored %d records (with repeats) %v, want each of the %d pages once", len(union), union, len(want))
	}
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
	rdb := srv.Client(t)
	keys, err := rdb.Keys(context.Background(), "crawl:*:lease*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if n, _ := rdb.Exists(context.Background(), k).Result(); n != 0 {
			t.Errorf("%s still holds leases after the crawl", k)
		}
	}
}
