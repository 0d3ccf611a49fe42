// Package urlnorm owns what makes URLs comparable: the normal form of an
// absolute http(s) URL (Normalize), the 64-bit fingerprint of a normalised
// URL (Fingerprint), the resolution of a page's links against its base URL
// into normalised URLs (Resolve, and Resolver for a page's many links
// without allocations on the common path), and the removal of tracking
// parameters from queries (DropParams). It is pure: no I/O, no state.
package urlnorm

import (
	"bytes"
	"errors"
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
	if err := NormalizeURL(u); err != nil {
		return "", err
	}
	return u.String(), nil
}

// NormalizeURL normalises u in place as Normalize does, or returns why it
// cannot (not an absolute http(s) URL with a host).
func NormalizeURL(u *url.URL) error {
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
		u.RawQuery = escapeQuery(DropParams(u.RawQuery, isTracking))
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

// DropParams returns rawQuery without the parameters whose (unescaped)
// name drop reports true for; the others keep their order and spelling.
func DropParams(rawQuery string, drop func(key string) bool) string {
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

// Resolve turns href, found on a page whose base URL is base, into a
// normalised absolute URL. It reports false for links a crawler must not
// follow (other schemes, malformed URLs).
func Resolve(base *url.URL, href string) (*url.URL, bool) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return nil, false
	}
	ref, err := url.Parse(href)
	if err != nil {
		return nil, false
	}
	u := base.ResolveReference(ref)
	if NormalizeURL(u) != nil {
		return nil, false
	}
	return u, true
}

// Fingerprint is the 64-bit key of a normalised URL in the visited set.
func Fingerprint(normalized string) uint64 { return xxhash.Sum64String(normalized) }

// hostKey is the politeness key of a normalised URL: its host[:port].
func hostKey(u *url.URL) string { return u.Host }

// Link is a followable link: its normalised URL and that URL's host key
// (host[:port], the crawler's politeness key).
type Link struct {
	URL  string
	Host string
}

// Resolver resolves the links of one page against its base URL, giving
// what Resolve gives, most of them without net/url and without
// allocations. Make one with NewResolver; it is a value that is only read,
// safe for concurrent use.
type Resolver struct {
	base   *url.URL
	origin string // the base's normalised "scheme://host", or "" to disable the fast path
	dir    string // baseDir(base)
}

// NewResolver returns the Resolver of the links of a page whose base URL
// is base.
func NewResolver(base *url.URL) Resolver {
	r := Resolver{base: base}
	nb := *base
	if NormalizeURL(&nb) == nil && nb.Host == base.Host && nb.Scheme == base.Scheme {
		r.origin, r.dir = nb.Scheme+"://"+nb.Host, baseDir(base)
	}
	return r
}

// link is Resolve for the common case, without net/url: an href that is an
// absolute path ("/a/b?q"), a relative path ("b/c", "../b"), or an absolute
// or scheme-relative http(s) URL whose host is in canonical form and whose
// path and query are plain comes out resolved ("." and ".." segments),
// with the scheme in lower case and without its fragment. Anything else
// (escapes, default ports, upper-case hosts, user info, IPv6) goes through
// Resolve. Both give the same result for every href; FuzzResolveLink
// checks it.
func (r Resolver) link(href string) (Link, bool) {
	b, span, ok := r.AppendLink(nil, href)
	if !ok {
		return Link{}, false
	}
	return span.Link(string(b)), true
}

// Span is a link resolved into a buffer that holds several: its URL is
// buf[start:end], its host buf[hostStart:hostEnd], or host when that is set.
type Span struct {
	start, end         int
	hostStart, hostEnd int
	host               string
}

// Link returns the link of s, the buffer made a string.
func (sp Span) Link(s string) Link {
	host := sp.host
	if host == "" {
		host = s[sp.hostStart:sp.hostEnd]
	}
	return Link{s[sp.start:sp.end], host}
}

