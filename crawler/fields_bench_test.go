package crawler

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// benchFields are the selectors of the extraction benchmarks (those of
// extract's BenchmarkPageFields): the first alone, then all five (text,
// attributes, an array of every link).
var benchFields = []string{
	"heading=h1",
	"intro=p",
	"links[]=nav a@href",
	"first_link=nav a@href",
	"title=head > title",
}

func benchRules(b *testing.B, n int) []extract.Rule {
	if n == 0 {
		return nil
	}
	return []extract.Rule{mustRules(b, "", benchFields[:n]...)}
}

// BenchmarkCrawlExtract crawls the test web (20 hosts × 200 pages, 60
// links a page, no rate limit, 16 requests per host at once, a store
// without fsync) without extraction, with one selector on every page and
// with five, and reports pages/s: the cost of extraction in the whole
// crawl, in one run.
func BenchmarkCrawlExtract(b *testing.B) {
	web := crawltest.New(b, crawltest.Config{Hosts: 20, PagesPerHost: 200, LinksPerPage: 60, NoLog: true})
	for _, n := range []int{0, 1, 5} {
		b.Run(fmt.Sprintf("selectors=%d", n), func(b *testing.B) {
			rules := benchRules(b, n)
			pages := 0
			var elapsed time.Duration
			for b.Loop() {
				st, err := store.Open(filepath.Join(b.TempDir(), "crawl.db"), &store.Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				var last *store.Page
				c, err := New(Config{Rate: rate.Inf, PerHost: 16, NoSitemaps: true, Extract: rules,
					OnPage: func(p *store.Page) { last = p }}, st, fetch.New(fetch.Config{}))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := c.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				s := c.Stats()
				if s.Stored != len(web.Pages()) || len(last.Fields) != n {
					b.Fatalf("stored %d pages, want %d; last with %d fields, want %d", s.Stored, len(web.Pages()), len(last.Fields), n)
				}
				pages += s.Stored
				st.Close()
			}
			b.ReportMetric(float64(pages)/elapsed.Seconds(), "pages/s")
		})
	}
}
