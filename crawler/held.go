package crawler

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/politecrawl/crawl/fetch"
)

// HeldHost is a host whose URLs the crawl holds back until a moment, and
// why: a retry's back-off, a Retry-After, an unreachable robots.txt.
type HeldHost struct {
	Host  string
	Why   string
	Until time.Time
}

// hostNotes remembers, off the frontier, why hosts are held back (for the
// status page) and how many times in a row each host's robots.txt could not
// be fetched. It is written only where a fetch failed, never on the path of
// a page that went well. The zero value is ready to use.
type hostNotes struct {
	mu     sync.Mutex
	held   map[string]HeldHost
	robots map[string]int    // failed robots.txt fetches in a row, by host
	gaveUp map[string]string // hosts whose robots.txt failed too often: the last error
}

// hold notes that host is held until until because of why.
func (n *hostNotes) hold(host, why string, until time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.held == nil {
		n.held = map[string]HeldHost{}
	}
	n.held[host] = HeldHost{host, why, until}
}

// robotsResult counts a fetch of host's robots.txt that failed or not and
// returns the failures in a row so far.
func (n *hostNotes) robotsResult(host string, failed bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !failed {
		delete(n.robots, host)
		return 0
	}
	if n.robots == nil {
		n.robots = map[string]int{}
	}
	n.robots[host]++
	return n.robots[host]
}

// giveUp notes that the crawl gave up on host's robots.txt after err.
func (n *hostNotes) giveUp(host, err string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gaveUp == nil {
		n.gaveUp = map[string]string{}
	}
	n.gaveUp[host] = err
}

// givenUp returns the last robots.txt error of host and the failures in a
// row if the crawl gave up on it.
func (n *hostNotes) givenUp(host string) (err string, failures int, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	err, ok = n.gaveUp[host]
	return err, n.robots[host], ok
}

// robotsFailures returns the failures in a row of host's robots.txt.
func (n *hostNotes) robotsFailures(host string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.robots[host]
}

// HeldHosts returns the hosts held back at now, and why, soonest released
// first. It is a snapshot for progress pages, safe to call during Run.
func (c *Crawler) HeldHosts(now time.Time) []HeldHost {
	n := &c.notes
	n.mu.Lock()
	var out []HeldHost
	for h, e := range n.held {
		if e.Until.After(now) {
			out = append(out, e)
		} else {
			delete(n.held, h)
		}
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b HeldHost) int {
		return cmp.Or(a.Until.Compare(b.Until), cmp.Compare(a.Host, b.Host))
	})
	return out
}

// robotsUnavailable decides what becomes of j when its host's robots.txt
// could not be had (rb.Err; fetched: this job's request asked for it). A
// host's robots.txt is asked for again when rb expires, at most
// Config.Retries more times, whichever of its URLs asks: until then all its
// URLs wait, and after the last failure they are stored as errors. It
// reports true when j went back to the frontier, and logs a host's first
// failure (with the next try) and the giving up, once each.
func (c *Crawler) robotsUnavailable(j job, rb *fetch.Robots, fetched bool) bool {
	n := c.notes.robotsFailures(j.Host)
	if fetched {
		n = c.notes.robotsResult(j.Host, true)
	}
	if n > c.cfg.Retries {
		if fetched {
			c.log.Warn("robots.txt unavailable, giving up on the host: its URLs are stored as errors",
				"host", j.Host, "tries", n, "err", rb.Err)
			c.notes.giveUp(j.Host, rb.Err.Error())
		}
		return false
	}
	if fetched && n == 1 {
		c.log.Warn("robots.txt unavailable: the host's URLs wait for the next try",
			"host", j.Host, "err", rb.Err, "next_try", rb.Expires.Round(time.Second).Format(time.TimeOnly),
			"tries_left", c.cfg.Retries-n+1)
	}
	c.notes.hold(j.Host, "robots.txt unavailable: "+rb.Err.Error(), rb.Expires)
	c.retried.Add(1)
	c.front.Requeue(j, rb.Expires)
	return true
}

// robotsGivenUp returns, for a job of a host whose robots.txt this crawl
// gave up on (see robotsUnavailable), its error record at once: robots.txt
// is not asked for again in this run, however many URLs the host has left.
func (c *Crawler) robotsGivenUp(j job) (result, bool) {
	msg, n, ok := c.notes.givenUp(j.Host)
	if !ok {
		return result{}, false
	}
	r := c.newRecord(j, time.Now())
	if sitemapProbe(j) {
		r.done.Page = nil // no /sitemap.xml to be had: no record
		return r, true
	}
	r.done.Page.Error = "robots.txt unavailable: " + msg
	if n > 1 {
		r.done.Page.Attempts = n // robots.txt's
	}
	c.failed.Add(1)
	return r, true
}

// sitemapProbe reports whether j fetches a host's /sitemap.xml, which the
// crawl asks for on the chance that there is one: its failure is no page and
// leaves no record.
func sitemapProbe(j job) bool { return escapedPath(j.URL) == "/sitemap.xml" }
