package frontier

import (
	"container/heap"
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/store"
)

// LoadFunc reads up to n pending entries of host with Seq > after from the
// store, in queue order.
type LoadFunc func(host string, after uint64, n int) ([]store.Entry, error)

// Embedded is the frontier of one crawl process, over the store: it holds the pending URLs as per-host FIFO queues and a heap of the
// hosts that may be fetched from, ordered by the time their next request is
// allowed (their rate limiter's next token). Each queue keeps a small window
// of entries in memory; the rest stay in the store and are loaded as the
// window drains, so memory does not grow with the crawl.
//
// It also counts the URLs handed out but not yet committed ("open"), so that
// the crawl knows when it is over. A frontier is safe for concurrent use.
//
// A host's next request is allowed at the later of its limiter's next token
// and its hold (Retry-After, retry back-off). Its limiter runs at the
// configured rate or slower: Crawl-delay, errors and slow responses lengthen
// the interval (see retune); nothing makes it faster than configured.
type Embedded struct {
	mu    sync.Mutex
	hosts map[string]*hostQueue
	units map[string]*politeness // by key: a host's name, or "ip:" and its address (perIP)
	// The hosts with work and a free slot, by the time they may go: those
	// in play (see inPlay) in playing, the others in ready. A host in play
	// whose time has come goes before the others (see nextLocked).
	ready   readyHeap
	playing readyHeap
	load    LoadFunc
	window  int
	limits  Limits

	queued   int    // entries pending, in memory or in the store
	seq      uint64 // the last queue position given out (see assign)
	open     int    // entries handed out by next and not yet completed
	done     int    // entries completed (pages stored), this run and before
	maxPages int    // stop handing out once done+open reaches this; 0: no limit
	// out holds the queue positions of the entries handed out and not yet
	// committed, which are still in the store: a host dropped while its
	// last entries were being committed (see sweep) and met again loads
	// its queue from the start, and must not hand them out twice.
	out map[uint64]struct{}

	changed chan struct{} // signalled (never blocking) when work may have become ready

	// resumed, when set, is when this process took over a crawl that an
	// earlier one began: any host may have had a request from it just
	// before, so every host's first request waits one interval from then.
	resumed time.Time

	// lookupIP looks a host's name up (the fetcher's LookupIP, whose
	// cache the dial then reads). With perIP, hosts that resolve to one
	// address go under one politeness (Config.PerIP). resolved, if set,
	// says whether a host's lookup is cached (fetch.Client.Resolved).
	// A host whose lookup is neither cached nor, with perIP, done is
	// looked up on a goroutine of the frontier before its turn, not by a
	// worker (see next): at most maxLookups at once, the others waiting in
	// lookupQueue, out of the ready heap.
	lookupIP    func(ctx context.Context, host string) (netip.Addr, error)
	perIP       bool
	resolved    func(host string) bool
	maxLookups  int
	lookups     int          // lookups running
	lookupQueue []*hostQueue // hosts waiting for a lookup, in order
	lookupCtx   context.Context
	stopLookups context.CancelFunc
	lookupWG    sync.WaitGroup

	// Hosts that have nothing to do cost memory for nothing: once one has
	// no work, nothing in flight and its politeness is at rest (see
	// atRest), sweep drops it, keeping in rest only what a new hostQueue
	// would not restore on its own. idle lists the hosts that may be so.
	idle      []*hostQueue
	waiting   []*hostQueue // hosts with work between turns, whose politeness may come to rest
	lastSweep time.Time
	rest      map[string]restNote
	// onEmpty, if set, is called (outside the lock) with each host that
	// sweep dropped: it has had nothing to do for a moment.
	onEmpty func(host string)
}

// restNote is what the frontier keeps of a dropped host whose politeness
// is not the configured one: its Crawl-delay, and its back-off factor if
// it was alone in its politeness.
type restNote struct {
	crawlDelay time.Duration
	slow       float64
}

// sweepEvery is how often next looks for hosts to drop.
const sweepEvery = time.Second

