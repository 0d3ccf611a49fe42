package crawler_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// Example embeds the crawler in a program: open a store, make a Crawler
// with hooks, add seeds and run. The hooks see every stored page and every
// link the crawl would follow.
func Example() {
	// A test web of 2 hosts × 4 pages on loopback stands in for the web.
	web, err := crawltest.Start(crawltest.Config{Hosts: 2, PagesPerHost: 4, CrossHost: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer web.Close()

	dir, err := os.MkdirTemp("", "crawl-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "crawl.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	var (
		mu     sync.Mutex
		titles []string
	)
	cfg := crawler.Config{
		Rate:       rate.Inf, // the test web needs no politeness
		NoSitemaps: true,     // and has no sitemaps
		// Skip page 3 of every host.
		URLFilter: func(u *url.URL) bool { return u.Path != "/p/3" },
		OnPage: func(p *store.Page) {
			mu.Lock()
			defer mu.Unlock()
			titles = append(titles, fmt.Sprintf("%d %s", p.Status, p.Title))
		},
		OnError: func(u string, err error) { log.Printf("%s: %v", u, err) },
	}
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
		log.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	slices.Sort(titles)
	fmt.Println(strings.Join(titles, "\n"))
	// Output:
	// 200 Host 0 page 0
	// 200 Host 0 page 1
	// 200 Host 0 page 2
	// 200 Host 1 page 0
	// 200 Host 1 page 1
	// 200 Host 1 page 2
}

// ExampleConfig_hostLimits gives one host its own rate, burst and
// concurrency, as crawl run's [[host]] config tables do.
func ExampleConfig_hostLimits() {
	cfg := crawler.Config{
		Rate: 1, Burst: 1, PerHost: 1,
		HostLimits: func(host string) (rate.Limit, int, int) {
			if strings.HasPrefix(host, "static.") {
				return 10, 5, 4 // a CDN takes more
			}
			return 0, 0, 0 // the defaults above
		},
	}
	r, burst, perHost := cfg.HostLimits("static.example.com")
	fmt.Println(r, burst, perHost)
	// Output: 10 5 4
}

// ExampleConfig_onHTML gets every HTML page as a goquery document, as
// colly's OnHTML does, and stores a value of its own with the record;
// Extract rules, parsed from crawl run's --extract syntax, store fields
// without code.
func ExampleConfig_onHTML() {
	web, err := crawltest.Start(crawltest.Config{Hosts: 1, PagesPerHost: 3, CrossHost: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer web.Close()
	dir, err := os.MkdirTemp("", "crawl-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(filepath.Join(dir, "crawl.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	heading, err := extract.ParseField("heading=h1")
	if err != nil {
		log.Fatal(err)
	}
	var (
		mu    sync.Mutex
		lines []string
	)
	cfg := crawler.Config{
		Rate:       rate.Inf,
		NoSitemaps: true,
		Extract:    []extract.Rule{{Fields: []extract.Field{heading}}},
		// Called from the workers, concurrently, before the record is stored.
		OnHTML: func(p *store.Page, doc *goquery.Document) {
			p.Fields["nav_links"] = doc.Find("nav a").Length()
		},
		OnPage: func(p *store.Page) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf("%s: %v links", p.Fields["heading"], p.Fields["nav_links"]))
		},
	}
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
		log.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// Host 0 page 0: 8 links
	// Host 0 page 1: 8 links
	// Host 0 page 2: 8 links
}
