package frontier

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/store"
)

// newTestFrontier returns a frontier with n entries queued for host "h",
// nothing in the store, at lim requests per second (burst 1, one at a time).
func newTestFrontier(t *testing.T, lim rate.Limit, n int) *Embedded {
	t.Helper()
	var es []store.Entry
	for i := range n {
		es = append(es, store.Entry{URL: "http://h/" + string(rune('a'+i)), Host: "h", Seq: uint64(i + 1)})
	}
	f := New(Config{Limits: Limits{PerHost: 1, Burst: 1, Rate: lim}, Window: 64}, loadFrom(&es))
	f.complete(0, 0, es, len(es))
	return f
}

// loadFrom returns a LoadFunc that reads *queue, the store's queues.
func loadFrom(queue *[]store.Entry) LoadFunc {
	return func(host string, after uint64, n int) ([]store.Entry, error) {
		var out []store.Entry
		for _, e := range *queue {
			if e.Host == host && e.Seq > after && len(out) < n {
				out = append(out, e)
			}
		}
		return out, nil
	}
}

// putInPlay makes host one the crawl is in, whose offered links go to its
// window at once (see hostQueue.inPlay).
func putInPlay(f *Embedded, host string) {
	f.mu.Lock()
	f.host(host).lastOut = time.Now()
	f.mu.Unlock()
}

// take hands out the next Job, which must be ready now, and releases the
// host's slot at once.
func take(t *testing.T, f *Embedded) Job {
	t.Helper()
	j, ok, wake, err := f.Next(context.Background(), time.Now())
	if err != nil || !ok {
		t.Fatalf("next at %v: ok %v, wake in %v, err %v; want a Job", time.Now(), ok, time.Until(wake), err)
	}
	f.Release(j.Host)
	return j
}

// readyIn returns how long until the frontier hands out a job.
func readyIn(t *testing.T, f *Embedded) time.Duration {
	t.Helper()
	_, ok, wake, err := f.Next(context.Background(), time.Now())
	if err != nil || ok {
		t.Fatalf("next: ok %v, err %v; want nothing ready", ok, err)
	}
	return time.Until(wake)
}

func TestFrontierHoldAndRequeue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, rate.Inf, 2)
		j := take(t, f)
		if s := f.Stats(time.Now()); s.Queued != 1 || s.Open != 1 {
			t.Fatalf("after next: %+v", s)
		}
		// A retry goes to the front and holds the host for 3s.
		j.Attempts++
		f.Requeue(j, time.Now().Add(3*time.Second))
		if s := f.Stats(time.Now()); s.Queued != 2 || s.Open != 0 || f.Finished() {
			t.Fatalf("after requeue: %+v, finished %v", s, f.Finished())
		}
		if d := readyIn(t, f); d != 3*time.Second {
			t.Fatalf("ready in %v, want 3s (the hold)", d)
		}
		time.Sleep(3 * time.Second)
		if got := take(t, f); got.URL != j.URL || got.Attempts != 1 {
			t.Fatalf("got %s (attempts %d), want the retried %s first", got.URL, got.Attempts, j.URL)
		}
		// A shorter hold does not shorten a longer one.
		f.Hold("h", time.Now().Add(5*time.Second))
		f.Hold("h", time.Now().Add(time.Second))
		if d := readyIn(t, f); d != 5*time.Second {
			t.Fatalf("ready in %v, want 5s", d)
		}
		time.Sleep(5 * time.Second)
		take(t, f)
		f.complete(3, 3, nil, 0)
		if !f.Finished() {
			t.Fatalf("not finished: %+v", f.Stats(time.Now()))
		}
	})
}

func TestFrontierCrawlDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 10, 4) // every 100ms
		if iv := f.Interval("h"); iv != 100*time.Millisecond {
			t.Fatalf("interval %v, want 100ms", iv)
		}
		take(t, f)
		f.SetCrawlDelay("h", 2*time.Second)
		if iv := f.Interval("h"); iv != 2*time.Second {
			t.Fatalf("interval %v after Crawl-delay 2s", iv)
		}
		if d := readyIn(t, f); d != 2*time.Second {
			t.Fatalf("ready in %v, want 2s", d)
		}
		time.Sleep(2 * time.Second)
		take(t, f)
		// A Crawl-delay shorter than the configured interval changes nothing.
		f.SetCrawlDelay("h", 10*time.Millisecond)
		if iv := f.Interval("h"); iv != 100*time.Millisecond {
			t.Fatalf("interval %v after Crawl-delay 10ms, want the configured 100ms", iv)
		}
	})
}

func TestFrontierAdaptiveBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 2, 1) // every 500ms
		f.Observe("h", false, 0)
		f.Observe("h", false, 0)
		if iv := f.Interval("h"); iv != 2*time.Second {
			t.Fatalf("interval %v after two errors, want 4 × 500ms", iv)
		}
		for range 20 {
			f.Observe("h", false, 0)
		}
		if iv := f.Interval("h"); iv != DefaultMaxBackoff {
			t.Fatalf("interval %v after many errors, want the cap %v", iv, DefaultMaxBackoff)
		}
		// Successes bring it back slowly, never below the configured rate.
		prev := f.Interval("h")
		for range 5 {
			f.Observe("h", true, time.Millisecond)
			iv := f.Interval("h")
			if iv >= prev || iv < 500*time.Millisecond {
				t.Fatalf("interval %v after a success, was %v", iv, prev)
			}
			prev = iv
		}
		for range 100 {
			f.Observe("h", true, time.Millisecond)
		}
		if iv := f.Interval("h"); iv != 500*time.Millisecond {
			t.Fatalf("interval %v after recovery, want the configured 500ms", iv)
		}
		// Slow responses stretch the interval to the response time.
		for range 30 {
			f.Observe("h", true, 3*time.Second)
		}
		if iv := f.Interval("h"); iv < 2900*time.Millisecond || iv > 3*time.Second {
			t.Fatalf("interval %v with 3s responses, want about 3s", iv)
		}
	})
}

func TestFrontierUnlimitedHostBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, rate.Inf, 3)
		take(t, f)
		f.Observe("h", false, 0)
		if iv := f.Interval("h"); iv != 2*MinBackoff {
			t.Fatalf("interval %v after an error without a rate limit, want %v", iv, 2*MinBackoff)
		}
		for range 50 {
			f.Observe("h", true, 0)
		}
		if iv := f.Interval("h"); iv != 0 {
			t.Fatalf("interval %v after recovery, want none", iv)
		}
	})
}

// waitFor takes a send permit for host h and fails the test on an error.
func waitFor(t *testing.T, f *Embedded, ctx context.Context) func(time.Time) {
	t.Helper()
	sent, err := f.Wait(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

// TestWaitTimesFromWrite: the next request to a host leaves an interval
// after the previous one was written, not after its permit: a dial of 30 ms
// between the two moves the next request on by 30 ms.
func TestWaitTimesFromWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 10, 1)
		sent := waitFor(t, f, t.Context())
		time.Sleep(30 * time.Millisecond) // the dial
		wrote := time.Now()
		sent(wrote)
		waitFor(t, f, t.Context())
		if got := time.Since(wrote); got != 100*time.Millisecond+sendMargin {
			t.Fatalf("next permit %v after the write, want the interval 100ms and the margin", got)
		}
	})
}

// TestWaitOnePermitOut: while a request has a permit and is not written,
// no other request to its host may go, even past the interval: its write
// time is what the next one is timed from.
func TestWaitOnePermitOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 10, 4)
		sent := waitFor(t, f, t.Context())
		got := make(chan time.Time)
		go func() {
			waitFor(t, f, t.Context())
			got <- time.Now()
		}()
		time.Sleep(500 * time.Millisecond) // a slow dial, 5 intervals
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("second permit given while the first request was not written")
		default:
		}
		wrote := time.Now()
		sent(wrote)
		if gap := (<-got).Sub(wrote); gap != 100*time.Millisecond+sendMargin {
			t.Fatalf("second permit %v after the first write, want 100ms and the margin", gap)
		}
	})
}

// TestWaitUnsentCountsNothing: a permit whose request never left (the dial
// failed) frees the host at once and takes no token.
func TestWaitUnsentCountsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 10, 1)
		waitFor(t, f, t.Context())(time.Time{})
		start := time.Now()
		waitFor(t, f, t.Context())
		if d := time.Since(start); d != 0 {
			t.Fatalf("permit after an unsent request waited %v, want none", d)
		}
	})
}

