package crawler

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/frontier"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

// job is a URL handed to a worker (the frontier's Job).
type job = frontier.Job

// process handles one job: robots.txt, the fetch, and what the response
// calls for (a record, a retry, the next redirect hop, new links). It
// reports false when the work was abandoned because the crawl is stopping
// (the URL stays pending). A result without a record means the job went
// back to the frontier.
func (c *Crawler) process(ctx context.Context, j job) (result, bool) {
	release := sync.OnceFunc(func() { c.front.Release(j.Host) })
	defer release()
	u, err := url.Parse(j.URL)
	if err != nil {
		r := c.newRecord(j, time.Now())
		r.done.Page.Error = fmt.Sprintf("parse %q: %v", j.URL, err)
		return r, true
	}
	var found result // URLs found before the fetch (sitemaps)
	if !c.cfg.NoRobots {
		r, ok, done := c.robots(ctx, j, u, release)
		if done {
			return r, ok
		}
		found = r
	} else if c.firstMeeting(j.Host) {
		c.discoverSitemaps(&found, u, nil, j.Record().Depth)
	}

	var pr *prior
	if j.Record().Recrawl {
		pr = c.priorOf(j)
	}
	start := time.Now()
	resp, err := c.fetchFor(ctx, j, pr)
	if err == nil {
		if valid, conditional := notModified(resp, pr); conditional && !valid {
			// A 304 that does not confirm the stored copy: ask plainly
			// (a request paced like any other).
			c.fetched.Add(1)
			resp, err = c.fetcher.Fetch(ctx, j.URL)
			pr.sent = fetch.Validators{}
		}
	}
	release()
	if err != nil && ctx.Err() != nil {
		return result{}, false // stopped by us: the URL stays pending
	}
	c.fetched.Add(1)
	r := c.newRecord(j, start)
	r.add, r.seen = append(r.add, found.add...), append(r.seen, found.seen...)
	p := r.done.Page
	if err != nil {
		p.Error = err.Error()
		p.DurationMS = msSince(start)
		if fetch.Retryable(err) {
			c.front.Observe(j.Host, false, 0)
			if c.retry(j, 0, err.Error()) {
				return found, true
			}
		}
		if sitemapProbe(j) {
			r.done.Page = nil // no /sitemap.xml to be had: no record
			return r, true
		}
		c.failed.Add(1)
		return r, true
	}
	c.bytes.Add(int64(len(resp.Body)))
	if valid, _ := notModified(resp, pr); valid {
		c.front.Observe(j.Host, true, resp.Duration)
		c.notModified.Add(1)
		keepStored(p, pr, resp, c.cfg.KeepBody)
		return r, true
	}
	p.FinalURL = resp.FinalURL
	p.Digest = store.Digest(resp.Body)
	p.Status = resp.Status
	p.ContentType = resp.ContentType
	p.Headers = keptHeaders(resp)
	p.Size = int64(len(resp.Body))
	p.Truncated = resp.Truncated
	p.DurationMS = float64(resp.Duration.Microseconds()) / 1000
	if c.cfg.KeepBody {
		p.Body = resp.Body
		p.HTTP = exchangeOf(resp)
	}

	switch s := resp.Status; {
	case s == http.StatusTooManyRequests || s >= 500:
		c.front.Observe(j.Host, false, 0)
		wait, _ := fetch.RetryAfter(resp.Header, time.Now())
		if c.retry(j, wait, fmt.Sprintf("http %d %s", s, http.StatusText(s))) {
			return found, true
		}
		p.Error = fmt.Sprintf("http %d %s", s, http.StatusText(s))
	case s >= 300 && s < 400:
		c.front.Observe(j.Host, true, resp.Duration)
		if c.redirect(j, resp, p) {
			return found, true
		}
	case s >= 400:
		c.front.Observe(j.Host, true, resp.Duration)
		p.Error = fmt.Sprintf("http %d %s", s, http.StatusText(s))
		if (s == http.StatusNotFound || s == http.StatusGone) && escapedPath(j.URL) == "/sitemap.xml" {
			// The probe of a host's default sitemap: most hosts have none,
			// which is no page and no error. The URL is done (and stays in
			// the visited set) without a record.
			r.done.Page = nil
			return r, true
		}
	default:
		c.front.Observe(j.Host, true, resp.Duration)
		c.content(&r, &j, resp, p)
		p.SimHash = simHashString(p.Text)
	}
	if p.Failed() {
		c.failed.Add(1)
	}
	return r, true
}

