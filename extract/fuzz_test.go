package extract

// Fuzz targets. Their seed corpora live in testdata/fuzz/FuzzXxx/ and run as
// ordinary tests with `go test`; `go test -fuzz FuzzXxx ./extract` searches
// for new inputs. Each checks properties, not only the absence of panics.
// (FuzzFoldedText is in extract_ref_test.go, FuzzRobotsList and
// FuzzExtractRobots in robotsmeta_test.go, FuzzExtractFields in
// fields_test.go.)

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/politecrawl/crawl/urlnorm"
)

// FuzzExtract: HTML never panics and whatever the page, its result is
// bounded: at most maxLinksPerPage links, each an absolute normalised http(s)
// URL and none twice; title and text valid UTF-8, the text at most
// maxTextBytes.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`<html><head><title>t</title><base href="/b/"></head><body><p>x</p><a href="y#z">y</a><a href="mailto:m">m</a></body></html>`), "/dir/page")
	f.Add([]byte("<a href=\"\xff\">\xfe</a>\xc3"), "/")
	f.Add([]byte(strings.Repeat("<div>", 600)), "/")
	f.Add([]byte(`<base href="ftp://x/"><a href="//h:80/../a">`), "/p?q")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		page, err := url.Parse("http://example.com/")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := page.Parse(path); err == nil && urlnorm.NormalizeURL(p) == nil {
			page = p
		}
		x := HTML(body, page, "")
		if len(x.Links) > maxLinksPerPage {
			t.Fatalf("%d links, more than %d", len(x.Links), maxLinksPerPage)
		}
		if len(x.Text) > maxTextBytes || !utf8.ValidString(x.Text) || !utf8.ValidString(x.Title) {
			t.Fatalf("text of %d bytes (valid UTF-8: %v), title valid UTF-8: %v", len(x.Text), utf8.ValidString(x.Text), utf8.ValidString(x.Title))
		}
		seen := map[string]bool{}
		for _, l := range x.Links {
			s := l.URL
			if n, err := urlnorm.Normalize(s); err != nil || n != s {
				t.Fatalf("link %q is not normalised: Normalize = %q, %v", s, n, err)
			}
			if u, err := url.Parse(s); err != nil || u.Host != l.Host {
				t.Fatalf("link %q has host key %q, want its host (%v)", s, l.Host, err)
			}
			if seen[s] {
				t.Fatalf("link %q twice", s)
			}
			seen[s] = true
		}
	})
}

// forEachTag calls fn with the tokenizer at each tag token of body (start,
// end and self-closing tags). It also checks what HTML counts on to cut
// hrefs from the body: the tokens' raw texts are the body, in order.
func forEachTag(t *testing.T, body []byte, fn func(z *html.Tokenizer, tt html.TokenType)) {
	z := html.NewTokenizer(bytes.NewReader(body))
	off := 0
	for {
		tt := z.Next()
		raw := z.Raw()
		if !bytes.Equal(raw, body[off:min(off+len(raw), len(body))]) {
			t.Fatalf("token %q at %d is not the body's %q", raw, off, body[off:min(off+len(raw), len(body))])
		}
		off += len(raw)
		switch tt {
		case html.ErrorToken:
			if off != len(body) {
				t.Fatalf("tokens end at %d of %d bytes", off, len(body))
			}
			return
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			fn(z, tt)
		}
	}
}

// FuzzTagAtom checks tagAtom against what it replaces: the atom of the
// tokenizer's TagName, for every tag of any input, wherever either is an
// element HTML looks at.
func FuzzTagAtom(f *testing.F) {
	f.Add([]byte(`<A HREF=x><title>t</TITLE ><br/><Script>x</script ><a/b><blockquote><noscript\n>`))
	f.Add([]byte("<a\x00 href=x></tItLe\t><textarea/>"))
	watched := func(a atom.Atom) bool {
		switch a {
		case atom.A, atom.Area, atom.Base, atom.Title, atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Textarea,
			atom.Noembed, atom.Noframes, atom.Plaintext, atom.Xmp: // the last four: scanner
			return true
		}
		return false
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		forEachTag(t, body, func(z *html.Tokenizer, _ html.TokenType) {
			raw := string(z.Raw())
			got := tagAtom(z.Raw())
			name, _ := z.TagName()
			if want := atom.Lookup(name); (watched(got) || watched(want)) && got != want {
				t.Fatalf("tag %q: tagAtom = %v, atom of TagName %q = %v", raw, got, name, want)
			}
		})
	})
}

