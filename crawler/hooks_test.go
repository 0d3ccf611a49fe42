package crawler_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

// TestHooks checks that OnPage sees every stored record once, OnError the
// one fetch that failed, and URLFilter every link before it is queued.
func TestHooks(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 6, CrossHost: -1})
	web.Handle(0, "/p/2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound) // a loop
	}))
	st, err := store.Open(filepath.Join(t.TempDir(), "c.db"), &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	var (
		mu       sync.Mutex
		pages    = map[string]int{}
		errs     = map[string]string{}
		filtered = map[string]bool{}
	)
	cfg := crawler.Config{
		Rate: rate.Inf, Workers: 4,
		OnPage: func(p *store.Page) {
			mu.Lock()
			defer mu.Unlock()
			pages[p.URL]++
		},
		OnError: func(u string, err error) {
			mu.Lock()
			defer mu.Unlock()
			errs[u] = err.Error()
		},
		URLFilter: func(u *url.URL) bool {
			mu.Lock()
			defer mu.Unlock()
			filtered[u.Path] = true
			return u.Path != "/p/5"
		},
	}
	crawl(t, st, cfg, web.Seeds())

	counts, err := st.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != counts.Pages {
		t.Errorf("OnPage saw %d URLs, the store holds %d", len(pages), counts.Pages)
	}
	for u, n := range pages {
		if n != 1 {
			t.Errorf("OnPage saw %s %d times", u, n)
		}
		if _, ok, _ := st.Page(u); !ok {
			t.Errorf("OnPage saw %s, which is not stored", u)
		}
	}
	loop := web.Seeds()[0] + "p/2"
	if len(errs) != 1 || !strings.Contains(errs[loop], "redirect loop") {
		t.Errorf("OnError got %v, want only %s: redirect loop", errs, loop)
	}
	if !filtered["/p/5"] {
		t.Error("URLFilter was not asked about /p/5")
	}
	if _, ok, _ := st.Page(web.Seeds()[0] + "p/5"); ok {
		t.Error("/p/5 was crawled although URLFilter refused it")
	}
}
