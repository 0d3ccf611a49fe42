package crawler

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
)

// robotsPage serves an HTML page with the given X-Robots-Tag header lines,
// extra markup in its head, and links.
func robotsPage(headers []string, head string, links ...string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		for _, h := range headers {
			rw.Header().Add("X-Robots-Tag", h)
		}
		fmt.Fprintf(rw, "<!doctype html><html><head><title>%s</title>%s</head><body>", r.URL.Path, head)
		for _, l := range links {
			fmt.Fprintf(rw, "<a href=%q>x</a>\n", l)
		}
	})
}

// TestRobotsDirectivesInCrawl crawls a site whose pages carry robots
// directives in every form and judges from the server's log: the links of
// a page that says nofollow to this crawler (the testUA's token is
// politecrawl) are never requested, those of a page that says it to
// another crawler are; noindex, nofollow and the canonical URL land in
// the records; malformed directives change nothing else.
func TestRobotsDirectivesInCrawl(t *testing.T) {
	w := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 1, LinksPerPage: -1, CrossHost: -1})
	type want struct {
		followed, noindex, nofollow bool
		canonical                   string
	}
	root := w.Seeds()[0]
	cases := []struct {
		path    string
		headers []string // X-Robots-Tag lines
		head    string   // markup in <head>
		want    want
	}{
		{"/meta-nofollow", nil, `<meta name="robots" content="nofollow">`, want{nofollow: true}},
		{"/meta-own", nil, `<meta name="PoliteCrawl" content="none">`, want{noindex: true, nofollow: true}},
		{"/meta-other", nil, `<meta name="otherbot" content="noindex, nofollow">`, want{followed: true}},
		{"/meta-combined", nil, `<meta name="robots" content="noindex"><meta name="politecrawl" content="nofollow">`,
			want{noindex: true, nofollow: true}},
		{"/header-own", []string{"politecrawl: nofollow"}, "", want{nofollow: true}},
		{"/header-other", []string{"otherbot: noindex, nofollow"}, "", want{followed: true}},
		{"/header-lines", []string{"otherbot: nofollow", "NOINDEX"}, "", want{followed: true, noindex: true}},
		{"/header-list", []string{"noarchive, politecrawl: noindex, otherbot: nofollow"}, "",
			want{followed: true, noindex: true}},
		{"/canonical", nil, `<link rel="canonical" href="/Canonical/./target?utm_source=feed#top">`,
			want{followed: true, canonical: root + "Canonical/target"}},
		{"/garbage", []string{",:;, unavailable_after: Friday, 25-Jun-2010 15:00:00 PST, max-snippet:-1", "googlebot:", "", "\xff\xfe noindex\xff"},
			"<meta name=robots content=\"\xff,, ;index\"><meta name=robots><meta name=\"\" content=nofollow>" +
				"<meta content=noindex><link rel=canonical><link rel=canonical href=\"javascript:x()\">",
			want{followed: true}},
	}
	var links []string
	for _, tc := range cases {
		w.Handle(0, tc.path, robotsPage(tc.headers, tc.head, tc.path+"/next"))
		w.Handle(0, tc.path+"/next", page("next"))
		links = append(links, tc.path)
	}
	w.Handle(0, "/doc.txt", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		rw.Header().Set("X-Robots-Tag", "noindex")
		fmt.Fprint(rw, "a text file")
	}))
	w.Handle(0, "/", page("root", append(links, "/doc.txt")...))

	pages := crawlWeb(t, Config{NoSitemaps: true}, fetch.Config{}, root)
	log := hostLog(w, 0)
	for _, tc := range cases {
		next := tc.path + "/next"
		if n := count(log, next); n != map[bool]int{true: 1}[tc.want.followed] {
			t.Errorf("%s: its link %s requested %d times, want followed %v", tc.path, next, n, tc.want.followed)
		}
		rec := pages[root+tc.path[1:]]
		if rec == nil || rec.Status != 200 {
			t.Errorf("%s: record %+v, want fetched", tc.path, rec)
			continue
		}
		if rec.NoIndex != tc.want.noindex || rec.NoFollow != tc.want.nofollow || rec.Canonical != tc.want.canonical {
			t.Errorf("%s: got noindex %v, nofollow %v, canonical %q; want %v, %v, %q", tc.path,
				rec.NoIndex, rec.NoFollow, rec.Canonical, tc.want.noindex, tc.want.nofollow, tc.want.canonical)
		}
		if !slices.Contains(rec.Links, root+next[1:]) {
			t.Errorf("%s: links %q, want %s recorded, followed or not", tc.path, rec.Links, next)
		}
	}
	if rec := pages[root+"doc.txt"]; rec == nil || !rec.NoIndex || rec.NoFollow {
		t.Errorf("doc.txt (X-Robots-Tag: noindex, not HTML): record %+v, want noindex", rec)
	}
	if rec := pages[root]; rec == nil || rec.NoIndex || rec.NoFollow || rec.Canonical != "" {
		t.Errorf("root: record %+v, want no directives", rec)
	}

	// With robots ignored (only for sites you run) every link is followed,
	// and the records still say what the pages asked.
	w.ResetLog()
	pages = crawlWeb(t, Config{NoSitemaps: true, NoRobots: true}, fetch.Config{}, root)
	log = hostLog(w, 0)
	for _, tc := range cases {
		if n := count(log, tc.path+"/next"); n != 1 {
			t.Errorf("NoRobots: %s/next requested %d times, want once", tc.path, n)
		}
		if rec := pages[root+tc.path[1:]]; rec == nil || rec.NoFollow != tc.want.nofollow {
			t.Errorf("NoRobots: %s: record %+v, want nofollow %v recorded", tc.path, rec, tc.want.nofollow)
		}
	}
}
