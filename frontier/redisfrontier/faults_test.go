package redisfrontier

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

// queueURLs queues n URLs of host through c's frontier.
func queueURLs(t *testing.T, c *worker, host string, n int) {
	t.Helper()
	var b store.Batch
	for i := range n {
		b.Add = append(b.Add, store.Entry{URL: "http://" + host + "/" + strconv.Itoa(i), Host: host})
	}
	if err := c.front.Commit(context.Background(), c.store, &b); err != nil {
		t.Fatal(err)
	}
}

// leaseHeld reports whether Redis holds lease (as the crawler numbers it).
func leaseHeld(t *testing.T, srv *redistest.Server, c *worker, lease uint64) bool {
	t.Helper()
	f := c.front
	s := int(lease & (1<<leaseShardBits - 1))
	n, err := srv.Client(t).HExists(context.Background(), f.prefix(s)+"lease", strconv.FormatUint(lease>>leaseShardBits, 10)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRedisFencing: a worker whose lease expired (its URL went to another
// worker) cannot act for the new holder: its release, acknowledgement and
// requeue leave the new lease and the host's concurrency slot as they are.
func TestRedisFencing(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 1}, Lease: 200 * time.Millisecond, Shards: 1}
	a, b, c := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	queueURLs(t, a, "h.example", 2)
	ja, ok := claimWithin(t, a, 0)
	if !ok {
		t.Fatal("no claim")
	}
	jb, ok := claimWithin(t, b, 5*time.Second) // after a's lease expired
	if !ok || jb.URL != ja.URL {
		t.Fatalf("after the lease: claimed %v %v, want %s", jb.URL, ok, ja.URL)
	}
	// a, late: releases its slot, requeues and acknowledges its URL.
	a.front.Release(ja.Host)
	a.front.Requeue(ja, time.Time{})
	flush(t, a)
	ack(t, a, ja)
	if !leaseHeld(t, srv, b, jb.Lease) {
		t.Fatal("the late worker ended the new holder's lease")
	}
	if j, ok := claimWithin(t, c, 300*time.Millisecond); ok && j.Host == jb.Host && j.URL != ja.URL {
		// The host's only slot is b's: nothing of it may be claimed.
		t.Fatalf("claimed %s while the new holder has the host's only slot", j.URL)
	}
	b.front.Release(jb.Host)
	ack(t, b, jb)
	if leaseHeld(t, srv, b, jb.Lease) {
		t.Error("the holder's acknowledgement left its lease")
	}
}

// TestRedisLeaseRenewed: a fetch that outlasts its lease keeps its URL
// while the worker renews the lease; once renewal stops, the lease expires
// and the URL goes to another worker.
func TestRedisLeaseRenewed(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 4}, Lease: 150 * time.Millisecond, Shards: 1}
	a, b := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	queueURLs(t, a, "h.example", 1)
	ja, ok := claimWithin(t, a, 0)
	if !ok {
		t.Fatal("no claim")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.front.keepLeases(ctx) })
	if j, ok := claimWithin(t, b, time.Second); ok {
		t.Fatalf("claimed %s while its lease was renewed (4 leases long)", j.URL)
	}
	cancel()
	wg.Wait()
	jb, ok := claimWithin(t, b, 5*time.Second)
	if !ok || jb.URL != ja.URL {
		t.Fatalf("after renewal stopped: claimed %v %v, want %s", jb.URL, ok, ja.URL)
	}
}

