package robotstxt

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// rfcSimple is the robots.txt of RFC 9309 §5.1.
const rfcSimple = `User-Agent: *
Disallow: *.gif$
Disallow: /example/
Allow: /publications/

User-Agent: foobot
Disallow:/
Allow:/example/page.html
Allow:/example/allowed.gif

User-Agent: barbot
User-Agent: bazbot
Disallow: /example/page.html

User-Agent: quxbot

EOF
`

// TestRFCExamples checks the examples of RFC 9309's text.
func TestRFCExamples(t *testing.T) {
	for _, c := range []struct {
		name, robots, agent, path string
		want                      bool
	}{
		// §5.1: "*" allows /publications/, restricts /example/ and all
		// URLs with a .gif suffix.
		{"5.1", rfcSimple, "otherbot", "/publications/report", true},
		{"5.1", rfcSimple, "otherbot", "/publications/chart.gif", true}, // longer Allow wins
		{"5.1", rfcSimple, "otherbot", "/example/", false},
		{"5.1", rfcSimple, "otherbot", "/images/a.gif", false},
		{"5.1", rfcSimple, "otherbot", "/images/a.gif?size=2", true},
		{"5.1", rfcSimple, "otherbot", "/", true},
		// foobot: only /example/page.html and /example/allowed.gif.
		{"5.1", rfcSimple, "foobot", "/example/page.html", true},
		{"5.1", rfcSimple, "foobot", "/example/allowed.gif", true},
		{"5.1", rfcSimple, "FooBot", "/example/allowed.gif", true},
		{"5.1", rfcSimple, "foobot", "/example/other.html", false},
		{"5.1", rfcSimple, "foobot", "/", false},
		{"5.1", rfcSimple, "foobot", "/publications/", false},
		// barbot and bazbot: not /example/page.html, all else.
		{"5.1", rfcSimple, "barbot", "/example/page.html", false},
		{"5.1", rfcSimple, "bazbot", "/example/page.html", false},
		{"5.1", rfcSimple, "barbot", "/example/other.html", true},
		{"5.1", rfcSimple, "bazbot", "/images/a.gif", true},
		// quxbot: an empty group at the end, unrestricted.
		{"5.1", rfcSimple, "quxbot", "/example/page.html", true},
		{"5.1", rfcSimple, "quxbot", "/images/a.gif", true},

		// §5.2: the longest rule is used.
		{"5.2", "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
			"foobot", "/example/page/", true},
		{"5.2", "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n",
			"foobot", "/example/page/disallowed.gif", false},

		// §2.2.1: two groups for one token merge.
		{"2.2.1-merge", "user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: ExampleBot\ndisallow: /baz\n",
			"ExampleBot", "/baz", false},
		{"2.2.1-merge", "user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: ExampleBot\ndisallow: /baz\n",
			"ExampleBot", "/foo", false},
		{"2.2.1-merge", "user-agent: ExampleBot\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: ExampleBot\ndisallow: /baz\n",
			"ExampleBot", "/qux", true},
		// §2.2.1: no group names the token: "*" applies.
		{"2.2.1-star", "user-agent: *\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: BazBot\ndisallow: /baz\n",
			"ExampleBot", "/bar", false},
		{"2.2.1-star", "user-agent: *\ndisallow: /foo\ndisallow: /bar\n\nuser-agent: BazBot\ndisallow: /baz\n",
			"ExampleBot", "/baz", true},
		// §2.2.1: a group name is the token, not a prefix of it.
		{"2.2.1-token", "user-agent: Example\ndisallow: /\n", "ExampleBot", "/x", true},

		// §2.2.2, the table of percent-encoded paths: each path is matched
		// in its "path to match" form.
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar?baz=quz\n", "x", "/foo/bar?baz=quz", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar?baz=https://foo.bar\n", "x", "/foo/bar?baz=https%3A%2F%2Ffoo.bar", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar?baz=https%3A%2F%2Ffoo.bar\n", "x", "/foo/bar?baz=https://foo.bar", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar/ツ\n", "x", "/foo/bar/%E3%83%84", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar/%E3%83%84\n", "x", "/foo/bar/%e3%83%84", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar/%62%61%7A\n", "x", "/foo/bar/baz", false},
		{"2.2.2", "user-agent: *\ndisallow: /foo/bar/baz\n", "x", "/foo/bar/%62%61%7A", false},
		// §2.2.2: matching is case sensitive; reserved escapes stay.
		{"2.2.2", "user-agent: *\ndisallow: /Foo\n", "x", "/foo", true},
		{"2.2.2", "user-agent: *\ndisallow: /a/b\n", "x", "/a%2Fb", true},
		// §2.2.2: rules before the first user-agent line are ignored.
		{"2.2.2", "disallow: /\nuser-agent: *\ndisallow: /x\n", "x", "/y", true},
		// §2.2.2: /robots.txt is implicitly allowed.
		{"2.2.2", "user-agent: *\ndisallow: /\n", "x", "/robots.txt", true},
		{"2.2.2", "user-agent: *\ndisallow: /\n", "x", "/robots.txt?x", false},

		// §2.2.3: the special characters and their encoded forms.
		{"2.2.3", "user-agent: *\ndisallow: /\nallow: / # comment in line\n", "x", "/a", true},
		{"2.2.3", "# comment on its own line\nuser-agent: *\ndisallow: /a\n", "x", "/a", false},
		{"2.2.3", "user-agent: *\ndisallow: /this/path/exactly$\n", "x", "/this/path/exactly", false},
		{"2.2.3", "user-agent: *\ndisallow: /this/path/exactly$\n", "x", "/this/path/exactly/", true},
		{"2.2.3", "user-agent: *\ndisallow: /this/*/exactly\n", "x", "/this/a/b/exactly", false},
		{"2.2.3", "user-agent: *\ndisallow: /this/*/exactly\n", "x", "/that/a/exactly", true},
		{"2.2.3", "user-agent: *\ndisallow: /path/file-with-a-%2A.html\n", "x", "/path/file-with-a-*.html", false},
		{"2.2.3", "user-agent: *\ndisallow: /path/file-with-a-%2A.html\n", "x", "/path/file-with-a-x.html", true},
		{"2.2.3", "user-agent: *\ndisallow: /path/foo-%24\n", "x", "/path/foo-$", false},
		{"2.2.3", "user-agent: *\ndisallow: /path/foo-$x\n", "x", "/path/foo-$x", false}, // '$' inside: literal
		{"2.2.3", "user-agent: *\ndisallow: /path/foo-$x\n", "x", "/path/foo-", true},
	} {
		if got := Parse([]byte(c.robots)).Allowed(c.agent, c.path); got != c.want {
			t.Errorf("§%s: %s %s: got allowed %v, want %v\n%s", c.name, c.agent, c.path, got, c.want, c.robots)
		}
	}
}