// TestWaitBurst: a host with burst 3 gets three requests at once after a
// pause, then one an interval.
func TestWaitBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{Limits: Limits{PerHost: 1, Burst: 3, Rate: 10}, Window: 64},
			func(string, uint64, int) ([]store.Entry, error) { return nil, nil })
		start := time.Now()
		for range 3 {
			waitFor(t, f, t.Context())(time.Now())
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("burst of 3 waited %v, want none", d)
		}
		waitFor(t, f, t.Context())(time.Now())
		if d := time.Since(start); d != 100*time.Millisecond+sendMargin {
			t.Fatalf("4th request after %v, want 100ms and the margin", d)
		}
	})
}

// TestWaitCrawlDelayCountsRobots: a Crawl-delay learnt from robots.txt
// spaces the first page from robots.txt itself, as the host's policer at
// that interval counts it.
func TestWaitCrawlDelayCountsRobots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 20, 1)
		robots := time.Now()
		waitFor(t, f, t.Context())(robots)
		time.Sleep(3 * time.Millisecond) // its answer
		f.SetCrawlDelay("h", time.Second)
		waitFor(t, f, t.Context())
		if d := time.Since(robots); d != time.Second+sendMargin {
			t.Fatalf("first page %v after robots.txt, want the Crawl-delay 1s and the margin", d)
		}
	})
}

func TestWaitStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newTestFrontier(t, 1, 1)
		waitFor(t, f, t.Context())(time.Now())
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := f.Wait(ctx, "h"); err == nil {
			t.Fatal("Wait with no token and a context ending before it: got nil error")
		}
	})
}

// windowOf2 returns an unlimited frontier whose hosts hold 2 entries in
// memory and load the rest from *committed, the store's queue.
func windowOf2(committed *[]store.Entry) *Embedded {
	return New(Config{Limits: Limits{PerHost: 8, Burst: 1, Rate: rate.Inf}, Window: 2}, loadFrom(committed))
}

// TestOfferBeforeCommit: links offered before their batch is committed are
// handed out at once as far as the window of their host, in play, holds
// them; the rest come
// from the store once the batch is committed, and the commit neither queues
// nor counts the offered ones twice.
func TestOfferBeforeCommit(t *testing.T) {
	var committed []store.Entry // the store's queue
	f := windowOf2(&committed)
	f.Restore(nil, 0, 0, 41) // the store gave out positions up to 41
	putInPlay(f, "h")
	es := []store.Entry{{URL: "http://h/a", Host: "h"}, {URL: "http://h/b", Host: "h"}, {URL: "http://h/c", Host: "h"}}
	f.Offer(es)
	if es[0].Seq != 42 || es[2].Seq != 44 {
		t.Fatalf("offer gave positions %d…%d, want 42…44", es[0].Seq, es[2].Seq)
	}
	var got []string
	for range 2 {
		got = append(got, take(t, f).URL)
	}
	if _, ok, _, _ := f.Next(context.Background(), time.Now()); ok {
		t.Fatal("handed out a link beyond the window before its batch was committed")
	}
	if s := f.Stats(time.Now()); s.Queued != 1 {
		t.Fatalf("before the commit: %+v, want 1 queued", s)
	}
	committed = append(committed, es...)
	f.complete(0, 0, es, 0)
	got = append(got, take(t, f).URL)
	if _, ok, _, _ := f.Next(context.Background(), time.Now()); ok {
		t.Fatal("handed out a link twice")
	}
	if want := []string{"http://h/a", "http://h/b", "http://h/c"}; !slices.Equal(got, want) {
		t.Fatalf("handed out %q, want %q", got, want)
	}
	if s := f.Stats(time.Now()); s.Queued != 0 || s.Open != 3 {
		t.Fatalf("after the commit: %+v, want 0 queued, 3 open", s)
	}
}