// hostQueue is one host's queue. Its politeness (rate, concurrency cap,
// holds, back-off) is p, its own or shared with the other hosts at its
// address (Config.PerIP); p is nil until the host's turn first comes (see
// unitOf), since a new politeness is at rest: a wide crawl's hosts waiting
// for their turn cost their queue only.
type hostQueue struct {
	name    string
	entries []Job  // in-memory window, FIFO; retries and redirect hops go first
	lastSeq uint64 // highest Seq ever put in the window
	spill   bool   // the store may hold entries after lastSeq
	// unstored counts offered entries that did not fit in the window and
	// whose batch is not committed yet: the store will hold them after
	// lastSeq, so spill stays set until they are loaded.
	unstored   int
	inflight   int           // this host's requests in p.inflight
	crawlDelay time.Duration // its robots.txt Crawl-delay
	resolved   bool          // p is the unit of the host's address (PerIP)
	looking    bool          // being looked up or waiting for it (out of the heap)
	listed     bool          // in the frontier's idle list
	waiting    bool          // in the frontier's waiting list
	lastOut    time.Time     // when an entry was last handed out
	p          *politeness
	readyAt    time.Time
	heap       *readyHeap // the heap it is in (ready or playing), or nil
	index      int        // in heap, or -1
}

// politeness is the pacing of one unit of politeness: a host, or with
// Config.PerIP every host at one address. A host's requests are handed out
// by limiter and sent through gate; both run at the configured rate or
// slower (see retune).
type politeness struct {
	key      string
	queues   []*hostQueue // the hosts it paces
	inflight int
	limit    rate.Limit    // configured rate (Config or HostLimits)
	limiter  *rate.Limiter // taken when a URL is handed out
	// gate has the limiter's interval and burst but times them from when
	// requests were written (see Wait): it absorbs the delays between
	// hand-out and send, so the host never sees requests closer than its
	// interval.
	gate sendGate

	holdUntil time.Time // no request before this (Retry-After, retry back-off)
	// Pace holds the configured interval and concurrency cap, and what
	// stretches the interval: Crawl-delay (the longest of its hosts'),
	// back-off and latency (see retune).
	Pace
}

func (h *hostQueue) hasWork() bool { return len(h.entries) > 0 || h.spill }

// inPlayFor is how long after its last hand-out a host whose window has
// drained still counts as in play.
const inPlayFor = 2 * time.Second

// inPlay reports whether h is being crawled: it has entries in memory or in
// flight, or had one handed out a moment ago. New entries of a host that is
// not in play wait in the store, where its turn will find them: a wide
// crawl meets many hosts long before their turn.
func (h *hostQueue) inPlay(now time.Time) bool {
	return len(h.entries) > 0 || h.inflight > 0 || now.Sub(h.lastOut) < inPlayFor
}

// Config configures an Embedded frontier.
type Config struct {
	Limits       // how hosts are paced
	Window   int // entries of each host's queue kept in memory [64]
	MaxPages int // hand out no more once this many records are stored (this run and before); 0: no limit
	// Resumed, if set, is when this process took over a crawl that an
	// earlier one began: any host may have had a request from it just
	// before, so every host's first request waits one interval from then.
	Resumed time.Time

	// LookupIP looks a host's name up (the fetcher's, whose cache the dial
	// then reads); nil: no lookups. With PerIP, the hosts that resolve to
	// one address share one politeness. Resolved, if set, says whether a
	// host's lookup is cached. A host whose lookup is neither cached nor,
	// with PerIP, done is looked up on a goroutine of the frontier before
	// its turn, not by a worker: at most MaxLookups at once [1].
	LookupIP   func(ctx context.Context, host string) (netip.Addr, error)
	PerIP      bool
	Resolved   func(host string) bool
	MaxLookups int
	// OnEmpty, if set, is called with each host that has had nothing to do
	// for a moment (its connections may be closed).
	OnEmpty func(host string)
}

// New returns an embedded frontier whose queues are in the store, read
// through load. Call Restore with the store's counts before use.
func New(cfg Config, load LoadFunc) *Embedded {
	if cfg.Window <= 0 {
		cfg.Window = 64
	}
	return &Embedded{
		hosts:      map[string]*hostQueue{},
		out:        map[uint64]struct{}{},
		units:      map[string]*politeness{},
		load:       load,
		window:     cfg.Window,
		limits:     cfg.Limits,
		maxPages:   cfg.MaxPages,
		resumed:    cfg.Resumed,
		lookupIP:   cfg.LookupIP,
		perIP:      cfg.PerIP,
		resolved:   cfg.Resolved,
		maxLookups: cfg.MaxLookups,
		onEmpty:    cfg.OnEmpty,
		changed:    make(chan struct{}, 1),
	}
}

