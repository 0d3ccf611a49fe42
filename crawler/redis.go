package crawler

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/politecrawl/crawl/store"
)

// The Redis frontier's scripts; each works on the keys of one shard (see
// redis/common.lua for the layout).
var (
	//go:embed redis/common.lua
	luaCommon string
	//go:embed redis/claim.lua
	luaClaim string
	//go:embed redis/ack.lua
	luaAck string
	//go:embed redis/pace.lua
	luaPace string

	claimScript = redis.NewScript(luaCommon + luaClaim)
	ackScript   = redis.NewScript(luaCommon + luaAck)
	paceScript  = redis.NewScript(luaCommon + luaPace)
)

const (
	redisPrefix = "crawl"
	// seenBuckets is the number of seen sets per shard. Fingerprints are
	// stored as decimal integers, so a set of up to set-max-intset-entries
	// (512 by default) members is an intset: 8 bytes a URL, for crawls of
	// up to 512·seenBuckets URLs a shard.
	seenBuckets = 4096
	maxShards   = 1 << leaseShardBits
	// leaseShardBits: a lease's id in the crawler is its id in its shard
	// shifted left by this, or'ed with the shard.
	leaseShardBits = 10

	pollEvery = 50 * time.Millisecond // longest wait before asking Redis again when nothing is ready
	callWait  = 5 * time.Second       // longest wait for one Redis call
	seedWait  = 10 * time.Second      // how long AddSeeds and the shutdown wait for Redis
	// permitHold bounds how long a worker's send permit keeps a host's
	// other requests waiting if the worker dies before it reports the send.
	permitHold = 15 * time.Second
	minRetry   = 100 * time.Millisecond
	robotsKeep = 24 * time.Hour // how long Redis keeps a robots.txt answer
	maxRetry   = 5 * time.Second
)

// redisFrontier is a frontier shared by several crawl processes through one
// Redis: the per-host queues, the hosts' politeness state (next allowed
// time from Redis's clock, Crawl-delay, holds, back-off, requests in flight
// against their cap), the leases of claimed URLs and the seen set live in
// Redis, split into shards hash-tagged "{n}" by host, and every change is a
// Lua script on one shard (claim.lua, ack.lua), so that it is atomic and
// runs on Redis Cluster as well.
//
// next claims a URL under a lease of Config.Lease; commit stores the pages
// in this process's store first and then acknowledges them in Redis with
// the links found, so a crash in between means a refetch, never a loss.
// The calls workers make (release, requeue, hold, observe, setCrawlDelay)
// only queue operations in memory, sent with the next claim; stop gives
// back what this process holds. A lease not acknowledged in time (the
// process died) is given back by the next claim in its shard.
//
// A host's rate holds across processes twice over: claims of a host are
// spaced by its interval, and each request is paced again just before it
// leaves (pace.lua, called by the worker), which absorbs the delay between
// a claim and its send.
//
// While Redis does not answer, next and commit retry with back-off (at
// most maxRetry apart) and log one line saying so: the crawl pauses and
// goes on when Redis is back. A redisFrontier is safe for concurrent use.
type redisFrontier struct {
	rdb    redis.UniversalClient
	log    *slog.Logger
	addr   string
	shards int
	lease  time.Duration
	max    int // Config.MaxPages: records in this process's store; 0: no limit
	limits func(host string) (cap int, baseMS, maxbMS float64)
	meta   string // prefix of the crawl-wide keys

	mu      sync.Mutex
	ops     [][]redisOp           // per shard: operations to send with its next call
	held    map[uint64]redisClaim // leases this process holds
	slots   map[string][]uint64   // host → held leases whose concurrency slot is still taken
	open    int                   // claimed and not yet committed or requeued
	done    int                   // records in this process's store
	pending []int64               // per shard, as last seen: entries queued
	leased  []int64               // per shard, as last seen: leases (any process's)
	idle    bool                  // Redis was seen empty and without leases, for sure
	rr      int                   // shard to ask first next time
	down    bool                  // Redis did not answer the last call
	retry   time.Duration         // current back-off
	retryAt time.Time
	changed chan struct{}
}

// redisOp is an operation for claim.lua; then, if set, is queued for its
// shard once this one has been applied (a redirect hop queued on another
// shard before the lease it comes from ends).
type redisOp struct {
	args  []any
	then  *redisOp
	shard int
}

// redisClaim is a lease held: its shard and id there, and its entry as
// Redis holds it.
type redisClaim struct {
	shard       int
	id          int64
	host, entry string
}

