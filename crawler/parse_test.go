package crawler

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func TestExtract(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	body := `<html><head><title> A  title </title><base href="/base/"><script>var s = "x";</script>
<style>p{}</style></head><body><h1>Head</h1><p>Some <b>bold</b>
text.</p><noscript>enable js</noscript><template><p>tpl</p></template>
<a href="rel">1</a><a href="rel#frag">dup</a><a href="//other.example/x">2</a><a href="mailto:a@b">m</a>
<area href="/map"><a>no href</a></body></html>`
	x := extract([]byte(body), page)
	if x.title != "A title" {
		t.Errorf("title = %q", x.title)
	}
	if want := "Head Some bold text. 1 dup 2 m no href"; x.text != want {
		t.Errorf("text = %q, want %q", x.text, want)
	}
	var links []string
	for _, l := range x.links {
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
	x := extract([]byte(b.String()), page)
	if len(x.links) != maxLinksPerPage {
		t.Errorf("%d links kept, want the cap %d", len(x.links), maxLinksPerPage)
	}
	if len(x.text) > maxTextBytes || !utf8.ValidString(x.text) {
		t.Errorf("text of %d bytes (valid UTF-8: %v), want at most %d", len(x.text), utf8.ValidString(x.text), maxTextBytes)
	}
}

// TestExtractDeepNesting: a page nested 100,000 deep is read like any other
// (the streaming tokenizer keeps no stack of open elements).
func TestExtractDeepNesting(t *testing.T) {
	page, _ := url.Parse("http://example.com/")
	body := strings.Repeat("<div>", 100000) + "deep" + `<a href="/x">x</a>`
	x := extract([]byte(body), page)
	if x.text != "deep x" || len(x.links) != 1 || x.links[0].URL != "http://example.com/x" {
		t.Fatalf("deep page: text %q, links %v", x.text, x.links)
	}
}

// TestExtractBaseAfterLinks: the document's base URL applies to every link,
// as in a browser, even to links before the <base> element.
func TestExtractBaseAfterLinks(t *testing.T) {
	page, _ := url.Parse("http://example.com/a/b")
	x := extract([]byte(`<a href="x">x</a><base href="http://other.example/dir/"><base href="/ignored/">`), page)
	if len(x.links) != 1 || x.links[0].URL != "http://other.example/dir/x" {
		t.Fatalf("links = %v, want [http://other.example/dir/x]", x.links)
	}
}

// A page's links share one string; a URL queued for later must not keep it
// alive, so ownStrings copies the URL and cuts the host from the copy.
func TestOwnStrings(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	x := extract([]byte(`<a href="/a">a</a><a href="http://other.example:8080/b">b</a><a href="c">c</a>`), page)
	if len(x.links) != 3 {
		t.Fatalf("links = %v", x.links)
	}
	shared := unsafe.StringData(x.links[0].URL)
	for _, l := range x.links {
		o := ownStrings(l)
		if o != l {
			t.Errorf("ownStrings(%v) = %v", l, o)
		}
		u, h := unsafe.StringData(o.URL), unsafe.StringData(o.Host)
		if u == unsafe.StringData(l.URL) || uintptr(unsafe.Pointer(h)) < uintptr(unsafe.Pointer(u)) ||
			uintptr(unsafe.Pointer(h)) >= uintptr(unsafe.Pointer(u))+uintptr(len(o.URL)) {
			t.Errorf("ownStrings(%v): the URL is not a copy, or the host is not cut from it", l)
		}
		if u == shared {
			t.Errorf("ownStrings(%v) shares the page's string", l)
		}
	}
	if unsafe.StringData(x.links[1].URL) != (*byte)(unsafe.Add(unsafe.Pointer(shared), len(x.links[0].URL))) {
		t.Error("the page's links do not share one string (the test no longer tests anything)")
	}
}