func (f *Embedded) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *Embedded) host(name string) *hostQueue {
	h := f.hosts[name]
	if h == nil {
		h = &hostQueue{name: name, index: -1}
		f.hosts[name] = h
		if n, ok := f.rest[name]; ok {
			delete(f.rest, name)
			h.crawlDelay = n.crawlDelay
			if f.units[name] == nil && n.slow > 1 {
				f.unit(name, name).Slow = n.slow
			}
			f.join(h, name)
		}
		f.listIdle(h) // until it has work
	}
	return h
}

// unitOf returns h's politeness, made when first needed: a host whose turn
// has not come has none (see hostQueue.p).
func (f *Embedded) unitOf(h *hostQueue) *politeness {
	if h.p == nil {
		f.join(h, h.name)
	}
	return h.p
}

// listIdle puts h in the idle list if it is not there.
func (f *Embedded) listIdle(h *hostQueue) {
	if !h.listed {
		h.listed = true
		f.idle = append(f.idle, h)
	}
}

// sweep drops the idle hosts that have nothing to do and whose politeness
// is at rest, and keeps in the idle list those that may become so. It
// returns the hosts dropped, for onEmpty: a host's connections are closed
// once it has had nothing to do for a moment, not each time its queue
// empties while its pages are being found.
func (f *Embedded) sweep(now time.Time) (dropped []string) {
	f.lastSweep = now
	kept := f.idle[:0]
	for _, h := range f.idle {
		switch {
		case h.hasWork() || h.looking:
			h.listed = false // listed again when its queue empties
		case h.inflight == 0 && h.unstored == 0 && f.atRest(h, now):
			h.listed = false
			f.drop(h)
			dropped = append(dropped, h.name)
		default:
			kept = append(kept, h)
		}
	}
	clear(f.idle[len(kept):])
	f.idle = kept
	// A host between turns whose politeness is at rest keeps its queue
	// only: its politeness is made again at its next turn (unitOf).
	waiting := f.waiting[:0]
	for _, h := range f.waiting {
		switch u := h.p; {
		case u == nil || h.inflight > 0 || !h.hasWork() || u.key != h.name || len(u.queues) > 1 || u.Slow > 1:
			h.waiting = false
		case f.atRest(h, now):
			h.waiting = false
			delete(f.units, u.key)
			h.p = nil
		default:
			waiting = append(waiting, h)
		}
	}
	clear(f.waiting[len(waiting):])
	f.waiting = waiting
	return dropped
}

// atRest reports whether h's politeness is as a new one would be: nothing
// in flight, no hold, its limiter full and its send gate open. A host
// dropped then is met again with nothing owed to its rate.
func (f *Embedded) atRest(h *hostQueue, now time.Time) bool {
	u := h.p
	if u == nil || len(u.queues) > 1 {
		return true // the others keep u
	}
	if u.inflight > 0 || u.holdUntil.After(now) {
		return false
	}
	if lim := u.limiter.Limit(); lim != rate.Inf && u.limiter.TokensAt(now) < float64(u.limiter.Burst()) {
		return false
	}
	return u.gate.atRest(now)
}

// drop forgets h, which has nothing to do: its politeness goes with it if
// no other host shares it, with a note of what a new one would not know.
func (f *Embedded) drop(h *hostQueue) {
	u := h.p
	if u == nil {
		delete(f.hosts, h.name)
		return
	}
	n := restNote{crawlDelay: h.crawlDelay}
	if len(u.queues) == 1 && u.Slow > 1 {
		n.slow = u.Slow
	}
	if n != (restNote{}) {
		if f.rest == nil {
			f.rest = map[string]restNote{}
		}
		f.rest[h.name] = n
	}
	u.queues = slices.DeleteFunc(u.queues, func(q *hostQueue) bool { return q == h })
	if len(u.queues) == 0 {
		delete(f.units, u.key)
	} else {
		f.retune(u, time.Now())
	}
	delete(f.hosts, h.name)
	h.p = nil
}

