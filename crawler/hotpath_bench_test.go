package crawler

import (
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
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
		v.add(urlnorm.Fingerprint(l.URL)) // seen before: only the new link is queued
	}
	f := newFrontier(frontierConfig{window: 64, perHost: 1 << 30, burst: 1, limit: rate.Inf},
		func(string, uint64, int) ([]store.Entry, error) { return nil, nil })
	var n atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		fps := make([]uint64, 0, 64)
		for pb.Next() {
			x := extract(body, page)
			links := append(x.links, urlnorm.Link{URL: "http://127.0.1.1:41234/new/" + strconv.FormatUint(n.Add(1), 10), Host: "127.0.1.1:41234"})
			fps = fps[:0]
			for _, l := range links {
				fps = append(fps, urlnorm.Fingerprint(l.URL))
			}
			var add []store.Entry
			v.addNew(fps, func(i int) bool {
				add = append(add, store.Entry{URL: links[i].URL, Host: links[i].Host, Depth: 1})
				return true
			})
			f.offer(add)
			j, ok, wake, err := f.next(time.Now())
			for !ok && err == nil && !wake.IsZero() {
				// Another goroutine queued after this one read the clock.
				j, ok, wake, err = f.next(time.Now())
			}
			if err != nil || !ok {
				b.Errorf("next: ok %v, err %v", ok, err)
				return
			}
			f.release(j.Host)
			f.complete(1, 1, nil, 0)
		}
	})
}
