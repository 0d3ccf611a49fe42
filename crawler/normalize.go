package crawler

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Errors of URL normalisation.
var (
	errNotAbsolute = errors.New("not an absolute URL")
	errScheme      = errors.New("scheme is not http or https")
	errNoHost      = errors.New("no host")
)

// Normalize returns the canonical form of an absolute http(s) URL: scheme and
// host in lower case, the default port dropped, the fragment and user info
// dropped, dot segments resolved, an empty path made "/", an empty query
// ("?") dropped, tracking parameters (utm_* and trackingParams) dropped from
// the query and the path's percent-encoding made canonical. Two URLs that
// name the same resource this way normalise to the same string, and
// Normalize(Normalize(u)) == Normalize(u).
func Normalize(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	if err := normalizeURL(u); err != nil {
		return "", err
	}
	return u.String(), nil
}

// normalizeURL normalises u in place (see Normalize).
func normalizeURL(u *url.URL) error {
	if !u.IsAbs() {
		return errNotAbsolute
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return errScheme
	}
	if u.Opaque != "" {
		return errNoHost
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	host = strings.TrimRight(host, ".") // "example.com." is example.com; "." and ".." are no host
	if host == "" {
		return errNoHost
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return errNoHost
		}
		host = "[" + host + "]" // IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.ForceQuery = false
	if u.RawQuery != "" {
		u.RawQuery = escapeQuery(dropParams(u.RawQuery, isTracking))
	}
	// Resolving u against an empty base removes its dot segments (RFC 3986
	// section 5.2.4) and yields a fresh, canonically escaped path.
	if strings.Contains(u.Path, ".") {
		r := (&url.URL{}).ResolveReference(u)
		u.Path, u.RawPath = r.Path, r.RawPath
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	// Keep the raw form only where it carries meaning Path cannot (an
	// escaped slash); elsewhere let net/url choose one canonical escaping.
	if u.RawPath != "" && !strings.Contains(strings.ToUpper(u.RawPath), "%2F") {
		u.RawPath = ""
	}
	return nil
}

// escapeQuery percent-encodes the bytes of a raw query that may not appear
// in a URL (controls, space, non-ASCII and "<>\^`{|}), as browsers do,
// leaving every other byte, existing escapes included, as it is.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(q); i++ {
		if badQueryByte(q[i]) {
			n++
		}
	}
	if n == 0 {
		return q
	}
	b := make([]byte, 0, len(q)+2*n)
	for i := 0; i < len(q); i++ {
		if c := q[i]; badQueryByte(c) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func badQueryByte(c byte) bool {
	return c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
		c == '`' || c == '{' || c == '|' || c == '}'
}

// trackingParams are query parameters that identify a click or a
// campaign, not a resource; Normalize drops them, and those starting with
// "utm_".
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "gbraid": true, "wbraid": true, "msclkid": true,
	"mc_eid": true, "mc_cid": true, "_ga": true, "_gl": true, "yclid": true, "igshid": true,
	"twclid": true, "ttclid": true, "li_fat_id": true,
}

func isTracking(key string) bool {
	key = strings.ToLower(key)
	return strings.HasPrefix(key, "utm_") || trackingParams[key]
}

// dropParams returns rawQuery without the parameters whose (unescaped)
// name drop reports true for; the others keep their order and spelling.
func dropParams(rawQuery string, drop func(key string) bool) string {
	if rawQuery == "" {
		return ""
	}
	parts := strings.Split(rawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if !drop(k) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

// resolve turns href, found on a page whose base URL is base, into a
// normalised absolute URL. It reports false for links a crawler must not
// follow (other schemes, malformed URLs).
func resolve(base *url.URL, href string) (*url.URL, bool) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return nil, false
	}
	ref, err := url.Parse(href)
	if err != nil {
		return nil, false
	}
	u := base.ResolveReference(ref)
	if normalizeURL(u) != nil {
		return nil, false
	}
	return u, true
}

// Fingerprint is the 64-bit key of a normalised URL in the visited set.
func Fingerprint(normalized string) uint64 { return xxhash.Sum64String(normalized) }

// hostKey is the politeness key of a normalised URL: its host[:port].
func hostKey(u *url.URL) string { return u.Host }

// hostOf returns the host key of a normalised URL string.
func hostOf(normalized string) (string, error) {
	u, err := url.Parse(normalized)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", normalized, err)
	}
	return hostKey(u), nil
}

