package crawler

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/frontier"
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
	x := extract.HTML(body, page, "")
	for _, l := range x.Links {
		v.add(urlnorm.Fingerprint(l.URL)) // seen before: only the new link is queued
	}
	// The host is in play, as a host being crawled is: its first URL was
	// read from the store and handed out a moment ago. Its new links then
	// go to its window at once (those of a host not in play wait in the
	// store for their commit, which this does not make).
	const host = "127.0.1.1:41234"
	first := []store.Entry{{URL: "http://" + host + "/", Host: host, Seq: 1}}
	f := frontier.New(frontier.Config{Window: 64, Limits: frontier.Limits{PerHost: 1 << 30, Burst: 1, Rate: rate.Inf}},
		func(_ string, after uint64, _ int) ([]store.Entry, error) {
			if after >= 1 {
				return nil, nil
			}
			return first, nil
		})
	f.Restore([]string{host}, 1, 0, 1)
	if j, ok, _, err := f.Next(context.Background(), time.Now()); !ok || err != nil {
		b.Fatalf("first next: ok %v, err %v", ok, err)
	} else {
		f.Release(j.Host)
		f.Abandon(1)
	}
	var n atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		fps := make([]uint64, 0, 64)
		for pb.Next() {
			x := extract.HTML(body, page, "")
			links := append(x.Links, urlnorm.Link{URL: "http://" + host + "/new/" + strconv.FormatUint(n.Add(1), 10), Host: host})
			fps = fps[:0]
			for _, l := range links {
				fps = append(fps, urlnorm.Fingerprint(l.URL))
			}
			var add []store.Entry
			v.addNew(fps, func(i int) bool {
				add = append(add, store.Entry{URL: links[i].URL, Host: links[i].Host, Depth: 1})
				return true
			})
			f.Offer(add)
			j, ok, wake, err := f.Next(context.Background(), time.Now())
			for !ok && err == nil && !wake.IsZero() {
				// Another goroutine queued after this one read the clock.
				j, ok, wake, err = f.Next(context.Background(), time.Now())
			}
			if err != nil || !ok {
				b.Errorf("next: ok %v, err %v; %+v", ok, err, f.Stats(time.Now()))
				return
			}
			f.Release(j.Host)
			f.Abandon(1) // as a commit of the page would end it
		}
	})
}

// samplePage is a page like the test web's: n links in the usual spellings
// (extract's samplePage, the page of its BenchmarkExtract).
func samplePage(n int) []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>Host 1 page 7</title><style>p{}</style><script>var x=1;</script></head><body><h1>Host 1 page 7</h1><p>alpha bravo charlie delta echo foxtrot golf hotel india</p><nav>")
	forms := []string{"/p/%d", "p/%d", "../p/%d", "/p/../p/%d", "http://127.0.1.1:41234/p/%d", "HTTP://127.0.1.2:41234/p/%d#s", "//127.0.1.3:41234/p/%d"}
	for i := range n {
		b.WriteString(`<a href="` + strings.Replace(forms[i%len(forms)], "%d", strconv.Itoa(i*37%2000), 1) + `">Host 1 page ` + strconv.Itoa(i) + "</a>\n")
	}
	b.WriteString("</nav><noscript>no script</noscript></body></html>")
	return []byte(b.String())
}
