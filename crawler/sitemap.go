package crawler

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/url"
	"strings"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/urlnorm"
)

// discoverSitemaps queues the sitemaps of u's host: the Sitemap: lines of
// its robots.txt (rb, if any) and /sitemap.xml. They are fetched like any
// URL, politely, at depth (the depth of the URL that led to the host), and
// read by readSitemap.
func (c *Crawler) discoverSitemaps(r *result, u *url.URL, rb *fetch.Robots, depth int) {
	if c.cfg.NoSitemaps || c.cfg.NoFollow {
		return
	}
	raw := []string{u.Scheme + "://" + u.Host + "/sitemap.xml"}
	if rb != nil {
		raw = append(rb.Sitemaps, raw...)
	}
	var links []urlnorm.Link
	for _, s := range raw {
		l, err := url.Parse(strings.TrimSpace(s))
		if err != nil || urlnorm.NormalizeURL(l) != nil {
			continue
		}
		links = append(links, urlnorm.Link{URL: l.String(), Host: hostKey(l)})
	}
	c.follow(r, links, depth, nil)
}

// maybeSitemap reports whether resp may be a sitemap: XML, or gzip.
func maybeSitemap(resp *fetch.Response) bool {
	ct := resp.ContentType
	return strings.Contains(ct, "xml") || bytes.HasPrefix(resp.Body, []byte{0x1f, 0x8b})
}

// readSitemap reads a sitemap or sitemap index (gzipped or not) and follows
// its <loc> URLs: those of an index at the index's depth (they are more
// sitemaps), those of a urlset one deeper. At most Config.SitemapURLs URLs
// are read per host and Config.SitemapBytes bytes per sitemap.
func (c *Crawler) readSitemap(r *result, resp *fetch.Response, base *url.URL, depth int) {
	var rd io.Reader = bytes.NewReader(resp.Body)
	if bytes.HasPrefix(resp.Body, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(rd)
		if err != nil {
			return
		}
		defer gz.Close()
		rd = gz
	}
	host := base.Host
	locs, index := extract.Sitemap(io.LimitReader(rd, c.cfg.SitemapBytes), func() bool {
		c.hostMu.Lock()
		defer c.hostMu.Unlock()
		if c.sitemaps[host] >= c.cfg.SitemapURLs {
			return false
		}
		c.sitemaps[host]++
		return true
	})
	var links []urlnorm.Link
	for _, s := range locs {
		l, err := base.Parse(s)
		if err != nil || urlnorm.NormalizeURL(l) != nil {
			continue
		}
		links = append(links, urlnorm.Link{URL: l.String(), Host: hostKey(l)})
	}
	links = c.dropTracking(links)
	if index {
		c.follow(r, links, depth, nil)
	} else {
		c.follow(r, links, depth+1, nil)
	}
}