// newRecord returns a result holding the (empty) record of j.
func (c *Crawler) newRecord(j job, start time.Time) result {
	e := j.Record()
	p := &store.Page{URL: e.URL, FinalURL: j.URL, Depth: e.Depth, Attempts: j.Attempts + 1,
		FetchedAt: start.UTC().Truncate(time.Millisecond)}
	return result{done: &store.Done{Entry: e, Page: p, Lease: j.Lease}, seen: slices.Clone(j.Seen)}
}

// robots applies robots.txt to j before its fetch. done reports that j
// needs no fetch now: r and ok are then process's results. Otherwise r
// holds the sitemaps found.
func (c *Crawler) robots(ctx context.Context, j job, u *url.URL, release func()) (r result, ok, done bool) {
	if rec, gaveUp := c.robotsGivenUp(j); gaveUp {
		release()
		return rec, true, true
	}
	origin := u.Scheme + "://" + u.Host
	rb, met, fetched, err := c.robotsOf(ctx, origin)
	if err != nil {
		release()
		if ctx.Err() != nil {
			return result{}, false, true
		}
		r = c.newRecord(j, time.Now())
		r.done.Page.Error = err.Error()
		return r, true, true
	}
	depth := j.Record().Depth
	if met && rb.CrawlDelay > 0 {
		c.front.SetCrawlDelay(j.Host, rb.CrawlDelay)
	}
	if fetched {
		// The request this job was dispatched for went to robots.txt.
		if rb.Status != 0 {
			r.robots = []store.RobotsAnswer{{Origin: origin,
				Robots: store.Robots{Status: rb.Status, Fetched: rb.Fetched, Body: rb.Body}}}
		}
		if rb.Err == nil {
			c.notes.robotsResult(j.Host, false)
		}
		if rb.Err != nil && rb.Status != 0 {
			c.front.Observe(j.Host, false, 0)
		}
		c.discoverSitemaps(&r, u, rb, depth)
	}
	switch {
	case rb.Err != nil:
		release()
		if rb.Status != 0 || fetch.Retryable(rb.Err) {
			// Everything is disallowed until robots.txt is asked for again.
			if c.robotsUnavailable(j, rb, fetched) {
				return r, true, true
			}
		}
		rec := c.newRecord(j, time.Now())
		rec.done.Page.Status = 0
		rec.done.Page.Error = "robots.txt unavailable: " + rb.Err.Error()
		if n := c.notes.robotsFailures(j.Host); n > 1 {
			rec.done.Page.Attempts = n // robots.txt's
		}
		rec.add, rec.seen, rec.robots = r.add, append(rec.seen, r.seen...), r.robots
		if sitemapProbe(j) {
			rec.done.Page = nil // no /sitemap.xml to be had: no record
			return rec, true, true
		}
		c.failed.Add(1)
		return rec, true, true
	case !rb.Allowed(u):
		release()
		c.skipped.Add(1)
		c.denied.Add(1)
		rec := c.newRecord(j, time.Now())
		rec.done.Page.Attempts = 0
		rec.done.Page.Skipped = true
		rec.done.Page.Error = "robots.txt disallows " + u.RequestURI()
		rec.add, rec.seen, rec.robots = r.add, append(rec.seen, r.seen...), r.robots
		return rec, true, true
	case fetched:
		release()
		c.front.Requeue(j, time.Time{})
		return r, true, true
	}
	return r, true, false
}

// retry puts j back in the frontier for another attempt, holding its host
// (for why, as HeldHosts tells) for the back-off or wait (a Retry-After),
// whichever is longer, and
// reports true; it reports false if j has no retries left (the host is
// still held for wait).
func (c *Crawler) retry(j job, wait time.Duration, why string) bool {
	wait = min(wait, c.cfg.MaxHold)
	if j.Attempts >= c.cfg.Retries {
		if wait > 0 {
			c.front.Hold(j.Host, time.Now().Add(wait))
			c.notes.hold(j.Host, why, time.Now().Add(wait))
		}
		return false
	}
	until := time.Now().Add(max(c.backoff(j.Attempts+1), wait))
	c.notes.hold(j.Host, why, until)
	return c.retryAt(j, until)
}

