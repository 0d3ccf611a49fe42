package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// redisCost is what a Redis server spent, from INFO cpu and INFO
// commandstats: CPU time (user and system, all threads), commands executed
// (those scripts run included: Redis counts both alike) and script calls.
type redisCost struct {
	cpu      time.Duration
	commands int64
	scripts  int64
}

// sub returns c − o.
func (c redisCost) sub(o redisCost) redisCost {
	return redisCost{c.cpu - o.cpu, c.commands - o.commands, c.scripts - o.scripts}
}

// readRedisCost reads rdb's INFO cpu and INFO commandstats.
func readRedisCost(ctx context.Context, rdb *redis.Client) (redisCost, error) {
	info, err := rdb.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return redisCost{}, err
	}
	var c redisCost
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case k == "used_cpu_sys" || k == "used_cpu_user":
			f, _ := strconv.ParseFloat(v, 64)
			c.cpu += time.Duration(f * float64(time.Second))
		case strings.HasPrefix(k, "cmdstat_"):
			// calls=N,usec=…
			calls, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(v, ",")[0], "calls="), 10, 64)
			c.commands += calls
			switch name := strings.TrimPrefix(k, "cmdstat_"); name {
			case "evalsha", "eval", "fcall":
				c.scripts += calls
			case "info":
				c.commands -= calls // the bench's own
			}
		}
	}
	return c, nil
}

// emptyCrawlKeys deletes the crawl's keys ("crawl:*") from rdb's database.
func emptyCrawlKeys(ctx context.Context, rdb *redis.Client) error {
	iter := rdb.Scan(ctx, 0, "crawl:*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return rdb.Unlink(ctx, keys...).Err()
	}
	return nil
}

