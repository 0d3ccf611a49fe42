package robotstxt

import "strings"

// The normal form in which patterns and paths are compared (RFC 9309
// §2.2.2 and §2.2.3):
//
//   - octets outside printable ASCII (non-ASCII, controls, space) are
//     percent-encoded, so "/ツ" and "/%E3%83%84" are one path;
//   - a percent-encoded unreserved character (RFC 3986: letters, digits,
//     '-', '.', '_', '~') is decoded, so "/%62%61%7A" is "/baz"; every other
//     escape keeps its encoding with upper-case hex digits ("%2f" is "%2F"),
//     since decoding a reserved character changes what a URI means;
//   - a '%' that starts no escape is itself encoded ("%25"), so that the
//     form is stable: normalising twice changes nothing;
//   - in a path, '*' and '$' are encoded ("%2A", "%24"): a pattern matches
//     them literally only when written encoded, as §2.2.3 asks, while in a
//     pattern '*' is the wildcard and a final '$' the end anchor (a '$'
//     anywhere else is encoded, being literal);
//   - in the query (after the first '?'), ':', '/', '?' and '@' are encoded:
//     there they delimit nothing, and RFC 9309's own example compares
//     "?baz=https://foo.bar" as "?baz=https%3A%2F%2Ffoo.bar".
//
// Other reserved characters ('/' in the path, '&', '=', ';', ...) are left
// alone on both sides: they compare equal as written, and differ from
// their encoding.

const upperHex = "0123456789ABCDEF"

// NormPath returns a URL's path and query in the normal form patterns are
// compared against; "" is "/".
func NormPath(p string) string {
	if p == "" {
		return "/"
	}
	return normalise(p, false)
}

// normPattern returns an allow or disallow value in normal form.
func normPattern(p string) string {
	return normalise(p, true)
}

func normalise(s string, pattern bool) string {
	// Most paths and patterns need no change: check before building.
	clean := true
	query := false
	for i := 0; i < len(s) && clean; i++ {
		c := s[i]
		switch {
		case query && queryDelim(c):
			clean = false
		case c == '?':
			query = true
		case c == '%':
			clean = i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) &&
				!unreserved(unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '*':
			clean = pattern
		case c == '$':
			clean = pattern && i == len(s)-1
		default:
			clean = !mustEncode(c)
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	query = false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case query && queryDelim(c):
			escape(&b, c)
		case c == '?':
			query = true
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if unreserved(v) {
				b.WriteByte(v)
			} else {
				escape(&b, v)
			}
			i += 2
		case c == '%':
			escape(&b, c)
		case c == '*' && !pattern:
			escape(&b, c)
		case c == '$' && !(pattern && i == len(s)-1):
			escape(&b, c)
		case mustEncode(c):
			escape(&b, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func escape(b *strings.Builder, c byte) {
	b.WriteByte('%')
	b.WriteByte(upperHex[c>>4])
	b.WriteByte(upperHex[c&15])
}

// mustEncode reports whether c may not stand as itself in a URI: a
// non-ASCII octet, a control, or a space.
func mustEncode(c byte) bool { return c <= ' ' || c >= 0x7F }

// queryDelim reports whether c is a character that delimits parts of a
// path but nothing in a query.
func queryDelim(c byte) bool { return c == ':' || c == '/' || c == '?' || c == '@' }

// unreserved reports whether c is an RFC 3986 unreserved character.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