// unit returns the politeness of key, made with the limits of host if new.
func (f *Embedded) unit(key, host string) *politeness {
	u := f.units[key]
	if u == nil {
		limit, burst, perHost := f.limits.For(host)
		u = &politeness{key: key, limiter: rate.NewLimiter(limit, burst), limit: limit,
			Pace: Pace{Every: Every(limit), PerHost: perHost, MaxBackoff: f.limits.maxBackoff(), Slow: 1}}
		u.gate.set(u.Every, burst)
		if !f.resumed.IsZero() {
			u.gate.record(f.resumed)
		}
		f.units[key] = u
	}
	return u
}

// join puts h under the politeness of key, with its requests in flight;
// a politeness that paces no host any more is dropped.
func (f *Embedded) join(h *hostQueue, key string) {
	if h.p != nil && h.p.key == key {
		return
	}
	u := f.unit(key, h.name)
	now := time.Now()
	if old := h.p; old != nil {
		old.inflight -= h.inflight
		old.queues = slices.DeleteFunc(old.queues, func(q *hostQueue) bool { return q == h })
		if len(old.queues) == 0 {
			delete(f.units, old.key)
		}
		f.retune(old, now)
		f.reschedule(old, now)
	}
	u.inflight += h.inflight
	u.queues = append(u.queues, h)
	h.p = u
	f.retune(u, now)
	f.reschedule(u, now)
}

// reschedule schedules every host of u after a change to u.
func (f *Embedded) reschedule(u *politeness, now time.Time) {
	for _, q := range u.queues {
		f.schedule(q, now)
	}
}

// Restore registers hosts whose queues are in the store, the counts of a
// previous run and the last queue position the store has given out.
func (f *Embedded) Restore(hosts []string, pending, done int, seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq = max(f.seq, seq)
	now := time.Now()
	for _, name := range hosts {
		h := f.host(name)
		h.spill = true
		f.schedule(h, now)
	}
	f.queued += pending
	f.done += done
	f.signal()
}

// schedule puts h in the ready heap, or updates its place, if it has work and
// a free concurrency slot; otherwise it takes h out of the heap.
func (f *Embedded) schedule(h *hostQueue, now time.Time) {
	if !h.hasWork() || h.looking || (h.p != nil && h.p.inflight >= h.p.PerHost) {
		f.unready(h)
		return
	}
	at := now // a new politeness: its limiter is full, nothing holds it
	if h.p != nil {
		at = nextToken(h.p.limiter, now)
		if h.p.holdUntil.After(at) {
			at = h.p.holdUntil
		}
	}
	if at.After(now) || h.readyAt.IsZero() || !h.readyAt.Before(at) {
		h.readyAt = at
	}
	// Else h may go now and keeps its place: a host whose rate lets it
	// go again at once (no limit) is crawled on while it has work, its
	// connections in use, rather than sent behind every other host, which
	// in a wide crawl would see its idle connections closed first.
	q := &f.ready
	if h.inPlay(now) {
		q = &f.playing
	}
	if h.heap == q {
		heap.Fix(q, h.index)
		return
	}
	f.unready(h)
	heap.Push(q, h)
}

// unready takes h out of its heap, if it is in one.
func (f *Embedded) unready(h *hostQueue) {
	if h.heap != nil {
		heap.Remove(h.heap, h.index)
	}
}

// readyHosts returns the number of hosts with work and a free slot.
func (f *Embedded) readyHosts() int { return f.ready.Len() + f.playing.Len() }

// top returns the host to consider next: the first host in play whose
// time has come, else the first of the others; nil if there is none.
// Hosts in play go first so that a wide crawl finishes the hosts it is in
// (their first page after robots.txt, the links their pages found) while
// their connections are open, before it starts others: left to the order
// of their times alone, a host whose limiter (or the latency term of its
// back-off) puts its next request a moment ahead would go behind every host
// not yet started, and a crawl of 100,000 hosts would hold all of them in
// play at once.
func (f *Embedded) top(now time.Time) *hostQueue {
	switch {
	case f.playing.Len() > 0 && !f.playing[0].readyAt.After(now):
		return f.playing[0]
	case f.ready.Len() > 0 && f.playing.Len() > 0:
		if f.playing[0].readyAt.Before(f.ready[0].readyAt) {
			return f.playing[0]
		}
		return f.ready[0]
	case f.ready.Len() > 0:
		return f.ready[0]
	case f.playing.Len() > 0:
		return f.playing[0]
	}
	return nil
}