// redisEntry is a queued URL in Redis (JSON in a host's list). A redirect
// hop carries the URL whose record it completes and the hops' fingerprints.
type redisEntry struct {
	URL      string   `json:"u"`
	Depth    int      `json:"d,omitempty"`
	Run      int      `json:"n,omitempty"`
	Attempts int      `json:"a,omitempty"`
	Hops     int      `json:"r,omitempty"`
	Origin   string   `json:"o,omitempty"`
	OHost    string   `json:"oh,omitempty"`
	ODepth   int      `json:"od,omitempty"`
	Seen     []uint64 `json:"s,omitempty"`
}

// newRedisFrontier opens the Redis frontier of c's Config: it fixes the
// number of shards of a new one, reads the seeds' hosts the other workers
// put in scope and the size of the frontier.
func (c *Crawler) newRedisFrontier(stored int) (*redisFrontier, error) {
	rdb := c.cfg.Redis
	f := &redisFrontier{
		rdb: rdb, log: c.log, addr: redisAddr(rdb), lease: c.cfg.Lease, meta: redisPrefix + ":{meta}:",
		held: map[uint64]redisClaim{}, slots: map[string][]uint64{}, done: stored, max: c.cfg.MaxPages,
		changed: make(chan struct{}, 1),
	}
	maxb := c.cfg.MaxBackoff
	if maxb <= 0 {
		maxb = defaultMaxBackoff
	}
	f.limits = func(host string) (int, float64, float64) {
		limit, perHost := c.cfg.Rate, c.cfg.PerHost
		if c.cfg.HostLimits != nil {
			limit, _, perHost = hostLimits(c.cfg.HostLimits, host, limit, c.cfg.Burst, perHost)
		}
		return perHost, ms(every(limit)), ms(maxb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), seedWait)
	defer cancel()
	shards := min(c.cfg.Shards, maxShards)
	if err := rdb.SetNX(ctx, f.meta+"shards", shards, 0).Err(); err != nil {
		return nil, f.wrap(err)
	}
	n, err := rdb.Get(ctx, f.meta+"shards").Int()
	if err != nil || n < 1 || n > maxShards {
		return nil, f.wrap(fmt.Errorf("bad shard count %d: %v", n, err))
	}
	f.shards = n
	f.ops = make([][]redisOp, n)
	f.pending, f.leased = make([]int64, n), make([]int64, n)
	hosts, err := rdb.SMembers(ctx, f.meta+"scope").Result()
	if err != nil {
		return nil, f.wrap(err)
	}
	for _, h := range hosts {
		c.addSeedHost(h)
	}
	for s := range n {
		if _, err := f.call(ctx, s, 0); err != nil {
			return nil, f.wrap(err)
		}
	}
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// redisAddr names the server of rdb for messages.
func redisAddr(rdb redis.UniversalClient) string {
	if c, ok := rdb.(*redis.Client); ok {
		return c.Options().Addr
	}
	return "redis"
}

func (f *redisFrontier) wrap(err error) error { return fmt.Errorf("redis at %s: %w", f.addr, err) }

// shardOf returns the shard of host's keys.
func (f *redisFrontier) shardOf(host string) int {
	return int(xxhash.Sum64String(host) % uint64(f.shards))
}

// prefix returns the key prefix of shard s, hash tag included.
func (f *redisFrontier) prefix(s int) string { return redisPrefix + ":{" + strconv.Itoa(s) + "}:" }

func (f *redisFrontier) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// queue adds an operation for shard s to be sent with its next call.
func (f *redisFrontier) queue(s int, op redisOp) {
	f.mu.Lock()
	f.ops[s] = append(f.ops[s], op)
	f.mu.Unlock()
	f.signal()
}

// call sends shard s's queued operations with a claim of up to want
// entries, and records the shard's size. The operations stay queued if
// Redis did not answer.
func (f *redisFrontier) call(ctx context.Context, s, want int) ([]any, error) {
	f.mu.Lock()
	ops := f.ops[s]
	f.ops[s] = nil
	f.mu.Unlock()
	args := make([]any, len(ops))
	for i, op := range ops {
		args[i] = op.args
	}
	js, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	p := f.prefix(s)
	cctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	res, err := claimScript.Run(cctx, f.rdb, []string{p + "ready"}, p, f.lease.Milliseconds(), want, js).Slice()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.ops[s] = append(ops, f.ops[s]...)
		return nil, err
	}
	for _, op := range ops {
		if op.then != nil {
			f.ops[op.then.shard] = append(f.ops[op.then.shard], *op.then)
		}
	}
	if len(res) < 4 {
		return nil, f.wrap(fmt.Errorf("claim: short reply %v", res))
	}
	f.pending[s], f.leased[s] = res[1].(int64), res[2].(int64)
	return res, nil
}

