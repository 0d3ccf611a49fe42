package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// TestExportSkipNoIndex crawls pages that ask not to be indexed in each
// way (meta tag, X-Robots-Tag, addressed to this crawler or to another)
// and exports them with and without --skip-noindex.
func TestExportSkipNoIndex(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 6, LinksPerPage: -1, CrossHost: -1})
	// Each override links to the next page, as the generated chain does.
	robotsPage := func(header, meta, next string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if header != "" {
				w.Header().Set("X-Robots-Tag", header)
			}
			fmt.Fprintf(w, `<title>%s</title>%s<link rel="canonical" href="/canonical%s"><a href="%s">next</a>`,
				r.URL.Path, meta, r.URL.Path, next)
		})
	}
	web.Handle(0, "/p/1", robotsPage("", `<meta name="robots" content="noindex">`, "/p/2"))
	web.Handle(0, "/p/2", robotsPage("politecrawl: noindex", "", "/p/3"))
	web.Handle(0, "/p/3", robotsPage("otherbot: noindex", `<meta name="otherbot" content="noindex">`, "/p/4"))
	web.Handle(0, "/p/4", robotsPage("NoIndex", "", "/p/5"))

	path := filepath.Join(t.TempDir(), "crawl.db")
	st, err := store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := crawler.New(crawler.Config{Rate: rate.Inf, BatchDelay: time.Millisecond, NoSitemaps: true}, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddSeeds(context.Background(), web.Seeds()); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	pages, _ := allPages(t, path)
	var all, indexable []string
	for _, p := range pages {
		all = append(all, p.URL)
		if !p.NoIndex {
			indexable = append(indexable, p.URL)
		}
	}
	root := web.Seeds()[0]
	if wantOut := []string{root + "p/1", root + "p/2", root + "p/4"}; len(all) != 6 || len(all)-len(indexable) != len(wantOut) ||
		slices.ContainsFunc(wantOut, func(u string) bool { return slices.Contains(indexable, u) }) {
		t.Fatalf("crawled %q, of which indexable %q; want 6 pages, all but %q indexable", all, indexable, wantOut)
	}

	urls := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runIn(t, append([]string{"export", "--db", path}, args...)...)
		if code != 0 {
			t.Fatalf("export %q: exit %d: %s", args, code, errOut)
		}
		var got []string
		for _, r := range records(t, out) {
			var u string
			json.Unmarshal(r["url"], &u)
			got = append(got, u)
		}
		return got
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, all},
		{[]string{"--skip-noindex"}, indexable},
		{[]string{"--skip-noindex", "--status", "2xx"}, indexable},
		{[]string{"--skip-noindex", "--fields", "url,canonical"}, indexable},
		{[]string{"--skip-noindex", "--host", "example.com"}, nil},
	} {
		if got := urls(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("export %q: got %q, want %q", tc.args, got, tc.want)
		}
	}

	// The fields as a user selects them.
	code, out, errOut := runIn(t, "export", "--db", path, "--fields", "url,noindex,nofollow,canonical", "--host", web.Hosts()[0])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	canonicals := 0
	for _, r := range records(t, out) {
		var p store.Page
		b, _ := json.Marshal(r)
		json.Unmarshal(b, &p)
		if p.Canonical != "" {
			canonicals++
			if want := root + "canonical" + p.URL[len(root)-1:]; p.Canonical != want {
				t.Errorf("%s: canonical %q, want %q", p.URL, p.Canonical, want)
			}
		}
		if p.NoIndex != !slices.Contains(indexable, p.URL) || p.NoFollow {
			t.Errorf("%s: %s, want noindex %v and no nofollow", p.URL, b, !slices.Contains(indexable, p.URL))
		}
	}
	if canonicals != 4 {
		t.Errorf("%d records with a canonical URL, want 4 (/p/1 … /p/4)", canonicals)
	}
}
