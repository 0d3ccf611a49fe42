// Package robotstxt reads robots.txt files and answers whether a crawler may
// fetch a path, as RFC 9309 (the Robots Exclusion Protocol) says: lenient
// line-by-line parsing, groups merged by product token, "*" and "$" in
// patterns anchored at the start of the path, the longest match by octets
// with allow winning a tie, and percent-encoding compared in one normal form
// on both sides. It also reads two records that are not part of the
// protocol: Sitemap (anywhere in the file) and Crawl-delay (in a group).
//
// It does no I/O: the caller fetches the file and decides what a missing
// or unreachable one means (RFC 9309 §2.3.1).
//
// We wrote it rather than use a library: temoto/robotstxt rejects a whole
// file for one bad line and does not anchor patterns, and
// jimsmart/grobotstxt (a port of Google's parser, unchanged since 2022)
// re-parses the file for every question and knows no Crawl-delay. Its
// behaviour is checked against Google's reference tests (testdata/google.txt);
// where it differs from Google's parser, RFC 9309 says why.
package robotstxt

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxSize is how much of a file is parsed: RFC 9309 §2.5 asks for at least
// 500 KiB. A longer file is cut at its last line break before MaxSize, so
// that a rule is never read cut short (a shortened Allow would allow more).
const MaxSize = 500 << 10

// maxCrawlDelay bounds a Crawl-delay: a robots.txt is read again within a
// day (RFC 9309 §2.4), so a longer delay could not be honoured as one, and
// the bound keeps the conversion to a Duration from overflowing.
const maxCrawlDelay = 24 * time.Hour

// Rules is a parsed robots.txt. A Rules is immutable and safe for
// concurrent use; the zero value (and a nil *Rules) is an empty file, which
// allows everything.
type Rules struct {
	// Sitemaps are the values of the Sitemap lines, as written, wherever
	// they stand in the file.
	Sitemaps []string

	groups []group
}

// group is one group of the file: the agents named by its user-agent lines
// and the rules that follow them.
type group struct {
	agents     []string // lower-case product tokens, or "*"
	rules      []rule
	crawlDelay time.Duration // 0: none
}

// rule is one allow or disallow line; pattern is in normal form
// (normPattern) and never empty.
type rule struct {
	pattern string
	allow   bool
}

// Parse reads a robots.txt. It never fails: a line that cannot be parsed
// is skipped (RFC 9309 §2.3.1.5), never the file.
func Parse(body []byte) *Rules {
	if len(body) > MaxSize {
		body = body[:MaxSize]
		if i := bytes.LastIndexAny(body, "\r\n"); i >= 0 {
			body = body[:i]
		}
	}
	body = skipBOM(body)
	r := &Rules{}
	var cur *group   // the group being read; nil before the first user-agent line
	inRules := false // an allow or disallow line has been read in cur
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
			line = body[:i]
			if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
				i++
			}
			body = body[i+1:]
		} else {
			line, body = body, nil
		}
		key, value, ok := splitLine(line)
		if !ok {
			continue
		}
		switch key {
		case "user-agent", "useragent", "user agent":
			// Consecutive user-agent lines open one group; one after a
			// rule opens the next (RFC 9309 §2.1).
			if cur == nil || inRules {
				r.groups = append(r.groups, group{})
				cur = &r.groups[len(r.groups)-1]
				inRules = false
			}
			if a := agentName(value); a != "" {
				cur.agents = append(cur.agents, a)
			}
		case "allow", "disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw":
			if cur == nil {
				// RFC 9309 §2.2.2: rules that are not in any group are
				// ignored.
				continue
			}
			inRules = true
			if value == "" {
				// An empty pattern matches nothing ("Disallow:" is the
				// classic way to allow everything).
				continue
			}
			cur.rules = append(cur.rules, rule{pattern: normPattern(value), allow: key == "allow"})
		case "crawl-delay", "crawldelay", "crawl delay":
			// Not part of RFC 9309; like any other record it does not end
			// the list of user agents (§2.2.4).
			if d, ok := parseDelay(value); ok && cur != nil {
				cur.crawlDelay = d
			}
		case "sitemap", "site-map":
			if value != "" {
				r.Sitemaps = append(r.Sitemaps, value)
			}
		}
	}
	return r
}

// skipBOM drops a UTF-8 byte order mark, or the start of one, as Google's
// parser does: it would otherwise spoil the first line.
func skipBOM(b []byte) []byte {
	for _, c := range []byte{0xEF, 0xBB, 0xBF} {
		if len(b) == 0 || b[0] != c {
			break
		}
		b = b[1:]
	}
	return b
}

// splitLine cuts a line into its lower-case key and its value, without the
// comment or the surrounding white space. A missing colon is forgiven when
// the line is two words ("Disallow /"), as Google's parser does: the intent
// is plain, and reading it is the polite choice.
func splitLine(line []byte) (key, value string, ok bool) {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	k, v, found := strings.Cut(s, ":")
	if !found {
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return "", "", false
		}
		k, v = s[:i], strings.TrimLeft(s[i:], " \t")
		if strings.ContainsAny(v, " \t") {
			return "", "", false
		}
	}
	k = strings.Trim(k, " \t")
	if k == "" {
		return "", "", false
	}
	return strings.ToLower(k), strings.Trim(v, " \t"), true
}

// agentName is the product token a user-agent line names, in lower case:
// "*", or the value's leading run of letters, '_' and '-' (RFC 9309 §2.2.1
// allows no other characters; the run forgives "FooBot/1.2" and
// "FooBot Images"). It is "" when the value starts with none of them.
func agentName(value string) string {
	if value == "*" || strings.HasPrefix(value, "* ") || strings.HasPrefix(value, "*\t") {
		return "*"
	}
	return strings.ToLower(value[:tokenLen(value)])
}