// TestOfferAfterEarlyRefill: a host's window drains while links it spilled
// are still waiting for their commit, so a refill finds nothing in the
// store. A link offered next must not overtake them: when they are
// committed they are still handed out (once), and the crawl can finish. It
// used to drop them, which hung a resumed crawl now and then.
func TestOfferAfterEarlyRefill(t *testing.T) {
	var committed []store.Entry // the store's queue
	f := windowOf2(&committed)
	entry := func(p string) store.Entry { return store.Entry{URL: "http://h/" + p, Host: "h"} }
	putInPlay(f, "h")
	first := []store.Entry{entry("a"), entry("b"), entry("c"), entry("d")} // c and d spill
	f.Offer(first)
	got := []string{take(t, f).URL, take(t, f).URL}
	if _, ok, _, _ := f.Next(context.Background(), time.Now()); ok { // refills from a store without c and d
		t.Fatal("handed out a spilled link before its batch was committed")
	}
	second := []store.Entry{entry("e")}
	f.Offer(second)
	committed = append(committed, first...)
	f.complete(0, 0, first, 0)
	committed = append(committed, second...)
	f.complete(0, 0, second, 0)
	for {
		e, ok, _, err := f.Next(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, e.URL)
	}
	slices.Sort(got)
	if want := []string{"http://h/a", "http://h/b", "http://h/c", "http://h/d", "http://h/e"}; !slices.Equal(got, want) {
		t.Fatalf("handed out %q, want %q", got, want)
	}
	if s := f.Stats(time.Now()); s.Queued != 0 || s.Open != 5 {
		t.Fatalf("after the commits: %+v, want 0 queued, 5 open", s)
	}
}

// TestFrontierForgetsIdleHosts: a wide crawl's hosts cost memory only while
// they are in play. A new host's entries wait in the store until its turn
// (no window, no politeness before), and a host done with and at rest is
// dropped, keeping only a note of its Crawl-delay; met again, it has it.
func TestFrontierForgetsIdleHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var queue []store.Entry
		f := New(Config{Limits: Limits{PerHost: 1, Burst: 1, Rate: 10}, Window: 64}, loadFrom(&queue))
		for i := range 100 {
			host := fmt.Sprintf("h%d", i)
			for _, p := range []string{"a", "b"} {
				queue = append(queue, store.Entry{URL: "http://" + host + "/" + p, Host: host, Seq: uint64(len(queue) + 1)})
			}
		}
		f.complete(0, 0, queue, len(queue))
		f.mu.Lock()
		for _, h := range f.hosts {
			if len(h.entries) > 0 || h.p != nil {
				t.Fatalf("host %s not yet in play holds %d entries, politeness %v", h.name, len(h.entries), h.p != nil)
			}
		}
		f.mu.Unlock()
		f.SetCrawlDelay("h7", 2*time.Second)
		for handed := 0; handed < 200; {
			j, ok, wake, err := f.Next(context.Background(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				time.Sleep(time.Until(wake))
				continue
			}
			handed++
			f.Release(j.Host)
			queue = slices.DeleteFunc(queue, func(e store.Entry) bool { return e.URL == j.URL })
		}
		f.Next(context.Background(), time.Now()) // sweeps
		f.mu.Lock()
		_, h7 := f.hosts["h7"]
		f.mu.Unlock()
		if !h7 {
			t.Fatal("h7 was dropped before its Crawl-delay had passed since its last request")
		}
		time.Sleep(3 * time.Second)              // every host's limiter and gate at rest
		f.Next(context.Background(), time.Now()) // sweeps
		if n := f.HostsInMemory(); n != 0 {
			t.Fatalf("%d hosts in memory at rest, want 0", n)
		}
		if d := f.Interval("h7"); d != 2*time.Second {
			t.Errorf("h7 met again: interval %v, want its Crawl-delay, 2s", d)
		}
		if d := f.Interval("h8"); d != 100*time.Millisecond {
			t.Errorf("h8 met again: interval %v, want the rate's, 100ms", d)
		}
	})
}

// TestDroppedHostMetBeforeCommit: a host whose last entry was fetched is
// dropped at rest before that entry's batch is committed, and met again
// (its back-off fed, a link of the page offered). Its queue, read again
// from the store, still holds the entry: it must not go out twice, which
// counted it twice and left the crawl never finished.
func TestDroppedHostMetBeforeCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		queue := []store.Entry{{URL: "http://h/a", Host: "h", Seq: 1}}
		f := New(Config{Limits: Limits{PerHost: 1, Burst: 1, Rate: rate.Inf}, Window: 64}, loadFrom(&queue))
		f.Restore([]string{"h"}, 1, 0, 1)
		a := take(t, f)
		time.Sleep(sweepEvery)
		f.Next(context.Background(), time.Now()) // sweeps: h is dropped
		if n := f.HostsInMemory(); n != 0 {
			t.Fatalf("%d hosts in memory, want h dropped", n)
		}
		f.Observe("h", true, 0) // met again
		links := []store.Entry{{URL: "http://h/b", Host: "h"}}
		f.Offer(links)
		if j, ok, _, _ := f.Next(context.Background(), time.Now()); ok {
			t.Fatalf("handed out %s before a's batch was committed", j.URL)
		}
		b := store.Batch{Done: []store.Done{{Entry: a.Record()}}, Add: links}
		queue = append(queue[:0], links...)
		f.settle(b.Done)
		f.complete(1, 1, links, 0)
		if got := take(t, f); got.URL != "http://h/b" {
			t.Fatalf("handed out %s, want http://h/b", got.URL)
		}
		if j, ok, _, _ := f.Next(context.Background(), time.Now()); ok {
			t.Fatalf("handed out %s twice", j.URL)
		}
		f.complete(1, 1, nil, 0)
		if !f.Finished() {
			t.Fatalf("not finished: %+v", f.Stats(time.Now()))
		}
	})
}

