package crawler

import (
	"context"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/store"
)

// BenchmarkHotPath runs, from parallel goroutines, what a worker does with
// each fetched page on the state the workers share: the page's extraction,
// one visited-set lock for its links (all seen before but one, as on a
// crawl of 60 links a page), and the frontier's hand-over of the new link
// (offer, next, release, complete). Run it with -cpu 1,2: if a lock on this
// path were contended, two CPUs would not halve the time per page.
func BenchmarkHotPath(b *testing.B) {
	page, _ := url.Parse("http://127.0.1.1:41234/p/7")
	body := samplePage(60)
	v := newVisited()
	x := extract(body, page)
	for _, l := range x.links {
		v.add(Fingerprint(l.url)) // seen before: only the new link is queued
	}
	f := frontier.New(frontier.Config{Window: 64, Limits: frontier.Limits{PerHost: 1 << 30, Burst: 1, Rate: rate.Inf}},
		func(string, uint64, int) ([]store.Entry, error) { return nil, nil })
	var n atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		fps := make([]uint64, 0, 64)
		for pb.Next() {
			x := extract(body, page)
			links := append(x.links, link{url: "http://127.0.1.1:41234/new/" + strconv.FormatUint(n.Add(1), 10), host: "127.0.1.1:41234"})
			fps = fps[:0]
			for _, l := range links {
				fps = append(fps, Fingerprint(l.url))
			}
			var add []store.Entry
			v.addNew(fps, func(i int) bool {
				add = append(add, store.Entry{URL: links[i].url, Host: links[i].host, Depth: 1})
				return true
			})
			f.Offer(add)
			j, ok, wake, err := f.Next(context.Background(), time.Now())
			for !ok && err == nil && !wake.IsZero() {
				// Another goroutine queued after this one read the clock.
				j, ok, wake, err = f.Next(context.Background(), time.Now())
			}
			if err != nil || !ok {
				b.Errorf("next: ok %v, err %v", ok, err)
				return
			}
			f.Release(j.Host)
			f.Abandon(1) // as a commit of the page would end it
		}
	})
}
