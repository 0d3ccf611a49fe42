package extract

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/politecrawl/crawl/urlnorm"
)

// Structured extraction: the fields of store.Page.Fields, taken from a
// page's DOM (goquery's, x/net/html) with CSS selectors (cascadia). The
// fast scanner of parse.go does the work every page needs; a DOM is
// built only for the pages a Rule applies to (or for the crawler's
// Config.OnHTML).

// Limits on what one field takes from a page: a selector such as "*" or
// "a" on a hostile page would otherwise make records of megabytes, and the
// search for matches stops at the cap rather than walking on.
const (
	MaxFieldValues = 1000     // values of an array field (NAME[]) kept from one page
	MaxFieldBytes  = 64 << 10 // bytes of one value; longer ones are cut at a rune boundary
	MaxFieldTotal  = 1 << 20  // bytes of an array field's values; no value is taken past it
)

// Field is one value to extract from HTML pages: the text of the first
// element matching a CSS selector, white space folded, or one of its
// attributes; with All, the same of every match, as an array. Make one
// with ParseField or NewField; the zero Field extracts nothing.
type Field struct {
	Name     string // key in store.Page.Fields
	Selector string // the CSS selector as given
	// Attr is the attribute to take instead of the text ("" for the
	// text); "abs:NAME" takes attribute NAME resolved against the page's
	// URL (and its <base href>) and normalised as links are, leaving out
	// values that are no http(s) URL (mailto:, javascript:, "#top").
	Attr string
	All  bool // every match (an array) instead of the first
	sel  cascadia.Selector
}

// ErrBadField is wrapped by the errors of ParseField and NewField.
var ErrBadField = errors.New("bad extraction field")

// fieldName is what a field's name may hold: it becomes a JSON key that
// jq and shells take without quoting.
var fieldName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// attrName is an HTML attribute name after "@". A selector's own "@" can
// only be inside a quoted attribute value, which ends in ']' or a quote.
var attrName = regexp.MustCompile(`^[A-Za-z_:][-A-Za-z0-9_:.]*$`)

// NewField returns the field name extracting attr (or the text, if attr
// is "") of the first element matching selector, or of every match if all.
// A selector that does not parse is an error naming it.
func NewField(name, selector, attr string, all bool) (Field, error) {
	if !fieldName.MatchString(name) {
		return Field{}, fmt.Errorf("%w: name %q: want letters, digits, _, - or . (not first)", ErrBadField, name)
	}
	if attr != "" && (!attrName.MatchString(attr) || attr == "abs:") {
		return Field{}, fmt.Errorf("%w: %s: attribute %q is not an attribute name", ErrBadField, name, attr)
	}
	if strings.TrimSpace(selector) == "" {
		return Field{}, fmt.Errorf("%w: %s: empty selector", ErrBadField, name)
	}
	sel, err := cascadia.Compile(selector)
	if err != nil {
		return Field{}, fmt.Errorf("%w: %s: selector %q: %v", ErrBadField, name, selector, err)
	}
	return Field{Name: name, Selector: selector, Attr: attr, All: all, sel: sel}, nil
}

// ParseField parses the --extract syntax: NAME=SELECTOR takes the text of
// the first match, NAME=SELECTOR@ATTR an attribute of it, and NAME[]=…
// every match as an array.
func ParseField(spec string) (Field, error) {
	name, selector, ok := strings.Cut(spec, "=")
	if !ok {
		return Field{}, fmt.Errorf("%w: %q: want NAME=SELECTOR, NAME=SELECTOR@ATTR or NAME[]=SELECTOR", ErrBadField, spec)
	}
	name = strings.TrimSpace(name)
	name, all := strings.CutSuffix(name, "[]")
	var attr string
	if i := strings.LastIndexByte(selector, '@'); i >= 0 && attrName.MatchString(strings.TrimSpace(selector[i+1:])) {
		selector, attr = selector[:i], strings.TrimSpace(selector[i+1:])
	}
	return NewField(name, strings.TrimSpace(selector), attr, all)
}

// String returns the field in the syntax ParseField reads.
func (f Field) String() string {
	s := f.Name
	if f.All {
		s += "[]"
	}
	s += "=" + f.Selector
	if f.Attr != "" {
		s += "@" + f.Attr
	}
	return s
}

// Rule gives the fields to extract from the HTML pages whose URL
// (the final one, after redirects) matches Match; a nil Match matches
// every page.
type Rule struct {
	Match  *regexp.Regexp
	Fields []Field
}

// RulesFor returns the rules that apply to the page at u.
func RulesFor(rules []Rule, u string) []Rule {
	var out []Rule
	for _, r := range rules {
		if len(r.Fields) > 0 && (r.Match == nil || r.Match.MatchString(u)) {
			out = append(out, r)
		}
	}
	return out
}

