package frontier

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/store"
)

// TestFrontierHostLimits checks that the per-host hook sets a host's rate,
// burst and concurrency cap, and that other hosts keep the defaults.
func TestFrontierHostLimits(t *testing.T) {
	var asked []string
	var entries []store.Entry // the store's queues
	f := New(Config{Window: 8, Limits: Limits{
		PerHost: 1, Rate: rate.Inf, Burst: 1,
		Host: func(host string) (rate.Limit, int, int) {
			asked = append(asked, host)
			if host == "fast:80" {
				return 0, 3, 2 // rate: keep the default
			}
			return 0, 0, 0
		},
	}}, loadFrom(&entries))

	for i, host := range []string{"fast:80", "fast:80", "fast:80", "slow:80", "slow:80"} {
		entries = append(entries, store.Entry{URL: "http://" + host + "/" + string(rune('a'+i)), Host: host, Seq: uint64(i + 1)})
	}
	f.complete(0, 0, entries, len(entries))
	unit := func(host string) *politeness { return f.unitOf(f.hosts[host]) } // made at the host's turn

	if got := unit("fast:80").limiter.Burst(); got != 3 {
		t.Errorf("fast burst = %d, want 3", got)
	}
	if got := unit("slow:80").limiter.Burst(); got != 1 {
		t.Errorf("slow burst = %d, want 1", got)
	}
	if got := unit("fast:80").limiter.Limit(); got != rate.Inf {
		t.Errorf("fast rate = %v, want the default (Inf)", got)
	}

	// With nothing released, fast hands out 2 at once and slow 1.
	now := time.Now()
	count := map[string]int{}
	for {
		e, ok, _, err := f.Next(context.Background(), now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		count[e.Host]++
	}
	if count["fast:80"] != 2 || count["slow:80"] != 1 {
		t.Errorf("handed out %v before any release, want fast:80 2, slow:80 1", count)
	}
	if len(asked) != 2 {
		t.Errorf("hook called for %v, want once per host", asked)
	}
}