// AppendLink appends the URL href leads to (as Resolve resolves it) to
// dst, and returns dst and where the link lies in it, or false for an href
// that leads nowhere a crawler goes. It allocates nothing on the fast path:
// a page's links share one buffer, made one string once all are in it.
func (r Resolver) AppendLink(dst []byte, href string) ([]byte, Span, bool) {
	if otherScheme(href) {
		return dst, Span{}, false // mailto:, javascript:, ftp: …
	}
	start := len(dst)
	if r.origin != "" {
		if b, hs, he, ok := appendFastLink(dst, r.base, r.origin, r.dir, href); ok {
			return b, Span{start: start, end: len(b), hostStart: hs, hostEnd: he}, true
		}
	}
	u, ok := Resolve(r.base, href)
	if !ok {
		return dst, Span{}, false
	}
	dst = append(dst, u.String()...)
	return dst, Span{start: start, end: len(dst), host: hostKey(u)}, true
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
// "/a/b"), or "" when the base has a raw path that appendFastLink should not
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

// appendFastLink handles the canonical cases of Resolver.link: it appends
// the resolved URL to dst and returns dst and where the URL's host lies in
// it, or dst unchanged and false for every other href. dir is
// baseDir(base), origin the base's "scheme://host".
func appendFastLink(dst []byte, base *url.URL, origin, dir, href string) ([]byte, int, int, bool) {
	if i := strings.IndexByte(href, '#'); i >= 0 {
		if strings.IndexByte(href[i:], '%') >= 0 {
			return dst, 0, 0, false // net/url validates escapes in fragments
		}
		href = href[:i]
	}
	start := len(dst)
	hostStart, hostEnd := start+len(base.Scheme)+len("://"), start+len(origin)
	switch {
	case strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "//"):
		b, ok := appendDotFree(append(dst, origin...), href)
		if !ok {
			return dst[:start], 0, 0, false
		}
		return b, hostStart, hostEnd, true
	case strings.HasPrefix(href, "//"):
		// Scheme-relative: as an absolute URL with the base's scheme.
		return appendAbsolute(dst, base.Scheme, href[2:])
	case len(href) > len("http://") && strings.EqualFold(href[:len("http://")], "http://"):
		return appendAbsolute(dst, "http", href[len("http://"):])
	case len(href) > len("https://") && strings.EqualFold(href[:len("https://")], "https://"):
		return appendAbsolute(dst, "https", href[len("https://"):])
	case href != "" && dir != "" && (isSegmentStart(href[0]) || href[0] == '.'):
		// A relative path "p/3" or "../p/3" (no scheme: no ':' before the
		// first '/'), resolved against dir, which is plain and has no dot
		// segments: dir+href is plain when href is, and has dot segments
		// when href has, reading href's start as a segment's.
		first := href
		if i := strings.IndexAny(href, "/?"); i >= 0 {
			first = href[:i]
		}
		if strings.IndexByte(first, ':') >= 0 || !plainPathQuery(href) {
			return dst, 0, 0, false
		}
		path, query, hasQuery := strings.Cut(href, "?")
		dots := hasDotSegment(path)
		if dots && (strings.Contains(dir, "//") || strings.Contains(path, "//")) {
			return dst, 0, 0, false // see appendDotFree
		}
		b := append(dst, origin...)
		n := len(b)
		b = append(append(b, dir...), path...)
		if dots {
			b = b[:n+len(removeDotSegments(b[n:]))]
		}
		if hasQuery {
			b = append(append(b, '?'), query...)
		}
		return b, hostStart, hostEnd, true
	}
	return dst, 0, 0, false
}

// appendAbsolute appends the http(s) URL scheme://after when its host is
// canonical and its path plain, resolving dot segments, and returns dst
// and where the host lies in it.
func appendAbsolute(dst []byte, scheme, after string) ([]byte, int, int, bool) {
	slash := strings.IndexByte(after, '/')
	if slash <= 0 {
		return dst, 0, 0, false // no path (needs "/") or no host
	}
	host, rest := after[:slash], after[slash:]
	if !canonicalHost(scheme, host) {
		return dst, 0, 0, false
	}
	start := len(dst)
	b := append(append(append(dst, scheme...), "://"...), host...)
	hostStart, hostEnd := start+len(scheme)+len("://"), len(b)
	b, ok := appendDotFree(b, rest)
	if !ok {
		return dst[:start], 0, 0, false
	}
	return b, hostStart, hostEnd, true
}

// appendDotFree appends p, an absolute path with an optional query, when it
// is plain (plainPathQuery), resolving its "." and ".." segments as net/url's
// ResolveReference does (RFC 3986, 5.2.4): a ".." at the root stays there,
// and a path that ends in a dot segment ends in "/". It reports false for a
// path with both dot segments and empty ones ("//"), which net/url treats in
// ways not worth repeating here.
func appendDotFree(dst []byte, p string) ([]byte, bool) {
	if !plainPathQuery(p) {
		return dst, false
	}
	path, query, hasQuery := strings.Cut(p, "?")
	if !hasDotSegment(path) {
		return append(dst, p...), true
	}
	if strings.Contains(path, "//") {
		return dst, false
	}
	n := len(dst)
	dst = append(dst, path...)
	dst = dst[:n+len(removeDotSegments(dst[n:]))]
	if hasQuery {
		dst = append(append(dst, '?'), query...)
	}
	return dst, true
}

// removeDotSegments resolves the "." and ".." segments of the absolute path
// p in place and returns the part of p that holds the result (see
// appendDotFree). The result is never longer than p: each segment it writes
// was read first.
func removeDotSegments(p []byte) []byte {
	w := 0 // p[:w] is the result so far
	dot := false
	for r := 1; ; {
		end := len(p)
		if i := bytes.IndexByte(p[r:], '/'); i >= 0 {
			end = r + i
		}
		seg := p[r:end]
		switch dot = string(seg) == "." || string(seg) == ".."; {
		case string(seg) == "..":
			w = max(bytes.LastIndexByte(p[:w], '/'), 0)
		case !dot:
			p[w] = '/'
			w += 1 + copy(p[w+1:], seg)
		}
		if end == len(p) {
			break
		}
		r = end + 1
	}
	if w == 0 || dot {
		p[w] = '/'
		w++
	}
	return p[:w]
}

// hasDotSegment reports whether the path p has a "." or ".." segment (a
// relative path's first segment included).
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == '.' && (i == 0 || p[i-1] == '/') && (i+1 == len(p) || p[i+1] == '/' ||
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

// isSegmentStart reports whether c may start a relative path that appendFastLink
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
