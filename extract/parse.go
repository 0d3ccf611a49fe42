package extract

import (
	"bytes"
	"net/url"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/politecrawl/crawl/urlnorm"
)

// Limits on what one page can make the crawler hold, whatever its size.
const (
	maxLinksPerPage = 10000
	maxTextBytes    = 1 << 20
)

// Page is what an HTML page yields.
type Page struct {
	Title     string
	Text      string         // the visible text, white space folded, at most 1 MiB
	Links     []urlnorm.Link // followable links, normalised, de-duplicated, in page order, at most 10,000
	Robots    Robots         // of the robots meta tags addressed to every crawler or to the agent
	Canonical string         // the first <link rel=canonical>, resolved and normalised like links, or ""
	// Over counts the hrefs after the first maxLinksPerPage distinct ones,
	// repeats included (they are not kept, so not told apart).
	Over int
}

// HTML reads an HTML body in one pass of scanner (the tokens of
// x/net/html's Tokenizer) and returns its title, visible text and links.
// Links resolve against the document's first <base href> if it has one, else
// against pageURL (the final URL after redirects).
//
// It builds no document tree: that is what makes it several times faster than
// a goquery (DOM) parse of the same page, and what bounds its memory by the
// body's size and the caps above on any input, a page nested 100,000 deep
// included. goquery stays the tool for queries over a stored page's DOM.
//
// HTML reads the robots meta tags addressed to every crawler, and those
// addressed to agent, the crawler's product token (lower case, or "" for
// none): <meta name="AGENT"> counts like <meta name="robots">. Only <meta>
// and <link> tags have their attributes read for this, and only a robots
// meta tag or a canonical link costs an allocation. The body must be UTF-8
// (see ToUTF8).
func HTML(body []byte, pageURL *url.URL, agent string) Page {
	var (
		out     Page
		z       = scanner{b: body}
		text    = foldedText{max: maxTextBytes}
		title   = foldedText{max: 4096}
		inTitle bool
		titled  bool
		hidden  int // depth inside elements whose text is not shown
		baseRef string
		canon   string // href of the first <link rel=canonical href>
		canoned bool
		src     = string(body) // hrefs are cut from it: one copy for all
		sc      = getScratch()
	)
	defer sc.put()
	for {
		tt := z.next()
		raw := z.raw()
		at := z.start
		switch tt {
		case html.ErrorToken:
			out.Title = title.String()
			out.Text = text.String()
			out.Links, out.Canonical = resolveAll(pageURL, baseRef, canon, sc)
			return out

		case html.TextToken:
			switch {
			case inTitle:
				title.write(z.textOf())
			case hidden == 0:
				text.write(z.textOf())
			}

		case html.StartTagToken, html.SelfClosingTagToken:
			a := tagAtom(raw)
			switch a {
			case atom.A, atom.Area, atom.Base:
				var href string
				vs, ve, found, plain := rawHref(raw)
				switch {
				case !plain:
					href, found = tokenizerHref(raw)
				case found:
					href = src[at+vs : at+ve] // no copy of its own
				}
				if !found {
					break
				}
				if a == atom.Base {
					if baseRef == "" {
						baseRef = href
					}
					break
				}
				if _, dup := sc.hrefSeen[href]; !dup {
					if len(sc.hrefs) < maxLinksPerPage {
						sc.hrefSeen[href] = struct{}{}
						sc.hrefs = append(sc.hrefs, href)
					} else {
						out.Over++
					}
				}
			case atom.Meta:
				out.Robots |= metaRobots(raw, agent)
			case atom.Link:
				if !canoned {
					canon, canoned = canonicalHref(raw)
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
			switch tagAtom(raw) {
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

// scratch is what HTML and resolveAll use for one page and hand on to
// the next: hrefs and the sets that de-duplicate them, and the buffer the
// links are resolved into. Reusing it saves growing two maps and a buffer
// for every page.
type scratch struct {
	hrefs    []string
	hrefSeen map[string]struct{}
	urlSeen  map[string]struct{}
	spans    []urlnorm.Span
	buf      []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{hrefSeen: map[string]struct{}{}, urlSeen: map[string]struct{}{}}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// put empties sc (it must not keep a page's strings alive) and returns it
// to the pool, unless a page with very many links grew it.
func (sc *scratch) put() {
	if len(sc.hrefs) > 1024 || cap(sc.buf) > 256<<10 {
		return
	}
	clear(sc.hrefs)
	clear(sc.spans)
	clear(sc.hrefSeen)
	clear(sc.urlSeen)
	sc.hrefs, sc.spans, sc.buf = sc.hrefs[:0], sc.spans[:0], sc.buf[:0]
	scratchPool.Put(sc)
}

// tagAtom returns the atom of the name of the tag token whose raw text is
// raw ("<a href=…>", "</title>"), or 0 for a name that is longer than any
// element HTML looks at. It is atom.Lookup(z.TagName()) without
// TagName's copy of the name (FuzzTagAtom checks that they agree).
func tagAtom(raw []byte) atom.Atom {
	raw = bytes.TrimPrefix(bytes.TrimPrefix(raw, []byte("<")), []byte("/"))
	var name [len("blockquote")]byte
	for i, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\f', '\r', '/', '>':
			return atom.Lookup(name[:i])
		}
		if i == len(name) {
			return 0
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		name[i] = c
	}
	return atom.Lookup(name[:min(len(raw), len(name))])
}

// rawHref returns where the value of the first href attribute of a start
// tag lies in the tag's raw text, as the tokenizer reads attributes (the
// WHATWG rules), when that value is plain: no character reference, carriage
// return or NUL to decode. It is attr(z, "href") without the copies TagAttr
// makes of every attribute's key and value before the one wanted
// (FuzzRawHref checks that they agree). plain is false when the value needs
// decoding: ask attr.
func rawHref(raw []byte) (start, end int, found, plain bool) {
	plain = true
	walkTag(raw, 2, func(ks, ke, vs, ve int) bool {
		if !isHref(raw[ks:ke]) {
			return true
		}
		v := raw[vs:ve]
		if bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0 || bytes.IndexByte(v, 0) >= 0 {
			plain = false
		} else {
			start, end, found = vs, ve, true
		}
		return false
	})
	return start, end, found, plain
}

// walkTag reads the tag in b that starts at b[0] ('<'), from p, just after
// the first letter of its name, as the tokenizer does (the WHATWG rules):
// the name, then attributes, each a key and a value, quoted or not, up to
// the '>' that closes the tag. It calls attr, if not nil, with where each
// attribute's key and value lie, as the tokenizer records them, and stops
// when attr returns false. It returns the index just after the '>', or
// false if b ends first (or attr stopped it).
func walkTag(b []byte, p int, attr func(ks, ke, vs, ve int) bool) (end int, ok bool) {
	next := func() (byte, bool) {
		if p >= len(b) {
			return 0, false
		}
		p++
		return b[p-1], true
	}
	skipSpace := func() {
		for p < len(b) && isHTMLSpace(b[p]) {
			p++
		}
	}
	for { // the tag name
		c, ok := next()
		if !ok || isHTMLSpace(c) {
			break
		}
		if c == '/' || c == '>' {
			p--
			break
		}
	}
	skipSpace()
	for {
		c, ok := next()
		if !ok {
			return len(b), false
		}
		if c == '>' {
			return p, true
		}
		p--
		// The key: up to white space, '/', '>' or an '=' that is not its
		// first character.
		ks, ke := p, p
	key:
		for {
			c, ok := next()
			switch {
			case !ok:
				ke = p
				break key
			case c == '=' && ks+1 == p:
				// An '=' first is part of the name.
			case c == '=' || c == '>' || c == '/' || isHTMLSpace(c):
				p-- // read again after the key
				ke = p
				break key
			}
		}
		// The value: after '=', quoted or up to white space or '>'.
		vs, ve := p, p
		skipSpace()
		if c, ok := next(); ok && c != '/' {
			if c != '=' {
				p--
			} else {
				skipSpace()
				switch q, ok := next(); {
				case !ok:
				case q == '>':
					p--
				case q == '\'' || q == '"':
					vs = p
					for {
						c, ok := next()
						if !ok {
							ve = p
							break
						}
						if c == q {
							ve = p - 1
							break
						}
					}
				default:
					vs = p - 1
					for {
						c, ok := next()
						if !ok {
							ve = p
							break
						}
						if isHTMLSpace(c) {
							ve = p - 1
							break
						}
						if c == '>' {
							p--
							ve = p
							break
						}
					}
				}
			}
		}
		if attr != nil && !attr(ks, ke, vs, ve) {
			return p, false
		}
		skipSpace()
	}
}

// isHTMLSpace reports whether c is white space between HTML attributes.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f'
}

// isHref reports whether an attribute's raw key is "href" in any case.
func isHref(k []byte) bool {
	return len(k) == 4 && k[0]|0x20 == 'h' && k[1]|0x20 == 'r' && k[2]|0x20 == 'e' && k[3]|0x20 == 'f'
}

// tokenizerHref returns the href of the start tag raw as the Tokenizer
// decodes it, for the values rawHref leaves to it.
func tokenizerHref(raw []byte) (string, bool) {
	z := html.NewTokenizer(bytes.NewReader(raw))
	z.Next()
	return attr(z, "href")
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

// resolveAll resolves sc.hrefs against the page's base URL (baseRef
// resolved against pageURL, when it is an http(s) URL) and returns the
// followable ones, normalised and de-duplicated, and canonRef resolved
// alike ("" if it leads nowhere the crawl goes). The strings share one
// allocation.
func resolveAll(pageURL *url.URL, baseRef, canonRef string, sc *scratch) (links []urlnorm.Link, canonical string) {
	res := urlnorm.NewResolver(documentBase(pageURL, baseRef))
	var (
		canon    urlnorm.Span
		hasCanon bool
	)
	if canonRef != "" {
		sc.buf, canon, hasCanon = res.AppendLink(sc.buf, canonRef)
	}
	for _, h := range sc.hrefs {
		var (
			span urlnorm.Span
			ok   bool
		)
		if sc.buf, span, ok = res.AppendLink(sc.buf, h); ok {
			sc.spans = append(sc.spans, span)
		}
	}
	all := string(sc.buf)
	links = make([]urlnorm.Link, 0, len(sc.spans))
	for _, span := range sc.spans {
		l := span.Link(all)
		if _, dup := sc.urlSeen[l.URL]; dup {
			continue
		}
		sc.urlSeen[l.URL] = struct{}{}
		links = append(links, l)
	}
	if hasCanon {
		canonical = canon.Link(all).URL
	}
	return links, canonical
}

// documentBase returns the base URL of a page at pageURL whose first <base
// href> is baseRef: baseRef resolved against pageURL, when that is an
// http(s) URL, else pageURL.
func documentBase(pageURL *url.URL, baseRef string) *url.URL {
	if baseRef != "" {
		if b, err := pageURL.Parse(strings.TrimSpace(baseRef)); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			return b
		}
	}
	return pageURL
}

// foldedText collects text as collapseSpace would leave it, as it comes:
// white space folded into single spaces, none at either end, invalid UTF-8
// replaced, at most max bytes (cut at a character boundary). Each write is
// a separate run of text: a space separates it from the one before.
type foldedText struct {
	b       strings.Builder
	max     int
	space   bool // white space since the last character written
	invalid bool // the last thing written was a replacement of invalid bytes
	full    bool
}

func (t *foldedText) write(p []byte) {
	t.space, t.invalid = true, false
	for i := 0; i < len(p) && !t.full; {
		c := p[i]
		if c < utf8.RuneSelf {
			if asciiSpace[c] {
				t.space, t.invalid = true, false
				i++
				continue
			}
			j := i + 1 // a run of ASCII other than space, added at once
			for j < len(p) && p[j] < utf8.RuneSelf && !asciiSpace[p[j]] {
				j++
			}
			t.add(p[i:j])
			i = j
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			if !t.invalid { // one replacement for a run of invalid bytes
				t.add([]byte("\uFFFD"))
				t.invalid = true
			}
		case unicode.IsSpace(r):
			t.space, t.invalid = true, false
		default:
			t.add(p[i : i+n])
		}
		i += n
	}
}

// add writes one character (or the replacement of invalid bytes), or a run
// of ASCII characters, after a space if white space came before it.
func (t *foldedText) add(ch []byte) {
	need := len(ch)
	if t.space && t.b.Len() > 0 {
		need++
	}
	if t.b.Len()+need > t.max {
		t.full = true
		if ch[0] >= utf8.RuneSelf {
			return
		}
		// ASCII can be cut anywhere: keep what fits.
		if ch = ch[:max(0, len(ch)-(t.b.Len()+need-t.max))]; len(ch) == 0 {
			return
		}
	}
	if t.space && t.b.Len() > 0 {
		t.b.WriteByte(' ')
	}
	t.space, t.invalid = false, false
	t.b.Write(ch)
}

func (t *foldedText) String() string { return t.b.String() }

// asciiSpace marks the ASCII characters unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}
