package redisfrontier

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/internal/redistest"
	"github.com/politecrawl/crawl/store"
)

// claimWithin asks c's frontier for a URL until it hands one out or d has
// passed (Redis gives no event for a lease expiring: this polls, at the
// wake times next returns).
func claimWithin(t *testing.T, c *worker, d time.Duration) (frontier.Job, bool) {
	t.Helper()
	// At least past claimGap: a claim that came back short keeps the next
	// one back that long, and the check must ask Redis.
	deadline := time.Now().Add(max(d, claimGap+time.Millisecond))
	for {
		j, ok, wake, err := c.front.Next(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ok || time.Now().After(deadline) {
			return j, ok
		}
		time.Sleep(min(time.Until(wake), time.Until(deadline)) + time.Millisecond)
	}
}

// TestRedisLease: a host's concurrency cap holds across processes while a
// lease is held; a lease not acknowledged expires and its URL goes to
// another process; release gives a slot back without ending the lease; a
// late acknowledgement does no harm; both processes then see the crawl
// finished.
func TestRedisLease(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 1}, Lease: 300 * time.Millisecond, Shards: 2}
	a, b := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	var add store.Batch
	for _, u := range []string{"http://h.example/1", "http://h.example/2"} {
		add.Add = append(add.Add, store.Entry{URL: u, Host: "h.example"})
	}
	if err := a.front.Commit(context.Background(), a.store, &add); err != nil {
		t.Fatal(err)
	}

	j1, ok := claimWithin(t, a, 0)
	if !ok || j1.URL != "http://h.example/1" {
		t.Fatalf("first claim: %v %v, want http://h.example/1", j1.URL, ok)
	}
	if j, ok := claimWithin(t, b, 0); ok {
		t.Fatalf("second process claimed %s while the host's only slot is leased", j.URL)
	}
	a.front.Release(j1.Host) // the fetch is over: the slot is free, the lease is not
	flush(t, a)              // (sent with a's next claim in a crawl)
	j2, ok := claimWithin(t, b, time.Second)
	if !ok || j2.URL != "http://h.example/2" {
		t.Fatalf("claim after release: %v %v, want http://h.example/2", j2.URL, ok)
	}
	b.front.Release(j2.Host)
	ack(t, b, j2)

	// a does not acknowledge /1 in time: its lease expires and b gets /1.
	start := time.Now()
	j3, ok := claimWithin(t, b, 5*time.Second)
	if !ok || j3.URL != j1.URL {
		t.Fatalf("claim after the lease: %v %v, want %s", j3.URL, ok, j1.URL)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("expired lease came back after %v", waited)
	}
	// a acknowledges /1 late, b acknowledges it too: nothing is left.
	ack(t, a, j1)
	ack(t, b, j3)
	for _, c := range []*worker{a, b} {
		if _, ok := claimWithin(t, c, 0); ok {
			t.Error("a URL was handed out after all were acknowledged")
		}
	}
	if !a.front.Finished() || !b.front.Finished() {
		t.Errorf("finished: a %v, b %v; want both", a.front.Finished(), b.front.Finished())
	}
}

