package extract

import (
	"bytes"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"

	"github.com/politecrawl/crawl/urlnorm"
)

// extractGoquery is the reference extraction, through a goquery DOM: what
// HTML did before it became one streaming tokenizer pass. Tests check that
// the two agree; BenchmarkExtract measures what the tokenizer gains.
func extractGoquery(body []byte, pageURL *url.URL) (title string, links []string, err error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	title = collapseSpace(doc.Find("title").First().Text())
	base := pageURL
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := pageURL.Parse(strings.TrimSpace(href)); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			base = b
		}
	}
	doc.Find("a[href], area[href]").Each(func(_ int, s *goquery.Selection) {
		href, _ := s.Attr("href")
		if u, ok := urlnorm.Resolve(base, href); ok && !slices.Contains(links, u.String()) {
			links = append(links, u.String())
		}
	})
	return title, links, nil
}

// collapseSpace trims s, folds every run of white space into one space and
// replaces invalid UTF-8 with U+FFFD: what foldedText does as text comes.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}

// FuzzFoldedText: folding runs of text as they come gives what collapseSpace
// gives for the whole text (the runs separated by spaces), and with a bound,
// the longest prefix of that which fits.
func FuzzFoldedText(f *testing.F) {
	f.Add([]byte(" a  b\t\n c "), uint8(3), uint8(5))
	f.Add([]byte("\xff\xfe x \xc3"), uint8(1), uint8(4))
	f.Add([]byte("\u00a0é\u2003z\xffa\xff\xff b"), uint8(2), uint8(7))
	f.Fuzz(func(t *testing.T, text []byte, runLen, max uint8) {
		var joined strings.Builder
		all := foldedText{max: 1 << 20}
		short := foldedText{max: int(max)}
		for len(text) > 0 {
			n := min(len(text), int(runLen%8)+1)
			all.write(text[:n])
			short.write(text[:n])
			joined.Write(text[:n])
			joined.WriteByte(' ')
			text = text[n:]
		}
		want := collapseSpace(joined.String())
		if got := all.String(); got != want {
			t.Fatalf("folded %q, collapseSpace %q", got, want)
		}
		got := short.String()
		if len(got) > int(max) || !utf8.ValidString(got) || !strings.HasPrefix(want, got) {
			t.Fatalf("bound %d: folded %q, not a prefix of %q that fits", max, got, want)
		}
		if rest := strings.TrimPrefix(want, got); rest != "" {
			r, size := utf8.DecodeRuneInString(strings.TrimPrefix(rest, " "))
			if len(got)+size+1 <= int(max) && r != utf8.RuneError || len(got)+size <= int(max) && !strings.HasPrefix(rest, " ") {
				t.Fatalf("bound %d: folded %q stops early in %q", max, got, want)
			}
		}
	})
}

var refPages = []string{
	`<html><head><title>T</title><base href="/b/"></head><body><a href="x">x</a><a href="/y#f">y</a><area href="z"></body></html>`,
	`<title>  Spaced   title </title><a href="HTTP://Example.COM:80/a/./b">a</a><a href="mailto:x@y">m</a><a href="/a/b">dup</a>`,
	`<p>no links<a>empty</a><a href="">blank</a><a href="#only">frag</a></p>`,
	`<a href="//other.example/p?q=1">o</a><a href=" /trim ">t</a><a href="javascript:x()">j</a>`,
	`<svg><a href="/in-svg">s</a></svg><table><tr><td><a href="/cell">c</a></table>`,
	`<title>a &amp; b</title><a href="/q?a=1&amp;b=2">amp</a>`,
}

func TestExtractMatchesGoquery(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	for _, body := range append(refPages, string(samplePage(60))) {
		x := HTML([]byte(body), page, "")
		title, links, err := extractGoquery([]byte(body), page)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range x.Links {
			got = append(got, l.URL)
		}
		if x.Title != title || !slices.Equal(got, links) {
			t.Errorf("page %.60q:\n tokenizer title %q links %q\n goquery   title %q links %q", body, x.Title, got, title, links)
		}
	}
}

// samplePage is a page like the test web's: n links in the usual spellings.
func samplePage(n int) []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><html><head><title>Host 1 page 7</title><style>p{}</style><script>var x=1;</script></head><body><h1>Host 1 page 7</h1><p>alpha bravo charlie delta echo foxtrot golf hotel india</p><nav>")
	forms := []string{"/p/%d", "p/%d", "../p/%d", "/p/../p/%d", "http://127.0.1.1:41234/p/%d", "HTTP://127.0.1.2:41234/p/%d#s", "//127.0.1.3:41234/p/%d"}
	for i := range n {
		b.WriteString(`<a href="` + strings.Replace(forms[i%len(forms)], "%d", strconv.Itoa(i*37%2000), 1) + `">Host 1 page ` + strconv.Itoa(i) + "</a>\n")
	}
	b.WriteString("</nav><noscript>no script</noscript></body></html>")
	return []byte(b.String())
}

// BenchmarkExtract compares one page's extraction in one pass of scanner
// (what the crawler runs) with the goquery DOM reference.
func BenchmarkExtract(b *testing.B) {
	page, _ := url.Parse("http://127.0.1.1:41234/p/7")
	body := samplePage(60)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if x := HTML(body, page, ""); len(x.Links) == 0 {
				b.Fatal("no links")
			}
		}
	})
	b.Run("goquery", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, links, err := extractGoquery(body, page); err != nil || len(links) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScan compares splitting a page into tokens (and reading its
// texts) by scanner and by x/net/html's Tokenizer, which it stands for.
func BenchmarkScan(b *testing.B) {
	body := samplePage(60)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			s := newScanner(body)
			for tt := s.next(); tt != html.ErrorToken; tt = s.next() {
				if tt == html.TextToken {
					s.textOf()
				}
			}
		}
	})
	b.Run("tokenizer", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			z := html.NewTokenizer(bytes.NewReader(body))
			for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
				if tt == html.TextToken {
					z.Text()
				}
			}
		}
	})
}