// retryAt puts j back in the frontier, its host held until until, unless
// j has no retries left.
func (c *Crawler) retryAt(j job, until time.Time) bool {
	if j.Attempts >= c.cfg.Retries {
		return false
	}
	j.Attempts++
	c.retried.Add(1)
	c.front.Requeue(j, until)
	return true
}

// backoff returns the hold before attempt n+1 (n ≥ 1): RetryBackoff
// doubled n-1 times, capped at MaxHold, jittered to between half and all
// of it.
func (c *Crawler) backoff(n int) time.Duration {
	d := c.cfg.RetryBackoff
	for i := 1; i < n && d < c.cfg.MaxHold; i++ {
		d *= 2
	}
	d = min(d, c.cfg.MaxHold)
	return d/2 + rand.N(d/2+1)
}

// redirect handles a 3xx response to j. If the target is to be fetched it
// queues the next hop at the front of the target host's queue (so that the
// hop waits for that host's politeness like any request) and reports true.
// Otherwise p, the record, keeps the 3xx status and Location header, with an
// error for a loop or too many redirects.
func (c *Crawler) redirect(j job, resp *fetch.Response, p *store.Page) bool {
	loc, ok := resp.Location()
	if !ok || urlnorm.NormalizeURL(loc) != nil {
		return false
	}
	l := c.dropTracking([]urlnorm.Link{{URL: loc.String(), Host: hostKey(loc)}})[0]
	s := l.URL
	fp := urlnorm.Fingerprint(s)
	rec := j.Record()
	switch {
	case fp == urlnorm.Fingerprint(rec.URL) || slices.Contains(j.Seen, fp):
		p.Error = "redirect loop at " + s
		return false
	case j.Hops >= c.cfg.MaxRedirects:
		p.Error = fmt.Sprintf("too many redirects (more than %d)", c.cfg.MaxRedirects)
		return false
	case !c.inScope(l) || c.trap(s) != "":
		return false
	case !c.visited.add(fp) && !rec.Recrawl:
		return false // queued or fetched on its own account
	}
	next := job{
		Entry:  store.Entry{URL: s, Host: l.Host, Depth: rec.Depth, Run: rec.Run},
		Origin: &rec,
		Hops:   j.Hops + 1,
		Seen:   append(slices.Clone(j.Seen), fp),
		Lease:  j.Lease,
	}
	c.front.Requeue(next, time.Time{})
	return true
}

// content extracts what a 2xx response holds: title, text, links and
// canonical URL of HTML (decoded to UTF-8 first), the URLs of a sitemap;
// other types keep their metadata only. The robots directives of the
// X-Robots-Tag header and of HTML's meta tags are recorded; a nofollow
// keeps the page's links from being queued (unless NoRobots), not from
// being recorded. It does not apply to a sitemap's URLs, which are no links.
func (c *Crawler) content(r *result, j *job, resp *fetch.Response, p *store.Page) {
	final, err := url.Parse(resp.FinalURL)
	if err != nil {
		final, _ = url.Parse(p.URL)
	}
	agent := c.agent()
	robots := extract.RobotsHeader(resp.Header.Values("X-Robots-Tag"), agent)
	defer func() { p.NoIndex, p.NoFollow = robots&extract.NoIndex != 0, robots&extract.NoFollow != 0 }()
	switch {
	case resp.IsHTML():
		body, err := extract.ToUTF8(resp.Body, resp.Header.Get("Content-Type"))
		if err != nil {
			p.Error = "decode: " + err.Error()
			return
		}
		x := extract.HTML(body, final, agent)
		p.Title, p.Text = x.Title, x.Text
		robots |= x.Robots
		if x.Canonical != "" {
			p.Canonical = c.dropTracking([]urlnorm.Link{{URL: x.Canonical}})[0].URL
		}
		links := c.dropTracking(x.Links)
		p.LinksCut = x.Over
		if c.cfg.MaxLinks > 0 && len(links) > c.cfg.MaxLinks {
			p.LinksCut += len(links) - c.cfg.MaxLinks
			links = links[:c.cfg.MaxLinks]
		}
		p.Links = make([]string, len(links))
		for i, l := range links {
			p.Links[i] = l.URL
		}
		if robots&extract.NoFollow == 0 || c.cfg.NoRobots {
			c.follow(r, links, p.Depth+1, j)
		}
		c.dom(p, body, final)
	case !c.cfg.NoSitemaps && maybeSitemap(resp):
		c.readSitemap(r, resp, final, p.Depth)
	}
}