// tokenLen is the length of s's leading run of product-token characters.
func tokenLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return i
		}
	}
	return len(s)
}

// ValidToken reports whether agent is a product token RFC 9309 §2.2.1
// allows: one or more letters, '_' and '-'.
func ValidToken(agent string) bool {
	return agent != "" && tokenLen(agent) == len(agent)
}

// ProductToken derives the product token from a User-Agent header: its
// first product's name ("FooBot" in "FooBot/1.2 (+https://…)"), or, for a
// "Mozilla/5.0 (compatible; FooBot/1.2; …)" header, the name after
// "compatible;" (the RFC 9309 §2.2.1 example). The name is cut at its first
// character that RFC 9309 does not allow in a token, the same cut the
// parser makes on user-agent lines, so the two meet. The result is in lower
// case; it is "" if nothing is left.
func ProductToken(userAgent string) string {
	s := strings.TrimLeft(userAgent, " \t")
	name := s[:tokenLen(s)]
	if strings.EqualFold(name, "mozilla") {
		if _, rest, ok := strings.Cut(s, "compatible;"); ok {
			rest = strings.TrimLeft(rest, " \t")
			if n := tokenLen(rest); n > 0 {
				name = rest[:n]
			}
		}
	}
	return strings.ToLower(name)
}

// parseDelay reads a Crawl-delay value: seconds, which may be fractional
// ("2.5"). A Go duration ("1s", "500ms") is accepted too, because sites
// write "Crawl-delay: 1s" and its meaning is plain. Anything else, and a
// negative or non-finite value, is not a delay.
func parseDelay(v string) (time.Duration, bool) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return 0, false
		}
		if f >= maxCrawlDelay.Seconds() {
			return maxCrawlDelay, true
		}
		return time.Duration(f * float64(time.Second)), true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		// ParseDuration fails on overflow, so a huge value ends here too.
		return 0, false
	}
	return min(d, maxCrawlDelay), true
}

// Group is the merged group of rules that applies to one product token. A
// nil *Group applies no rules: everything is allowed. A Group is immutable
// and safe for concurrent use.
type Group struct {
	// CrawlDelay is the group's Crawl-delay; 0 if none. When several
	// groups merge, the longest delay is kept.
	CrawlDelay time.Duration

	// rules are sorted longest pattern first, allow before disallow among
	// patterns of the same length, so the first match decides.
	rules []rule
}

// Group returns the rules for the product token agent (matched without
// regard to case): every group that names it, merged (RFC 9309 §2.2.1);
// failing that, every group that names "*"; failing that, nil. An agent
// that is not a valid token (see ValidToken) matches only the "*" groups.
func (r *Rules) Group(agent string) *Group {
	if r == nil {
		return nil
	}
	var specific, global []*group
	for i := range r.groups {
		g := &r.groups[i]
		for _, a := range g.agents {
			if a == "*" {
				global = append(global, g)
				break
			}
			if ValidToken(agent) && strings.EqualFold(a, agent) {
				specific = append(specific, g)
				break
			}
		}
	}
	groups := specific
	if len(groups) == 0 {
		groups = global
	}
	if len(groups) == 0 {
		return nil
	}
	m := &Group{}
	for _, g := range groups {
		m.rules = append(m.rules, g.rules...)
		m.CrawlDelay = max(m.CrawlDelay, g.crawlDelay)
	}
	slices.SortStableFunc(m.rules, func(a, b rule) int {
		if len(a.pattern) != len(b.pattern) {
			return len(b.pattern) - len(a.pattern)
		}
		switch {
		case a.allow == b.allow:
			return 0
		case a.allow:
			return -1
		}
		return 1
	})
	return m
}

// Allowed reports whether agent may fetch pathAndQuery (a URL's path and
// query, as url.URL.RequestURI returns them).
func (r *Rules) Allowed(agent, pathAndQuery string) bool {
	return r.Group(agent).Allowed(pathAndQuery)
}

// Allowed reports whether the group allows pathAndQuery: the longest
// matching pattern decides, allow winning a tie, and a path no rule matches
// is allowed (RFC 9309 §2.2.2). pathAndQuery may be percent-encoded or not:
// it is brought to the normal form the patterns are in first.
func (g *Group) Allowed(pathAndQuery string) bool {
	if g == nil || len(g.rules) == 0 {
		return true
	}
	p := NormPath(pathAndQuery)
	if p == "/robots.txt" {
		// RFC 9309 §2.2.2: "The /robots.txt URI is implicitly allowed."
		return true
	}
	for _, r := range g.rules {
		if match(r.pattern, p) {
			return r.allow
		}
	}
	return true
}

// match reports whether pattern (in normal form) matches path (in normal
// form): pattern is anchored at the path's first octet, '*' matches any run
// of octets, and a final '$' anchors it at the path's end; otherwise it
// need only match a prefix. On a mismatch the last '*' takes one more
// octet and matching resumes after it, which is enough for patterns whose
// only metacharacter is '*'; the worst case is O(len(pattern)·len(path)).
func match(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	if anchored {
		pattern = pattern[:len(pattern)-1]
	}
	p, i := 0, 0
	star, starI := -1, 0
	for {
		if p == len(pattern) {
			if !anchored || i == len(path) {
				return true
			}
		} else if pattern[p] == '*' {
			star, starI = p, i
			p++
			continue
		} else if i < len(path) && pattern[p] == path[i] {
			p++
			i++
			continue
		}
		if star < 0 || starI >= len(path) {
			return false
		}
		starI++
		p, i = star+1, starI
	}
}