// benchRedis crawls the site of s with 1, 2, … maxWorkers workers sharing the Redis
// at addr (each a crawler of this process with its own store, configured as
// the embedded crawl is) and prints, for each, pages/s and what Redis spent
// a page; for a rate-limited scenario also what the site's hosts saw of all
// the workers together, as benchResult.print does for the embedded crawl.
// The embedded crawl of the same site, just before, is the reference. The
// Redis database must hold no crawl: the bench deletes the keys it made
// after each run.
func benchRedis(ctx context.Context, out io.Writer, s scenario, addr string, shards, maxWorkers int, noSync bool, batchDelay time.Duration, embedded float64) error {
	opts, err := redis.ParseURL(addr)
	if err != nil {
		if opts, err = redis.ParseURL("redis://" + addr); err != nil {
			return usageError{fmt.Errorf("--redis %q: %v", addr, err)}
		}
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if n, err := rdb.Exists(ctx, "crawl:{meta}:shards").Result(); err != nil {
		return fmt.Errorf("redis at %s: %w", opts.Addr, err)
	} else if n != 0 {
		return fmt.Errorf("redis at %s already holds a crawl: bench needs a database without one", opts.Addr)
	}
	if shards <= 0 {
		shards = 1 // as crawl run chooses for a single server
	}
	fmt.Fprintf(out, "\n== redis %s, %d shards: %d hosts × %d pages, %d links/page, %d fetch goroutines a worker\n", opts.Addr, shards, s.hosts, s.pages, s.links, s.workers)
	if s.rate > 0 {
		fmt.Fprintf(out, "rate %s per host, per-host %d: bound %v; the hosts' policers: interval %v, 5 ms slack\n",
			rateString(s.rate), s.perHost, s.bound(), time.Duration(float64(time.Second)/s.rate))
	}
	fmt.Fprintf(out, "%-9s %9s %9s %12s %14s %12s\n", "workers", "pages/s", "×embedded", "redis µs/pg", "commands/pg", "scripts/pg")
	if s.rate > 0 {
		// The politeness figures of each run go on a second line: those
		// benchResult.print has, counted over all the workers' requests.
		fmt.Fprintf(out, "%-9s %10s %8s %8s %6s %6s %12s %9s %11s\n", "", "efficiency", "wall", "requests", "robots", "excess", "shortest gap", "refetches", "connections")
	}
	pages := s.hosts * s.pages
	for workers := 1; workers <= maxWorkers; workers++ {
		r, err := redisRun(ctx, s, opts, rdb, workers, shards, noSync, batchDelay)
		if err != nil {
			return fmt.Errorf("%d workers: %w", workers, err)
		}
		d := r.cost
		rateNow := float64(pages) / r.wall.Seconds()
		fmt.Fprintf(out, "%-9d %9.0f %9.2f %12.1f %14.1f %12.2f\n", workers, rateNow, rateNow/embedded,
			float64(d.cpu.Microseconds())/float64(pages), float64(d.commands)/float64(pages), float64(d.scripts)/float64(pages))
		if s.rate > 0 {
			a := r.atServer
			fmt.Fprintf(out, "%-9s %10.3f %8v %8d %6d %6d %12v %9d %11d\n", "", s.bound().Seconds()/r.wall.Seconds(),
				r.wall.Round(time.Millisecond), a.requests, a.robots, a.excess, a.minGap.Round(time.Microsecond), a.refetches, a.conns)
		}
	}
	return nil
}

// redisResult holds the figures of one crawl through Redis.
type redisResult struct {
	wall     time.Duration
	cost     redisCost
	atServer // rate-limited scenarios
}

// redisRun serves the site of s from a child process of its own (so that
// its request log holds this crawl's requests alone) and crawls it with
// the given number of workers sharing the Redis of opts. Every page must
// be stored once across the workers' databases.
func redisRun(ctx context.Context, s scenario, opts *redis.Options, rdb *redis.Client, workers, shards int, noSync bool, batchDelay time.Duration) (redisResult, error) {
	var r redisResult
	dir, err := os.MkdirTemp("", "crawl-bench-redis-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	defer emptyCrawlKeys(context.WithoutCancel(ctx), rdb)
	web, err := serveSite(s, dir)
	if err != nil {
		return r, err
	}
	defer web.stop()
	cs := make([]*crawler.Crawler, workers)
	stores := make([]*store.Store, workers)
	for i := range cs {
		st, err := store.Open(filepath.Join(dir, fmt.Sprintf("w%d.db", i)), &store.Options{NoSync: noSync})
		if err != nil {
			return r, err
		}
		defer st.Close()
		stores[i] = st
		wrdb := redis.NewClient(opts)
		defer wrdb.Close()
		cfg, err := withRedis(ctx, s.crawlConfig(batchDelay), wrdb, st, time.Minute, shards)
		if err != nil {
			return r, err
		}
		if cs[i], err = crawler.New(cfg, st, fetch.New(s.fetchConfig(true))); err != nil {
			return r, err
		}
		if _, err := cs[i].AddSeeds(ctx, web.seeds); err != nil {
			return r, err
		}
	}
	before, err := readRedisCost(ctx, rdb)
	if err != nil {
		return r, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i, c := range cs {
		wg.Go(func() { errs[i] = c.Run(ctx) })
	}
	wg.Wait()
	r.wall = time.Since(start)
	after, err := readRedisCost(ctx, rdb)
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	if err != nil {
		return r, err
	}
	r.cost = after.sub(before)
	stored := 0
	for _, c := range cs {
		stored += c.Stats().Stored
	}
	if stored != s.hosts*s.pages {
		return r, fmt.Errorf("stored %d pages, want %d", stored, s.hosts*s.pages)
	}
	if err := storedOnce(stores, s.hosts*s.pages); err != nil {
		return r, err
	}
	if r.atServer, err = web.policed(s); err != nil {
		return r, err
	}
	return r, nil
}

// storedOnce checks that the workers' stores hold pages pages together,
// none of them in two stores: the stored count alone would not tell a page
// stored twice, by two workers that both fetched it, from another left out.
func storedOnce(stores []*store.Store, pages int) error {
	where := make(map[string]int, pages)
	var twice []string
	for i, st := range stores {
		err := st.ForEachURL(func(url string) error {
			if j, ok := where[url]; ok {
				twice = append(twice, fmt.Sprintf("%s (workers %d and %d)", url, j+1, i+1))
				return nil
			}
			where[url] = i
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(twice) > 0 {
		more := ""
		if len(twice) > 3 {
			more = fmt.Sprintf(", … (%d in all)", len(twice))
			twice = twice[:3]
		}
		return fmt.Errorf("pages stored by two workers: %s%s", strings.Join(twice, ", "), more)
	}
	if len(where) != pages {
		return fmt.Errorf("the workers stored %d pages, want %d", len(where), pages)
	}
	return nil
}