// dom runs the extraction rules and the OnHTML hook on an HTML page whose
// body is decoded to UTF-8, building its DOM only if either needs it.
func (c *Crawler) dom(p *store.Page, body []byte, final *url.URL) {
	u := p.FinalURL
	if u == "" {
		u = p.URL
	}
	var apply []extract.Rule
	if len(c.cfg.Extract) > 0 {
		apply = extract.RulesFor(c.cfg.Extract, u)
	}
	if len(apply) == 0 && c.cfg.OnHTML == nil {
		return // no DOM: the common case costs nothing
	}
	// html.Parse reads broken HTML as browsers do; the one page it refuses
	// is one nested deeper than 512 elements, which then gets no fields.
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		c.log.Debug("no DOM for extraction", "url", p.URL, "err", err)
		return
	}
	if fields := extract.ApplyRules(root, apply, final); len(fields) > 0 {
		p.Fields = fields
	}
	if c.cfg.OnHTML != nil {
		if p.Fields == nil {
			p.Fields = map[string]any{} // for the hook to add to; stored only if it does
		}
		doc := goquery.NewDocumentFromNode(root)
		doc.Url = final
		c.cfg.OnHTML(p, doc)
	}
}

// follow queues the links that are in scope, within depth, not traps and
// not seen, taking the visited set's lock once for the page. from is the
// page they are on and run its Entry.Run (nil for the URLs of a sitemap or
// robots.txt, which name real pages): a link of the same shape as its
// page (similar) continues the page's run. The links a limit kept from
// being followed are counted in from's record.
func (c *Crawler) follow(r *result, links []urlnorm.Link, depth int, from *job) {
	var p *store.Page
	if from != nil && r.done != nil {
		p = r.done.Page
	}
	cut := func(reason string) {
		if p != nil {
			if p.NotFollowed == nil {
				p.NotFollowed = map[string]int{}
			}
			p.NotFollowed[reason]++
		}
	}
	if c.cfg.NoFollow {
		return
	}
	tooDeep := c.cfg.MaxDepth > 0 && depth > c.cfg.MaxDepth
	// A page that links to many pages of its own shape is a listing or a
	// page of a real site's graph, not a step along a chain: its links
	// start runs afresh. (An endless calendar links to its next month, its
	// previous one, at most the next and previous year.)
	chain := false
	if from != nil {
		n := 0
		for _, l := range links {
			if similar(from.URL, l.URL) {
				if n++; n == hubLinks {
					break // a hub: the rest need not be counted
				}
			}
		}
		chain = n < hubLinks
	}
	fps := make([]uint64, 0, len(links))
	next := make([]urlnorm.Link, 0, len(links))
	runs := make([]int, 0, len(links))
	for _, l := range links {
		if !c.inScope(l) {
			continue
		}
		reason := c.trap(l.URL)
		run := 0
		if chain && similar(from.URL, l.URL) {
			run = from.Run + 1
		}
		switch {
		case tooDeep:
			reason = "max-depth"
		case reason == "" && c.cfg.MaxSimilarHops > 0 && run > c.cfg.MaxSimilarHops:
			reason = "similar-hops"
		}
		if reason != "" {
			cut(reason)
			continue
		}
		fps = append(fps, urlnorm.Fingerprint(l.URL))
		next = append(next, l)
		runs = append(runs, run)
	}
	c.visited.addNew(fps, func(i int) bool {
		// A queued URL may wait long in the frontier: it gets strings of its
		// own rather than keep the page's buffer of links alive.
		l := ownStrings(next[i])
		if !c.takeHostSlot(l.Host) {
			return false
		}
		r.add = append(r.add, store.Entry{URL: l.URL, Host: l.Host, Depth: depth, Run: runs[i]})
		r.seen = append(r.seen, fps[i])
		return true
	})
}

// hubLinks is how many links to pages of its own shape make a page a hub,
// whose links start their similar-hop runs afresh (see follow).
const hubLinks = 5

// similar reports whether two normalised URLs of one origin differ only in
// their numbers: after the origin, each maximal run of digits in one
// stands for any run of digits in the other (/cal?m=2026-11 and
// /cal?m=2026-12, /page/9 and /page/10).
func similar(a, b string) bool {
	i := pathStart(a)
	if i != pathStart(b) || a[:i] != b[:i] {
		return false
	}
	j := i
	for i < len(a) && j < len(b) {
		da, db := isDigit(a[i]), isDigit(b[j])
		switch {
		case da && db:
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		case a[i] != b[j]:
			return false
		default:
			i++
			j++
		}
	}
	return i == len(a) && j == len(b)
}

