package redisfrontier

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

// The Redis frontier's scripts: frontierScript is every call a worker makes
// on a shard (see common.lua for the layout, frontier.lua for what a call
// does); newCrawl fixes a new crawl's counts.
var (
	//go:embed common.lua
	luaCommon string
	//go:embed frontier.lua
	luaFrontier string

	frontierScript = redis.NewScript(luaCommon + luaFrontier)
	// newCrawl sets a new crawl's shard count and seen sets' count, and
	// returns the counts the crawl has.
	newCrawl = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
end
return redis.call('MGET', KEYS[1], KEYS[2])`)
)

const (
	redisPrefix = "crawl"
	// seenBuckets is the number of seen sets of a new crawl, over all its
	// shards (at least 4,096 a shard; a crawl keeps the count it started
	// with). Fingerprints are stored as decimal integers, so a set of up to
	// set-max-intset-entries (512 by default) members is an intset: 8 bytes
	// a URL, for crawls of up to 512·seenBuckets URLs (8M).
	seenBuckets = 16384
	// oldBuckets is the seen sets a shard of a crawl started before their
	// count was kept.
	oldBuckets = 4096
	// shardsPerMaster is how many shards a new frontier on a Redis Cluster
	// gets for each master, so that the cluster spreads them.
	shardsPerMaster = 4
	maxShards       = 1 << leaseShardBits
	// leaseShardBits: a lease's id in the crawler is its id in its shard
	// shifted left by this, or'ed with the shard.
	leaseShardBits = 10
	// maxClaim is the most URLs one call claims.
	maxClaim = 64

	pollEvery = 50 * time.Millisecond // longest wait before asking Redis again when nothing is ready
	callWait  = 5 * time.Second       // longest wait for one Redis call
	seedWait  = 10 * time.Second      // how long AddSeeds and the shutdown wait for Redis
	// permitHold bounds how long a worker's send permit keeps a host's
	// other requests waiting if the worker dies before it reports the send.
	permitHold = 15 * time.Second
	// permitWindow is how much of a paced host's time one claim may take:
	// as many of its URLs as its interval fits in this, under one permit.
	// Longer windows cost Redis less a page, and keep the fetch workers
	// that wait for their turn in the batch waiting longer.
	permitWindow = 25 * time.Millisecond
	// latencyEvery is how often a host's average response time is sent to
	// Redis at most, unless it halved or doubled (see Observe).
	latencyEvery = 100 * time.Millisecond
	// opsDelay is how long an operation (a released slot, a hold, …) may
	// wait for a call to carry it before its shard is called for it alone.
	// A call costs Redis about as much whatever it carries, so the longer
	// this, the fewer calls; a freed slot reaches the other workers that
	// much later.
	opsDelay = 25 * time.Millisecond
	// claimGap is how long a claim that came back empty (the hosts' free
	// slots taken) keeps the next one back, and one that came back short
	// its share of it: slots freed meanwhile are claimed together, in one
	// call rather than one call each.
	claimGap   = 6 * time.Millisecond
	scopeEvery = time.Second // how often the crawl's scope is checked for hosts other workers added
	minRetry   = 100 * time.Millisecond
	robotsKeep = 24 * time.Hour // how long Redis keeps a robots.txt answer
	maxRetry   = 5 * time.Second
)

// Frontier is a frontier shared by several crawl processes through one
// Redis: the per-host queues, the hosts' politeness state (send permits and
// a GCRA bucket on Redis's clock, Crawl-delay, holds, back-off, requests in
// flight against their cap), the leases of claimed URLs and the seen set
// live in Redis, split into shards hash-tagged "{n}" by host. Every change
// is one Lua script (frontier.lua) on one shard, every key it touches
// passed in KEYS, so that it is atomic and runs on Redis Cluster as well.
//
// One call carries everything this process has for the shard: the
// operations workers queued (release, requeue, hold, observe,
// setCrawlDelay, send reports), the acknowledgements of a commit with the
// links found, and claims of up to maxClaim URLs across the ready hosts.
// Claimed URLs wait in memory for a free worker. next claims under a lease
// of Config.Lease, renewed while the fetch lasts (keepLeases); commit
// stores the pages in this process's store first and then acknowledges
// them in Redis, so a crash in between means a refetch, never a loss. A
// lease's id is its fencing token: an acknowledgement, release or requeue
// under a lease that expired (and went to another worker) changes nothing
// of the new holder's. Each call has an id, and a call sent again after a
// lost reply gets its first reply back instead of being applied twice, so
// no lease it made is stranded. stop gives back what this process holds.
//
// Politeness holds across processes at the transport (Wait): a host with
// an interval lets one request go at a time, under a send permit, and the
// next after its bucket refills from the moment the last one was written.
// A claim of such a host carries the permit for its request, so that a
// page costs no call of its own for pacing; the write time is reported
// with a later call (see sent for why that stays exact).
//
// While Redis does not answer, next and commit retry with back-off (at
// most maxRetry apart) and log one line saying so: the crawl pauses and
// goes on when Redis is back. A Frontier is safe for concurrent use.
type Frontier struct {
	rdb      redis.UniversalClient
	log      *slog.Logger
	addr     string
	shards   int
	buckets  uint64       // seen sets a shard
	lastPos  atomic.Int64 // the last queue position made (queuePos)
	lease    time.Duration
	max      int // Config.MaxPages, for the whole crawl; 0: no limit
	limits   func(host string) []any
	meta     string // prefix of the crawl-wide keys
	id       string // this process's name in call ids
	epoch    time.Time
	workers  int               // Config.Workers
	addScope func(host string) // puts a host other workers added in scope
	callMu   []sync.Mutex      // per shard: one call at a time
	pend     []*redisCall      // per shard: a call whose reply was lost, to send again as it was; callMu held
	hintAt   []string          // per shard: the last entry of its seen hints read (see frontier.lua); callMu held
	markSeen atomic.Pointer[func(fps []uint64)]
	calls    atomic.Int64         // calls made, for their ids
	timers   []*time.Timer        // per shard: the call due for queued operations
	timerAt  []time.Time          // when each timer fires
	renewAt  map[uint64]time.Time // when each held lease was last claimed or renewed
	// loseReplies, in tests, is how many replies to drop as if the
	// connection broke after Redis ran the call.
	loseReplies atomic.Int32

	mu        sync.Mutex
	ops       [][]redisOp           // per shard: operations to send with its next call
	held      map[uint64]redisClaim // leases this process holds
	slots     map[string][]uint64   // host → held leases whose concurrency slot is still taken
	buf       []frontier.Job        // claimed, not yet handed out
	permits   map[string]*permit    // host → the send permit its last claims carried, while out
	unpaced   map[string]bool       // hosts whose last claim said they have no interval
	iv        map[string]time.Duration
	slowed    map[string]bool          // hosts backed off in Redis (see Observe)
	lat       map[string]frontier.Pace // host → this process's average response time
	latSent   map[string]time.Duration // host → the average last sent to Redis
	latAt     map[string]time.Time     // host → when it was sent
	latEvery  time.Duration            // the shortest time between two sends of a host's average
	open      int                      // claimed and not yet committed or requeued
	done      int                      // records in this process's store
	pending   []int64                  // per shard, as last seen: entries queued
	leased    []int64                  // per shard, as last seen: leases (any process's)
	idle      bool                     // Redis was seen empty and without leases, for sure
	rr        int                      // shard to ask first next time
	down      bool                     // Redis did not answer the last call
	retry     time.Duration
	retryAt   time.Time
	off, off0 int64     // bounds of Redis's clock minus this process's (µs), this second and the last
	offAt     time.Time // when off's second began
	owed      int       // budget units (MaxPages) to give back to the crawl
	spent     bool      // the crawl's MaxPages budget was seen spent
	scopeN    int64
	scopeAt   time.Time
	claimAt   time.Time // no claim before: see claimGap
	changed   chan struct{}

	noRenew     bool               // in tests: leases are renewed only by running keepLeases
	keeper      sync.WaitGroup     // keepLeases, while running
	stopKeeping context.CancelFunc // ends keepLeases; nil when not running
}

// rules are the politeness rules the script applies (see common.lua).
var rules = []any{ms(frontier.MinBackoff), frontier.SlowOnError, frontier.RecoverOnSuccess,
	frontier.SendMargin.Microseconds(), ms(permitWindow)}

// permit is a send permit of a host claimed with a batch of its URLs (see
// frontier.lua): while it is out, no other process sends to the host, and
// this one sends one request at a time, each at least the host's interval
// (margin included) after the last one was written. It ends — reported to
// Redis with the last write and the number of sends — when its uses are
// spent, when every lease claimed with it is released, or at until, well
// before Redis would take it back (permitHold).
type permit struct {
	token  int64
	uses   int           // requests it may still let go
	leases int           // leases claimed with it and not released
	gap    time.Duration // the host's interval, margin included
	until  time.Time
	busy   bool          // a request under it is not yet written
	freed  chan struct{} // closed when busy ends
	last   time.Time     // the last write under it (zero: none)
	lastUs int64         // its time on Redis's clock, an upper bound
	sends  int
}

// redisOp is an operation for frontier.lua; then, if set, is queued for its
// shard once this one has been applied (a redirect hop queued on another
// shard before the lease it comes from ends). seen, if set, is the seen
// set the operation names: its place in KEYS goes to args[keyAt].
type redisOp struct {
	args  []any
	then  *redisOp
	shard int
	seen  string
	keyAt int
}

// redisCall is a call as sent.
type redisCall struct {
	keys      []string
	args      []any
	ops       []redisOp
	permitFor string // the host whose permit the call asked for
	token     int64
}

// redisReply is a call's reply.
type redisReply struct {
	wake            int64 // ms; -1: no host ready later
	pending, leases int64
	ver             int64
	now             int64 // Redis's clock, µs
	permit          int64 // -2 not asked, -1 no interval, 0 given, else ms to wait
	claimed         int
}

// redisClaim is a lease held: its shard and id there, and its host.
type redisClaim struct {
	shard int
	id    int64
	host  string
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

// Config configures a Frontier. The zero value means the defaults in
// brackets.
type Config struct {
	// Limits pace each host, for all the processes together, by the same
	// rules as an embedded frontier (frontier.Pace): the script applies
	// the numbers given here and in frontier's rules.
	frontier.Limits
	MaxPerHost int // URLs of one host queued at most, all processes together; 0: no limit
	MaxPages   int // records stored by all processes together; 0: no limit
	// Lease is how long a URL claimed stays this process's: if it is not
	// done by then (the process died), it returns to its host's queue.
	// Keep it above the fetch timeout [2m].
	Lease time.Duration
	// Shards is the number of shards (Redis Cluster hash tags) of a new
	// frontier; one that exists keeps its own. 0: one on a single server,
	// where every call on another shard is a call more for the same work,
	// and 4 a master on a Redis Cluster, so that the shards spread [0].
	Shards  int
	Workers int // this process's fetch workers: the most URLs claimed at once [64]
	Stored  int // records already in this process's store (see Stats)
	Logger  *slog.Logger
}

// New opens the frontier held by rdb, shared with every process given the
// same Redis: it fixes the number of shards of a new one and checks that
// Redis answers within ctx. The caller owns rdb; Stop ends the frontier's
// use of it.
func New(ctx context.Context, rdb redis.UniversalClient, cfg Config) (*Frontier, error) {
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Frontier{
		rdb: rdb, log: cfg.Logger, addr: redisAddr(rdb), lease: cfg.Lease, meta: redisPrefix + ":{meta}:",
		id: strconv.FormatUint(rand.Uint64(), 36), epoch: time.Now(),
		held: map[uint64]redisClaim{}, slots: map[string][]uint64{}, done: cfg.Stored, max: cfg.MaxPages,
		permits: map[string]*permit{}, unpaced: map[string]bool{}, iv: map[string]time.Duration{}, slowed: map[string]bool{},
		lat: map[string]frontier.Pace{}, latSent: map[string]time.Duration{}, latAt: map[string]time.Time{}, latEvery: latencyEvery,
		renewAt: map[uint64]time.Time{}, off: math.MaxInt64, off0: math.MaxInt64,
		changed: make(chan struct{}, 1),
		workers: cfg.Workers, addScope: func(string) {},
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = frontier.DefaultMaxBackoff
	}
	f.limits = func(host string) []any {
		limit, burst, perHost := cfg.Limits.For(host)
		return []any{"k", host, perHost, ms(frontier.Every(limit)), ms(cfg.Limits.MaxBackoff), burst, cfg.MaxPerHost}
	}
	shards := cfg.Shards
	if shards <= 0 {
		var err error
		if shards, err = autoShards(ctx, rdb); err != nil {
			return nil, f.wrap(err)
		}
	}
	shards = min(shards, maxShards)
	// The shard count and the seen sets' count are set together, or not
	// at all for a crawl that has them (or, started before the seen sets'
	// count was kept, only a shard count).
	got, err := newCrawl.Run(ctx, rdb, []string{f.meta + "shards", f.meta + "buckets"},
		shards, max(oldBuckets, seenBuckets/shards)).Slice()
	if err != nil {
		return nil, f.wrap(err)
	}
	n, _ := strconv.Atoi(fmt.Sprint(got[0]))
	if n < 1 || n > maxShards {
		return nil, f.wrap(fmt.Errorf("bad shard count %v", got[0]))
	}
	f.shards, f.buckets = n, oldBuckets
	if got[1] != nil {
		if b, _ := strconv.Atoi(fmt.Sprint(got[1])); b > 0 {
			f.buckets = uint64(b)
		}
	}
	f.ops = make([][]redisOp, n)
	f.pending, f.leased = make([]int64, n), make([]int64, n)
	f.callMu, f.pend, f.hintAt = make([]sync.Mutex, n), make([]*redisCall, n), make([]string, n)
	f.timers, f.timerAt = make([]*time.Timer, n), make([]time.Time, n)
	for s := range n {
		if _, err := f.call(ctx, s, 0, "", 0); err != nil {
			return nil, f.wrap(err)
		}
	}
	return f, nil
}

// Seen makes mark be called, while the crawl runs, with the fingerprints
// of the URLs the other processes of the crawl queue (crawler.Config.
// SeenFrom), so that this one need not offer them again when it finds
// them: each would cost the shard a seen-set check for nothing.
func (f *Frontier) Seen(mark func(fps []uint64)) { f.markSeen.Store(&mark) }

// Scope makes add be called with every seed host any process of the crawl
// puts in scope: at once with those there are, and while the crawl runs
// with those added later (crawler.Config.ScopeFrom).
func (f *Frontier) Scope(add func(host string)) {
	f.mu.Lock()
	f.addScope, f.scopeN = add, 0
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), callWait)
	defer cancel()
	if err := f.refreshScope(ctx); err != nil {
		f.log.Warn("could not read the crawl's scope from redis; retrying while the crawl runs", "redis", f.addr, "err", err)
		f.mu.Lock()
		f.scopeAt = time.Time{}
		f.mu.Unlock()
	}
}

// refreshScope puts in scope the seeds' hosts any worker added, if their
// number changed since the last look.
func (f *Frontier) refreshScope(ctx context.Context) error {
	n, err := f.rdb.SCard(ctx, f.meta+"scope").Result()
	if err != nil {
		return err
	}
	f.mu.Lock()
	same := n == f.scopeN
	f.scopeAt = time.Now()
	f.mu.Unlock()
	if same {
		return nil
	}
	hosts, err := f.rdb.SMembers(ctx, f.meta+"scope").Result()
	if err != nil {
		return err
	}
	f.mu.Lock()
	add := f.addScope
	f.mu.Unlock()
	for _, h := range hosts {
		add(h)
	}
	f.mu.Lock()
	f.scopeN = int64(len(hosts))
	f.mu.Unlock()
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// redisAddr names the server of rdb for messages.
func redisAddr(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return "cluster " + strings.Join(c.Options().Addrs, ",")
	}
	return "redis"
}

func (f *Frontier) wrap(err error) error { return fmt.Errorf("redis at %s: %w", f.addr, err) }

// shardOf returns the shard of host's keys.
func (f *Frontier) shardOf(host string) int {
	return int(xxhash.Sum64String(host) % uint64(f.shards))
}

// prefix returns the key prefix of shard s, hash tag included.
func (f *Frontier) prefix(s int) string { return redisPrefix + ":{" + strconv.Itoa(s) + "}:" }

// seenKey returns the key of the seen set of fingerprint member bucket in
// shard s.
func (f *Frontier) seenKey(s int, bucket string) string { return f.prefix(s) + "seen:" + bucket }

func (f *Frontier) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// queue adds an operation for shard s, to be sent with its next call and
// at the latest after delay.
func (f *Frontier) queue(s int, op redisOp, delay time.Duration) {
	f.mu.Lock()
	f.ops[s] = append(f.ops[s], op)
	f.due(s, delay)
	f.mu.Unlock()
	f.signal()
}

// due makes sure shard s is called within delay; f.mu is held.
func (f *Frontier) due(s int, delay time.Duration) {
	at := time.Now().Add(delay)
	if pending := f.timerAt[s]; !pending.IsZero() && !pending.After(at) {
		return
	}
	f.timerAt[s] = at
	if f.timers[s] == nil {
		f.timers[s] = time.AfterFunc(delay, func() { f.flushShard(s) })
		return
	}
	f.timers[s].Reset(delay)
}

// flushShard sends shard s's queued operations (a timer's call).
func (f *Frontier) flushShard(s int) {
	f.mu.Lock()
	f.timerAt[s] = time.Time{}
	empty := len(f.ops[s]) == 0
	f.mu.Unlock()
	if empty {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), seedWait)
	defer cancel()
	if err := f.retrying(ctx, func(ctx context.Context) error {
		_, err := f.call(ctx, s, opsOnly, "", 0)
		return err
	}); err != nil {
		f.mu.Lock()
		f.due(s, maxRetry)
		f.mu.Unlock()
	}
}

// opsOnly, as call's want, makes no call unless there are operations to
// send: another call may have carried them while this one waited for
// callMu.
const opsOnly = -1

// call makes one call on shard s: it sends the shard's queued operations,
// asks for up to want claims (put in f.buf) and, if permitFor is set, for
// a send permit of that host under token. A call whose reply was lost is
// sent again, as it was, before anything else on the shard.
func (f *Frontier) call(ctx context.Context, s, want int, permitFor string, token int64) (redisReply, error) {
	f.callMu[s].Lock()
	defer f.callMu[s].Unlock()
	if c := f.pend[s]; c != nil {
		if _, err := f.send(ctx, s, c, false); err != nil {
			return redisReply{}, err
		}
	}
	f.mu.Lock()
	ops := f.ops[s]
	f.ops[s] = nil
	f.mu.Unlock()
	if want == opsOnly {
		if len(ops) == 0 {
			return redisReply{}, nil
		}
		want = 0
	}
	p := f.prefix(s)
	keys := []string{p + "ready", p + "queue", p + "hosts", p + "leases", p + "lease", p + "slot", p + "n", p + "gone", p + "hints"}
	at := map[string]int{}
	args := []any{f.id + ":" + strconv.FormatInt(f.calls.Add(1), 10), f.lease.Milliseconds(), want,
		permitFor, token, permitHold.Milliseconds()}
	args = append(args, rules...)
	args = append(args, f.hintAt[s])
	for _, op := range ops {
		if op.seen != "" {
			k, ok := at[op.seen]
			if !ok {
				keys = append(keys, op.seen)
				k = len(keys)
				at[op.seen] = k
			}
			op.args[op.keyAt] = k
		}
		args = append(args, op.args...)
	}
	c := &redisCall{keys: keys, ops: ops, permitFor: permitFor, token: token, args: args}
	f.pend[s] = c
	return f.send(ctx, s, c, true)
}

// await returns fn's results, or ctx's error as soon as ctx is done: a
// call to a Redis that does not answer blocks on its read until the
// client's read timeout whatever its context says, and a crawl that stops
// must not wait for that. fn runs on until then, and its results are
// dropped: the caller must not share variables with it that it reads after
// an early return. A call cut short this way may still reach Redis (the
// frontier's calls carry ids for that: see call).
func await[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// send sends call c on shard s (callMu held) and takes in its reply. An
// error that may have left the call applied keeps it to be sent again.
func (f *Frontier) send(ctx context.Context, s int, c *redisCall, first bool) (redisReply, error) {
	cctx, cancel := context.WithTimeout(ctx, callWait)
	defer cancel()
	t0 := time.Now()
	// cctx, not ctx: a Redis that accepts and never answers must fail the
	// call within callWait, so that the worker says it waits for Redis
	// (and a flush waiting for this shard's lock gets its turn).
	res, err := await(cctx, func() (string, error) { return frontierScript.Run(cctx, f.rdb, c.keys, c.args...).Text() })
	if err == nil && f.loseReplies.Load() > 0 {
		f.loseReplies.Add(-1)
		err = errLostReply
	}
	if err != nil {
		if !transient(err) {
			f.pend[s] = nil // refused, not applied
		}
		return redisReply{}, err
	}
	f.pend[s] = nil
	fields := strings.Split(res, "\x00")
	var r redisReply
	if len(fields) < 8 || (len(fields)-8)%6 != 0 {
		return r, f.wrap(fmt.Errorf("frontier: bad reply %q", res))
	}
	head := make([]int64, 6)
	for i := range head {
		if head[i], err = strconv.ParseInt(fields[i], 10, 64); err != nil {
			return r, f.wrap(fmt.Errorf("frontier: bad reply %q", res))
		}
	}
	r = redisReply{wake: head[0], pending: head[1], leases: head[2], ver: head[3], now: head[4], permit: head[5]}
	f.hintAt[s] = fields[6]
	if mark := f.markSeen.Load(); mark != nil && fields[7] != "" {
		var fps []uint64
		for _, d := range strings.Split(fields[7], ",") {
			if fp, err := strconv.ParseInt(d, 10, 64); err == nil {
				fps = append(fps, uint64(fp))
			}
		}
		(*mark)(fps)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, op := range c.ops {
		if op.then != nil {
			f.ops[op.then.shard] = append(f.ops[op.then.shard], *op.then)
			f.due(op.then.shard, 0)
		}
	}
	f.pending[s], f.leased[s] = r.pending, r.leases
	if first {
		// Redis's clock read during the call is at most its clock when
		// the call left plus the time since: an upper bound of the offset.
		if time.Since(f.offAt) > time.Second {
			f.off0, f.off, f.offAt = f.off, math.MaxInt64, time.Now()
		}
		f.off = min(f.off, r.now-t0.Sub(f.epoch).Microseconds())
	} else if c.permitFor != "" && r.permit == 0 {
		// The caller that asked for this permit has gone: give it back.
		f.ops[s] = append(f.ops[s], redisOp{args: []any{"s", c.permitFor, c.token, 0, 0}})
		f.due(s, 0)
	}
	for k := 8; k < len(fields); k += 6 {
		id, err1 := strconv.ParseInt(fields[k], 10, 64)
		iv, err2 := strconv.ParseInt(fields[k+4], 10, 64)
		if err1 != nil || err2 != nil {
			return r, f.wrap(fmt.Errorf("frontier: bad claim in reply %q", res))
		}
		if err := f.claimed(s, id, fields[k+1], fields[k+2], fields[k+3], time.Duration(iv)*time.Microsecond); err != nil {
			return r, err
		}
		if fields[k+5] == "1" {
			f.slowed[fields[k+1]] = true
		} else {
			delete(f.slowed, fields[k+1])
		}
		r.claimed++
	}
	return r, nil
}

// errLostReply stands, in tests, for a connection lost after a call was
// sent (see loseReplies).
var errLostReply = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset (test)")}

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
func (f *Frontier) unreachable(err error) time.Time {
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
func (f *Frontier) reachable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		f.down = false
		f.log.Info("redis answers again: crawl resumed", "redis", f.addr)
	}
}

// Next hands out a URL claimed earlier or claims more: up to one for each
// free worker, from the shards in turn (from a different one each time).
// When none is ready it says when to ask again: when the earliest host is
// ready, or after pollEvery at most, as other processes may add work.
//
// ctx bounds the calls: a crawl that stops does not wait for an
// unreachable Redis. A claim cut short may have been made in Redis with its
// reply lost; it stays pending, and Stop sends it again (its first reply
// comes back) and gives its leases back.
func (f *Frontier) Next(ctx context.Context, now time.Time) (frontier.Job, bool, time.Time, error) {
	f.keep()
	if j, ok := f.take(); ok {
		return j, true, time.Time{}, nil
	}
	f.mu.Lock()
	if f.down && now.Before(f.retryAt) {
		defer f.mu.Unlock()
		return frontier.Job{}, false, f.retryAt, nil
	}
	if next := f.claimAt; now.Before(next) {
		defer f.mu.Unlock()
		return frontier.Job{}, false, next, nil
	}
	start := f.rr
	f.rr = (f.rr + 1) % f.shards
	refresh := now.Sub(f.scopeAt) > scopeEvery
	f.mu.Unlock()

	if refresh {
		if err := f.refreshScope(ctx); err != nil {
			return f.failed(ctx, err)
		}
	}
	// Claims in bulk cost Redis far less a URL than one by one: as many as
	// there are workers (they wait here for the next free one).
	want := min(f.workers, maxClaim)
	if f.max > 0 {
		var err error
		// Not cut short by ctx: an increment applied with its reply
		// lost would take budget that nothing gives back.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callWait)
		want, err = f.reserve(rctx, want)
		cancel()
		if err != nil {
			return f.failed(ctx, err)
		}
		if want == 0 {
			return frontier.Job{}, false, now.Add(pollEvery), nil
		}
	}
	var (
		wake    = pollEvery
		vers    = make([]int64, f.shards)
		workAll int64
		got     int
		err     error
	)
	for k := range f.shards {
		s := (start + k) % f.shards
		var r redisReply
		if r, err = f.call(ctx, s, want-got, "", 0); err != nil {
			break
		}
		f.reachable()
		if r.wake >= 0 {
			wake = min(wake, time.Duration(r.wake)*time.Millisecond)
		}
		workAll += r.pending + r.leases
		vers[k] = r.ver
		if got += r.claimed; got >= want {
			break
		}
	}
	f.mu.Lock()
	if got < want {
		// The fewer it got, the longer until the next: a claim that got
		// nothing waits all of claimGap.
		f.claimAt = now.Add(claimGap * time.Duration(want-got) / time.Duration(want))
		if f.max > 0 {
			f.owed += want - got
		}
	} else {
		f.claimAt = time.Time{}
	}
	f.mu.Unlock()
	if j, ok := f.take(); ok {
		return j, true, time.Time{}, nil
	}
	if err != nil {
		return f.failed(ctx, err)
	}
	if workAll == 0 && f.quiet() {
		f.confirmIdle(ctx, start, vers)
	}
	return frontier.Job{}, false, now.Add(wake), nil
}

// failed turns a call's error into Next's results: Redis unreachable is
// waited for; a call cut short because the crawl stops is no failure.
func (f *Frontier) failed(ctx context.Context, err error) (frontier.Job, bool, time.Time, error) {
	if ctx.Err() != nil {
		return frontier.Job{}, false, time.Time{}, nil
	}
	if !transient(err) {
		return frontier.Job{}, false, time.Time{}, f.wrap(err)
	}
	return frontier.Job{}, false, f.unreachable(err), nil
}

// take hands out the oldest URL claimed and not yet handed out.
func (f *Frontier) take() (frontier.Job, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) == 0 {
		return frontier.Job{}, false
	}
	j := f.buf[0]
	f.buf[0] = frontier.Job{}
	f.buf = f.buf[1:]
	return j, true
}

// reserve takes up to want units of the crawl's MaxPages budget (records
// stored or URLs claimed, by all workers), giving back first what this
// process owes, and returns how many it got.
func (f *Frontier) reserve(ctx context.Context, want int) (int, error) {
	f.mu.Lock()
	owed := f.owed
	f.owed = 0
	f.mu.Unlock()
	n, err := f.rdb.IncrBy(ctx, f.meta+"budget", int64(want-owed)).Result()
	if err != nil {
		f.mu.Lock()
		f.owed += owed
		f.mu.Unlock()
		return 0, err
	}
	got := int(max(0, min(int64(want), int64(f.max)-(n-int64(want)))))
	if got < want {
		// At the end of the budget: what is not ours goes back at once,
		// or the other workers would see it spent.
		if err := f.rdb.DecrBy(ctx, f.meta+"budget", int64(want-got)).Err(); err != nil {
			f.mu.Lock()
			f.owed += want - got
			f.mu.Unlock()
		}
	}
	f.mu.Lock()
	f.spent = got == 0
	f.mu.Unlock()
	return got, nil
}

// giveBudget gives n units of the MaxPages budget back to the crawl (URLs
// claimed that made no record), with the next reservation.
func (f *Frontier) giveBudget(n int) {
	if f.max <= 0 || n == 0 {
		return
	}
	f.mu.Lock()
	f.owed += n
	f.mu.Unlock()
}

// quiet reports whether this process has nothing claimed and nothing to
// send.
func (f *Frontier) quiet() bool {
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
// empty and without leases (vers, from start on), all were so at one
// moment — between the last first look and the first second look — and
// since only a lease holder adds work, the crawl is over.
func (f *Frontier) confirmIdle(ctx context.Context, start int, vers []int64) {
	for k := range f.shards {
		r, err := f.call(ctx, (start+k)%f.shards, 0, "", 0)
		if err != nil || r.pending+r.leases != 0 || r.ver != vers[k] {
			return
		}
	}
	f.mu.Lock()
	f.idle = true
	f.mu.Unlock()
	f.signal()
}

// claimed takes in lease id of shard s on entry of host: a Job for a
// worker, with the send permit its claim carried (flag "p"), a use of the
// permit of the host's claim before it in the same reply ("b"), or none
// needed ("f"); iv is the host's interval, margin included. f.mu is held.
func (f *Frontier) claimed(s int, id int64, host, entry, flag string, iv time.Duration) error {
	var e redisEntry
	if err := json.Unmarshal([]byte(entry), &e); err != nil {
		return f.wrap(fmt.Errorf("entry %q of %s: %v", entry, host, err))
	}
	lease := uint64(id)<<leaseShardBits | uint64(s)
	j := frontier.Job{Entry: store.Entry{URL: e.URL, Host: host, Depth: e.Depth, Run: e.Run}, Lease: lease,
		Attempts: e.Attempts, Hops: e.Hops, Seen: e.Seen}
	if e.Origin != "" {
		j.Origin = &store.Entry{URL: e.Origin, Host: e.OHost, Depth: e.ODepth}
	}
	f.held[lease] = redisClaim{shard: s, id: id, host: host}
	f.renewAt[lease] = time.Now()
	f.slots[host] = append(f.slots[host], lease)
	f.iv[host] = iv
	switch flag {
	case "p":
		if old := f.permits[host]; old != nil {
			// Redis gave a new one: the old one ended there (it was given
			// back or taken back), so it ends here too, unreported.
			old.uses, old.leases = 0, 0
		}
		f.permits[host] = &permit{token: id, uses: 1, leases: 1, gap: iv, until: time.Now().Add(permitHold / 2)}
		delete(f.unpaced, host)
	case "b":
		if p := f.permits[host]; p != nil && p.token < id {
			p.uses++
			p.leases++
		}
		delete(f.unpaced, host)
	case "f":
		f.unpaced[host] = true
	default:
		delete(f.unpaced, host)
	}
	f.open++
	f.buf = append(f.buf, j)
	return nil
}

// forget drops lease from this process's books; f.mu is held.
func (f *Frontier) forget(lease uint64) {
	cl, ok := f.held[lease]
	if !ok {
		return
	}
	delete(f.held, lease)
	delete(f.renewAt, lease)
	if i := slices.Index(f.slots[cl.host], lease); i >= 0 {
		f.slots[cl.host] = slices.Delete(f.slots[cl.host], i, i+1)
		if len(f.slots[cl.host]) == 0 {
			delete(f.slots, cl.host)
		}
	}
}

// unusedPermit counts a lease of host done with (released or requeued)
// against the permit its claim carried, if one is out: with the last of
// them, the permit ends, once no request under it is being written. Any
// lease of host counts: it ends the permit sooner, never later. f.mu is
// held.
func (f *Frontier) unusedPermit(s int, host string) {
	if p := f.permits[host]; p != nil {
		if p.leases--; p.leases <= 0 && !p.busy {
			f.endPermit(s, host, p)
		}
	}
}

// endPermit queues the report that ends host's permit p, if it is still
// the host's, due within a quarter of the host's interval; f.mu is held.
func (f *Frontier) endPermit(s int, host string, p *permit) {
	if f.permits[host] != p {
		return
	}
	delete(f.permits, host)
	f.ops[s] = append(f.ops[s], redisOp{args: []any{"s", host, p.token, p.lastUs, p.sends}})
	f.due(s, min(max(p.gap/4, time.Millisecond), 25*time.Millisecond))
}

// Release gives back a concurrency slot of host taken by one of this
// process's leases, and the host's send permit if no request used it.
func (f *Frontier) Release(host string) {
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
	f.unusedPermit(cl.shard, host)
	f.mu.Unlock()
	f.queue(cl.shard, redisOp{args: []any{"r", cl.id, host}}, opsDelay)
}

// Requeue puts j back at the front of its host's queue in Redis and ends
// the lease it was claimed under; its host is held until until.
func (f *Frontier) Requeue(j frontier.Job, until time.Time) {
	lease := j.Lease
	s := f.shardOf(j.Host)
	f.mu.Lock()
	cl, ok := f.held[lease]
	f.forget(lease)
	f.open--
	if ok {
		f.unusedPermit(cl.shard, cl.host)
	}
	f.mu.Unlock()
	f.giveBudget(1)
	var fp, seen string
	keyAt := 0
	if j.Origin != nil {
		// A redirect hop: its target is seen, crawl-wide.
		var bucket string
		fp, bucket = f.seenMember(urlnorm.Fingerprint(j.URL))
		seen, keyAt = f.seenKey(s, bucket), 6
	}
	op := redisOp{args: []any{"q", 0, j.Host, encodeRedisEntry(j), holdMS(until), fp, 0}, seen: seen, keyAt: keyAt}
	switch {
	case ok && cl.shard == s:
		op.args[1] = cl.id
	case ok:
		op.then = &redisOp{args: []any{"e", cl.id}, shard: cl.shard}
	}
	f.mu.Lock()
	f.ops[s] = append(f.ops[s], redisOp{args: f.limits(j.Host)}, op)
	f.due(s, opsDelay)
	f.mu.Unlock()
	f.signal()
}

func holdMS(until time.Time) int64 {
	if until.IsZero() {
		return 0
	}
	return max(0, time.Until(until).Milliseconds())
}

// queuePos returns the position of a new URL in its host's queue (see
// common.lua): "1" and this process's clock in µs, increasing from one
// call to the next, so that a host's URLs go roughly in the order they
// were found by whichever worker. Made here, it costs the script nothing.
func (f *Frontier) queuePos() string {
	p := time.Now().UnixMicro()
	for {
		last := f.lastPos.Load()
		if p <= last {
			p = last + 1
		}
		if f.lastPos.CompareAndSwap(last, p) {
			return fmt.Sprintf("1%015x", p)
		}
	}
}

// seenMember returns fp as a seen-set member (a decimal integer, so that
// the set is an intset) and its bucket.
func (f *Frontier) seenMember(fp uint64) (member, bucket string) {
	return strconv.FormatInt(int64(fp), 10), strconv.FormatUint(fp>>32%f.buckets, 10)
}

// autoShards returns the shards of a new frontier when none were asked for:
// one on a single server, shardsPerMaster a master on a Redis Cluster.
func autoShards(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return 1, nil
	}
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return 0, err
	}
	masters := map[string]bool{}
	for _, r := range slots {
		if len(r.Nodes) > 0 {
			masters[r.Nodes[0].Addr] = true
		}
	}
	return shardsPerMaster * max(1, len(masters)), nil
}

func encodeRedisEntry(j frontier.Job) string {
	e := redisEntry{URL: j.URL, Depth: j.Depth, Run: j.Run, Attempts: j.Attempts, Hops: j.Hops, Seen: j.Seen}
	if j.Origin != nil {
		e.Origin, e.OHost, e.ODepth = j.Origin.URL, j.Origin.Host, j.Origin.Depth
	}
	b, _ := json.Marshal(e) // strings and numbers only
	return string(b)
}

func (f *Frontier) Abandon(n int) {
	f.mu.Lock()
	f.open -= n
	f.mu.Unlock()
	f.giveBudget(n)
	f.signal()
}

func (f *Frontier) Hold(host string, until time.Time) {
	f.queue(f.shardOf(host), redisOp{args: []any{"h", host, holdMS(until)}}, opsDelay)
}

// SetCrawlDelay sets host's Crawl-delay in Redis; until it is there, this
// process's requests to host ask Redis for their permits (the call that
// asks carries it).
func (f *Frontier) SetCrawlDelay(host string, d time.Duration) {
	f.mu.Lock()
	delete(f.unpaced, host)
	f.mu.Unlock()
	f.queue(f.shardOf(host), redisOp{args: []any{"c", host, max(d, 0).Milliseconds()}}, opsDelay)
}

// Observe feeds a request's outcome into host's back-off, kept in Redis
// for all the processes. This process keeps the average response time of
// its hosts by frontier.Pace's rule, and sends it when it moved by more
// than a tenth since it last did, at most once in latEvery unless it
// halved or doubled: the script applies the value it is given. (A
// response time jitters by more than a tenth from one page to the next on
// a busy host: sent each time, it cost Redis an operation a page.) A success is sent otherwise only while the host is backed off
// (as its last claim said, or since this process sent a failure), where
// it speeds the host up again: on a host that is not, it would change
// nothing, and most hosts have an interval (the latency term), so that
// sending each would cost Redis an operation a page.
func (f *Frontier) Observe(host string, ok bool, latency time.Duration) {
	v, lat := 0, ""
	f.mu.Lock()
	if ok {
		v = 1
		p := f.lat[host]
		p.Observe(true, latency)
		f.lat[host] = p
		if f.unpaced[host] && !f.slowed[host] {
			// No interval: its response times do not pace it (see
			// frontier.Pace.Interval); the average goes once it has one.
			f.mu.Unlock()
			return
		}
		sent := f.latSent[host]
		moved := p.Latency > sent+sent/10 || p.Latency < sent-sent/10
		if moved && p.Latency < 2*sent && p.Latency > sent/2 && time.Since(f.latAt[host]) < f.latEvery {
			moved = false // sent again when the time comes
		}
		if !moved && !f.slowed[host] {
			f.mu.Unlock()
			return
		}
		if moved {
			lat = strconv.FormatFloat(ms(p.Latency), 'f', 3, 64)
			f.latSent[host], f.latAt[host] = p.Latency, time.Now()
		}
	} else {
		delete(f.unpaced, host) // back-off may give it an interval
		f.slowed[host] = true
	}
	f.mu.Unlock()
	f.queue(f.shardOf(host), redisOp{args: []any{"o", host, v, lat}}, opsDelay)
}

func (f *Frontier) Offer([]store.Entry) {}

// Commit stores b's pages (and seeds) in st, then acknowledges them in
// Redis with the links found, one call a shard: first on the shards that
// only get links, then on the shards of the leases, so that no moment
// shows the leases ended and their links not yet queued. It retries while
// Redis does not answer, until ctx is done.
func (f *Frontier) Commit(ctx context.Context, st *store.Store, b *store.Batch) error {
	local := store.Batch{Seeds: b.Seeds, Done: b.Done}
	if local.Len() > 0 {
		if err := st.Commit(&local); err != nil {
			return err
		}
	}
	var scope []any
	for _, s := range b.Seeds {
		if u, err := url.Parse(s); err == nil {
			scope = append(scope, u.Host)
		}
	}
	ops := make([][]redisOp, f.shards)
	hosts := map[string]bool{}
	for _, e := range b.Add {
		s := f.shardOf(e.Host)
		if !hosts[e.Host] {
			hosts[e.Host] = true
			ops[s] = append(ops[s], redisOp{args: f.limits(e.Host)})
		}
		fp, bucket := f.seenMember(urlnorm.Fingerprint(e.URL))
		m := e.Host + "\x00" + f.queuePos() + encodeRedisEntry(frontier.Job{Entry: e})
		ops[s] = append(ops[s], redisOp{args: []any{"a", e.Host, fp, 0, m}, seen: f.seenKey(s, bucket), keyAt: 3})
	}
	leases := make([]bool, f.shards)
	norecord := 0
	f.mu.Lock()
	for _, d := range b.Done {
		if d.Page == nil {
			norecord++
		}
		if cl, ok := f.held[d.Lease]; ok {
			ops[cl.shard] = append(ops[cl.shard], redisOp{args: []any{"d", cl.id, cl.host}})
			leases[cl.shard] = true
		}
	}
	f.mu.Unlock()
	order := make([]int, 0, f.shards)
	for s := range f.shards {
		if len(ops[s]) > 0 && !leases[s] {
			order = append(order, s)
		}
	}
	for s := range f.shards {
		if leases[s] {
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
		f.mu.Lock()
		f.ops[s] = append(f.ops[s], ops[s]...)
		f.mu.Unlock()
		if err := f.retrying(ctx, func(ctx context.Context) error {
			_, err := f.call(ctx, s, opsOnly, "", 0)
			return err
		}); err != nil {
			return fmt.Errorf("acknowledge %d URLs (stored in %s; they will be fetched again): %w", len(b.Done), st.Path(), err)
		}
	}
	f.mu.Lock()
	for _, d := range b.Done {
		f.forget(d.Lease)
	}
	f.open -= len(b.Done)
	f.done += frontier.Stored(b)
	f.mu.Unlock()
	f.giveBudget(norecord)
	f.signal()
	return nil
}

// retrying runs fn until it succeeds, fails for a reason other than Redis
// being unreachable, or ctx is done, waiting with back-off between tries.
func (f *Frontier) retrying(ctx context.Context, fn func(context.Context) error) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, callWait)
		_, err := await(ctx, func() (struct{}, error) { return struct{}{}, fn(cctx) })
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

// Stop gives back at once the leases this process holds (claimed, not
// acknowledged: abandoned fetches, acknowledgements that failed, claims
// not handed out), after sending the operations still queued, and the
// MaxPages budget they held.
func (f *Frontier) Stop(ctx context.Context) {
	f.mu.Lock()
	stopKeeping := f.stopKeeping
	f.stopKeeping = nil
	f.mu.Unlock()
	if stopKeeping != nil {
		stopKeeping()
		f.keeper.Wait()
	}
	// First the calls whose replies were lost (a claim cut short by the
	// crawl stopping): sent again, they bring back the leases they made.
	if err := f.flush(ctx); err != nil {
		f.mu.Lock()
		n := len(f.held)
		f.mu.Unlock()
		f.log.Warn("could not give leases back to redis: their URLs return when the leases expire",
			"redis", f.addr, "leases", n, "lease", f.lease, "err", err)
		return
	}
	f.mu.Lock()
	n := len(f.held)
	for lease, cl := range f.held {
		f.ops[cl.shard] = append(f.ops[cl.shard], redisOp{args: []any{"g", cl.id}})
		f.forget(lease)
	}
	f.owed += len(f.buf)
	f.open -= len(f.buf)
	f.buf = nil
	for _, t := range f.timers {
		if t != nil {
			t.Stop()
		}
	}
	owed := f.owed
	f.owed = 0
	for s := range f.shards {
		f.ops[s] = append(f.ops[s], redisOp{args: []any{"z"}})
	}
	f.mu.Unlock()
	if err := f.flush(ctx); err != nil {
		f.log.Warn("could not give leases back to redis: their URLs return when the leases expire",
			"redis", f.addr, "leases", n, "lease", f.lease, "err", err)
		return
	}
	if f.max > 0 && owed > 0 {
		f.rdb.DecrBy(ctx, f.meta+"budget", int64(owed))
	}
	if n > 0 {
		f.log.Info("gave leases back to redis", "redis", f.addr, "urls", n)
	}
}

// flush sends the queued operations of every shard, retrying while Redis
// does not answer until ctx is done.
func (f *Frontier) flush(ctx context.Context) error {
	for s := range f.shards {
		err := f.retrying(ctx, func(ctx context.Context) error {
			_, err := f.call(ctx, s, opsOnly, "", 0)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// keep starts renewing the leases this process holds (keepLeases), if it
// has not: from its first claim until Stop.
func (f *Frontier) keep() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopKeeping != nil || f.noRenew {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.stopKeeping = cancel
	f.keeper.Go(func() { f.keepLeases(ctx) })
}

// keepLeases renews, until ctx is done, the leases this process holds
// longer than a third of Config.Lease, so that a fetch (or a commit) that
// outlasts a lease keeps its URL. A renewal that comes too late (the lease
// expired and went to another worker) renews nothing.
func (f *Frontier) keepLeases(ctx context.Context) {
	t := time.NewTicker(max(f.lease/6, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		old := time.Now().Add(-f.lease / 3)
		for lease, at := range f.renewAt {
			if at.Before(old) {
				cl := f.held[lease]
				f.ops[cl.shard] = append(f.ops[cl.shard], redisOp{args: []any{"x", cl.id}})
				f.due(cl.shard, 0)
				f.renewAt[lease] = time.Now()
			}
		}
		f.mu.Unlock()
	}
}

// Finished reports whether the crawl is over: every shard was seen empty
// and without leases at one moment, or the crawl's MaxPages budget is
// spent, and this process has nothing left.
func (f *Frontier) Finished() bool {
	if !f.quiet() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.idle || (f.max > 0 && f.spent)
}

func (f *Frontier) Changes() <-chan struct{} { return f.changed }

// Stats reports as queued the entries queued in Redis and those other
// processes hold, as last seen.
func (f *Frontier) Stats(time.Time) frontier.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pending, leased int64
	for s := range f.shards {
		pending += f.pending[s]
		leased += f.leased[s]
	}
	return frontier.Stats{Queued: int(pending) + max(0, int(leased)-f.open), Open: f.open, Done: f.done}
}

// robotsKey returns the key of origin's kept robots.txt answer, in the
// shard of its host.
func (f *Frontier) robotsKey(origin string) string {
	host := origin[strings.Index(origin, "://")+len("://"):]
	return f.prefix(f.shardOf(host)) + "robots:" + origin
}

// LoadRobots reads origin's robots.txt answer as any worker kept it.
func (f *Frontier) LoadRobots(ctx context.Context, origin string) (store.Robots, bool, error) {
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

// KeepRobots keeps origin's robots.txt answer for every worker, at once:
// another worker may claim the host's next URL before this one commits.
// Redis forgets it a day after it was fetched (RFC 9309's longest cache).
func (f *Frontier) KeepRobots(ctx context.Context, origin string, r store.Robots) error {
	ttl := max(time.Until(r.Fetched.Add(robotsKeep)), time.Second)
	return f.retrying(ctx, func(ctx context.Context) error {
		return f.rdb.Set(ctx, f.robotsKey(origin), store.EncodeRobots(r), ttl).Err()
	})
}

// Wait implements fetch.Pacer across processes. A host this process
// last claimed without an interval needs no permit; a permit that came
// with a claim of the host is used at once; otherwise Redis is asked (with
// the shard's queued operations, the host's send reports among them) until
// it gives one: when no other worker holds one for host and its bucket
// holds a token.
func (f *Frontier) Wait(ctx context.Context, host string) (func(time.Time), error) {
	s := f.shardOf(host)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		f.mu.Lock()
		if f.unpaced[host] {
			f.mu.Unlock()
			return func(time.Time) {}, nil
		}
		p := f.permits[host]
		if p == nil {
			f.mu.Unlock()
			break
		}
		var wait <-chan time.Time
		freed := p.freed
		if !p.busy {
			now := time.Now()
			if p.uses <= 0 || !now.Before(p.until) {
				f.endPermit(s, host, p)
				f.mu.Unlock()
				continue
			}
			if at := p.last.Add(p.gap); p.last.IsZero() || !now.Before(at) {
				p.busy, p.freed = true, make(chan struct{})
				p.uses--
				f.mu.Unlock()
				return f.sentUnder(s, host, p), nil
			}
			t.Reset(p.last.Add(p.gap).Sub(now))
			wait, freed = t.C, nil
		}
		f.mu.Unlock()
		select {
		case <-freed:
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	token := -rand.Int64N(1 << 31)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var r redisReply
		err := f.retrying(ctx, func(ctx context.Context) error {
			var err error
			r, err = f.call(ctx, s, 0, host, token)
			return err
		})
		switch {
		case err != nil:
			return nil, err
		case r.permit == -1:
			return func(time.Time) {}, nil
		case r.permit == 0:
			return f.sent(s, host, token), nil
		}
		t.Reset(time.Duration(r.permit) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sent returns the function the fetcher calls when the request under
// permit token of host was written (at; zero: not written). It queues the
// report for the shard's next call, due within a quarter of the host's
// interval, and does not wait for Redis: the fetcher calls it from its
// connection's write path.
//
// Why a late report stays exact: until it arrives, the permit is out and no
// other request to host can go, from any worker. The report carries the
// write time on Redis's clock as an upper bound — this process's monotonic
// time of the write plus the smallest of (Redis's clock read in a call −
// the moment that call left here) over the last second or two. Redis read
// its clock after the call left, so each such difference is at least the
// true offset between the two clocks: the write is dated no earlier than
// it happened, and the next request, paced from that date, leaves no
// earlier than it may. The cost of the bound is at most one round trip.
func (f *Frontier) sent(s int, host string, token int64) func(time.Time) {
	return func(at time.Time) {
		var us int64
		f.mu.Lock()
		if !at.IsZero() {
			us = at.Sub(f.epoch).Microseconds() + 1 + min(f.off, f.off0)
		}
		delay := min(max(f.iv[host]/4, time.Millisecond), 25*time.Millisecond)
		f.ops[s] = append(f.ops[s], redisOp{args: []any{"s", host, token, us, 1}})
		f.due(s, delay)
		f.mu.Unlock()
	}
}

// sentUnder returns the function the fetcher calls when a request under
// host's permit p was written (at; zero: not written): the next request
// under p may leave an interval later, and p ends if it has no use or no
// lease left. The write time is dated on Redis's clock as in sent.
func (f *Frontier) sentUnder(s int, host string, p *permit) func(time.Time) {
	return func(at time.Time) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !at.IsZero() {
			p.last, p.lastUs = at, at.Sub(f.epoch).Microseconds()+1+min(f.off, f.off0)
			p.sends++
		}
		p.busy = false
		close(p.freed)
		if p.uses <= 0 || p.leases <= 0 {
			f.endPermit(s, host, p)
		}
	}
}