// nextToken returns when lim will next allow one event.
func nextToken(lim *rate.Limiter, now time.Time) time.Time {
	if lim.Limit() == rate.Inf {
		return now
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return now
	}
	return now.Add(time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second)))
}

// assign gives each entry without a queue position (Seq 0) the next one,
// and returns how many it gave. Positions rise in the order entries reach
// the frontier, which is the order their batches are committed in.
func (f *Embedded) assign(entries []store.Entry) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.assignLocked(entries)
}

func (f *Embedded) assignLocked(entries []store.Entry) (n int) {
	for i := range entries {
		if entries[i].Seq == 0 {
			f.seq++
			entries[i].Seq = f.seq
			n++
		}
	}
	return n
}

// Offer queues entries before the batch that stores them is committed, so
// that a link is fetched as soon as it is found rather than a commit later
// (on a slow host, each round of discovery would otherwise wait for one).
// It gives them their queue positions, which the commit then writes. Those
// that do not fit in their host's window stay out of memory, as spilled
// entries do, and complete queues them once they are in the store.
//
// Nothing is lost to a crash: an entry fetched before its batch is
// committed has its record committed in the same batch or a later one (the
// committer takes results in order), and the store writes a batch's new
// entries before it removes its done ones.
func (f *Embedded) Offer(entries []store.Entry) {
	if len(entries) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assignLocked(entries)
	f.queued += len(entries)
	f.enqueue(entries, time.Now(), true)
	f.signal()
}

// enqueue puts entries, in queue order, into their hosts' windows where
// they fit, none of the host's queue is left in the store before them and
// the host is in play (see inPlay); the others stay in the store until the
// host's turn comes (see next). An entry at or before a host's last
// windowed position is there already. offered says that the entries are
// not in the store yet (see offer).
func (f *Embedded) enqueue(entries []store.Entry, now time.Time, offered bool) {
	for _, e := range entries {
		h := f.host(e.Host)
		switch {
		case e.Seq <= h.lastSeq:
			// In the window already (offered, or loaded by a refill).
		case !h.spill && len(h.entries) < f.windowFor(h) && h.inPlay(now):
			h.entries = append(h.entries, Job{Entry: e})
			h.lastSeq = e.Seq
		default:
			h.spill = true
			if offered {
				h.unstored++
			}
		}
		if h.heap == nil {
			f.schedule(h, now)
		}
	}
}

// complete queues entries that the store has just committed and completes n
// handed-out entries, of which stored left a record (the others, such as a
// host's missing /sitemap.xml, left none), in one step, so that no observer
// sees the crawl idle between the two. Of the entries, the last fresh did
// not go through offer (which counted the others as queued).
func (f *Embedded) complete(n, stored int, entries []store.Entry, fresh int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open -= n
	f.done += stored
	f.queued += fresh
	for _, e := range entries[:len(entries)-fresh] {
		// An offered entry after its host's window spilled: it is in the
		// store now. (No refill can have passed it: spill stayed set.)
		if h := f.host(e.Host); e.Seq > h.lastSeq && h.unstored > 0 {
			h.unstored--
		}
	}
	f.enqueue(entries, time.Now(), false)
	f.signal()
}

// Next hands out the next entry of a host whose time has come and takes a
// token from its limiter. If none is ready it returns ok=false and the time
// the earliest host will be ready (zero if no host has work now).
func (f *Embedded) Next(_ context.Context, now time.Time) (e Job, ok bool, wake time.Time, err error) {
	f.mu.Lock()
	var done []string
	if now.Sub(f.lastSweep) >= sweepEvery {
		done = f.sweep(now)
	}
	e, ok, wake, err = f.nextLocked(now)
	f.mu.Unlock()
	if f.onEmpty != nil {
		for _, host := range done {
			f.onEmpty(host)
		}
	}
	return e, ok, wake, err
}