// link is a followable link: its normalised URL and that URL's host key.
type link struct {
	url  string
	host string
}

// resolver resolves the links of one page against its base URL.
type resolver struct {
	base   *url.URL
	origin string // the base's normalised "scheme://host", or "" to disable the fast path
	dir    string // baseDir(base)
}

func newResolver(base *url.URL) resolver {
	r := resolver{base: base}
	nb := *base
	if normalizeURL(&nb) == nil && nb.Host == base.Host && nb.Scheme == base.Scheme {
		r.origin, r.dir = nb.Scheme+"://"+nb.Host, baseDir(base)
	}
	return r
}

// link is resolve for the common case, without net/url: an href that is an
// absolute path ("/a/b?q"), a relative path ("b/c", "../b"), or an absolute
// or scheme-relative http(s) URL whose host is in canonical form and whose
// path and query are plain comes out resolved ("." and ".." segments),
// with the scheme in lower case and without its fragment. Anything else
// (escapes, default ports, upper-case hosts, user info, IPv6) goes through
// resolve. Both give the same result for every href; FuzzResolveLink
// checks it.
func (r resolver) link(href string) (link, bool) {
	if otherScheme(href) {
		return link{}, false // mailto:, javascript:, ftp: …
	}
	if r.origin != "" {
		if s, host, ok := fastLink(r.base, r.origin, r.dir, href); ok {
			return link{s, host}, true
		}
	}
	u, ok := resolve(r.base, href)
	if !ok {
		return link{}, false
	}
	return link{u.String(), hostKey(u)}, true
}

// otherScheme reports whether href starts with a scheme (as net/url reads
// one) other than http and https: it leads nowhere the crawl goes.
func otherScheme(href string) bool {
	href = strings.TrimSpace(href)
	for i := 0; i < len(href); i++ {
		switch c := href[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.':
			if i == 0 {
				return false
			}
		case c == ':':
			s := href[:i]
			return i > 0 && !strings.EqualFold(s, "http") && !strings.EqualFold(s, "https")
		default:
			return false
		}
	}
	return false
}

// baseDir returns the directory of a normalised base URL's path ("/a/" for
// "/a/b"), or "" when the base has a raw path that fastLink should not
// build on.
func baseDir(base *url.URL) string {
	if base.RawPath != "" || base.Opaque != "" {
		return ""
	}
	p := base.Path
	if !canonicalPathQuery(p) {
		return ""
	}
	return p[:strings.LastIndexByte(p, '/')+1]
}

// fastLink handles the canonical cases of resolver.link and reports false for
// every other href. dir is baseDir(base).
func fastLink(base *url.URL, baseOrigin, dir, href string) (s, host string, ok bool) {
	if i := strings.IndexByte(href, '#'); i >= 0 {
		if strings.IndexByte(href[i:], '%') >= 0 {
			return "", "", false // net/url validates escapes in fragments
		}
		href = href[:i]
	}
	var rest string
	switch {
	case strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "//"):
		host, rest = base.Host, href
		if rest, ok = dotFree(rest); !ok {
			return "", "", false
		}
		return baseOrigin + rest, host, true
	case strings.HasPrefix(href, "//"):
		// Scheme-relative: as an absolute URL with the base's scheme.
		return fastLink(base, baseOrigin, dir, base.Scheme+":"+href)
	case len(href) > len("http://") && strings.EqualFold(href[:len("http://")], "http://"),
		len(href) > len("https://") && strings.EqualFold(href[:len("https://")], "https://"):
		i := strings.IndexByte(href, ':')
		scheme := strings.ToLower(href[:i]) // no copy when already lower case
		after := href[i+3:]
		slash := strings.IndexByte(after, '/')
		if slash <= 0 {
			return "", "", false // no path (needs "/") or no host
		}
		host, rest = after[:slash], after[slash:]
		if !canonicalHost(scheme, host) {
			return "", "", false
		}
		path := rest
		if rest, ok = dotFree(rest); !ok {
			return "", "", false
		}
		if scheme == href[:i] && rest == path {
			return href, host, true
		}
		return scheme + "://" + host + rest, host, true
	case href != "" && dir != "" && (isSegmentStart(href[0]) || href[0] == '.'):
		// A relative path "p/3" or "../p/3" (no scheme: no ':' before the
		// first '/').
		first := href
		if i := strings.IndexAny(href, "/?"); i >= 0 {
			first = href[:i]
		}
		if strings.IndexByte(first, ':') >= 0 {
			return "", "", false
		}
		if rest, ok = dotFree(dir + href); !ok {
			return "", "", false
		}
		return baseOrigin + rest, base.Host, true
	}
	return "", "", false
}

