package crawler

import (
	"context"
	"time"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/store"
)

// Frontier is what the crawl asks of its frontier (as crawler-commons'
// URLFrontier), grouped by who asks. Two implementations:
// frontier.Embedded, over this process's store (the default), and
// redisfrontier.Frontier, which several processes share.
type Frontier interface {
	// The dispatcher: Next claims a URL of a ready host (for a shared
	// frontier: under a lease), or says when to ask again; Changes is
	// signalled when work may have become ready; Finished reports that
	// nothing is left to do; Abandon gives back n claimed URLs the crawl
	// will not finish (it is stopping: they stay pending). ctx is the
	// crawl's: once it is done, Next returns at once.
	Next(ctx context.Context, now time.Time) (j frontier.Job, ok bool, wake time.Time, err error)
	Changes() <-chan struct{}
	Finished() bool
	Abandon(n int)

	// The workers: Release gives back the host's concurrency slot once
	// the request is over; Requeue puts a claimed URL back (retry,
	// robots.txt first, redirect hop), holding its host until until; Hold,
	// SetCrawlDelay and Observe feed the host's politeness. Wait paces
	// every request the fetcher sends: the workers' context carries the
	// frontier to it.
	Release(host string)
	Requeue(j frontier.Job, until time.Time)
	Hold(host string, until time.Time)
	SetCrawlDelay(host string, d time.Duration)
	Observe(host string, ok bool, latency time.Duration)
	fetch.Pacer

	// The committer: Offer makes links found dispatchable before the
	// batch holding them is committed, where the frontier can; it is
	// called for every result, in order, before the results are
	// committed. Commit makes a batch durable in st and acknowledges its
	// URLs with the links they found.
	Offer(entries []store.Entry)
	Commit(ctx context.Context, st *store.Store, b *store.Batch) error

	// Stats is a snapshot for progress and metrics.
	Stats(now time.Time) frontier.Stats
	// Stop gives back at once what was claimed and not committed; the
	// frontier is not used after it.
	Stop(ctx context.Context)
}

var _ Frontier = (*frontier.Embedded)(nil)