// FuzzRawHref checks rawHref against what it replaces, attr(z, "href"), for
// every start tag of any input where rawHref gives an answer.
func FuzzRawHref(f *testing.F) {
	f.Add([]byte(`<a href="/x"><A HREF='y' href=z><a class=c href = w ><a/href=v><a =href=u><a href><a href=>`))
	f.Add([]byte("<a\thref=\"a&amp;b\"><a href=\"x\ry\"><a hre\x00f=q href=\x00><area href=/p/1 /><base href=b>"))
	f.Add([]byte(`<a href="unterminated`))
	f.Fuzz(func(t *testing.T, body []byte) {
		forEachTag(t, body, func(z *html.Tokenizer, tt html.TokenType) {
			if tt == html.EndTagToken {
				return
			}
			raw := string(z.Raw())
			start, end, gotFound, plain := rawHref(z.Raw())
			got := raw[start:end]
			want, wantFound := attr(z, "href")
			if plain && (got != want || gotFound != wantFound) {
				t.Fatalf("tag %q: rawHref = %q, %v; attr = %q, %v", raw, got, gotFound, want, wantFound)
			}
		})
	})
}

// FuzzScanner checks scanner against what it stands for, x/net/html's
// Tokenizer: the same tokens, with the same raw texts, and for text tokens
// the same text, up to the first error token (the end of the document, or
// a tag it ends in).
func FuzzScanner(f *testing.F) {
	f.Add([]byte("<!doctype html>\n<html><head><title>A &amp; B</title><style>p{}</style><script>var x = 1;</script>" +
		"</head><body><p>Text\r\nmore &lt; less</p><a href=\"/x\">x</a><br/><p a=/><!-- c --><?pi?></ x></>" +
		"<noscript>n</noscript><textarea>t&amp;</textarea></body></html>"))
	f.Add([]byte("<script><!--<script>x</script>--></script>y<plaintext><a>"))
	f.Add([]byte("<script>a<!-x<!--y--><!--<SCRIPT>z</script >w-->--!><</script/>t<script><!--<scriptx></scrip></script\t>"))
	f.Add([]byte("<script><!--<script>--><script><!-"))
	f.Add([]byte("<!--><!---><!-- a --!><!----!-><!--x--!x--><!DOCTYPE><!DOC><!-x>"))
	f.Add([]byte("<title>a</titlex></TITLE ><xmp></xmp/><iframe/>t</iframe>\x00\r<a b=1 B=2/><a b c=/>"))
	f.Add([]byte("a < b <3 </"))
	f.Add([]byte("<a href='unterminated"))
	f.Fuzz(func(t *testing.T, body []byte) {
		z := html.NewTokenizer(bytes.NewReader(body))
		s := newScanner(body)
		for n := 0; ; n++ {
			want, got := z.Next(), s.next()
			if want != got {
				t.Fatalf("token %d: scanner %v %q, Tokenizer %v %q", n, got, s.raw(), want, z.Raw())
			}
			if want == html.ErrorToken {
				return
			}
			if !bytes.Equal(s.raw(), z.Raw()) {
				t.Fatalf("token %d (%v): scanner raw %q, Tokenizer raw %q", n, want, s.raw(), z.Raw())
			}
			if want == html.TextToken {
				if wt, gt := z.Text(), s.textOf(); !bytes.Equal(wt, gt) {
					t.Fatalf("token %d: scanner text %q, Tokenizer text %q", n, gt, wt)
				}
			}
		}
	})
}