// transient reports whether err means Redis cannot answer now (down,
// restarting, loading its data) rather than a fault of the request.
func transient(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true // network, timeout, closed connection
	}
	msg := rerr.Error()
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// unreachable records a failed call and returns when to try again; the
// first failure of a series logs what the crawl waits for.
func (f *redisFrontier) unreachable(err error) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		f.down, f.retry = true, minRetry
		f.log.Warn("waiting for redis: the shared frontier does not answer; crawl paused, retrying with back-off",
			"redis", f.addr, "max_backoff", maxRetry, "err", err)
	} else {
		f.retry = min(2*f.retry, maxRetry)
	}
	f.retryAt = time.Now().Add(f.retry)
	return f.retryAt
}

// reachable records a successful call.
func (f *redisFrontier) reachable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.down = false
		f.log.Info("redis answers again: crawl resumed", "redis", f.addr)
	}
}

// next claims an entry of a ready host, asking the shards in turn (from a
// different one each time), and sends each shard's queued operations. When
// none is ready it says when to ask again: when the earliest host is
// ready, or after pollEvery at most, as other processes may add work.
func (f *redisFrontier) next(now time.Time) (job, bool, time.Time, error) {
	f.mu.Lock()
	if f.max > 0 && f.done+f.open >= f.max {
		defer f.mu.Unlock()
		return job{}, false, time.Time{}, nil
	}
	if f.down && now.Before(f.retryAt) {
		defer f.mu.Unlock()
		return job{}, false, f.retryAt, nil
	}
	start := f.rr
	f.rr = (f.rr + 1) % f.shards
	f.mu.Unlock()

	ctx := context.Background()
	var (
		got     job
		ok      bool
		wake    = pollEvery
		vers    = make([]int64, f.shards)
		workAll int64
	)
	for k := range f.shards {
		s := (start + k) % f.shards
		want := 1
		if ok {
			f.mu.Lock()
			nops := len(f.ops[s])
			f.mu.Unlock()
			if nops == 0 {
				continue
			}
			want = 0
		}
		res, err := f.call(ctx, s, want)
		if err != nil {
			if !transient(err) {
				return got, ok, time.Time{}, f.wrap(err)
			}
			return got, ok, f.unreachable(err), nil
		}
		f.reachable()
		if w := res[0].(int64); w >= 0 {
			wake = min(wake, time.Duration(w)*time.Millisecond)
		}
		workAll += res[1].(int64) + res[2].(int64)
		vers[s] = res[3].(int64)
		if len(res) >= 7 {
			got, err = f.claimed(s, res[4].(int64), res[5].(string), res[6].(string))
			if err != nil {
				return got, false, time.Time{}, err
			}
			ok = true
		}
	}
	if ok {
		return got, true, time.Time{}, nil
	}
	if workAll == 0 && f.quiet() {
		f.confirmIdle(ctx, vers)
	}
	return got, false, now.Add(wake), nil
}

// quiet reports whether this process has nothing claimed and nothing to
// send.
func (f *redisFrontier) quiet() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open > 0 {
		return false
	}
	for _, ops := range f.ops {
		if len(ops) > 0 {
			return false
		}
	}
	return true
}

// confirmIdle asks every shard again: if none changed since it was seen
// empty and without leases (vers), all were so at one moment — between the
// last first look and the first second look — and since only a lease
// holder adds work, the crawl is over.
func (f *redisFrontier) confirmIdle(ctx context.Context, vers []int64) {
	for s := range f.shards {
		res, err := f.call(ctx, s, 0)
		if err != nil || res[1].(int64)+res[2].(int64) != 0 || res[3].(int64) != vers[s] {
			return
		}
	}
	f.mu.Lock()
	f.idle = true
	f.mu.Unlock()
	f.signal()
}

