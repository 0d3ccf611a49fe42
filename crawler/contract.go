package crawler

import (
	"context"
	"time"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// urlFrontier is the frontier contract the dispatcher, the workers and the
// committer use (as crawler-commons' URLFrontier): next claims a URL of a
// ready host (for the Redis frontier: under a lease); release gives back
// the host's concurrency slot once the request is over; requeue puts a
// claimed URL back (retry, robots.txt first, redirect hop); commit makes a
// batch of done URLs durable and acknowledges them with the links they
// found; stop gives back at once what was claimed and not acknowledged.
//
// Two implementations: *frontier, in memory over the store's queues (the
// default, one process), and *redisFrontier, shared by several processes.
type urlFrontier interface {
	next(now time.Time) (e job, ok bool, wake time.Time, err error)
	commit(ctx context.Context, st *store.Store, b *store.Batch) error
	// offer makes links found dispatchable before the batch holding them
	// is committed, where the frontier can (the embedded one; Redis queues
	// them when the batch is acknowledged). The committer calls it for every
	// result, in the order of the results, before committing them.
	offer(entries []store.Entry)
	release(host string)
	requeue(j job, until time.Time)
	abandon(n int)
	stop(ctx context.Context)

	hold(host string, until time.Time)
	setCrawlDelay(host string, d time.Duration)
	observe(host string, ok bool, latency time.Duration)
	// loadRobots returns the robots.txt answer kept for origin, if any;
	// keepRobots keeps one at once where other processes need it (Redis).
	// The answer also goes to the store with the result that fetched it.
	loadRobots(ctx context.Context, origin string) (store.Robots, bool, error)
	keepRobots(ctx context.Context, origin string, r store.Robots) error

	// Wait paces every request the fetcher sends (fetch.Pacer): the
	// workers' context carries the frontier to the fetcher.
	fetch.Pacer

	finished() bool
	changes() <-chan struct{}
	stats() frontierStats
	hostStates(now time.Time) (ready, waiting, held int)
}

var (
	_ urlFrontier = (*frontier)(nil)
	_ urlFrontier = (*redisFrontier)(nil)
)

// commit stores b in st in one transaction (pages, their entries out of
// the store's queues, new entries in, visited marks) and then hands the new
// entries to the in-memory queues.
//
// Entries that went through offer have their queue positions and are
// counted as queued; the others (seeds) go after them, as complete expects,
// and get their positions here.
func (f *frontier) commit(_ context.Context, st *store.Store, b *store.Batch) error {
	offeredFirst(b.Add)
	fresh := f.assign(b.Add)
	if err := st.Commit(b); err != nil {
		return err
	}
	f.complete(len(b.Done), storedIn(b), b.Add, fresh)
	return nil
}

// loadRobots reads origin's robots.txt answer from the store.
func (f *frontier) loadRobots(_ context.Context, origin string) (store.Robots, bool, error) {
	if f.readRobots == nil {
		return store.Robots{}, false, nil
	}
	return f.readRobots(origin)
}

// keepRobots does nothing: the answer reaches the store with the batch of
// the result that fetched it (one transaction per host would cost a wide
// crawl an fsync each; an answer lost to a crash is only fetched again).
func (f *frontier) keepRobots(context.Context, string, store.Robots) error { return nil }

// offeredFirst moves the entries that have a queue position before those
// that have none, keeping the order of each.
func offeredFirst(es []store.Entry) {
	var fresh []store.Entry
	n := 0
	for _, e := range es {
		if e.Seq != 0 {
			es[n] = e
			n++
		} else {
			fresh = append(fresh, e)
		}
	}
	copy(es[n:], fresh)
}

// stop ends the lookups running: URLs handed out and not committed are
// still in the store's queues, pending for the next run.
func (f *frontier) stop(context.Context) { f.stopLooking() }

func (f *frontier) changes() <-chan struct{} { return f.changed }

// storedIn counts the records b stores.
func storedIn(b *store.Batch) int {
	n := 0
	for _, d := range b.Done {
		if d.Page != nil && !d.Entry.Recrawl {
			n++ // a recrawl's record is a new version of a stored URL
		}
	}
	return n
}
