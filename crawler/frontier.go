package crawler

import (
	"container/heap"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/store"
)

// loadFunc reads up to n pending entries of host with Seq > after from the
// store, in queue order.
type loadFunc func(host string, after uint64, n int) ([]store.Entry, error)

// frontier holds the pending URLs as per-host FIFO queues and a heap of the
// hosts that may be fetched from, ordered by the time their next request is
// allowed (their rate limiter's next token). Each queue keeps a small window
// of entries in memory; the rest stay in the store and are loaded as the
// window drains, so memory does not grow with the crawl.
//
// It also counts the URLs handed out but not yet committed ("open"), so that
// the crawl knows when it is over. A frontier is safe for concurrent use.
type frontier struct {
	mu      sync.Mutex
	hosts   map[string]*hostQueue
	ready   readyHeap
	load    loadFunc
	window  int
	perHost int
	limit   rate.Limit
	burst   int
	limits  func(host string) (rate.Limit, int, int) // per-host override; may be nil

	queued   int // entries pending, in memory or in the store
	open     int // entries handed out by next and not yet completed
	done     int // entries completed (pages stored), this run and before
	maxPages int // stop handing out once done+open reaches this; 0: no limit

	changed chan struct{} // signalled (never blocking) when work may have become ready
}

// hostQueue is one host's queue and politeness state.
type hostQueue struct {
	name     string
	entries  []store.Entry // in-memory window, FIFO
	lastSeq  uint64        // highest Seq ever put in the window
	spill    bool          // the store may hold entries after lastSeq
	inflight int
	perHost  int // concurrency cap
	limiter  *rate.Limiter
	readyAt  time.Time
	index    int // in the ready heap, or -1
}

func (h *hostQueue) hasWork() bool { return len(h.entries) > 0 || h.spill }

type frontierConfig struct {
	window, perHost, burst, maxPages int
	limit                            rate.Limit
	limits                           func(host string) (rate.Limit, int, int)
}

func newFrontier(cfg frontierConfig, load loadFunc) *frontier {
	return &frontier{
		hosts:    map[string]*hostQueue{},
		load:     load,
		window:   cfg.window,
		perHost:  cfg.perHost,
		limit:    cfg.limit,
		burst:    cfg.burst,
		limits:   cfg.limits,
		maxPages: cfg.maxPages,
		changed:  make(chan struct{}, 1),
	}
}

func (f *frontier) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *frontier) host(name string) *hostQueue {
	h := f.hosts[name]
	if h == nil {
		limit, burst, perHost := f.limit, f.burst, f.perHost
		if f.limits != nil {
			limit, burst, perHost = hostLimits(f.limits, name, limit, burst, perHost)
		}
		h = &hostQueue{name: name, limiter: rate.NewLimiter(limit, burst), perHost: perHost, index: -1}
		f.hosts[name] = h
	}
	return h
}

// restore registers hosts whose queues are in the store, and the counts of a
// previous run.
func (f *frontier) restore(hosts []string, pending, done int) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
func (f *frontier) schedule(h *hostQueue, now time.Time) {
	if !h.hasWork() || h.inflight >= h.perHost {
		if h.index >= 0 {
			heap.Remove(&f.ready, h.index)
		}
		return
	}
	h.readyAt = nextToken(h.limiter, now)
	if h.index >= 0 {
		heap.Fix(&f.ready, h.index)
	} else {
		heap.Push(&f.ready, h)
	}
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

// add queues entries that the store has just committed (their Seq is set) and
// completes n handed-out entries, in one step, so that no observer sees the
// crawl idle between the two.
func (f *frontier) complete(n int, entries []store.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.open -= n
	f.done += n
	for _, e := range entries {
		h := f.host(e.Host)
		f.queued++
		switch {
		case e.Seq <= h.lastSeq:
			// Already loaded from the store by a refill.
		case !h.spill && len(h.entries) < f.window:
			h.entries = append(h.entries, e)
			h.lastSeq = e.Seq
		default:
			h.spill = true
		}
		if h.index < 0 {
			f.schedule(h, now)
		}
	}
	f.signal()
}

// next hands out the next entry of a host whose time has come and takes a
// token from its limiter. If none is ready it returns ok=false and the time
// the earliest host will be ready (zero if no host has work now).
func (f *frontier) next(now time.Time) (e store.Entry, ok bool, wake time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.ready.Len() > 0 {
		if f.maxPages > 0 && f.done+f.open >= f.maxPages {
			return e, false, time.Time{}, nil
		}
		h := f.ready[0]
		if h.readyAt.After(now) {
			return e, false, h.readyAt, nil
		}
		if len(h.entries) == 0 {
			if err := f.refill(h); err != nil {
				return e, false, time.Time{}, err
			}
			if len(h.entries) == 0 {
				heap.Remove(&f.ready, h.index)
				continue
			}
		}
		if !h.limiter.AllowN(now, 1) {
			f.schedule(h, now) // rounding: recompute its time
			continue
		}
		e = h.entries[0]
		h.entries[0] = store.Entry{}
		h.entries = h.entries[1:]
		if len(h.entries) == 0 {
			h.entries = nil // let the backing array go
		}
		h.inflight++
		f.queued--
		f.open++
		f.schedule(h, now)
		return e, true, time.Time{}, nil
	}
	return e, false, time.Time{}, nil
}

// refill loads the next window of h's queue from the store.
func (f *frontier) refill(h *hostQueue) error {
	if !h.spill {
		return nil
	}
	entries, err := f.load(h.name, h.lastSeq, f.window)
	if err != nil {
		return err
	}
	if len(entries) < f.window {
		h.spill = false
	}
	if len(entries) > 0 {
		h.entries = append(h.entries, entries...)
		h.lastSeq = entries[len(entries)-1].Seq
	}
	return nil
}

// release returns a concurrency slot of host after a fetch.
func (f *frontier) release(host string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[host]
	h.inflight--
	f.schedule(h, time.Now())
	f.signal()
}

// abandon returns n handed-out entries that will not be completed in this
// run (the crawl is stopping; they stay pending in the store).
func (f *frontier) abandon(n int) {
	f.mu.Lock()
	f.open -= n
	f.mu.Unlock()
	f.signal()
}

// frontierStats is a snapshot of the frontier's counters.
type frontierStats struct {
	queued, open, done, hosts, ready int
}

func (f *frontier) stats() frontierStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return frontierStats{queued: f.queued, open: f.open, done: f.done, hosts: len(f.hosts), ready: f.ready.Len()}
}

// finished reports whether there is nothing left to do: nothing queued (or
// the page limit reached) and nothing handed out.
func (f *frontier) finished() bool {
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
	h.index = len(*q)
	*q = append(*q, h)
}
func (q *readyHeap) Pop() any {
	old := *q
	h := old[len(old)-1]
	old[len(old)-1] = nil
	h.index = -1
	*q = old[:len(old)-1]
	return h
}