// claimed turns lease id of shard s on entry of host into a job.
func (f *redisFrontier) claimed(s int, id int64, host, entry string) (job, error) {
	var e redisEntry
	if err := json.Unmarshal([]byte(entry), &e); err != nil {
		return job{}, f.wrap(fmt.Errorf("entry %q of %s: %v", entry, host, err))
	}
	lease := uint64(id)<<leaseShardBits | uint64(s)
	j := job{Entry: store.Entry{URL: e.URL, Host: host, Depth: e.Depth, Run: e.Run, Seq: lease},
		attempts: e.Attempts, hops: e.Hops, seen: e.Seen}
	if e.Origin != "" {
		j.origin = &store.Entry{URL: e.Origin, Host: e.OHost, Depth: e.ODepth, Seq: lease}
	}
	f.mu.Lock()
	f.held[lease] = redisClaim{shard: s, id: id, host: host, entry: entry}
	f.slots[host] = append(f.slots[host], lease)
	f.open++
	f.mu.Unlock()
	return j, nil
}

// forget drops lease from this process's books; f.mu is held.
func (f *redisFrontier) forget(lease uint64) {
	cl, ok := f.held[lease]
	if !ok {
		return
	}
	delete(f.held, lease)
	if i := slices.Index(f.slots[cl.host], lease); i >= 0 {
		f.slots[cl.host] = slices.Delete(f.slots[cl.host], i, i+1)
		if len(f.slots[cl.host]) == 0 {
			delete(f.slots, cl.host)
		}
	}
}

// release gives back a concurrency slot of host taken by one of this
// process's leases.
func (f *redisFrontier) release(host string) {
	f.mu.Lock()
	ls := f.slots[host]
	if len(ls) == 0 {
		f.mu.Unlock()
		return
	}
	lease := ls[len(ls)-1]
	if len(ls) == 1 {
		delete(f.slots, host)
	} else {
		f.slots[host] = ls[:len(ls)-1]
	}
	cl := f.held[lease]
	f.mu.Unlock()
	f.queue(cl.shard, redisOp{args: []any{"r", cl.id}})
}

// requeue puts j back at the front of its host's queue in Redis and ends
// the lease it was claimed under; its host is held until until.
func (f *redisFrontier) requeue(j job, until time.Time) {
	lease := j.record().Seq
	f.mu.Lock()
	cl, ok := f.held[lease]
	f.forget(lease)
	f.open--
	f.mu.Unlock()
	var fp, bucket string
	if j.origin != nil {
		// A redirect hop: its target is seen, crawl-wide.
		fp, bucket = seenMember(Fingerprint(j.URL))
	}
	s := f.shardOf(j.Host)
	op := redisOp{args: []any{"q", 0, j.Host, encodeRedisEntry(j), holdMS(until), fp, bucket}}
	switch {
	case ok && cl.shard == s:
		op.args[1] = cl.id
	case ok:
		op.then = &redisOp{args: []any{"d", cl.id}, shard: cl.shard}
	}
	f.queue(s, op)
}

func holdMS(until time.Time) int64 {
	if until.IsZero() {
		return 0
	}
	return max(0, time.Until(until).Milliseconds())
}

// seenMember returns fp as a seen-set member (a decimal integer, so that
// the set is an intset) and its bucket.
func seenMember(fp uint64) (member, bucket string) {
	return strconv.FormatInt(int64(fp), 10), strconv.FormatUint(fp>>32%seenBuckets, 10)
}

func encodeRedisEntry(j job) string {
	e := redisEntry{URL: j.URL, Depth: j.Depth, Run: j.Run, Attempts: j.attempts, Hops: j.hops, Seen: j.seen}
	if j.origin != nil {
		e.Origin, e.OHost, e.ODepth = j.origin.URL, j.origin.Host, j.origin.Depth
	}
	b, _ := json.Marshal(e) // strings and numbers only
	return string(b)
}

func (f *redisFrontier) abandon(n int) {
	f.mu.Lock()
	f.open -= n
	f.mu.Unlock()
	f.signal()
}

func (f *redisFrontier) hold(host string, until time.Time) {
	f.queue(f.shardOf(host), redisOp{args: []any{"h", host, holdMS(until)}})
}

func (f *redisFrontier) setCrawlDelay(host string, d time.Duration) {
	f.queue(f.shardOf(host), redisOp{args: []any{"c", host, max(d, 0).Milliseconds()}})
}

func (f *redisFrontier) observe(host string, ok bool, _ time.Duration) {
	v := 0
	if ok {
		v = 1
	}
	f.queue(f.shardOf(host), redisOp{args: []any{"o", host, v}})
}

