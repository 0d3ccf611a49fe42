package extract

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/politecrawl/crawl/urlnorm"
)

// flagString spells Robots for test messages.
func flagString(f Robots) string {
	var s []string
	if f&NoIndex != 0 {
		s = append(s, "noindex")
	}
	if f&NoFollow != 0 {
		s = append(s, "nofollow")
	}
	if f&^(NoIndex|NoFollow) != 0 {
		s = append(s, "?")
	}
	if len(s) == 0 {
		return "none of them"
	}
	return strings.Join(s, ",")
}

func TestRobotsList(t *testing.T) {
	const agent = "politecrawl"
	for _, tc := range []struct {
		in   string
		want Robots
	}{
		{"", 0},
		{"noindex", NoIndex},
		{"nofollow", NoFollow},
		{"none", NoIndex | NoFollow},
		{"noindex, nofollow", NoIndex | NoFollow},
		{"NOINDEX,NoFollow", NoIndex | NoFollow},
		{"  noindex  ,\tnofollow\n", NoIndex | NoFollow},
		{"index, follow", 0},
		{"all", 0},
		{"all, noindex", NoIndex},                // the most restrictive wins
		{"noindex, index", NoIndex},              // in either order
		{"noindex nofollow", NoIndex | NoFollow}, // white space for commas, a common mistake
		{"noindex;nofollow", NoIndex | NoFollow},
		{",,noindex,,", NoIndex},
		{"noindexx, no-follow, nofollow2, no index", 0},
		{"max-snippet:-1, max-image-preview:large, nofollow", NoFollow},
		{"unavailable_after: 25 Jun 2010 15:00:00 PST, noindex", NoIndex},
		{"unavailable_after: Friday, 25-Jun-2010 15:00:00 PST", 0}, // a comma in the date
		{"noarchive, nosnippet, notranslate, noimageindex", 0},
		// User-agent prefixes (X-Robots-Tag's form; read alike in meta content).
		{"politecrawl: nofollow", NoFollow},
		{"PoliteCrawl : noindex", NoIndex},
		{"otherbot: noindex, nofollow", 0},
		{"noindex, otherbot: nofollow", NoIndex},
		{"otherbot: noindex, politecrawl: nofollow", NoFollow},
		{"politecrawl: noindex, otherbot: nofollow", NoIndex},
		{"politecrawl:none", NoIndex | NoFollow},
		{"politecrawl-news: noindex", 0},
		{"noindex: yes", NoIndex},   // a directive before a colon is no user agent
		{"a bot: noindex", NoIndex}, // "a bot" is no user agent: read for everyone, the restrictive reading
		{"\xff\xfe, noindex, \x00:", NoIndex},
		{"nofollow\u00a0", 0}, // no-break space is not white space here
		{"noindeẋ, ｎｏｉｎｄｅｘ, \u212aindex", 0},
	} {
		if got := robotsList(tc.in, agent); got != tc.want {
			t.Errorf("robotsList(%q): got %s, want %s", tc.in, flagString(got), flagString(tc.want))
		}
		if got := robotsList([]byte(tc.in), agent); got != tc.want {
			t.Errorf("robotsList([]byte(%q)): got %s, want %s", tc.in, flagString(got), flagString(tc.want))
		}
	}
}

func TestRobotsHeader(t *testing.T) {
	for _, tc := range []struct {
		values []string
		agent  string
		want   Robots
	}{
		{nil, "politecrawl", 0},
		{[]string{"noindex"}, "politecrawl", NoIndex},
		{[]string{"noindex", "nofollow"}, "politecrawl", NoIndex | NoFollow},
		// A user-agent prefix holds to the end of its line only.
		{[]string{"otherbot: noindex", "nofollow"}, "politecrawl", NoFollow},
		{[]string{"otherbot: noindex, nofollow"}, "politecrawl", 0},
		{[]string{"politecrawl: nofollow", "otherbot: noindex, nofollow"}, "politecrawl", NoFollow},
		{[]string{"googlebot: noindex"}, "politecrawl", 0},
		{[]string{"googlebot: noindex"}, "googlebot", NoIndex},
		// A crawler without a product token obeys only unaddressed directives.
		{[]string{"politecrawl: noindex", "nofollow"}, "", NoFollow},
		{[]string{"", " ", ","}, "politecrawl", 0},
	} {
		if got := RobotsHeader(tc.values, tc.agent); got != tc.want {
			t.Errorf("RobotsHeader(%q, %q): got %s, want %s", tc.values, tc.agent, flagString(got), flagString(tc.want))
		}
	}
}