func flush(t *testing.T, c *worker) {
	t.Helper()
	if err := c.front.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ack commits j as done through c's frontier.
func ack(t *testing.T, c *worker, j frontier.Job) {
	t.Helper()
	done := store.Batch{Done: []store.Done{{Entry: j.Entry, Page: &store.Page{URL: j.URL}, Lease: j.Lease}}}
	if err := c.front.Commit(context.Background(), c.store, &done); err != nil {
		t.Fatal(err)
	}
}

// TestRedisRedirectAcrossShards: a redirect to a host of another shard is
// followed through the frontier (the hop queued on the target's shard
// before the lease it comes from ends) and completes the first URL's record.
func TestRedisRedirectAcrossShards(t *testing.T) {
	srv := redistest.Start(t)
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 3, LinksPerPage: -1})
	hosts := web.Hosts()
	shards := 2
	for xxhash.Sum64String(hosts[0])%uint64(shards) == xxhash.Sum64String(hosts[1])%uint64(shards) {
		shards++
	}
	target := "http://" + hosts[1] + "/moved"
	web.Handle(0, "/p/1", http.RedirectHandler(target, http.StatusMovedPermanently))
	web.Handle(1, "/moved", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<title>moved</title>"))
	}))
	c := newRedisCrawler(t, srv, testConfig{Config: crawler.Config{Workers: 2, Rate: rate.Inf, BatchDelay: 10 * time.Millisecond}, Shards: shards})
	if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p, ok, err := c.store.Page("http://" + hosts[0] + "/p/1")
	if err != nil || !ok {
		t.Fatalf("record of the redirected URL: %v %v", ok, err)
	}
	if p.FinalURL != target || p.Title != "moved" {
		t.Errorf("redirected URL's record: final %q title %q, want %q \"moved\"", p.FinalURL, p.Title, target)
	}
	n := 0
	for _, r := range web.Log() {
		if r.Host == hosts[1] && r.Path == "/moved" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("redirect target fetched %d times, want 1", n)
	}
	if got := c.Stats(); got.Pending != 0 || got.InFlight != 0 {
		t.Errorf("after the crawl: %d pending, %d in flight", got.Pending, got.InFlight)
	}
}

// TestRedisScriptKeys: every key the frontier's script touches is one it
// was given in KEYS (as Redis Cluster requires): the commands name only
// the KEYS-bound locals of common.lua, KEYS[…] itself, or seenKey[…],
// frontier.lua's memo of KEYS[n].
func TestRedisScriptKeys(t *testing.T) {
	call := regexp.MustCompile(`redis\.call\(('?\w+'?)(?:,\s*([^,)]+))?`)
	allowed := map[string]bool{"READY": true, "QUEUE": true, "HOSTS": true, "LEASES": true, "LEASE": true,
		"SLOT": true, "N": true, "GONE": true, "HINTS": true}
	bulk := regexp.MustCompile(`bulk\('\w+',\s*(\w+)`)
	src := luaCommon + luaFrontier
	for _, m := range call.FindAllStringSubmatch(src, -1) {
		cmd, key := m[1], strings.TrimSpace(m[2])
		switch {
		case cmd == "'TIME'" && key == "":
		case cmd == "cmd" && key == "key": // bulk: checked at its callers
		case allowed[key], strings.HasPrefix(key, "KEYS["), strings.HasPrefix(key, "seenKey["):
		default:
			t.Errorf("redis.call(%s, %s): a key not from KEYS", cmd, key)
		}
	}
	for _, m := range bulk.FindAllStringSubmatch(src, -1) {
		if !allowed[m[1]] {
			t.Errorf("bulk on %s: a key not from KEYS", m[1])
		}
	}
	bind := regexp.MustCompile(`(?m)^local READY, QUEUE, HOSTS, LEASES, LEASE, SLOT, N, GONE, HINTS =\s*\n\s*KEYS\[1\], KEYS\[2\], KEYS\[3\], KEYS\[4\], KEYS\[5\], KEYS\[6\], KEYS\[7\], KEYS\[8\], KEYS\[9\]$`)
	if !bind.MatchString(luaCommon) {
		t.Error("common.lua no longer binds its key locals to KEYS[1…9]: update this test")
	}
	if memo := regexp.MustCompile(`local seenKey = setmetatable\(\{\}, \{__index = function\(t, n\)\s*local k = KEYS\[tonumber\(n\)\]\s*t\[n\] = k`); !memo.MatchString(luaFrontier) {
		t.Error("frontier.lua's seenKey is no longer a memo of KEYS[n]: update this test")
	}
}

