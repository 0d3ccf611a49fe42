package redisfrontier

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/internal/redistest"
	"golang.org/x/time/rate"
)

// TestRulesAgree holds the script's politeness to frontier.Pace, which the
// embedded frontier applies: after each outcome of a sequence of failures
// and successes (each success moving the average response time by more
// than a tenth, so that it is sent), the interval kept in Redis is the one
// Pace computes: for a host with a rate limit, and for one without (whose
// response times give it no interval; its errors do).
func TestRulesAgree(t *testing.T) {
	t.Run("rate=10", func(t *testing.T) { testRulesAgree(t, 10) })
	t.Run("no-limit", func(t *testing.T) { testRulesAgree(t, rate.Inf) })
}

func testRulesAgree(t *testing.T, lim rate.Limit) {
	srv := redistest.Start(t)
	w := newRedisCrawler(t, srv, testConfig{Config: crawler.Config{Rate: lim, PerHost: 2}, Shards: 1})
	const host = "h.example"
	queueURLs(t, w, host, 1) // the shard learns the host's limits
	w.front.latEvery = 0     // every move sent, at once
	p := frontier.Pace{Every: frontier.Every(lim), PerHost: 2, MaxBackoff: frontier.DefaultMaxBackoff, Slow: 1}
	for i, s := range []struct {
		ok      bool
		latency time.Duration
	}{
		{true, 300 * time.Millisecond}, {true, 600 * time.Millisecond},
		{false, 0}, {false, 0}, {true, 300 * time.Millisecond}, {true, 600 * time.Millisecond},
		{false, 0}, {true, 100 * time.Millisecond}, {true, 1500 * time.Millisecond}, {false, 0}, {false, 0},
		{false, 0}, {false, 0}, {false, 0}, {false, 0}, {false, 0}, {false, 0}, {false, 0}, {false, 0},
	} {
		p.Observe(s.ok, s.latency)
		w.front.Observe(host, s.ok, s.latency)
		if err := w.front.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// F in common.lua: cap, base, maxb, cd, slow, iv, …
		v, err := srv.Client(t).Eval(context.Background(),
			"return string.format('%.17g', cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))[6])",
			[]string{w.front.prefix(0) + "hosts"}, host).Text()
		if err != nil {
			t.Fatal(err)
		}
		iv, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, want := time.Duration(iv*float64(time.Millisecond)), p.Interval()
		if d := got - want; d > time.Millisecond || d < -time.Millisecond {
			t.Errorf("after outcome %d (ok %v, %v): redis interval %v, frontier.Pace %v", i, s.ok, s.latency, got, want)
		}
	}
	if p.Interval() != frontier.DefaultMaxBackoff {
		t.Errorf("the sequence ends at %v, want it to reach the back-off cap %v", p.Interval(), frontier.DefaultMaxBackoff)
	}
}
