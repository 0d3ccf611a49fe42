package crawler

import (
	"context"
	"time"

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
	release(host string)
	requeue(j job, until time.Time)
	abandon(n int)
	stop(ctx context.Context)

	hold(host string, until time.Time)
	setCrawlDelay(host string, d time.Duration)
	observe(host string, ok bool, latency time.Duration)
	// pace waits, if need be, until a request to host may be sent now;
	// sent records a request to host sent outside pace (robots.txt).
	pace(ctx context.Context, host string, now time.Time) error
	sent(host string, t time.Time)

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
func (f *frontier) commit(_ context.Context, st *store.Store, b *store.Batch) error {
	if err := st.Commit(b); err != nil {
		return err
	}
	f.complete(len(b.Done), storedIn(b), b.Add)
	return nil
}

// stop does nothing: URLs handed out and not committed are still in the
// store's queues, pending for the next run.
func (f *frontier) stop(context.Context) {}

func (f *frontier) changes() <-chan struct{} { return f.changed }

// storedIn counts the records b stores.
func storedIn(b *store.Batch) int {
	n := 0
	for _, d := range b.Done {
		if d.Page != nil {
			n++
		}
	}
	return n
}
