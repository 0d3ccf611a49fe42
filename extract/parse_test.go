package extract

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExtract(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	body := `<html><head><title> A  title </title><base href="/base/"><script>var s = "x";</script>
<style>p{}</style></head><body><h1>Head</h1><p>Some <b>bold</b>
text.</p><noscript>enable js</noscript><template><p>tpl</p></template>
<a href="rel">1</a><a href="rel#frag">dup</a><a href="//other.example/x">2</a><a href="mailto:a@b">m</a>
<area href="/map"><a>no href</a></body></html>`
	x := HTML([]byte(body), page, "")
	if x.Title != "A title" {
		t.Errorf("title = %q", x.Title)
	}
	if want := "Head Some bold text. 1 dup 2 m no href"; x.Text != want {
		t.Errorf("text = %q, want %q", x.Text, want)
	}
	var links []string
	for _, l := range x.Links {
		links = append(links, l.URL)
	}
	if got, want := strings.Join(links, " "), "http://example.com/base/rel http://other.example/x http://example.com/map"; got != want {
		t.Errorf("links = %q, want %q", got, want)
	}
}

func TestExtractBounds(t *testing.T) {
	page, _ := url.Parse("http://example.com/")
	var b strings.Builder
	for i := range maxLinksPerPage + 50 {
		b.WriteString(`<a href="/l`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(`?i=`)
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("y", i/26))
		b.WriteString(`">é</a>`)
	}
	b.WriteString(strings.Repeat("é ", maxTextBytes))
	x := HTML([]byte(b.String()), page, "")
	if len(x.Links) != maxLinksPerPage {
		t.Errorf("%d links kept, want the cap %d", len(x.Links), maxLinksPerPage)
	}
	if len(x.Text) > maxTextBytes || !utf8.ValidString(x.Text) {
		t.Errorf("text of %d bytes (valid UTF-8: %v), want at most %d", len(x.Text), utf8.ValidString(x.Text), maxTextBytes)
	}
}

// TestExtractDeepNesting: a page nested 100,000 deep is read like any other
// (the streaming tokenizer keeps no stack of open elements).
func TestExtractDeepNesting(t *testing.T) {
	page, _ := url.Parse("http://example.com/")
	body := strings.Repeat("<div>", 100000) + "deep" + `<a href="/x">x</a>`
	x := HTML([]byte(body), page, "")
	if x.Text != "deep x" || len(x.Links) != 1 || x.Links[0].URL != "http://example.com/x" {
		t.Fatalf("deep page: text %q, links %v", x.Text, x.Links)
	}
}

// TestExtractBaseAfterLinks: the document's base URL applies to every link,
// as in a browser, even to links before the <base> element.
func TestExtractBaseAfterLinks(t *testing.T) {
	page, _ := url.Parse("http://example.com/a/b")
	x := HTML([]byte(`<a href="x">x</a><base href="http://other.example/dir/"><base href="/ignored/">`), page, "")
	if len(x.Links) != 1 || x.Links[0].URL != "http://other.example/dir/x" {
		t.Fatalf("links = %v, want [http://other.example/dir/x]", x.Links)
	}
}