func TestMetaRobots(t *testing.T) {
	for _, tc := range []struct {
		tag  string
		want Robots
	}{
		{`<meta name="robots" content="noindex">`, NoIndex},
		{`<META NAME="ROBOTS" CONTENT="NOFOLLOW">`, NoFollow},
		{`<meta content="none" name="robots"/>`, NoIndex | NoFollow},
		{`<meta name=robots content=noindex,nofollow>`, NoIndex | NoFollow},
		{`<meta name=" Robots " content=" noindex ">`, NoIndex},
		{`<meta name="politecrawl" content="nofollow">`, NoFollow},
		{`<meta name="PoliteCrawl" content="noindex">`, NoIndex},
		{`<meta name="googlebot" content="noindex, nofollow">`, 0},
		{`<meta name="robots-x" content="noindex">`, 0},
		{`<meta property="robots" content="noindex">`, 0},
		{`<meta name="robots">`, 0},
		{`<meta name="robots" content="">`, 0},
		{`<meta name="robots" content="index, follow">`, 0},
		{`<meta name="robots" content="noindex" content="nofollow">`, NoIndex}, // the first attribute wins
		{`<meta name="robots" name="x" content="nofollow">`, NoFollow},
		{`<meta name="robots" content="no&#105;ndex&comma; nofollow">`, NoIndex | NoFollow}, // character references
		{"<meta name=\"robots\" content=\"noindex\r\nnofollow\">", NoIndex | NoFollow},
		{"<meta name=\"rob\x00ots\" content=\"noindex\">", 0},
		{`<meta name="robots" content='noindex' `, NoIndex}, // cut short: read as far as it goes
		{`<meta name=robots content=noindex/>`, 0},          // the value is "noindex/"
		{`<meta name=robots content=nofollow />`, NoFollow},
		{`<meta charset="utf-8">`, 0},
		{`<meta>`, 0},
	} {
		if got := metaRobots([]byte(tc.tag), "politecrawl"); got != tc.want {
			t.Errorf("metaRobots(%q): got %s, want %s", tc.tag, flagString(got), flagString(tc.want))
		}
	}
}

