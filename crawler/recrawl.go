package crawler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// A recrawl fetches stored pages again. QueueRecrawl puts every stored URL
// whose time has come back in its host's queue, marked as a recrawl
// (store.Entry.Recrawl), in ordinary committed batches: a recrawl is
// crawled, interrupted and resumed exactly as a first crawl is, with the
// same politeness. A recrawl's request carries the stored ETag and
// Last-Modified (Fetcher.FetchConditional); a valid 304 becomes a version that
// keeps the stored content (store.Page.NotModified), anything else is a
// plain fetch whose record is the URL's newest version. Stored versions
// are never overwritten (store/versions.go), so whatever a server says,
// nothing already stored is lost.

// ErrRecrawlShared is returned by QueueRecrawl with a frontier given in
// Config.Frontier (a shared one: recrawl one worker's database at a time).
var ErrRecrawlShared = errors.New("recrawl is not available with a shared frontier")

// recrawlBatch bounds the entries QueueRecrawl commits in one transaction.
const recrawlBatch = 4096

// QueueRecrawl queues again every stored URL that is due at now: fetched
// more than Config.Recrawl ago, or with Config.RecrawlAdaptive its own
// interval ago (see RecrawlInterval). URLs already pending (a recrawl
// interrupted earlier) are not queued twice. It returns how many it
// queued. Call it before Run; it does nothing when Config.Recrawl is 0.
func (c *Crawler) QueueRecrawl(ctx context.Context, now time.Time) (int, error) {
	d := c.cfg.Recrawl
	if d <= 0 {
		return 0, nil
	}
	if c.cfg.Frontier != nil {
		return 0, ErrRecrawlShared
	}
	pending, err := c.pendingURLs()
	if err != nil {
		return 0, err
	}
	var b store.Batch
	n := 0
	flush := func() error {
		if len(b.Add) == 0 {
			return nil
		}
		if err := c.front.Commit(ctx, c.store, &b); err != nil {
			return err
		}
		n += len(b.Add)
		b = store.Batch{}
		return nil
	}
	err = c.store.ForEachHistory(func(u string, vs []store.VersionInfo) error {
		if pending[u] {
			return nil
		}
		newest := vs[len(vs)-1]
		interval := d
		if c.cfg.RecrawlAdaptive {
			interval = RecrawlInterval(vs, d)
		}
		if newest.FetchedAt.Add(interval).After(now) {
			return nil
		}
		h, err := hostOf(u)
		if err != nil {
			return nil // not a URL the crawl can fetch again
		}
		b.Add = append(b.Add, store.Entry{URL: u, Host: h, Depth: newest.Depth, Recrawl: true})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recrawl: %w", err)
	}
	// Committed after the read transaction: a write inside it would wait
	// for it. Batches bound each transaction; a crash between two leaves
	// the rest to the next run's QueueRecrawl.
	all := b.Add
	for len(all) > 0 {
		k := min(len(all), recrawlBatch)
		b = store.Batch{Add: all[:k:k]}
		all = all[k:]
		if err := flush(); err != nil {
			return n, fmt.Errorf("recrawl: %w", err)
		}
	}
	return n, nil
}

// pendingURLs returns the URLs in the store's queues.
func (c *Crawler) pendingURLs() (map[string]bool, error) {
	hosts, err := c.store.Hosts()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, h := range hosts {
		for after := uint64(0); ; {
			es, err := c.store.Queue(h, after, 1024)
			if err != nil {
				return nil, err
			}
			if len(es) == 0 {
				break
			}
			for _, e := range es {
				out[e.URL] = true
			}
			after = es[len(es)-1].Seq
		}
	}
	return out, nil
}

// RecrawlInterval returns the adaptive interval of a URL whose versions,
// oldest first, are vs, for a recrawl every d: it starts at d, halves
// after each fetch that found the page changed and doubles after each that
// found it unchanged (the same digest, or 304 Not Modified), staying
// within [d/4, 8·d], as StormCrawler's adaptive scheduler does. Failed
// fetches say nothing of the content and leave it as it is.
func RecrawlInterval(vs []store.VersionInfo, d time.Duration) time.Duration {
	iv := d
	for i := 1; i < len(vs); i++ {
		prev, cur := vs[i-1], vs[i]
		switch {
		case cur.Status == 0 || cur.Error != "":
			continue
		case cur.NotModified || (cur.Digest != "" && cur.Digest == prev.Digest):
			iv *= 2
		default:
			iv /= 2
		}
		iv = min(max(iv, d/4), 8*d)
	}
	return iv
}

// prior is what a recrawl knows of the stored version of its URL.
type prior struct {
	page *store.Page      // the newest stored version
	sent fetch.Validators // what the request carried
}

// priorOf loads the stored record that j, a recrawl, fetches again, and
// the validators its request may carry: only for the URL that answered
// (FinalURL), only for a successful response, and never a Last-Modified
// that was in the future when it was received (such a server's dates
// cannot be trusted). A record that cannot be read makes a plain fetch.
func (c *Crawler) priorOf(j job) *prior {
	p, ok, err := c.store.Page(j.Record().URL)
	if err != nil || !ok {
		return nil
	}
	pr := &prior{page: p}
	final := p.FinalURL
	if final == "" {
		final = p.URL
	}
	if final != j.URL || p.Status < 200 || p.Status > 299 || p.Error != "" {
		return pr
	}
	pr.sent.ETag = p.Headers["Etag"]
	if lm := p.Headers["Last-Modified"]; lm != "" {
		if t, err := http.ParseTime(lm); err == nil && !t.After(p.FetchedAt.Add(time.Minute)) {
			pr.sent.LastModified = lm
		}
	}
	return pr
}

// fetchFor fetches j's URL, conditionally when pr has validators.
func (c *Crawler) fetchFor(ctx context.Context, j job, pr *prior) (*fetch.Response, error) {
	if pr != nil && pr.sent != (fetch.Validators{}) {
		return c.fetcher.FetchConditional(ctx, j.URL, pr.sent)
	}
	return c.fetcher.Fetch(ctx, j.URL)
}

// notModified reports whether resp is a 304 that truly confirms pr's
// stored copy: an answer to a conditional request, whose ETag, if it has
// one, is the stored one. A 304 to a plain request, or one naming another
// ETag (a server whose validators are wrong), is not: the caller fetches
// plainly.
func notModified(resp *fetch.Response, pr *prior) (valid, conditional bool) {
	if resp.Status != http.StatusNotModified || pr == nil || pr.sent == (fetch.Validators{}) {
		return false, false
	}
	if got, had := resp.Header.Get("Etag"), pr.page.Headers["Etag"]; got != "" && had != "" &&
		strings.TrimPrefix(got, "W/") != strings.TrimPrefix(had, "W/") {
		return false, true
	}
	return true, true
}

// keepStored makes p, the record of a 304, a version that keeps pr's
// stored content: what the page says is the stored version's, what the
// fetch did (time, duration, bytes read, exchange) is this one's. Its
// payload is the stored version's, so it names the record holding it.
func keepStored(p *store.Page, pr *prior, resp *fetch.Response, keepBody bool) {
	old := pr.page
	p.FinalURL = resp.FinalURL
	p.Status = old.Status
	p.ContentType = old.ContentType
	p.Headers = old.Headers
	p.Title, p.Text, p.Links, p.Canonical = old.Title, old.Text, old.Links, old.Canonical
	p.NoIndex, p.NoFollow = old.NoIndex, old.NoFollow
	p.Size = int64(len(resp.Body))
	p.DurationMS = float64(resp.Duration.Microseconds()) / 1000
	p.NotModified = true
	p.Digest, p.SimHash = old.Digest, old.SimHash
	if p.Digest == "" && len(old.Body) > 0 { // a record from before digests
		p.Digest = store.Digest(old.Body)
	}
	if p.SimHash == "" && old.Text != "" {
		p.SimHash = simHashString(old.Text)
	}
	p.DuplicateOf = old.DuplicateOf
	if p.DuplicateOf == nil {
		p.DuplicateOf = &store.Ref{URL: old.URL, FetchedAt: old.FetchedAt}
	}
	if keepBody {
		p.HTTP = exchangeOf(resp)
	}
}

// simHashString returns the SimHash of text as the record keeps it, or ""
// for a text without words.
func simHashString(text string) string {
	h := extract.SimHash(text)
	if h == 0 {
		return ""
	}
	return fmt.Sprintf("%016x", h)
}