// dotFree checks that p, an absolute path with an optional query, is plain
// (plainPathQuery) and resolves its "." and ".." segments as net/url's ResolveReference does (RFC 3986, 5.2.4): a
// ".." at the root stays there, and a path that ends in a dot segment ends
// in "/". It returns p itself when it has none, and false for a path with
// both dot segments and empty ones ("//"), which net/url treats in ways
// not worth repeating here.
func dotFree(p string) (string, bool) {
	if !plainPathQuery(p) {
		return "", false
	}
	path, query, hasQuery := strings.Cut(p, "?")
	if !hasDotSegment(path) {
		return p, true
	}
	if strings.Contains(path, "//") {
		return "", false
	}
	segs := strings.Split(path[1:], "/")
	kept := segs[:0]
	for _, seg := range segs {
		switch seg {
		case ".":
		case "..":
			if len(kept) > 0 {
				kept = kept[:len(kept)-1]
			}
		default:
			kept = append(kept, seg)
		}
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, seg := range kept {
		b.WriteByte('/')
		b.WriteString(seg)
	}
	if last := segs[len(segs)-1]; b.Len() == 0 || last == "." || last == ".." {
		b.WriteByte('/')
	}
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String(), true
}

// hasDotSegment reports whether the absolute path p has a "." or ".."
// segment.
func hasDotSegment(p string) bool {
	for i := 1; i < len(p); i++ {
		if p[i] == '.' && p[i-1] == '/' && (i+1 == len(p) || p[i+1] == '/' ||
			p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/')) {
			return true
		}
	}
	return false
}

// mayTrack reports whether a raw query may hold a parameter that
// normalisation drops: a tracking name, or a name with escapes or empty
// parts that only the full path can judge.
func mayTrack(query string) bool {
	for part := range strings.SplitSeq(query, "&") {
		k, _, _ := strings.Cut(part, "=")
		if k == "" || strings.ContainsAny(k, "%+") || isTracking(k) {
			return true
		}
	}
	return false
}

// isSegmentStart reports whether c may start a relative path that fastLink
// handles: a letter, digit, '-', '_' or '~' (no '.', which may start a dot
// segment, and nothing that needs escaping).
func isSegmentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~'
}

// canonicalHost reports whether host ("name" or "name:port") is already in
// normalised form for scheme: lower case, no trailing dot, no default port.
func canonicalHost(scheme, host string) bool {
	name, port, hasPort := strings.Cut(host, ":")
	if name == "" || name[len(name)-1] == '.' || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	if hasPort {
		if port == "" || len(port) > 5 || port[0] == '0' {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
		if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
			return false
		}
	}
	return true
}

// canonicalPathQuery reports whether p, starting with "/", is a path (and
// optional query) that normalisation leaves unchanged: plain (see
// plainPathQuery) and without dot segments.
func canonicalPathQuery(p string) bool {
	path, _, _ := strings.Cut(p, "?")
	return plainPathQuery(p) && !hasDotSegment(path)
}

// plainPathQuery reports whether p, starting with "/", is a path (and
// optional query) of characters that normalisation leaves as they are: no
// escapes, only characters that net/url does not escape in a path (it
// escapes ! ' ( ) *), and a query of plain characters that is not empty.
func plainPathQuery(p string) bool {
	path, query, hasQuery := strings.Cut(p, "?")
	if hasQuery && (query == "" || mayTrack(query)) {
		return false // "?" alone and tracking parameters are dropped by normalisation
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '~' || c == '/' || c == ':' || c == '@' ||
			c == '$' || c == '&' || c == '+' || c == ',' || c == ';' || c == '=' || c == '.':
		default:
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '#' || c == '"' || c == '<' || c == '>' ||
			c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			return false
		}
	}
	return true
}
