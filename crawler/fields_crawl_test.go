package crawler

// The crawler's part of field extraction (package extract holds the
// fields, their rules and their tests): the DOM that dom builds for the
// rules and the OnHTML hook, and only when either needs it.

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/store"
)

// domCrawler returns a Crawler with cfg, enough for its dom method.
func domCrawler(cfg Config) *Crawler {
	cfg.defaults()
	return &Crawler{cfg: cfg, log: cfg.Logger}
}

func mustRules(t testing.TB, match string, specs ...string) extract.Rule {
	t.Helper()
	var r extract.Rule
	if match != "" {
		r.Match = regexp.MustCompile(match)
	}
	for _, s := range specs {
		f, err := extract.ParseField(s)
		if err != nil {
			t.Fatal(err)
		}
		r.Fields = append(r.Fields, f)
	}
	return r
}

// productPage is extract's page of the same name.
const productPage = `<!doctype html><html><head><title>Widget</title>
<meta property="og:image" content=" /img/w.png ">
<script>var price = "0.00";</script></head><body>
<h1 class="name">  The
	Widget  </h1>
<p class="price"><span>$</span>12.<b>99</b></p>
<ul class="tags"><li>blue</li><li> small </li><li></li></ul>
<a>no href</a><a href="/a">A</a><a href="/b">B</a>
<div id="x"><script>ignored()</script><style>p{}</style>seen<noscript>not</noscript></div>
</body></html>`

// TestDeepPageDOM: a page nested 500 deep yields its fields; one nested
// 100,000 deep, which x/net/html (goquery's parser) refuses past 512, is
// stored without fields.
func TestDeepPageDOM(t *testing.T) {
	rules := []extract.Rule{mustRules(t, "", "d=.deep", "all[]=span")}
	for _, tc := range []struct {
		depth int
		want  map[string]any
	}{
		{500, map[string]any{"d": "here", "all": []string{"here"}}},
		{100000, nil},
	} {
		body := []byte(strings.Repeat("<div>", tc.depth) + "<span class=deep>here</span>" + strings.Repeat("</div>", tc.depth))
		c := domCrawler(Config{Extract: rules})
		p := &store.Page{URL: "http://a/"}
		c.dom(p, body, nil)
		if !reflect.DeepEqual(p.Fields, tc.want) {
			t.Errorf("depth %d: crawl got fields %v, want %v", tc.depth, p.Fields, tc.want)
		}
	}
}

// TestNoRuleNoDOM: a page that no rule applies to costs the crawl nothing:
// no DOM is built, not even an allocation is made.
func TestNoRuleNoDOM(t *testing.T) {
	c := domCrawler(Config{Extract: []extract.Rule{mustRules(t, `/product/`, "name=h1", "price=.price", "tags[]=li")}})
	body := []byte(productPage)
	final, _ := url.Parse("http://shop.example/about")
	p := &store.Page{URL: final.String(), FinalURL: final.String()}
	// Under the race detector sync.Pool drops some of what is put in it,
	// so regexp's matcher, which it pools, is sometimes made anew: the
	// allocations are counted without it only.
	if n := testing.AllocsPerRun(100, func() { c.dom(p, body, final) }); (n != 0 && !raceEnabled) || p.Fields != nil {
		t.Errorf("a page no rule applies to: got %v allocations and fields %v, want none", n, p.Fields)
	}
	p.FinalURL = "http://shop.example/product/7"
	c.dom(p, body, final)
	if p.Fields["name"] != "The Widget" {
		t.Errorf("a product page: got fields %v, want name The Widget", p.Fields)
	}
}

// TestOnHTML: the hook gets the document with its URL, alongside the rules,
// and what it adds to Fields stays.
func TestOnHTML(t *testing.T) {
	var gotURL string
	c := domCrawler(Config{
		Extract: []extract.Rule{mustRules(t, "", "name=h1")},
		OnHTML: func(p *store.Page, doc *goquery.Document) {
			gotURL = doc.Url.String()
			p.Fields["tags"] = doc.Find("li").Length()
		},
	})
	final, _ := url.Parse("http://shop.example/p")
	p := &store.Page{URL: "http://shop.example/q", FinalURL: final.String()}
	c.dom(p, []byte(productPage), final)
	want := map[string]any{"name": "The Widget", "tags": 3}
	if gotURL != final.String() || !reflect.DeepEqual(p.Fields, want) {
		t.Errorf("got URL %s, fields %v; want %s, %v", gotURL, p.Fields, final, want)
	}
}