// TestLenient: a line that cannot be read is skipped alone (the file
// temoto/robotstxt rejected whole, and crawl then obeyed nothing).
func TestLenient(t *testing.T) {
	for _, c := range []struct {
		name, robots string
		delay        time.Duration
	}{
		{"delay-with-unit", "User-agent: FooBot\nCrawl-delay: 1s\nDisallow: /\n", time.Second},
		{"delay-empty", "User-agent: FooBot\nCrawl-delay:\nDisallow: /\n", 0},
		{"delay-word", "User-agent: FooBot\nCrawl-delay: soon\nDisallow: /\n", 0},
		{"delay-negative", "User-agent: FooBot\nCrawl-delay: -3\nDisallow: /\n", 0},
		{"delay-nan", "User-agent: FooBot\nCrawl-delay: NaN\nDisallow: /\n", 0},
		{"delay-huge", "User-agent: FooBot\nCrawl-delay: 1e300\nDisallow: /\n", maxCrawlDelay},
		{"delay-fraction", "User-agent: FooBot\nCrawl-delay: 0.25\nDisallow: /\n", 250 * time.Millisecond},
		{"delay-before-agent", "Crawl-delay: 5\nUser-agent: FooBot\nDisallow: /\n", 0},
		{"rule-before-agent", "Disallow: /x\nUser-agent: FooBot\nDisallow: /\n", 0},
		{"garbage", "\x00\xff garbage\nUser-agent: FooBot\n:::\nDisallow: /\n", 0},
		{"no-colon", "User-agent FooBot\nDisallow /\n", 0},
		{"typo", "User-agent: FooBot\nDissallow: /\n", 0},
		{"tabs", "\tUser-agent:\tFooBot\t\n\tDisallow:\t/\t\n", 0},
	} {
		g := Parse([]byte(c.robots)).Group("foobot")
		if g.Allowed("/page") {
			t.Errorf("%s: got /page allowed, want disallowed", c.name)
		}
		if got := g.CrawlDelay; got != c.delay {
			t.Errorf("%s: got Crawl-delay %v, want %v", c.name, got, c.delay)
		}
	}
}

