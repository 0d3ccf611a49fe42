package redisfrontier

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
)

// fill queues n URLs spread over 1,000 hosts through f.
func fill(tb testing.TB, c *worker, from, n int) {
	tb.Helper()
	var b store.Batch
	for i := from; i < from+n; i++ {
		host := fmt.Sprintf("h%d.example:80", i%1000)
		b.Add = append(b.Add, store.Entry{URL: "http://" + host + "/p/" + strconv.Itoa(i), Host: host})
	}
	if err := c.front.Commit(context.Background(), c.store, &b); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkRedisClaimAck measures the Redis frontier's round trip for one
// URL: a claim (claim.lua) and its acknowledgement (ack.lua, after an
// empty store commit), from 1 and from 8 clients at once on one Redis.
func BenchmarkRedisClaimAck(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			srv := redistest.Start(b)
			cfg := testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 1 << 20}, Shards: 4}
			cs := make([]*worker, clients)
			for i := range cs {
				cs[i] = newRedisCrawler(b, srv, cfg)
			}
			var mu sync.Mutex
			queued := 0
			more := func(c *worker) {
				mu.Lock()
				defer mu.Unlock()
				fill(b, c, queued, 20000)
				queued += 20000
			}
			more(cs[0])
			var wg sync.WaitGroup
			per := make(chan struct{}, 1024)
			start := time.Now()
			for _, c := range cs {
				wg.Go(func() {
					for range per {
						for {
							j, ok, _, err := c.front.Next(context.Background(), time.Now())
							if err != nil {
								b.Error(err)
								return
							}
							if !ok {
								more(c)
								continue
							}
							c.front.Release(j.Host)
							if err := c.front.Commit(context.Background(), c.store, &store.Batch{Done: []store.Done{{Entry: j.Entry, Lease: j.Lease}}}); err != nil {
								b.Error(err)
								return
							}
							break
						}
					}
				})
			}
			n := 0
			for b.Loop() {
				per <- struct{}{}
				n++
			}
			close(per)
			wg.Wait()
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "claim+ack/s")
		})
	}
}

// BenchmarkRedisSeenSet measures the memory Redis uses for the seen set:
// bytes per URL over 200,000 URLs queued (MEMORY USAGE of the seen keys).
func BenchmarkRedisSeenSet(b *testing.B) {
	const n = 200_000
	for b.Loop() {
		srv := redistest.Start(b)
		c := newRedisCrawler(b, srv, testConfig{Config: crawler.Config{}, Shards: 4})
		for i := 0; i < n; i += 10000 {
			fill(b, c, i, 10000)
		}
		rdb := srv.Client(b)
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, "crawl:*:seen:*").Result()
		if err != nil {
			b.Fatal(err)
		}
		var bytes, members int64
		for _, k := range keys {
			m, err := rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				b.Fatal(err)
			}
			bytes += m
			members += rdb.SCard(ctx, k).Val()
		}
		if members != n {
			b.Fatalf("seen set holds %d URLs, want %d", members, n)
		}
		b.ReportMetric(float64(bytes)/n, "bytes/URL")
		b.ReportMetric(float64(len(keys)), "keys")
	}
}

// BenchmarkRedisWorkers crawls the test web (40 hosts × 50 pages, 20 ms
// latency a response) with 1, 2 and 3 crawlers of 4 fetch goroutines each,
// every one with its own store, sharing one Redis: pages/s should grow
// with the crawlers, as each is bound by its goroutines and the latency.
func BenchmarkRedisWorkers(b *testing.B) {
	for _, workers := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			pages := 0
			var elapsed time.Duration
			for b.Loop() {
				srv := redistest.Start(b)
				web := crawltest.New(b, crawltest.Config{Hosts: 40, PagesPerHost: 50, Latency: 20 * time.Millisecond, NoLog: true})
				cfg := testConfig{Config: crawler.Config{Workers: 4, Rate: rate.Inf, PerHost: 4, BatchDelay: 20 * time.Millisecond, NoRobots: true, NoSitemaps: true}}
				cs := make([]*worker, workers)
				for i := range cs {
					cs[i] = newRedisCrawler(b, srv, cfg)
					if _, err := cs[i].AddSeeds(context.Background(), web.Seeds()); err != nil {
						b.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				start := time.Now()
				for _, c := range cs {
					wg.Go(func() {
						if err := c.Run(context.Background()); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
				elapsed += time.Since(start)
				for _, c := range cs {
					pages += c.Stats().Stored
				}
				if want := len(web.Pages()) * (pages / len(web.Pages())); pages < want || pages < len(web.Pages()) {
					b.Fatalf("stored %d pages, want %d", pages, len(web.Pages()))
				}
			}
			b.ReportMetric(float64(pages)/elapsed.Seconds(), "pages/s")
		})
	}
}