// TestRedisResentCall: a claim whose reply is lost (the connection broke
// after Redis ran it) is sent again as it was and gets the same leases, so
// none is stranded; its operations are not applied twice.
func TestRedisResentCall(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 100, Workers: 8}, Lease: time.Minute, Shards: 1}
	c := newRedisCrawler(t, srv, cfg)
	queueURLs(t, c, "h.example", 20)
	f := c.front
	f.loseReplies.Store(1)
	if _, ok, _, err := f.Next(context.Background(), time.Now()); ok || err != nil {
		t.Fatalf("next with its reply lost: %v %v", ok, err)
	}
	var got []frontier.Job
	for deadline := time.Now().Add(5 * time.Second); len(got) < 20 && time.Now().Before(deadline); {
		j, ok, wake, err := f.Next(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			time.Sleep(time.Until(wake))
			continue
		}
		got = append(got, j)
	}
	if len(got) != 20 {
		t.Fatalf("claimed %d URLs after the resend, want all 20", len(got))
	}
	var done store.Batch
	for _, j := range got {
		c.front.Release(j.Host)
		done.Done = append(done.Done, store.Done{Entry: j.Entry, Page: &store.Page{URL: j.URL}, Lease: j.Lease})
	}
	f.loseReplies.Store(1) // the acknowledgement's reply is lost too
	if err := f.Commit(context.Background(), c.store, &done); err != nil {
		t.Fatal(err)
	}
	n, err := srv.Client(t).HGetAll(context.Background(), f.prefix(0)+"n").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n["leases"] != "0" || n["pending"] != "0" {
		t.Errorf("after the crawl: %s leases, %s pending; want none (a lease stranded or an operation applied twice)", n["leases"], n["pending"])
	}
	if k, _ := srv.Client(t).HLen(context.Background(), f.prefix(0)+"lease").Result(); k != 0 {
		t.Errorf("%d leases left in redis", k)
	}
}

// TestRedisSharedLimits: MaxPages counts the records of all workers
// together, and MaxPerHost the URLs of each host they queue together.
func TestRedisSharedLimits(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		maxPages, maxPerHost int
		want                 func(stored int, perHost map[string]int) string
	}{
		{"max-pages", 7, 0, func(n int, _ map[string]int) string {
			if n != 7 {
				return fmt.Sprintf("stored %d records in all, want 7", n)
			}
			return ""
		}},
		{"max-per-host", 0, 4, func(n int, per map[string]int) string {
			for h, k := range per {
				if k != 4 {
					return fmt.Sprintf("%s: %d records, want 4 (%d in all)", h, k, n)
				}
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 20})
			cfg := testConfig{Config: crawler.Config{Workers: 4, Rate: rate.Inf, PerHost: 2, BatchDelay: 5 * time.Millisecond, NoSitemaps: true, MaxPages: tc.maxPages, MaxPerHost: tc.maxPerHost}, Lease: 10 * time.Second, Shards: 2}
			cs := []*worker{newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)}
			var wg sync.WaitGroup
			for _, c := range cs {
				if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if err := c.Run(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			n, per := 0, map[string]int{}
			for _, c := range cs {
				err := c.store.ForEachURL(func(u string) error {
					pu, _ := url.Parse(u)
					per[pu.Host]++
					n++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if msg := tc.want(n, per); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// TestRedisScopeShared: seed hosts a worker adds while others run reach the
// others' scope (Frontier.Scope) within scopeEvery.
func TestRedisScopeShared(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf}, Shards: 2}
	a, b := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	var mu sync.Mutex
	scope := map[string]bool{}
	a.front.Scope(func(h string) {
		mu.Lock()
		scope[h] = true
		mu.Unlock()
	})
	if _, err := b.AddSeeds(context.Background(), []string{"http://new.example/"}); err != nil {
		t.Fatal(err)
	}
	inScope := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return scope["new.example"]
	}
	deadline := time.Now().Add(3 * scopeEvery)
	for !inScope() {
		if time.Now().After(deadline) {
			t.Fatalf("a seed host added by another worker is not in scope after %v", 3*scopeEvery)
		}
		a.front.Next(context.Background(), time.Now()) // Redis says nothing of changes: asked as the dispatcher asks
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRedisSeenShared: the URLs a worker queues reach the others' visited
// sets with their next call on the shard (Frontier.Seen), and a worker is
// not told of its own.
func TestRedisSeenShared(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf}, Shards: 1}
	a, b := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	var mu sync.Mutex
	told := map[uint64]bool{}
	a.front.Seen(func(fps []uint64) {
		mu.Lock()
		defer mu.Unlock()
		for _, fp := range fps {
			told[fp] = true
		}
	})
	ctx := context.Background()
	if _, err := a.AddSeeds(ctx, []string{"http://own.example/"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddSeeds(ctx, []string{"http://other.example/"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.front.Next(ctx, time.Now()); err != nil { // a's next call on the shard
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !told[urlnorm.Fingerprint("http://other.example/")] {
		t.Error("a was not told of the URL b queued")
	}
	if told[urlnorm.Fingerprint("http://own.example/")] {
		t.Error("a was told of the URL it queued itself")
	}
}