// pathStart returns the index of the path of a normalised absolute URL
// (the length of "scheme://host[:port]").
func pathStart(s string) int {
	i := strings.Index(s, "://")
	if i < 0 {
		return 0
	}
	i += len("://")
	if k := strings.IndexAny(s[i:], "/?#"); k >= 0 {
		return i + k
	}
	return len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// ownStrings returns l with strings that share no memory with any other: a
// copy of its URL, and its host cut from that copy when it is there.
func ownStrings(l urlnorm.Link) urlnorm.Link {
	u := strings.Clone(l.URL)
	if i := strings.Index(u, "://") + len("://"); i >= len("://") && strings.HasPrefix(u[i:], l.Host) {
		return urlnorm.Link{URL: u, Host: u[i : i+len(l.Host)]}
	}
	return urlnorm.Link{URL: u, Host: strings.Clone(l.Host)}
}

// takeHostSlot counts one more URL queued for host and reports whether it
// is within Config.MaxPerHost.
func (c *Crawler) takeHostSlot(host string) bool {
	if c.cfg.MaxPerHost <= 0 {
		return true
	}
	c.hostMu.Lock()
	defer c.hostMu.Unlock()
	if c.perHost[host] >= c.cfg.MaxPerHost {
		return false
	}
	c.perHost[host]++
	return true
}

// countPerHost loads, for Config.MaxPerHost, how many URLs of each host the
// database already holds, stored or pending.
func (c *Crawler) countPerHost(pending []string) error {
	err := c.store.ForEachURL(func(u string) error {
		if h, err := hostOf(u); err == nil {
			c.perHost[h]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range pending {
		for after := uint64(0); ; {
			es, err := c.store.Queue(h, after, 1024)
			if err != nil {
				return err
			}
			if len(es) == 0 {
				break
			}
			c.perHost[h] += len(es)
			after = es[len(es)-1].Seq
		}
	}
	return nil
}

// trap returns why u (s is its string) looks like a crawler trap, or "".
func (c *Crawler) trap(s string) string {
	if len(s) > c.cfg.MaxURLLength {
		return "url-length"
	}
	path := strings.Trim(escapedPath(s), "/")
	n := strings.Count(path, "/") + 1 // segments
	if n > c.cfg.MaxPathDepth {
		return "path-depth"
	}
	if n > c.cfg.MaxRepeats {
		count := make(map[string]int, n)
		for seg := range strings.SplitSeq(path, "/") {
			if seg == "" {
				continue
			}
			if count[seg]++; count[seg] > c.cfg.MaxRepeats {
				return "path-repeats"
			}
		}
	}
	return ""
}

// dropTracking removes Config.DropParams from the links' queries
// (urlnorm.Normalize has already removed the well-known trackers); links
// that become the same are kept once.
func (c *Crawler) dropTracking(links []urlnorm.Link) []urlnorm.Link {
	if len(c.drop) == 0 {
		return links
	}
	out := links[:0]
	seen := make(map[string]bool, len(links))
	for _, l := range links {
		if base, q, ok := strings.Cut(l.URL, "?"); ok {
			if q = urlnorm.DropParams(q, func(k string) bool { return c.drop[k] }); q != "" {
				l.URL = base + "?" + q
			} else {
				l.URL = base
			}
		}
		if !seen[l.URL] {
			seen[l.URL] = true
			out = append(out, l)
		}
	}
	return out
}

// escapedPath returns the path of a normalised absolute URL, as written.
func escapedPath(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[i:]
	} else {
		return "/"
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[:i]
	}
	return s
}

// hostKey is the politeness key of a normalised URL: its host[:port].
func hostKey(u *url.URL) string { return u.Host }

// hostOf returns the host key of a normalised URL string.
func hostOf(normalized string) (string, error) {
	u, err := url.Parse(normalized)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", normalized, err)
	}
	return hostKey(u), nil
}

// firstMeeting reports whether host is met for the first time this run.
func (c *Crawler) firstMeeting(host string) bool {
	c.hostMu.Lock()
	defer c.hostMu.Unlock()
	if c.met[host] {
		return false
	}
	c.met[host] = true
	return true
}
