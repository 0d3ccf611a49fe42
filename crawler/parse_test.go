package crawler

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
	x, err := extract([]byte(body), page)
	if err != nil {
		t.Fatal(err)
	}
	if x.title != "A title" {
		t.Errorf("title = %q", x.title)
	}
	if want := "Head Some bold text. 1 dup 2 m no href"; x.text != want {
		t.Errorf("text = %q, want %q", x.text, want)
	}
	var links []string
	for _, u := range x.links {
		links = append(links, u.String())
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
	x, err := extract([]byte(b.String()), page)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.links) != maxLinksPerPage {
		t.Errorf("%d links kept, want the cap %d", len(x.links), maxLinksPerPage)
	}
	if len(x.text) > maxTextBytes || !utf8.ValidString(x.text) {
		t.Errorf("text of %d bytes (valid UTF-8: %v), want at most %d", len(x.text), utf8.ValidString(x.text), maxTextBytes)
	}
}

// TestExtractDeepNesting: the HTML parser refuses a page nested 100,000 deep
// with an error (its open-element stack is capped at 512) instead of using
// memory and stack without bound; the crawler stores such a page with the
// parse error.
func TestExtractDeepNesting(t *testing.T) {
	page, _ := url.Parse("http://example.com/")
	body := strings.Repeat("<div>", 100000) + "deep" + `<a href="/x">x</a>`
	if _, err := extract([]byte(body), page); err == nil {
		t.Fatal("extract of a page nested 100,000 deep: got nil error")
	}
}
