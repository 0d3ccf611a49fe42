package robotstxt

import (
	"bufio"
	"net/url"
	"os"
	"strings"
	"testing"
)

// refCase is one assertion of Google's reference tests: whether agent may
// fetch url under robots. want is our answer; google is false where Google's
// parser answers the other way (see testdata/google.txt).
type refCase struct {
	name, robots, agent, url string
	want, google             bool
}

// readRefCases reads testdata/google.txt.
func readRefCases(t *testing.T) []refCase {
	t.Helper()
	f, err := os.Open("testdata/google.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []refCase
	var name string
	var body []string
	inBody := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			name, body, inBody = line[3:], nil, true
		case inBody && line == "--":
			inBody = false
		case inBody:
			body = append(body, line+"\n")
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			f := strings.Split(line, "\t")
			if len(f) != 3 || name == "" {
				t.Fatalf("google.txt:%d: %q is not WANT<TAB>AGENT<TAB>URL", n, line)
			}
			verdict, differs := strings.CutSuffix(f[0], "!")
			if verdict != "allow" && verdict != "disallow" {
				t.Fatalf("google.txt:%d: want %q", n, f[0])
			}
			c := refCase{name: name, robots: strings.Join(body, ""), agent: f[1], url: f[2],
				want: verdict == "allow", google: !differs}
			cases = append(cases, c)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// requestURI is what the crawler matches: the URL's path and query as
// net/url gives them ("/" for an empty path).
func requestURI(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("url %q: %v", raw, err)
	}
	return u.RequestURI()
}

// TestGoogleReference runs Google's reference cases, all of them: those
// where we differ from Google's parser expect the answer RFC 9309 supports.
func TestGoogleReference(t *testing.T) {
	cases := readRefCases(t)
	cases = append(cases, lineTooLongCases()...)
	differ := 0
	for _, c := range cases {
		if !c.google {
			differ++
		}
		got := Parse([]byte(c.robots)).Allowed(c.agent, requestURI(t, c.url))
		if got != c.want {
			t.Errorf("%s: agent %q, url %q: got allowed %v, want %v", c.name, c.agent, c.url, got, c.want)
		}
	}
	if len(cases) != 145 {
		t.Errorf("got %d reference cases, want 145", len(cases))
	}
	t.Logf("%d reference cases, %d answered as RFC 9309 says rather than as Google's parser does", len(cases), differ)
}

// lineTooLongCases are GoogleOnly_LineTooLong's assertions. Google's parser
// cuts a line at 8 × 2083 bytes; RFC 9309 sets no line limit (§2.5 limits
// only the file, to no less than 500 KiB), so a rule is matched whole, and
// the URLs that Google tests against the rule cut short are answered by the
// rule as written.
func lineTooLongCases() []refCase {
	const maxLine = 2083 * 8
	var cases []refCase

	pad := func(prefix string, fill byte) string {
		s := []byte("/x/")
		for len(s) < maxLine-len("/x/")-len(prefix)+1 {
			s = append(s, fill)
		}
		return string(s)
	}
	long := pad("disallow: ", 'a')
	robots := "user-agent: FooBot\ndisallow: " + long + "/qux\n"
	cases = append(cases,
		refCase{name: "GoogleOnly_LineTooLong/1", robots: robots, agent: "FooBot",
			url: "http://foo.bar/fux", want: true, google: true},
		// Google: disallowed, the rule cut before "/qux" matching. The rule
		// as written does not match ".../fux".
		refCase{name: "GoogleOnly_LineTooLong/1-cut", robots: robots, agent: "FooBot",
			url: "http://foo.bar" + long + "/fux", want: true, google: false},
	)

	longA, longB := pad("allow: ", 'a'), pad("allow: ", 'b')
	robots = "user-agent: FooBot\ndisallow: /\nallow: " + longA + "/qux\nallow: " + longB + "/qux\n"
	cases = append(cases,
		refCase{name: "GoogleOnly_LineTooLong/2", robots: robots, agent: "FooBot",
			url: "http://foo.bar/", want: false, google: true},
		refCase{name: "GoogleOnly_LineTooLong/2-exact", robots: robots, agent: "FooBot",
			url: "http://foo.bar" + longA + "/qux", want: true, google: true},
		// Google: allowed by the allow rule cut short. As written it does
		// not match, and "disallow: /" does.
		refCase{name: "GoogleOnly_LineTooLong/2-cut", robots: robots, agent: "FooBot",
			url: "http://foo.bar" + longB + "/fux", want: false, google: false},
	)
	return cases
}

// TestGoogleValidToken ports ID_VerifyValidUserAgentsToObey.
func TestGoogleValidToken(t *testing.T) {
	for _, c := range []struct {
		agent string
		want  bool
	}{
		{"Foobot", true}, {"Foobot-Bar", true}, {"Foo_Bar", true},
		{"", false}, {"ツ", false}, {"Foobot*", false}, {" Foobot ", false},
		{"Foobot/2.1", false}, {"Foobot Bar", false},
	} {
		if got := ValidToken(c.agent); got != c.want {
			t.Errorf("ValidToken(%q) = %v, want %v", c.agent, got, c.want)
		}
	}
}

// TestGoogleEscapePattern ports TestMaybeEscapePattern: patterns are
// brought to normal form (non-ASCII encoded, hex digits upper case).
func TestGoogleEscapePattern(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://www.example.com", "http://www.example.com"},
		{"/a/b/c", "/a/b/c"},
		{"á", "%C3%A1"},
		{"%aa", "%AA"},
	} {
		if got := normPattern(c.in); got != c.want {
			t.Errorf("normPattern(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestGoogleLineEndings ports ID_LinesNumbersAreCountedCorrectly: LF,
// CR LF, CR alone, mixed, and no final line break read the same.
func TestGoogleLineEndings(t *testing.T) {
	lines := []string{"User-Agent: foo", "Allow: /some/path", "User-Agent: bar", "", "", "Disallow: /"}
	for name, body := range map[string]string{
		"unix":       strings.Join(lines, "\n") + "\n",
		"dos":        strings.Join(lines, "\r\n") + "\r\n",
		"mac":        strings.Join(lines, "\r") + "\r",
		"no-final":   strings.Join(lines, "\n"),
		"mixed":      "User-Agent: foo\nAllow: /some/path\r\nUser-Agent: bar\n\r\n\nDisallow: /",
		"mixed-mac":  "User-Agent: foo\rAllow: /some/path\r\nUser-Agent: bar\r\r\nDisallow: /\n",
		"dos-no-end": strings.Join(lines, "\r\n"),
	} {
		r := Parse([]byte(body))
		if got := len(r.groups); got != 2 {
			t.Errorf("%s: got %d groups, want 2", name, got)
			continue
		}
		if got := r.Allowed("bar", "/x"); got {
			t.Errorf("%s: bar allowed /x, want disallowed", name)
		}
		if g := r.Group("foo"); g == nil || len(g.rules) != 1 || g.rules[0].pattern != "/some/path" {
			t.Errorf("%s: foo's group %+v, want one rule /some/path", name, g)
		}
	}
}

// TestGoogleBOM ports ID_UTF8ByteOrderMarkIsSkipped: a byte order mark, or
// the start of one, is skipped at the file's start only.
func TestGoogleBOM(t *testing.T) {
	const rest = "User-Agent: foo\nAllow: /AnyValue\n"
	for _, c := range []struct {
		name, body string
		rules      int // rules in foo's group; -1: no group
	}{
		{"full", "\xEF\xBB\xBF" + rest, 1},
		{"partial-2", "\xEF\xBB" + rest, 1},
		{"partial-1", "\xEF" + rest, 1},
		// A broken mark spoils the user-agent line: the Allow then stands
		// outside any group.
		{"broken", "\xEF\x11\xBF" + rest, -1},
		{"middle", "User-Agent: foo\n\xEF\xBB\xBFAllow: /AnyValue\n", 0},
	} {
		g := Parse([]byte(c.body)).Group("foo")
		got := -1
		if g != nil {
			got = len(g.rules)
		}
		if got != c.rules {
			t.Errorf("%s: got %d rules, want %d", c.name, got, c.rules)
		}
	}
}

// TestGoogleSitemap ports ID_NonStandardLineExample_Sitemap: a Sitemap line
// is read wherever it stands.
func TestGoogleSitemap(t *testing.T) {
	const loc = "http://foo.bar/sitemap.xml"
	const groups = "User-Agent: foo\nAllow: /some/path\nUser-Agent: bar\n\n\n"
	for name, body := range map[string]string{
		"end":   groups + "Sitemap: " + loc + "\n",
		"start": "Sitemap: " + loc + "\n" + groups,
	} {
		if got := Parse([]byte(body)).Sitemaps; len(got) != 1 || got[0] != loc {
			t.Errorf("%s: got sitemaps %q, want [%s]", name, got, loc)
		}
	}
}