func (f *Embedded) nextLocked(now time.Time) (e Job, ok bool, wake time.Time, err error) {
	for f.readyHosts() > 0 {
		if f.maxPages > 0 && f.done+f.open >= f.maxPages {
			return e, false, time.Time{}, nil
		}
		h := f.top(now)
		if h.readyAt.After(now) {
			return e, false, h.readyAt, nil
		}
		if f.needsLookup(h) {
			if f.lookups+len(f.lookupQueue) >= 2*max(f.maxLookups, 1) {
				// Enough hosts are being looked up: the next to finish
				// goes first (see lookUp) and signals.
				return e, false, time.Time{}, nil
			}
			f.unready(h)
			f.lookUp(h)
			continue
		}
		if len(h.entries) == 0 {
			if err := f.refill(h); err != nil {
				return e, false, time.Time{}, err
			}
			if len(h.entries) == 0 {
				f.unready(h)
				if h.inflight == 0 {
					f.listIdle(h)
				}
				continue
			}
		}
		if !f.unitOf(h).limiter.AllowN(now, 1) {
			f.schedule(h, now) // rounding: recompute its time
			continue
		}
		e = h.entries[0]
		f.out[e.Record().Seq] = struct{}{}
		h.entries[0] = Job{}
		h.entries = h.entries[1:]
		if len(h.entries) == 0 {
			h.entries = nil // let the backing array go
		}
		h.inflight++
		h.p.inflight++
		h.lastOut = now
		f.queued--
		f.open++
		f.reschedule(h.p, now)
		return e, true, time.Time{}, nil
	}
	return e, false, time.Time{}, nil
}

// wideHeap is the number of ready hosts beyond which a crawl is wide: a
// host's turn then comes back only after many others', and its window
// holds what it can be handed out at one turn (see windowFor).
const wideHeap = 256

// windowFor returns how many entries of h's queue to hold in memory: the
// configured window, or in a wide crawl, where the entries of a host would
// wait in memory for its next turn behind thousands of others, what one
// turn hands out (its concurrency, at least 4). A host without a rate limit
// keeps the whole window: its turn does not end while it has work and a
// free slot (see readyHeap), so its entries do not wait for others; with
// less, the links of its pages would wait for their batch's commit, its
// slots would go to other hosts, and its idle connections would be closed
// (the global idle cap) before its next request.
func (f *Embedded) windowFor(h *hostQueue) int {
	if f.readyHosts() <= wideHeap || f.unlimited(h) {
		return f.window
	}
	return min(f.window, max(f.limits.PerHost, 4))
}

// unlimited reports whether h has no rate limit.
func (f *Embedded) unlimited(h *hostQueue) bool {
	if h.p != nil {
		return h.p.limiter.Limit() == rate.Inf
	}
	lim, _, _ := f.limits.For(h.name)
	return lim == rate.Inf
}

// refill loads the next window of h's queue from the store.
func (f *Embedded) refill(h *hostQueue) error {
	if !h.spill {
		return nil
	}
	n := f.windowFor(h)
	entries, err := f.load(h.name, h.lastSeq, n)
	if err != nil {
		return err
	}
	if len(entries) < n && h.unstored == 0 {
		h.spill = false
	}
	for _, e := range entries {
		h.lastSeq = e.Seq
		if _, out := f.out[e.Seq]; !out {
			h.entries = append(h.entries, Job{Entry: e})
		}
	}
	return nil
}

// Release returns a concurrency slot of host after a fetch. A host left
// with nothing to do goes to the idle list (see sweep).
func (f *Embedded) Release(host string) {
	f.mu.Lock()
	h := f.hosts[host] // not dropped: it has a request in flight
	h.inflight--
	h.p.inflight--
	f.reschedule(h.p, time.Now())
	empty := h.inflight == 0 && !h.hasWork()
	if empty {
		f.listIdle(h)
	} else if h.inflight == 0 && !h.waiting {
		h.waiting = true
		f.waiting = append(f.waiting, h)
	}
	f.signal()
	f.mu.Unlock()
}

// needsLookup reports whether h's name is to be looked up before its turn.
func (f *Embedded) needsLookup(h *hostQueue) bool {
	if f.lookupIP == nil {
		return false
	}
	if f.perIP && !h.resolved {
		return true
	}
	return f.resolved != nil && !f.resolved(h.name)
}