// TestRedisPermitBatch: a host with a short interval is claimed in a batch
// under one send permit (as many URLs as the interval fits in
// permitWindow, within its concurrency cap); the batch's requests leave
// one at a time, each an interval (margin included) after the last one's
// write; no other process gets the host while the permit is out, and the
// report of its last write paces the next process's first request.
func TestRedisPermitBatch(t *testing.T) {
	srv := redistest.Start(t)
	const every = 5 * time.Millisecond
	cfg := testConfig{Config: crawler.Config{Rate: rate.Every(every), PerHost: 4}, Lease: 5 * time.Second, Shards: 1}
	a, b := newRedisCrawler(t, srv, cfg), newRedisCrawler(t, srv, cfg)
	queueURLs(t, a, "h.example", 6)

	calls := a.front.calls.Load()
	var jobs []frontier.Job
	for range 4 {
		j, ok := claimWithin(t, a, 0)
		if !ok {
			t.Fatalf("claimed %d URLs at once, want 4 (the cap)", len(jobs))
		}
		jobs = append(jobs, j)
	}
	if n := a.front.calls.Load() - calls; n != 1 {
		t.Errorf("%d calls made, want the 4 claims in one", n)
	}
	if j, ok := claimWithin(t, b, 0); ok {
		t.Fatalf("second process claimed %s while the host's permit is out", j.URL)
	}
	var last time.Time
	gap := every + frontier.SendMargin
	for i := range jobs {
		sent, err := a.front.Wait(context.Background(), "h.example")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if i > 0 && now.Sub(last) < gap {
			t.Errorf("request %d left %v after the last one's write, want at least %v", i, now.Sub(last), gap)
		}
		last = now
		sent(now)
	}
	for _, j := range jobs {
		a.front.Release(j.Host)
		ack(t, a, j)
	}
	j, ok := claimWithin(t, b, time.Second)
	if !ok {
		t.Fatal("the host was not claimed again after the permit's report")
	}
	sent, err := b.front.Wait(context.Background(), j.Host)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(last); d < gap {
		t.Errorf("next process's request left %v after the batch's last write, want at least %v", d, gap)
	}
	sent(time.Now())
}

// TestRedisShardsChosen: a new frontier without a shard count gets one
// shard on a single server (calls spread over shards there only cost more
// calls) and four a master on a Redis Cluster; the seen sets' count is
// kept with it, and a crawl started before that count was kept goes on
// with the sets it has.
func TestRedisShardsChosen(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, rdb redis.UniversalClient) *Frontier {
		t.Helper()
		f, err := New(ctx, rdb, Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Stop(ctx) })
		return f
	}
	t.Run("server", func(t *testing.T) {
		rdb := redistest.Start(t).Client(t)
		if f := open(t, rdb); f.shards != 1 || f.buckets != seenBuckets {
			t.Errorf("new crawl: %d shards, %d seen sets a shard; want 1, %d", f.shards, f.buckets, seenBuckets)
		}
		if f := open(t, rdb); f.shards != 1 || f.buckets != seenBuckets {
			t.Errorf("second process: %d shards, %d seen sets a shard; want 1, %d", f.shards, f.buckets, seenBuckets)
		}
	})
	t.Run("older crawl", func(t *testing.T) {
		rdb := redistest.Start(t).Client(t)
		if err := rdb.Set(ctx, redisPrefix+":{meta}:shards", 4, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if f := open(t, rdb); f.shards != 4 || f.buckets != oldBuckets {
			t.Errorf("%d shards, %d seen sets a shard; want 4, %d", f.shards, f.buckets, oldBuckets)
		}
	})
	t.Run("cluster", func(t *testing.T) {
		f := open(t, redistest.StartCluster(t).Client(t))
		if f.shards != 3*shardsPerMaster || f.buckets != oldBuckets {
			t.Errorf("%d shards, %d seen sets a shard; want %d, %d", f.shards, f.buckets, 3*shardsPerMaster, oldBuckets)
		}
	})
}