// offer does nothing: links enter the shared queues when their batch is
// acknowledged, so that no other worker fetches a link whose page may yet
// be lost.
func (f *redisFrontier) offer([]store.Entry) {}

// commit stores b's pages (and seeds) in st, then acknowledges them in
// Redis with the links found: first on the shards that only get links,
// then on the shards of the leases, so that no moment shows the leases
// ended and their links not yet queued. It retries while Redis does not
// answer, until ctx is done.
func (f *redisFrontier) commit(ctx context.Context, st *store.Store, b *store.Batch) error {
	local := store.Batch{Seeds: b.Seeds, Done: make([]store.Done, len(b.Done))}
	for i, d := range b.Done {
		d.Entry.Seq = 0 // a lease, not a queue position in st
		local.Done[i] = d
	}
	if local.Len() > 0 {
		if err := st.Commit(&local); err != nil {
			return err
		}
	}
	type ack struct {
		A [][]any `json:"a"`
		D [][]any `json:"d"`
	}
	acks := make([]ack, f.shards)
	var scope []any
	for _, s := range b.Seeds {
		if h, err := hostOf(s); err == nil {
			scope = append(scope, h)
		}
	}
	for _, e := range b.Add {
		s := f.shardOf(e.Host)
		fp, bucket := seenMember(Fingerprint(e.URL))
		cap, base, maxb := f.limits(e.Host)
		acks[s].A = append(acks[s].A, []any{e.Host, fp, bucket, encodeRedisEntry(job{Entry: e}), cap, base, maxb})
	}
	f.mu.Lock()
	for _, d := range b.Done {
		if cl, ok := f.held[d.Entry.Seq]; ok {
			acks[cl.shard].D = append(acks[cl.shard].D, []any{cl.id, cl.host, cl.entry})
		}
	}
	f.mu.Unlock()
	order := make([]int, 0, f.shards)
	for s := range f.shards {
		if len(acks[s].A) > 0 && len(acks[s].D) == 0 {
			order = append(order, s)
		}
	}
	for s := range f.shards {
		if len(acks[s].D) > 0 {
			order = append(order, s)
		}
	}
	if len(scope) > 0 {
		if err := f.retrying(ctx, func(ctx context.Context) error {
			return f.rdb.SAdd(ctx, f.meta+"scope", scope...).Err()
		}); err != nil {
			return err
		}
	}
	for _, s := range order {
		js, err := json.Marshal(acks[s])
		if err != nil {
			return err
		}
		p := f.prefix(s)
		if err := f.retrying(ctx, func(ctx context.Context) error {
			res, err := ackScript.Run(ctx, f.rdb, []string{p + "ready"}, p, js).Int64Slice()
			if err == nil && len(res) == 4 {
				f.mu.Lock()
				f.pending[s], f.leased[s] = res[1], res[2]
				f.mu.Unlock()
			}
			return err
		}); err != nil {
			return fmt.Errorf("acknowledge %d URLs (stored in %s; they will be fetched again): %w", len(b.Done), st.Path(), err)
		}
	}
	f.mu.Lock()
	for _, d := range b.Done {
		f.forget(d.Entry.Seq)
	}
	f.open -= len(b.Done)
	f.done += storedIn(b)
	f.mu.Unlock()
	f.signal()
	return nil
}

// retrying runs fn until it succeeds, fails for a reason other than Redis
// being unreachable, or ctx is done, waiting with back-off between tries.
func (f *redisFrontier) retrying(ctx context.Context, fn func(context.Context) error) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, callWait)
		err := fn(cctx)
		cancel()
		if err == nil {
			f.reachable()
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return f.wrap(err)
		}
		t := time.NewTimer(time.Until(f.unreachable(err)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return f.wrap(err)
		}
	}
}

// stop gives back at once the leases this process holds (claimed, not
// acknowledged: abandoned fetches, acknowledgements that failed), after
// sending the operations still queued.
func (f *redisFrontier) stop(ctx context.Context) {
	f.mu.Lock()
	n := len(f.held)
	for lease, cl := range f.held {
		f.ops[cl.shard] = append(f.ops[cl.shard], redisOp{args: []any{"g", cl.id}})
		f.forget(lease)
	}
	f.mu.Unlock()
	if err := f.flush(ctx); err != nil {
		f.log.Warn("could not give leases back to redis: their URLs return when the leases expire",
			"redis", f.addr, "leases", n, "lease", f.lease, "err", err)
		return
	}
	if n > 0 {
		f.log.Info("gave leases back to redis", "redis", f.addr, "urls", n)
	}
}

