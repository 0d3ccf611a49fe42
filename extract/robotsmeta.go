package extract

import (
	"bytes"

	"golang.org/x/net/html"
)

// Robots are the robots directives of a page: what <meta name="robots">,
// the meta tag named after this crawler's product token and the
// X-Robots-Tag header ask of this crawler, as Google documents them
// ("Robots meta tag, data-nosnippet, and X-Robots-Tag specifications").
// Only two matter to a crawler that keeps records: noindex (kept in the
// record, and export can leave such pages out) and nofollow (the page's
// links are recorded but not queued). "none" is both. The others (noarchive, nosnippet, max-snippet,
// unavailable_after …) and anything unknown are ignored.
//
// Every source is read leniently: a page's markup or a server's header is
// not ours to reject, and a directive we fail to read must not stop the
// crawl. Where sources disagree the most restrictive wins, as Google says:
// the flags of all sources are or-ed ("index" or "all" never undo a
// "noindex"). The zero Robots asks nothing.
type Robots uint8

// The directives a crawler that keeps records obeys.
const (
	NoIndex  Robots = 1 << iota // keep the page out of an index
	NoFollow                    // follow none of the page's links
)

// RobotsHeader returns the directives that the values of the X-Robots-Tag
// header (one per header line) give agent. Each line is a comma-separated
// list of directives, in which "name: " before a directive addresses it,
// and the ones after it on that line, to the user agent name only:
//
//	X-Robots-Tag: noindex, nofollow          (every crawler)
//	X-Robots-Tag: politecrawl: nofollow      (politecrawl only)
//	X-Robots-Tag: noarchive, otherbot: noindex, nofollow
//	X-Robots-Tag: unavailable_after: 25 Jun 2010 15:00:00 PST
//
// A name before a colon is a user agent unless it is a directive (the last
// example), since several directives take a value after a colon.
func RobotsHeader(values []string, agent string) Robots {
	var f Robots
	for _, v := range values {
		f |= robotsList(v, agent)
	}
	return f
}

// robotsList returns the directives for agent of one comma-separated list:
// an X-Robots-Tag line, or a robots meta tag's content (read the same way,
// so that a user-agent prefix in a meta tag is honoured rather than read as
// a directive for every crawler). Besides commas, white space and
// semicolons also separate directives ("noindex nofollow" is a common
// mistake whose meaning is plain); case does not matter.
func robotsList[S ~string | ~[]byte](s S, agent string) Robots {
	var f Robots
	applies := true // before any user-agent prefix, a directive is for everyone
	for len(s) > 0 {
		item := s
		if i := indexByte(s, ','); i >= 0 {
			item, s = s[:i], s[i+1:]
		} else {
			s = s[len(s):]
		}
		if i := indexByte(item, ':'); i >= 0 {
			name := trimSpace(item[:i])
			switch {
			case directiveName(name):
				item = name // its value is no directive
			case productToken(name):
				applies = equalFoldASCII(name, agent)
				item = item[i+1:]
			}
		}
		if !applies {
			continue
		}
		for len(item) > 0 {
			i := 0
			for i < len(item) && !directiveSep(item[i]) {
				i++
			}
			switch w := item[:i]; {
			case equalFoldASCII(w, "noindex"):
				f |= NoIndex
			case equalFoldASCII(w, "nofollow"):
				f |= NoFollow
			case equalFoldASCII(w, "none"):
				f |= NoIndex | NoFollow
			}
			if i < len(item) {
				i++
			}
			item = item[i:]
		}
	}
	return f
}

// directiveSep reports whether c separates two directives within an item
// of the list (after the split at commas).
func directiveSep(c byte) bool { return isASCIISpace(c) || c == ';' }

// directiveNames are the directives Google documents (and a few older
// ones), in lower case. A name in this list before a colon is a directive
// with a value ("max-snippet: 20"), not a user agent.
var directiveNames = []string{
	"all", "index", "follow", "noindex", "nofollow", "none", "noarchive", "nocache", "nosnippet",
	"indexifembedded", "notranslate", "noimageindex", "noodp", "noydir",
	"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after",
}

func directiveName[S ~string | ~[]byte](s S) bool {
	for _, d := range directiveNames {
		if equalFoldASCII(s, d) {
			return true
		}
	}
	return false
}

// productToken reports whether s can be a user agent's name: letters,
// digits, '-' and '_' (RFC 9309's product token, digits allowed as crawlers
// use them). A date or a sentence before a colon is not one.
func productToken[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// equalFoldASCII reports whether s is t with ASCII letters in any case (t
// is lower case). Unlike strings.EqualFold it folds nothing else: the
// Kelvin sign is not a "k" in a directive.
func equalFoldASCII[S ~string | ~[]byte](s S, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}

func indexByte[S ~string | ~[]byte](s S, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// trimSpace trims ASCII white space (HTML's, and HTTP's optional white
// space) from both ends of s.
func trimSpace[S ~string | ~[]byte](s S) S {
	for len(s) > 0 && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// metaRobots returns the directives of the <meta> start tag whose raw text
// is raw when it is addressed to every crawler (name="robots") or to agent
// (name="politecrawl"); names are matched without regard to case or
// surrounding white space. Other meta tags (the many og:, twitter:,
// viewport …) cost a walk over their attributes and no allocation.
func metaRobots(raw []byte, agent string) Robots {
	name, ok := attrValue(raw, "name")
	if !ok {
		return 0
	}
	if name = trimSpace(name); !equalFoldASCII(name, "robots") && (agent == "" || !equalFoldASCII(name, agent)) {
		return 0
	}
	content, _ := attrValue(raw, "content")
	return robotsList(content, agent)
}

// canonicalHref returns the href of the <link> start tag raw if its rel
// (a space-separated list, any case) includes "canonical".
func canonicalHref(raw []byte) (string, bool) {
	rel, ok := attrValue(raw, "rel")
	if !ok {
		return "", false
	}
	for len(rel) > 0 {
		i := 0
		for i < len(rel) && !isHTMLSpace(rel[i]) {
			i++
		}
		if equalFoldASCII(rel[:i], "canonical") {
			href, ok := attrValue(raw, "href")
			return string(href), ok
		}
		rel = rel[min(i+1, len(rel)):]
	}
	return "", false
}

// attrValue returns the value of the first attribute of the start tag raw
// whose name is key (lower case) in any case, as the tokenizer decodes it.
// A plain value (no character reference, carriage return or NUL) is a
// slice of raw; the rare others are decoded by the tokenizer.
func attrValue(raw []byte, key string) (v []byte, found bool) {
	plain := true
	walkTag(raw, 2, func(ks, ke, vs, ve int) bool {
		if !equalFoldASCII(raw[ks:ke], key) {
			return true
		}
		v, found = raw[vs:ve], true
		plain = bytes.IndexByte(v, '&') < 0 && bytes.IndexByte(v, '\r') < 0 && bytes.IndexByte(v, 0) < 0
		return false
	})
	if plain {
		return v, found
	}
	z := html.NewTokenizer(bytes.NewReader(raw))
	z.Next()
	for {
		k, v, more := z.TagAttr()
		if string(k) == key {
			return v, true
		}
		if !more {
			return nil, false
		}
	}
}