func TestExtractRobots(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page?x=1")
	for _, tc := range []struct {
		name, body string
		agent      string
		robots     Robots
		canonical  string
	}{
		{"none", `<title>t</title><a href="/a">a</a>`, "politecrawl", 0, ""},
		{"meta robots", `<head><meta name="robots" content="noindex"></head>`, "politecrawl", NoIndex, ""},
		{"tags combine", `<meta name="robots" content="noindex"><meta name="politecrawl" content="nofollow">`,
			"politecrawl", NoIndex | NoFollow, ""},
		{"own token without agent", `<meta name="politecrawl" content="nofollow">`, "", 0, ""},
		{"other bot", `<meta name="googlebot" content="none">`, "politecrawl", 0, ""},
		{"in body", `<body><p>x</p><meta name="robots" content="nofollow"></body>`, "politecrawl", NoFollow, ""},
		{"in svg", `<svg><meta name="robots" content="nofollow"></svg>`, "politecrawl", NoFollow, ""},
		{"in a comment", `<!-- <meta name="robots" content="noindex"> -->`, "politecrawl", 0, ""},
		{"in a script", `<script>document.write('<meta name="robots" content="noindex">')</script>`, "politecrawl", 0, ""},
		{"in a title", `<title><meta name="robots" content="noindex"></title>`, "politecrawl", 0, ""},
		{"in noscript", `<noscript><meta name="robots" content="noindex"></noscript>`, "politecrawl", 0, ""},
		{"in a textarea", `<textarea><meta name="robots" content="noindex"></textarea>`, "politecrawl", 0, ""},
		{"canonical", `<link rel="canonical" href="/Other/./page?utm_source=x#top">`, "", 0, "http://example.com/Other/page"},
		{"canonical absolute", `<link rel=canonical href="HTTPS://Example.COM:443/a">`, "", 0, "https://example.com/a"},
		{"canonical relative to base", `<link rel="canonical" href="c"><base href="http://other.example/b/">`, "", 0,
			"http://other.example/b/c"},
		{"first canonical", `<link rel="canonical" href="/one"><link rel="canonical" href="/two">`, "", 0, "http://example.com/one"},
		{"canonical among rels", `<link rel="stylesheet" href="/s.css"><link rel="Alternate  CANONICAL" href="/c">`, "", 0,
			"http://example.com/c"},
		{"canonical without href", `<link rel="canonical"><link rel="canonical" href="/c">`, "", 0, "http://example.com/c"},
		{"canonical escaped", `<link rel="canonical" href="/q?a=1&amp;b=2">`, "", 0, "http://example.com/q?a=1&b=2"},
		{"canonical elsewhere", `<link rel="canonical" href="mailto:x@example.com">`, "", 0, ""},
		{"canonical fragment only", `<link rel="canonical" href="#top">`, "", 0, ""},
		{"canonical empty", `<link rel="canonical" href="">`, "", 0, ""},
		{"not canonical", `<link rel="canonicalx" href="/c"><a rel="canonical" href="/d">d</a>`, "", 0, ""},
	} {
		x := HTML([]byte(tc.body), page, tc.agent)
		if x.Robots != tc.robots || x.Canonical != tc.canonical {
			t.Errorf("%s: got %s, canonical %q; want %s, canonical %q", tc.name,
				flagString(x.Robots), x.Canonical, flagString(tc.robots), tc.canonical)
		}
	}
}

// robotsGoquery is the reference for what HTML reads from robots
// meta tags and canonical links: the same directive lists (robotsList is
// tested on its own), found through a goquery DOM.
func robotsGoquery(body []byte, pageURL *url.URL, agent string) (Robots, string, error) {
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	var f Robots
	doc.Find("meta[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		name = strings.Trim(name, " \t\n\f\r\v")
		if strings.EqualFold(name, "robots") || agent != "" && strings.EqualFold(name, agent) {
			content, _ := s.Attr("content")
			f |= robotsList(content, agent)
		}
	})
	base := pageURL
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := pageURL.Parse(strings.TrimSpace(href)); err == nil && (b.Scheme == "http" || b.Scheme == "https") {
			base = b
		}
	}
	var canonical string
	doc.Find("link[rel][href]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		rel, _ := s.Attr("rel")
		for _, r := range strings.Fields(rel) {
			if strings.EqualFold(r, "canonical") {
				href, _ := s.Attr("href")
				if u, ok := urlnorm.Resolve(base, href); ok {
					canonical = u.String()
				}
				return false
			}
		}
		return true
	})
	return f, canonical, nil
}

var robotsRefPages = []string{
	`<html><head><meta name="robots" content="noindex"><link rel="canonical" href="/c"></head><body></body></html>`,
	`<meta NAME=ROBOTS content="NoFollow"><meta name="PoliteCrawl" content="noindex"><link REL="Canonical" HREF="c?a=1&amp;b=2">`,
	`<meta name="googlebot" content="none"><meta name="robots" content="all"><link rel=canonical href=//other.example/x#f>`,
	`<meta name="robots" content="no&#105;ndex"><meta name="robots" content="politecrawl: nofollow, x: noindex">`,
	`<title><meta name="robots" content="noindex"></title><noscript><meta name="robots" content="nofollow"></noscript>`,
	`<!-- <meta name="robots" content="noindex"> --><script>"<link rel=canonical href=/s>"</script><link rel=canonical href=/real>`,
	`<svg><meta name="robots" content="nofollow"><link rel="canonical" href="/in-svg"></svg>`,
	`<link rel="stylesheet" href="/s.css"><link rel="alternate canonical" href="/alt"><base href="/b/">`,
	`<link rel="canonical"><link rel="canonical" href="mailto:x"><link rel="canonical" href="/later">`,
	`<meta name="robots" content="noindex" content="nofollow"><meta name=" robots " content=" nofollow ">`,
	"<meta name=\"robots\" content=\"nofollow\r\nnoindex\"><link rel=\"canonical\" href=\"/a\rb\">",
}