// TestRedisOlderLayout: a crawl left in Redis by the version before host
// states were MessagePack and leases held their queue member (a host's
// state as comma-separated numbers, a lease as host\nentry) goes on: its
// queued URL is claimed, its expired lease comes back to the queue and is
// claimed too, and the host's state is written in the new form with its
// counts kept.
func TestRedisOlderLayout(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	const h = "h.example"
	queued, leased := "http://h.example/queued", "http://h.example/leased"
	entry := func(u string) string { return encodeRedisEntry(frontier.Job{Entry: store.Entry{URL: u, Host: h}}) }
	p := redisPrefix + ":{0}:"
	pipe := rdb.TxPipeline()
	pipe.Set(ctx, redisPrefix+":{meta}:shards", 1, 0)
	// cap 8, base 0, maxb 60000, cd 0, slow 1, iv 0, hold 0, inf 1 (the
	// lease), n 1, tat 0, burst 1, pt 0, pu 0, tot 2, mph 0, lat 0
	pipe.HSet(ctx, p+"hosts", h, "8,0,60000,0,1,0,0,1,1,0,1,0,0,2,0,0")
	pipe.ZAdd(ctx, p+"queue", redis.Z{Member: h + "\x00" + "1000000000000001" + entry(queued)})
	pipe.ZAdd(ctx, p+"ready", redis.Z{Member: h})
	pipe.HSet(ctx, p+"lease", "7", h+"\n"+entry(leased))
	pipe.HSet(ctx, p+"slot", "7", "1")
	pipe.ZAdd(ctx, p+"leases", redis.Z{Score: 1, Member: "7"}) // expired long ago
	pipe.HSet(ctx, p+"n", "pending", 1, "leases", 1, "seq", 7)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	w := newRedisCrawler(t, srv, testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 8}})
	var got []string
	for range 2 {
		j, ok, _, err := w.front.Next(ctx, time.Now())
		if err != nil || !ok {
			t.Fatalf("next: ok %v, %v", ok, err)
		}
		got = append(got, j.URL)
	}
	slices.Sort(got)
	if want := []string{leased, queued}; !slices.Equal(got, want) {
		t.Errorf("claimed %q, want %q", got, want)
	}
	inf, err := rdb.Eval(ctx, "return cmsgpack.unpack(redis.call('HGET', KEYS[1], ARGV[1]))[8]", []string{p + "hosts"}, h).Int()
	if err != nil {
		t.Fatalf("host state not in the new form: %v", err)
	}
	if inf != 2 {
		t.Errorf("host's requests in flight %d, want 2 (the old lease's slot freed, two claimed)", inf)
	}
}

// TestRedisClaimGap: a claim that came back short (the host's only slot
// taken) keeps the next one back for its share of claimGap without a call
// to Redis, so that the slots freed meanwhile are claimed together; after
// it, the next claim carries the release with it and gets the next URL,
// and a flush then has nothing to send.
func TestRedisClaimGap(t *testing.T) {
	srv := redistest.Start(t)
	c := newRedisCrawler(t, srv, testConfig{Config: crawler.Config{Rate: rate.Inf, PerHost: 1}, Shards: 1})
	queueURLs(t, c, "h.example", 3)
	ctx := context.Background()
	now := time.Now()
	j, ok, _, err := c.front.Next(ctx, now)
	if err != nil || !ok {
		t.Fatalf("first claim: ok %v, %v", ok, err)
	}
	calls := c.front.calls.Load()
	c.front.Release(j.Host)
	_, ok, wake, err := c.front.Next(ctx, now.Add(claimGap/2))
	if err != nil || ok {
		t.Fatalf("claim within the gap: ok %v, %v; want none", ok, err)
	}
	if got := c.front.calls.Load(); got != calls {
		t.Errorf("a claim within the gap called Redis %d times, want none", got-calls)
	}
	// It got one URL of the claim's want: nearly all of claimGap.
	want := min(c.front.workers, maxClaim)
	gap := claimGap * time.Duration(want-1) / time.Duration(want)
	if !wake.Equal(now.Add(gap)) {
		t.Errorf("wake %v after a claim that got 1 of %d, want %v", wake.Sub(now), want, gap)
	}
	j2, ok, _, err := c.front.Next(ctx, now.Add(gap))
	if err != nil || !ok || j2.URL == j.URL {
		t.Fatalf("claim after the gap: %q ok %v, %v; want the host's next URL", j2.URL, ok, err)
	}
	// The release went with that claim: flushing the operations (as the
	// timer that was set for it does, or Stop) has nothing to send.
	calls = c.front.calls.Load()
	flush(t, c)
	if got := c.front.calls.Load(); got != calls {
		t.Errorf("a flush with nothing queued called Redis %d times, want none", got-calls)
	}
}