// flush sends the queued operations of every shard, retrying while Redis
// does not answer until ctx is done.
func (f *redisFrontier) flush(ctx context.Context) error {
	for s := range f.shards {
		err := f.retrying(ctx, func(ctx context.Context) error {
			_, err := f.call(ctx, s, 0)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// finished reports whether the crawl is over: every shard was seen empty
// and without leases at one moment, and this process has nothing left.
func (f *redisFrontier) finished() bool {
	if !f.quiet() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idle || (f.max > 0 && f.done >= f.max)
}

func (f *redisFrontier) changes() <-chan struct{} { return f.changed }

// stats reports as queued the entries queued in Redis and those other
// processes hold, as last seen.
func (f *redisFrontier) stats() frontierStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pending, leased int64
	for s := range f.shards {
		pending += f.pending[s]
		leased += f.leased[s]
	}
	return frontierStats{queued: int(pending) + max(0, int(leased)-f.open), open: f.open, done: f.done}
}

// hostStates is not tracked for the Redis frontier.
func (f *redisFrontier) hostStates(time.Time) (ready, waiting, held int) { return 0, 0, 0 }

// robotsKey returns the key of origin's kept robots.txt answer, in the
// shard of its host.
func (f *redisFrontier) robotsKey(origin string) string {
	host := origin[strings.Index(origin, "://")+len("://"):]
	return f.prefix(f.shardOf(host)) + "robots:" + origin
}

// loadRobots reads origin's robots.txt answer as any worker kept it.
func (f *redisFrontier) loadRobots(ctx context.Context, origin string) (store.Robots, bool, error) {
	var v []byte
	err := f.retrying(ctx, func(ctx context.Context) error {
		var err error
		v, err = f.rdb.Get(ctx, f.robotsKey(origin)).Bytes()
		if errors.Is(err, redis.Nil) {
			v, err = nil, nil
		}
		return err
	})
	if err != nil || v == nil {
		return store.Robots{}, false, err
	}
	r, err := store.DecodeRobots(v)
	if err != nil {
		return store.Robots{}, false, fmt.Errorf("robots.txt of %s in redis: %w", origin, err)
	}
	return r, true, nil
}

// keepRobots keeps origin's robots.txt answer for every worker, at once:
// another worker may claim the host's next URL before this one commits.
// Redis forgets it a day after it was fetched (RFC 9309's longest cache).
func (f *redisFrontier) keepRobots(ctx context.Context, origin string, r store.Robots) error {
	ttl := max(time.Until(r.Fetched.Add(robotsKeep)), time.Second)
	return f.retrying(ctx, func(ctx context.Context) error {
		return f.rdb.Set(ctx, f.robotsKey(origin), store.EncodeRobots(r), ttl).Err()
	})
}

// Wait implements fetch.Pacer across processes (pace.lua): a permit is
// given when no other worker holds one for host and its interval has passed
// since the last request any worker sent it was written.
func (f *redisFrontier) Wait(ctx context.Context, host string) (func(time.Time), error) {
	p := f.prefix(f.shardOf(host))
	token := strconv.FormatUint(rand.Uint64(), 36)
	for {
		var wait int64
		err := f.retrying(ctx, func(ctx context.Context) error {
			var err error
			wait, err = paceScript.Run(ctx, f.rdb, []string{p + "ready"}, p, host, "w", token, permitHold.Milliseconds()).Int64()
			return err
		})
		switch {
		case err != nil:
			return nil, err
		case wait < 0:
			return func(time.Time) {}, nil
		case wait == 0:
			return func(at time.Time) { go f.sent(p, host, token, !at.IsZero()) }, nil
		}
		t := time.NewTimer(time.Duration(wait) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// sent ends permit token of host. It runs on its own goroutine: the fetcher
// reports a send from its connection's write path, which must not wait for
// Redis. Until Redis has it, the permit stays out, which only delays the
// host's next request; one that never arrives expires after permitHold.
func (f *redisFrontier) sent(p, host, token string, written bool) {
	ctx, cancel := context.WithTimeout(context.Background(), seedWait)
	defer cancel()
	w := "0"
	if written {
		w = "1"
	}
	_ = f.retrying(ctx, func(ctx context.Context) error {
		return paceScript.Run(ctx, f.rdb, []string{p + "ready"}, p, host, "s", token, w).Err()
	})
}