func TestRobotsMatchesGoquery(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	for _, body := range robotsRefPages {
		x := HTML([]byte(body), page, "politecrawl")
		f, canonical, err := robotsGoquery([]byte(body), page, "politecrawl")
		if err != nil {
			t.Fatal(err)
		}
		if x.Robots != f || x.Canonical != canonical {
			t.Errorf("page %.70q:\n scanner %s, canonical %q\n goquery %s, canonical %q", body,
				flagString(x.Robots), x.Canonical, flagString(f), canonical)
		}
	}
}

// naiveRobotsList is robotsList written plainly, with strings and the
// standard library: the reference FuzzRobotsList holds it to.
func naiveRobotsList(s, agent string) Robots {
	var f Robots
	applies := true
	for _, item := range strings.Split(s, ",") {
		if name, rest, ok := strings.Cut(item, ":"); ok {
			name = strings.Trim(name, " \t\n\f\r\v")
			isDirective := false
			for _, d := range directiveNames {
				isDirective = isDirective || asciiLower(name) == d
			}
			isToken := name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == ""
			switch {
			case isDirective:
				item = name
			case isToken:
				applies = asciiLower(name) == agent
				item = rest
			}
		}
		if !applies {
			continue
		}
		for _, w := range strings.FieldsFunc(item, func(r rune) bool { return strings.ContainsRune(" \t\n\f\r\v;", r) }) {
			switch asciiLower(w) {
			case "noindex":
				f |= NoIndex
			case "nofollow":
				f |= NoFollow
			case "none":
				f |= NoIndex | NoFollow
			}
		}
	}
	return f
}

// asciiLower lower-cases ASCII letters only.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// asciiUpper upper-cases ASCII letters only (strings.ToUpper would make
// "ı" an "I").
func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// FuzzRobotsList: whatever the header or meta content, robotsList agrees
// with naiveRobotsList; case does not matter; two header lines give the
// union of their directives (a user-agent prefix holds for its own line);
// and a list read from bytes gives what it gives read from a string.
func FuzzRobotsList(f *testing.F) {
	for _, s := range []string{
		"noindex, nofollow", "politecrawl: none", "otherbot: noindex, nofollow", "noindex, otherbot: nofollow",
		"unavailable_after: Friday, 25-Jun-2010 15:00:00 PST", "max-snippet:-1", "NoIndex;NOFOLLOW", "\xff:\x00,",
		" : , :: ,a:b:c, noindex:nofollow",
	} {
		f.Add(s, "politecrawl: nofollow")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		const agent = "politecrawl"
		fa, fb := robotsList(a, agent), robotsList(b, agent)
		if want := naiveRobotsList(a, agent); fa != want {
			t.Fatalf("robotsList(%q) = %s, the naive reading %s", a, flagString(fa), flagString(want))
		}
		if got := robotsList([]byte(a), agent); got != fa {
			t.Fatalf("robotsList(%q) = %s as a string, %s as bytes", a, flagString(fa), flagString(got))
		}
		if got := robotsList(asciiUpper(a), agent); got != fa {
			t.Fatalf("robotsList(%q) = %s, but upper-cased %s", a, flagString(fa), flagString(got))
		}
		if got := RobotsHeader([]string{a, b}, agent); got != fa|fb {
			t.Fatalf("RobotsHeader(%q, %q) = %s, want the union of %s and %s", a, b, flagString(got), flagString(fa), flagString(fb))
		}
		if fa&^(NoIndex|NoFollow) != 0 {
			t.Fatalf("robotsList(%q) = %08b: unknown flags", a, fa)
		}
	})
}

