package crawler

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// exchangeOf returns what a WARC export needs besides the body: the status
// line and every header of the response, and the request's headers. It is
// only called when bodies are kept, so the default crawl stores none of it.
func exchangeOf(resp *fetch.Response) *store.HTTPExchange {
	proto, status := resp.Proto, resp.StatusText
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if status == "" {
		status = strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status)
	}
	return &store.HTTPExchange{
		StatusLine:    proto + " " + status,
		Header:        resp.Header.Clone(),
		RequestHeader: resp.RequestHeader.Clone(),
	}
}

// hostLimits asks fn for host's limits and keeps the defaults given for any
// result that is not positive.
func hostLimits(fn func(string) (rate.Limit, int, int), host string, limit rate.Limit, burst, perHost int) (rate.Limit, int, int) {
	l, b, p := fn(host)
	if l > 0 {
		limit = l
	}
	if b > 0 {
		burst = b
	}
	if p > 0 {
		perHost = p
	}
	return limit, burst, perHost
}

// committed calls the OnError and OnPage hooks for durably stored records.
func (c *Crawler) committed(done []store.Done) {
	if c.cfg.OnPage == nil && c.cfg.OnError == nil {
		return
	}
	for _, d := range done {
		if d.Page == nil {
			continue // done without a record
		}
		if c.cfg.OnError != nil && d.Page.Failed() {
			msg := d.Page.Error
			if msg == "" {
				msg = fmt.Sprintf("http %d %s", d.Page.Status, http.StatusText(d.Page.Status))
			}
			c.cfg.OnError(d.Entry.URL, errors.New(msg))
		}
		if c.cfg.OnPage != nil {
			c.cfg.OnPage(d.Page)
		}
	}
}

// hostStates counts the hosts with work by state at now: ready (a free
// slot and a token), waiting (a free slot, no token yet) and held (no free
// slot). It walks every host, so it is for progress and metrics, not for
// hot paths.
func (f *frontier) hostStates(now time.Time) (ready, waiting, held int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.ready {
		if h.readyAt.After(now) {
			waiting++
		} else {
			ready++
		}
	}
	for _, h := range f.hosts {
		if h.index < 0 && h.hasWork() && h.p != nil && h.p.inflight >= h.p.perHost {
			held++
		}
	}
	return ready, waiting, held
}