// lookUp looks h's name up on a goroutine of its own, or queues it for one
// if maxLookups are running; h stays out of the ready heap until it is
// done, and then goes to its top. next looks up at most 2 × maxLookups
// hosts ahead, far fewer than the DNS cache holds. f.mu is held.
func (f *Embedded) lookUp(h *hostQueue) {
	h.looking = true
	if f.lookups >= max(f.maxLookups, 1) {
		f.lookupQueue = append(f.lookupQueue, h)
		return
	}
	if f.lookupCtx == nil {
		f.lookupCtx, f.stopLookups = context.WithCancel(context.Background())
	}
	f.lookups++
	ctx := f.lookupCtx
	f.lookupWG.Go(func() {
		ip, err := f.lookupIP(ctx, h.name)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.lookups--
		h.looking = false
		if f.perIP && !h.resolved && err == nil {
			// An address that cannot be had leaves the host on its own:
			// its request fails on its dial, at once from the cache.
			f.join(h, "ip:"+ip.String())
		}
		h.resolved = true
		if now := time.Now(); ctx.Err() == nil {
			f.schedule(h, now)
			if h.heap != nil && !h.readyAt.After(now) {
				// Its turn had come: it goes before the hosts still to be
				// looked up, which would otherwise pass it by (their turn
				// came earlier) until its lookup had left the cache.
				h.readyAt = time.Time{}
				heap.Fix(h.heap, h.index)
			}
		}
		for len(f.lookupQueue) > 0 && f.lookups < max(f.maxLookups, 1) && ctx.Err() == nil {
			next := f.lookupQueue[0]
			f.lookupQueue[0] = nil
			f.lookupQueue = f.lookupQueue[1:]
			next.looking = false
			f.lookUp(next)
		}
		f.signal()
	})
}

// stopLookups cancels the lookups running and waits for them; the hosts
// waiting for theirs go back to the heap (for a next Run).
func (f *Embedded) stopLooking() {
	f.mu.Lock()
	cancel := f.stopLookups
	f.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	f.lookupWG.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookupCtx, f.stopLookups = nil, nil
	now := time.Now()
	for _, h := range f.lookupQueue {
		h.looking = false
		f.schedule(h, now)
	}
	f.lookupQueue = nil
	for _, h := range f.hosts {
		if h.looking {
			h.looking = false
			f.schedule(h, now)
		}
	}
}

// Requeue puts a handed-out Job back at the front of its host's queue (a
// retry, or the next hop of a redirect, possibly on another host) and holds
// that host until until (zero: no hold). The Job counts as queued again.
func (f *Embedded) Requeue(j Job, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.host(j.Host)
	f.unitOf(h)
	h.entries = append([]Job{j}, h.entries...)
	f.open--
	f.queued++
	if u := f.unitOf(h); until.After(u.holdUntil) {
		u.holdUntil = until
		f.reschedule(u, time.Now())
	} else {
		f.schedule(h, time.Now())
	}
	f.signal()
}

// Hold holds host: no request is handed out for it before until.
func (f *Embedded) Hold(host string, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unitOf(f.host(host))
	if until.After(u.holdUntil) {
		u.holdUntil = until
		f.reschedule(u, time.Now())
	}
}

// SetCrawlDelay sets host's robots.txt Crawl-delay, which lengthens its
// interval if it is longer than the configured one.
func (f *Embedded) SetCrawlDelay(host string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.host(host)
	h.crawlDelay = max(d, 0)
	f.retune(f.unitOf(h), time.Now())
}

// Observe feeds the outcome of a request to host into its adaptive
// back-off: ok is false for retryable failures (timeouts, connection errors,
// 5xx, 429); latency is the response time of a success.
func (f *Embedded) Observe(host string, ok bool, latency time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unitOf(f.host(host))
	u.Observe(ok, latency)
	f.retune(u, time.Now())
}

// Interval returns the time host's limiter now leaves between requests
// (the inverse of its rate; 0 for no limit). For tests and stats.
func (f *Embedded) Interval(host string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim := f.unitOf(f.host(host)).limiter.Limit()
	if lim == rate.Inf || lim <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(lim))
}

