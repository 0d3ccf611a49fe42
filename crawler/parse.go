package crawler

import (
	"bytes"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
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
	links []*url.URL // normalised, absolute, de-duplicated, in page order
}

// extract parses an HTML body once and returns its title, visible text and
// links. Links resolve against <base href> if present, else against pageURL
// (the final URL after redirects).
func extract(body []byte, pageURL *url.URL) (extracted, error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return extracted{}, err
	}
	var out extracted
	out.title = collapseSpace(doc.Find("title").First().Text())

	base := pageURL
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := pageURL.Parse(strings.TrimSpace(href)); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			base = b
		}
	}
	seen := map[string]bool{}
	doc.Find("a[href], area[href]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		href, _ := s.Attr("href")
		if u, ok := resolve(base, href); ok {
			if k := u.String(); !seen[k] {
				seen[k] = true
				out.links = append(out.links, u)
			}
		}
		return len(out.links) < maxLinksPerPage
	})

	var sb strings.Builder
	if body := doc.Find("body"); body.Length() > 0 {
		visibleText(&sb, body.Nodes[0])
	} else if len(doc.Nodes) > 0 {
		visibleText(&sb, doc.Nodes[0])
	}
	out.text = truncateUTF8(collapseSpace(sb.String()), maxTextBytes)
	return out, nil
}

// visibleText appends the text a reader sees under n: no scripts, styles,
// templates or noscript fallbacks. It stops at maxTextBytes.
func visibleText(sb *strings.Builder, n *html.Node) {
	// An explicit stack: a page nested 100,000 deep must not overflow ours.
	stack := []*html.Node{n}
	for len(stack) > 0 && sb.Len() < maxTextBytes {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch n.Type {
		case html.TextNode:
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
			continue
		case html.ElementNode:
			switch n.Data {
			case "script", "style", "noscript", "template", "head", "iframe", "svg":
				continue
			}
		case html.CommentNode, html.DoctypeNode:
			continue
		}
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, c)
		}
	}
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