// FuzzExtractRobots: on any page, the canonical URL is empty or an
// absolute normalised http(s) URL; addressing the crawler's own token only
// adds directives to those of <meta name="robots">; and reading robots
// directives changes nothing else that HTML finds.
func FuzzExtractRobots(f *testing.F) {
	for _, body := range append(robotsRefPages,
		`<meta name="robots" content="noindex"><meta name="politecrawl" content="nofollow"><a href="/a">a</a>`,
		"<link rel=canonical href=\"\xff\"><meta name=robots content=\"\xfe\"><meta name=\"\x00\">",
		`<link rel="canonical" href="HTTP://H:80/../a/./b?utm_medium=x&q#f"><base href="ftp://x/">`,
	) {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		page, _ := url.Parse("http://example.com/dir/page")
		x := HTML(body, page, "politecrawl")
		if c := x.Canonical; c != "" {
			if n, err := urlnorm.Normalize(c); err != nil || n != c {
				t.Fatalf("canonical %q is not normalised: Normalize = %q, %v", c, n, err)
			}
		}
		if x.Robots&^(NoIndex|NoFollow) != 0 {
			t.Fatalf("robots %08b: unknown flags", x.Robots)
		}
		all := HTML(body, page, "")
		if all.Robots&^x.Robots != 0 {
			t.Fatalf("robots meta tags give everyone %s, but the crawler %s", flagString(all.Robots), flagString(x.Robots))
		}
		if all.Canonical != x.Canonical || all.Title != x.Title || all.Text != x.Text || len(all.Links) != len(x.Links) {
			t.Fatalf("the agent changed what else HTML found: %+v and %+v", all, x)
		}
	})
}

// headPage is samplePage with a head as sites write them: many meta and
// link tags, and, if robots, a robots meta tag and a canonical link.
func headPage(robots bool) []byte {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`)
	for _, p := range []string{"title", "description", "image", "url", "type", "site_name"} {
		b.WriteString(`<meta property="og:` + p + `" content="Host 1 page 7 &mdash; ` + p + `">`)
		b.WriteString(`<meta name="twitter:` + p + `" content="Host 1 page 7 ` + p + `">`)
	}
	b.WriteString(`<meta name="description" content="alpha bravo charlie"><meta http-equiv="X-UA-Compatible" content="IE=edge">`)
	for _, l := range []string{`rel="stylesheet" href="/s.css"`, `rel="icon" href="/favicon.ico"`, `rel="preload" href="/f.woff2" as="font"`,
		`rel="alternate" hreflang="de" href="/de/p/7"`, `rel="manifest" href="/m.json"`, `rel="apple-touch-icon" href="/a.png"`} {
		b.WriteString(`<link ` + l + `>`)
	}
	if robots {
		b.WriteString(`<meta name="robots" content="noindex, max-snippet:-1"><link rel="canonical" href="/p/7">`)
	}
	b.WriteString("</head>")
	b.Write(samplePage(60))
	return []byte(b.String())
}

// BenchmarkExtractHead measures extraction of a page whose head holds 24
// meta and 6 link tags that are not robots directives (their attributes
// are walked, nothing allocated), and of the same page with a robots meta
// tag and a canonical link (the canonical URL allocates).
func BenchmarkExtractHead(b *testing.B) {
	page, _ := url.Parse("http://127.0.1.1:41234/p/7")
	for _, robots := range []bool{false, true} {
		body := headPage(robots)
		b.Run(map[bool]string{false: "plain", true: "robots"}[robots], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if x := HTML(body, page, "politecrawl"); len(x.Links) == 0 || (x.Canonical != "") != robots {
					b.Fatalf("%d links, canonical %q", len(x.Links), x.Canonical)
				}
			}
		})
	}
}