// TestHostsInPlayFirst: a host in play (just handed out) whose time comes
// again goes before the hosts not yet started, even those ready longer
// (here its back-off's latency term puts its next request 4 ms ahead), so
// that a wide crawl finishes its hosts while their connections are open
// rather than starting all of them first.
func TestHostsInPlayFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var queue []store.Entry
		var hosts []string
		for i := range 100 {
			host := fmt.Sprintf("h%d", i)
			hosts = append(hosts, host)
			queue = append(queue, store.Entry{URL: "http://" + host + "/", Host: host, Seq: uint64(i + 1)})
		}
		f := New(Config{Limits: Limits{PerHost: 1, Burst: 1, Rate: rate.Inf}, Window: 64}, loadFrom(&queue))
		f.Restore(hosts, len(queue), 0, uint64(len(queue)))
		first := take(t, f)
		f.Observe(first.Host, true, 4*time.Millisecond)
		f.Offer([]store.Entry{{URL: "http://" + first.Host + "/p/1", Host: first.Host}})
		time.Sleep(4 * time.Millisecond)
		if got := take(t, f); got.Host != first.Host {
			t.Fatalf("handed out %s, want %s's link first (its host in play)", got.URL, first.Host)
		}
	})
}

// TestFrontierLooksUpAhead: hosts are looked up before their turn, at most
// 2 × maxLookups ahead, and a host whose lookup left a small DNS cache
// before its second turn (behind many hosts not yet looked up) is looked
// up again once and then handed out: every entry goes out, with about one
// lookup a turn.
func TestFrontierLooksUpAhead(t *testing.T) {
	var queue []store.Entry
	f := New(Config{Limits: Limits{PerHost: 1, Burst: 1, Rate: rate.Inf}, Window: 64}, loadFrom(&queue))
	var mu sync.Mutex
	var cache []string // a DNS cache of 8 names, the oldest evicted
	lookups, ahead, maxAhead := 0, 0, 0
	f.lookupIP = func(_ context.Context, host string) (netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		lookups++
		ahead++
		maxAhead = max(maxAhead, ahead)
		if cache = append(cache, host); len(cache) > 8 {
			cache = cache[1:]
		}
		return netip.MustParseAddr("192.0.2.1"), nil
	}
	f.resolved = func(host string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(cache, host)
	}
	f.maxLookups = 2
	for i := range 300 {
		host := fmt.Sprintf("h%d", i)
		queue = append(queue, store.Entry{URL: "http://" + host + "/", Host: host, Seq: uint64(len(queue) + 1)})
	}
	f.Restore(nil, 0, 0, uint64(len(queue))) // the positions given out
	f.complete(0, 0, queue, len(queue))
	handed := 0
	for deadline := time.Now().Add(10 * time.Second); handed < 600 && time.Now().Before(deadline); {
		j, ok, _, err := f.Next(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			select {
			case <-f.Changes():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		handed++
		mu.Lock()
		ahead = 0
		mu.Unlock()
		if !strings.HasSuffix(j.URL, "/2") {
			// Its second page is found: the host waits behind the others.
			e := []store.Entry{{URL: "http://" + j.Host + "/2", Host: j.Host}}
			f.Offer(e)
			queue = append(queue, e...)
			f.complete(0, 0, e, 0)
		}
		f.Release(j.Host)
	}
	f.Stop(context.Background())
	if handed != 600 {
		t.Fatalf("handed out %d of 600 entries (%d lookups)", handed, lookups)
	}
	if lookups > 900 || maxAhead > 4 {
		t.Errorf("%d lookups for 600 turns of 300 hosts, up to %d ahead of a hand-out; want at most 900 and 4", lookups, maxAhead)
	}
}