// ApplyRules extracts the fields of rules (all apply: see RulesFor) from
// the document root of the page at pageURL (nil: no abs: values). Where
// two rules give a field of the same name, the first that finds a value
// wins. A field whose selector matches nothing (or no element with its
// attribute) is left out: absent, not empty.
func ApplyRules(root *html.Node, rules []Rule, pageURL *url.URL) map[string]any {
	var out map[string]any
	var base *url.URL // for abs: attributes, found once
	for _, r := range rules {
		for _, f := range r.Fields {
			if _, done := out[f.Name]; done || f.sel == nil {
				continue
			}
			if strings.HasPrefix(f.Attr, "abs:") && base == nil {
				if pageURL == nil {
					continue
				}
				base = documentBase(pageURL, baseHref(root))
			}
			if v, ok := f.extract(root, base); ok {
				if out == nil {
					out = make(map[string]any, len(r.Fields))
				}
				out[f.Name] = v
			}
		}
	}
	return out
}

// extract returns f's value in the document root: a string, or for an
// array field a []string of at most MaxFieldValues, MaxFieldTotal bytes.
func (f Field) extract(root *html.Node, base *url.URL) (any, bool) {
	var vals []string
	total := 0
	walkMatches(root, f.sel, func(n *html.Node) bool {
		v, ok := f.value(n, base)
		if ok {
			vals = append(vals, v)
			total += len(v)
		}
		if !f.All {
			return !ok
		}
		return len(vals) < MaxFieldValues && total < MaxFieldTotal
	})
	switch {
	case len(vals) == 0:
		return nil, false
	case f.All:
		return vals, true
	}
	return vals[0], true
}

// value returns f's value in the matching element n: its attribute
// (resolved against base for abs:), or its text.
func (f Field) value(n *html.Node, base *url.URL) (string, bool) {
	if f.Attr == "" {
		return nodeText(n), true
	}
	name, abs := strings.CutPrefix(f.Attr, "abs:")
	for _, a := range n.Attr {
		if a.Namespace != "" || !strings.EqualFold(a.Key, name) {
			continue
		}
		if !abs {
			return cut(strings.TrimSpace(a.Val), MaxFieldBytes), true
		}
		if u, ok := urlnorm.Resolve(base, a.Val); ok {
			return cut(u.String(), MaxFieldBytes), true
		}
		return "", false
	}
	return "", false
}

// baseTag finds a document's <base href>.
var baseTag = cascadia.MustCompile("base[href]")

// baseHref returns the href of the document's first <base href>, or "".
func baseHref(root *html.Node) string {
	if n := cascadia.Query(root, baseTag); n != nil {
		for _, a := range n.Attr {
			if a.Key == "href" {
				return a.Val
			}
		}
	}
	return ""
}

// walkMatches calls fn with the elements under root that sel matches, in
// document order, while fn returns true. The walk is iterative: a page
// nested 100,000 deep does not grow the stack.
func walkMatches(root *html.Node, sel cascadia.Selector, fn func(*html.Node) bool) {
	for n := root.FirstChild; n != nil; {
		if n.Type == html.ElementNode && sel.Match(n) && !fn(n) {
			return
		}
		switch {
		case n.FirstChild != nil:
			n = n.FirstChild
		default:
			for n != root && n.NextSibling == nil {
				n = n.Parent
			}
			if n == root {
				return
			}
			n = n.NextSibling
		}
	}
}

// nodeText returns the text under n as goquery's Text gives it (the text
// nodes joined, so "<b>$</b>12" is "$12"), without the scripts, styles,
// templates and noscript inside it, its HTML white space folded to single spaces and
// trimmed, and at most MaxFieldBytes long.
func nodeText(n *html.Node) string {
	top := n // a script or style selected itself gives its text (JSON-LD)
	var b strings.Builder
	pending := false // white space seen since the last word
	var walk func(*html.Node) bool
	// The recursion is bounded by the parser: x/net/html nests elements at
	// most 512 deep.
	walk = func(n *html.Node) bool {
		switch n.Type {
		case html.TextNode:
			s := n.Data
			for len(s) > 0 {
				i := strings.IndexAny(s, htmlSpace)
				if i != 0 {
					word := s
					if i > 0 {
						word = s[:i]
					}
					if pending && b.Len() > 0 {
						b.WriteByte(' ')
					}
					pending = false
					b.WriteString(word)
					if b.Len() >= MaxFieldBytes {
						return false
					}
					s = s[len(word):]
					continue
				}
				pending = true
				s = s[1:]
			}
			return true
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Template, atom.Noscript:
				if n != top {
					return true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	walk(n)
	return cut(b.String(), MaxFieldBytes)
}

// htmlSpace is HTML's ASCII white space; a no-break space is not folded.
const htmlSpace = " \t\n\f\r"

// cut returns s cut to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Fields returns the fields that rules extract from an HTML body as
// it was fetched (decoded to UTF-8 as the crawl does, using contentType's
// charset), pageURL being its final URL: what a crawl with these rules
// would have stored in store.Page.Fields. It returns nil without parsing
// the body when no rule applies to pageURL.
func Fields(rules []Rule, body []byte, contentType, pageURL string) (map[string]any, error) {
	apply := RulesFor(rules, pageURL)
	if len(apply) == 0 {
		return nil, nil
	}
	utf, err := ToUTF8(body, contentType)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	root, err := html.Parse(bytes.NewReader(utf))
	if err != nil {
		return nil, err
	}
	page, _ := url.Parse(pageURL) // nil if it does not parse: no abs: values
	return ApplyRules(root, apply, page), nil
}