// TestGroups: how user-agent lines form groups and how a token finds them.
func TestGroups(t *testing.T) {
	const robots = `User-agent: *
Disallow: /all
User-agent: FooBot/2.1
User-agent: BarBot
Crawl-delay: 2
Disallow: /foo
Sitemap: http://x/s1.xml

User-agent: foobot
Crawl-delay: 7
Disallow: /foo2
User-agent: FooBotExtra
Disallow: /
sitemap: http://x/s2.xml
`
	r := Parse([]byte(robots))
	for _, c := range []struct {
		agent, path string
		want        bool
	}{
		{"foobot", "/foo", false},
		{"foobot", "/foo2", false},
		{"foobot", "/all", true}, // the "*" group does not apply
		{"barbot", "/foo", false},
		{"barbot", "/other", true},
		{"foobotextra", "/x", false},
		{"foo", "/all", false},
		{"foo", "/foo", true},
		{"", "/all", false},
		{"foo bar", "/all", false},
	} {
		if got := r.Allowed(c.agent, c.path); got != c.want {
			t.Errorf("%q %s: got allowed %v, want %v", c.agent, c.path, got, c.want)
		}
	}
	if got := r.Group("FOOBOT").CrawlDelay; got != 7*time.Second {
		t.Errorf("foobot: got Crawl-delay %v, want the longest of its groups, 7s", got)
	}
	if got := r.Group("barbot").CrawlDelay; got != 2*time.Second {
		t.Errorf("barbot: got Crawl-delay %v, want 2s", got)
	}
	if got, want := fmt.Sprint(r.Sitemaps), "[http://x/s1.xml http://x/s2.xml]"; got != want {
		t.Errorf("got sitemaps %s, want %s", got, want)
	}
	var nilRules *Rules
	if !nilRules.Allowed("foobot", "/x") || Parse(nil).Group("foobot") != nil {
		t.Error("an empty file restricts something, want nothing")
	}
}

