package extract

import (
	"bytes"
	"fmt"
	"net/url"
	"testing"

	"golang.org/x/net/html"
)

// benchFields are the selectors of the extraction benchmarks (crawler's
// BenchmarkCrawlExtract has the same): the first alone, then all five
// (text, attributes, an array of every link).
var benchFields = []string{
	"heading=h1",
	"intro=p",
	"links[]=nav a@href",
	"first_link=nav a@href",
	"title=head > title",
}

func benchRules(b *testing.B, n int) []Rule {
	if n == 0 {
		return nil
	}
	return []Rule{mustRules(b, "", benchFields[:n]...)}
}

// pageFields is what the crawler does with a page's fields (crawler's
// Crawler.dom, without the OnHTML hook): the rules that apply to the page
// at u (pageURL as a string), and if any, the DOM of body and their values
// in it.
func pageFields(rules []Rule, body []byte, u string, pageURL *url.URL) map[string]any {
	apply := RulesFor(rules, u)
	if len(apply) == 0 {
		return nil
	}
	root, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	return ApplyRules(root, apply, pageURL)
}

// BenchmarkPageFields measures one page's extraction (its DOM and the
// selectors) on the 60-link page of BenchmarkExtract, beside what every
// page costs without it.
func BenchmarkPageFields(b *testing.B) {
	page, _ := url.Parse("http://127.0.1.1:41234/p/7")
	u, body := page.String(), samplePage(60)
	for _, n := range []int{0, 1, 5} {
		b.Run(fmt.Sprintf("selectors=%d", n), func(b *testing.B) {
			rules := benchRules(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if fields := pageFields(rules, body, u, page); len(fields) != n {
					b.Fatalf("got %d fields, want %d", len(fields), n)
				}
			}
		})
	}
}