// retune sets u's limiter to its Pace's interval (see Pace.Interval),
// Crawl-delay being the longest of its hosts'.
func (f *Embedded) retune(u *politeness, now time.Time) {
	u.CrawlDelay = 0
	for _, q := range u.queues {
		u.CrawlDelay = max(u.CrawlDelay, q.crawlDelay)
	}
	iv := u.Interval()
	lim := u.limit
	if iv > 0 {
		lim = min(u.limit, rate.Every(iv))
	}
	if old := u.limiter.Limit(); lim != old {
		u.limiter.SetLimitAt(now, lim)
		u.gate.set(Every(lim), u.limiter.Burst())
		if old == rate.Inf {
			// An unlimited limiter kept no account of the request that
			// led here (robots.txt, an error): count it now.
			u.limiter.ReserveN(now, u.limiter.Burst())
		}
		f.reschedule(u, now)
	}
}

// Wait implements fetch.Pacer: the fetcher asks it before every request to
// host it sends (robots.txt, redirect hops and retries as well as pages),
// and the host's send gate lets the request go once its interval has passed
// since the previous one left (see sendGate). A URL is handed out only when
// the host's limiter allows it, so the wait is short: the difference between
// when the last request was handed out and when it left.
//
// With PerIP, a host not yet looked up (next looks up those it hands out;
// robots.txt redirects may lead to others) is looked up here, outside the
// frontier's lock, and joins the politeness of every host at it.
func (f *Embedded) Wait(ctx context.Context, host string) (func(time.Time), error) {
	f.mu.Lock()
	h := f.host(host)
	resolve := f.perIP && !h.resolved
	g := &f.unitOf(h).gate
	f.mu.Unlock()
	if resolve {
		// An address that cannot be had leaves the host on its own: the
		// request then fails on its dial, as it would anyway.
		if ip, err := f.lookupIP(ctx, host); err == nil {
			f.mu.Lock()
			h = f.host(host) // the same, unless it was dropped meanwhile
			h.resolved = true
			f.join(h, "ip:"+ip.String())
			g = &h.p.gate
			f.mu.Unlock()
		}
	}
	return g.wait(ctx)
}

// Abandon returns n handed-out entries that will not be completed in this
// run (the crawl is stopping; they stay pending in the store).
func (f *Embedded) Abandon(n int) {
	f.mu.Lock()
	f.open -= n
	f.mu.Unlock()
	f.signal()
}

// Stats is a snapshot of a frontier's counters.
type Stats struct {
	Queued int // URLs pending, not handed out
	Open   int // URLs handed out, not yet committed
	Done   int // records stored, this run and before (for a shared frontier: by this process)
	Hosts  int // hosts in memory
	// Hosts with work by state: Ready (a free slot and a token), Waiting
	// (a free slot, no token yet) and Held (no free slot).
	Ready, Waiting, Held int
}

// HostsInMemory returns the number of hosts the frontier holds.
func (f *Embedded) HostsInMemory() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hosts)
}

// Stats returns the frontier's counters at now. It walks every host with
// work, so it is for progress and metrics, not for hot paths.
func (f *Embedded) Stats(now time.Time) Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Stats{Queued: f.queued, Open: f.open, Done: f.done, Hosts: len(f.hosts)}
	for _, h := range slices.Concat(f.ready, f.playing) {
		if h.readyAt.After(now) {
			s.Waiting++
		} else {
			s.Ready++
		}
	}
	for _, h := range f.hosts {
		if h.heap == nil && h.hasWork() && h.p != nil && h.p.inflight >= h.p.PerHost {
			s.Held++
		}
	}
	return s
}

// Finished reports whether there is nothing left to do: nothing queued (or
// the page limit reached) and nothing handed out.
func (f *Embedded) Finished() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open > 0 {
		return false
	}
	return f.queued == 0 || (f.maxPages > 0 && f.done >= f.maxPages)
}

// readyHeap orders hosts by readyAt.
type readyHeap []*hostQueue

func (q readyHeap) Len() int           { return len(q) }
func (q readyHeap) Less(i, j int) bool { return q[i].readyAt.Before(q[j].readyAt) }
func (q readyHeap) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *readyHeap) Push(x any) {
	h := x.(*hostQueue)
	h.index, h.heap = len(*q), q
	*q = append(*q, h)
}
func (q *readyHeap) Pop() any {
	old := *q
	h := old[len(old)-1]
	old[len(old)-1] = nil
	h.index, h.heap = -1, nil
	*q = old[:len(old)-1]
	return h
}