// TestMaxSize: the file is read up to MaxSize, and a line cut there is
// dropped rather than read short.
func TestMaxSize(t *testing.T) {
	head := "User-agent: *\nDisallow: /private\n"
	pad := "# " + strings.Repeat("x", 1000) + "\n"
	var b strings.Builder
	b.WriteString(head)
	for b.Len() < MaxSize-len("Allow: /p")-1 {
		b.WriteString(pad[:min(len(pad), MaxSize-len("Allow: /p")-1-b.Len())])
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	b.WriteString("Allow: /private-is-public\n") // cut after "Allow: /p"
	b.WriteString("Disallow: /after\n")
	r := Parse([]byte(b.String()))
	if b.Len() <= MaxSize {
		t.Fatalf("file of %d bytes, want more than %d", b.Len(), MaxSize)
	}
	for path, want := range map[string]bool{"/private": false, "/privatex": false, "/after": true, "/p": true} {
		if got := r.Allowed("x", path); got != want {
			t.Errorf("%s: got allowed %v, want %v", path, got, want)
		}
	}
}

// TestNormPath: the normal form of paths.
func TestNormPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/a/b?c=d&e=f", "/a/b?c=d&e=f"},
		{"/%7euser/%2fx%2F", "/~user/%2Fx%2F"},
		{"/ツ", "/%E3%83%84"},
		{"/a b", "/a%20b"},
		{"/a*b$c", "/a%2Ab%24c"},
		{"/100%", "/100%25"},
		{"/%zz", "/%25zz"},
		{"/%4", "/%254"},
		{"/q?u=https://x/y?z@w", "/q?u=https%3A%2F%2Fx%2Fy%3Fz%40w"},
		{"/q?u=https%3a%2F%2fx", "/q?u=https%3A%2F%2Fx"},
		{"/a:b@c", "/a:b@c"},
	} {
		if got := NormPath(c.in); got != c.want {
			t.Errorf("NormPath(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := NormPath(NormPath(c.in)); got != NormPath(c.in) {
			t.Errorf("NormPath(NormPath(%q)) = %q, want %q", c.in, got, NormPath(c.in))
		}
	}
	for _, c := range []struct{ in, want string }{
		{"/a*b$", "/a*b$"},
		{"/a$b$", "/a%24b$"},
		{"*.gif$", "*.gif$"},
		{"/%62%61%7a", "/baz"},
	} {
		if got := normPattern(c.in); got != c.want {
			t.Errorf("normPattern(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestProductToken(t *testing.T) {
	for _, c := range []struct{ ua, want string }{
		{"politecrawl/0.1 (+https://github.com/politecrawl/crawl)", "politecrawl"},
		{"PoliteCrawl", "politecrawl"},
		{"Foo_Bot-x/1", "foo_bot-x"},
		{"Mozilla/5.0 (compatible; ExampleBot/0.1; https://www.example.com/bot.html)", "examplebot"},
		{"Mozilla/5.0 (X11; Linux x86_64)", "mozilla"},
		{"crawl2/1.0", "crawl"},
		{"  spaced/1", "spaced"},
		{"", ""},
		{"/1.0", ""},
	} {
		if got := ProductToken(c.ua); got != c.want {
			t.Errorf("ProductToken(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

// TestMatchOracle compares match with a regular expression built from the
// pattern, on patterns and paths that exercise '*' and '$'.
func TestMatchOracle(t *testing.T) {
	patterns := []string{"/", "*", "/a", "/a*", "/a*b", "/*a*b$", "/a$", "*$", "/a**b", "/*/*/c", "/ab*ab$", "$", "/a*a*a*a*b"}
	paths := []string{"/", "/a", "/ab", "/aab", "/a/b", "/b/a/b", "/x/y/c", "/abab", "/ababab", "/aaaaaaaaaaaaaa", "/aaaaaaaab", ""}
	for _, p := range patterns {
		for _, s := range paths {
			if got, want := match(p, s), oracle(p).MatchString(s); got != want {
				t.Errorf("match(%q, %q) = %v, want %v", p, s, got, want)
			}
		}
	}
}

// oracle is pattern as an anchored regular expression.
func oracle(pattern string) *regexp.Regexp {
	end := ""
	if strings.HasSuffix(pattern, "$") {
		pattern, end = pattern[:len(pattern)-1], "$"
	}
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + ")" + end)
}

// FuzzAllowed checks, for any file and path, that the answer does not
// depend on how the path is percent-encoded (the path and its normal form
// are answered alike, and the normal form is stable), and that every
// rule's matcher agrees with the regular-expression oracle.
func FuzzAllowed(f *testing.F) {
	f.Add([]byte(rfcSimple), "foobot", "/example/allowed.gif")
	f.Add([]byte("user-agent: *\ndisallow: /foo/bar/%62%61%7A\nallow: /*.php$\n"), "x", "/foo/bar/baz?q=%2a")
	f.Add([]byte("User-agent: FooBot\nCrawl-delay: 1s\nDisallow: /a*b$\nAllow: /ツ\n"), "FooBot", "/%E3%83%84")
	f.Add([]byte("\xEF\xBB\xBFuser-agent FooBot\r\ndisallow /%zz\r"), "foobot", "/100%")
	f.Fuzz(func(t *testing.T, body []byte, agent, path string) {
		r := Parse(body)
		g := r.Group(agent)
		norm := NormPath(path)
		if got, want := g.Allowed(norm), g.Allowed(path); got != want {
			t.Fatalf("Allowed(%q) = %v, Allowed(%q) = %v; want equal", norm, got, path, want)
		}
		if again := NormPath(norm); again != norm {
			t.Fatalf("NormPath(%q) = %q, NormPath of that %q; want stable", path, norm, again)
		}
		if g == nil {
			return
		}
		for _, rl := range g.rules {
			if rl.pattern == "" {
				t.Fatal("empty pattern kept")
			}
			if normPattern(rl.pattern) != rl.pattern {
				t.Fatalf("pattern %q not in normal form", rl.pattern)
			}
			if got, want := match(rl.pattern, norm), oracle(rl.pattern).MatchString(norm); got != want {
				t.Fatalf("match(%q, %q) = %v, oracle %v", rl.pattern, norm, got, want)
			}
		}
	})
}

func ExampleRules_Allowed() {
	r := Parse([]byte(`User-agent: *
Disallow: /

User-agent: ExampleBot
Crawl-delay: 1.5
Disallow: /private/
Allow: /private/*.html$
Sitemap: https://example.com/sitemap.xml
`))
	bot := ProductToken("ExampleBot/1.0 (+https://example.com/bot)")
	g := r.Group(bot)
	fmt.Println(g.Allowed("/private/a.html"), g.Allowed("/private/a.pdf"), g.Allowed("/public"))
	fmt.Println(r.Allowed("OtherBot", "/public"), g.CrawlDelay, r.Sitemaps)
	// Output:
	// true false true
	// false 1.5s [https://example.com/sitemap.xml]
}

// BenchmarkAllowed answers one question against a group of 40 rules, as
// the crawler does for every URL it is about to fetch.
func BenchmarkAllowed(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("User-agent: *\nDisallow: /\nUser-agent: politecrawl\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "Disallow: /section%d/*.pdf$\nAllow: /section%d/public/\n", i, i)
	}
	g := Parse([]byte(sb.String())).Group("politecrawl")
	const path = "/section19/public/reports/2026/annual-report.pdf?lang=en"
	for b.Loop() {
		if !g.Allowed(path) {
			b.Fatalf("%s disallowed, want allowed", path)
		}
	}
}
