package crawler

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Limits on what one page can make the crawler hold, whatever its size.
const (
	maxLinksPerPage = 10000
	maxTextBytes    = 1 << 20
)

// extracted is what a page yields.
type extracted struct {
	title string
	text  string
	links []link // followable links, normalised, de-duplicated, in page order
}

// extract reads an HTML body in one streaming pass of the HTML tokenizer and
// returns its title, visible text and links. Links resolve against the
// document's first <base href> if it has one, else against pageURL (the final
// URL after redirects).
//
// It builds no document tree: that is what makes it several times faster than
// a goquery (DOM) parse of the same page, and what bounds its memory by the
// body's size and the caps above on any input, a page nested 100,000 deep
// included. goquery stays the tool for queries over a stored page's DOM.
func extract(body []byte, pageURL *url.URL) (extracted, error) {
	var (
		out     extracted
		z       = html.NewTokenizer(bytes.NewReader(body))
		text    strings.Builder
		title   strings.Builder
		inTitle bool
		titled  bool
		hidden  int // depth inside elements whose text is not shown
		baseRef string
		hrefs   []string
		seen    = map[string]struct{}{}
	)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return extracted{}, err
			}
			out.title = collapseSpace(title.String())
			out.text = truncateUTF8(collapseSpace(text.String()), maxTextBytes)
			out.links = resolveAll(pageURL, baseRef, hrefs)
			return out, nil

		case html.TextToken:
			switch {
			case inTitle:
				if title.Len() < 4096 {
					title.Write(z.Text())
				}
			case hidden == 0 && text.Len() < maxTextBytes:
				text.Write(z.Text())
				text.WriteByte(' ')
			}

		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.A, atom.Area, atom.Base:
				if !hasAttr {
					break
				}
				href, ok := attr(z, "href")
				if !ok {
					break
				}
				if a == atom.Base {
					if baseRef == "" {
						baseRef = href
					}
					break
				}
				if _, dup := seen[href]; !dup && len(hrefs) < maxLinksPerPage {
					seen[href] = struct{}{}
					hrefs = append(hrefs, href)
				}
			case atom.Title:
				if tt == html.StartTagToken && !titled {
					inTitle, titled = true, true
				}
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Textarea:
				if tt == html.StartTagToken {
					hidden++
				}
			}

		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Title:
				inTitle = false
			case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Iframe, atom.Textarea:
				if hidden > 0 {
					hidden--
				}
			}
		}
	}
}

// attr returns the value of the tag attribute key of the current token.
func attr(z *html.Tokenizer, key string) (string, bool) {
	for {
		k, v, more := z.TagAttr()
		if string(k) == key {
			return string(v), true
		}
		if !more {
			return "", false
		}
	}
}

// resolveAll resolves hrefs against the page's base URL (baseRef resolved
// against pageURL, when it is an http(s) URL) and returns the followable
// ones, normalised and de-duplicated.
func resolveAll(pageURL *url.URL, baseRef string, hrefs []string) []link {
	base := pageURL
	if baseRef != "" {
		if b, err := pageURL.Parse(strings.TrimSpace(baseRef)); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			base = b
		}
	}
	res := newResolver(base)
	links := make([]link, 0, len(hrefs))
	seen := make(map[string]struct{}, len(hrefs))
	for _, h := range hrefs {
		l, ok := res.link(h)
		if !ok {
			continue
		}
		if _, dup := seen[l.url]; dup {
			continue
		}
		seen[l.url] = struct{}{}
		links = append(links, l)
	}
	return links
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// collapseSpace trims s, folds every run of white space into one space and
// replaces invalid UTF-8 (which the HTML parser passes through from the page)
// with U+FFFD, so that stored text is always valid UTF-8.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
}
