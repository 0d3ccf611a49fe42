package crawltest

import (
	"html"
	"math/rand/v2"
	"strconv"
	"strings"
)

// target is the destination of a link: page index page of host index host.
type target struct{ host, page int }

// pagePath returns the path of page k: "/" for page 0, "/p/k" otherwise.
func pagePath(k int) string {
	if k == 0 {
		return "/"
	}
	return "/p/" + strconv.Itoa(k)
}

// words is the vocabulary of the filler text of the pages.
var words = strings.Fields(`alpha bravo charlie delta echo foxtrot golf hotel
india juliett kilo lima mike november oscar papa quebec romeo sierra tango`)

// page renders page k of host i. Its random choices come from a generator
// seeded by (Seed, i, k) alone, never by the listener ports or by the order
// of requests, so the same Config gives the same site byte for byte apart
// from the host addresses, and a site of millions of pages costs no memory.
func (w *Web) page(i, k int) []byte {
	cfg := w.cfg
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)<<32|uint64(k)))
	// Start each page's spellings at a different point of the rotation so
	// that every spelling occurs on any site with enough links.
	n := uint64(i)*uint64(cfg.PagesPerHost) + uint64(k)
	f := forms{same: int(n * 3 % numSameForms * 2), cross: int(n * 5 % numCrossForms * 2)}
	links := make([]target, 1, 1+cfg.LinksPerPage)
	links[0] = target{i, (k + 1) % cfg.PagesPerHost}
	for range cfg.LinksPerPage {
		t := target{host: i}
		if len(w.hosts) > 1 && rng.Float64() < cfg.CrossHost {
			t.host = rng.IntN(len(w.hosts) - 1)
			if t.host >= i {
				t.host++
			}
		}
		t.page = rng.IntN(cfg.PagesPerHost)
		links = append(links, t)
	}
	text := make([]string, 12)
	for j := range text {
		text[j] = words[rng.IntN(len(words))]
	}
	hrefs := make([]string, len(links))
	for j, t := range links {
		hrefs[j] = f.href(w.hosts, i, k, t)
	}
	return renderPage(i, k, links, hrefs, text)
}

// pageIndex returns the page number of a generated page's path, and whether
// path is one.
func (w *Web) pageIndex(path string) (int, bool) {
	if path == "/" {
		return 0, true
	}
	rest, ok := strings.CutPrefix(path, "/p/")
	if !ok || rest == "" || rest[0] == '0' || rest[0] == '+' {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	if err != nil || k < 1 || k >= w.cfg.PagesPerHost {
		return 0, false
	}
	return k, true
}

// forms chooses the spelling of each link in turn so that every spelling
// occurs, with and without a fragment, on any site with enough links.
type forms struct{ same, cross int }

// Spellings of a link. All resolve to the same page.
const (
	sameAbsPath     = iota // "/p/3"
	sameRelative           // "p/3" from "/", "3" from "/p/x"
	sameDotRelative        // "./p/3" from "/", "../p/3" from "/p/x"
	sameDotted             // "/p/../p/3"
	sameAbsolute           // "http://127.0.1.1:PORT/p/3"
	sameUpper              // "HTTP://127.0.1.1:PORT/p/3"
	sameNoScheme           // "//127.0.1.1:PORT/p/3"
	numSameForms
)

const (
	crossAbsolute = iota // "http://127.0.1.2:PORT/p/3"
	crossUpper           // "HTTP://127.0.1.2:PORT/p/3"
	crossNoScheme        // "//127.0.1.2:PORT/p/3"
	crossDotted          // "http://127.0.1.2:PORT/p/../p/3"
	numCrossForms
)

// href returns the next spelling of a link from page k of host i to t.
func (f *forms) href(hosts []host, i, k int, t target) string {
	p := pagePath(t.page)
	addr := hosts[t.host].addr
	var s string
	var frag bool
	if t.host != i {
		n := f.cross
		f.cross++
		frag = n/numCrossForms%2 == 1
		switch n % numCrossForms {
		case crossAbsolute:
			s = "http://" + addr + p
		case crossUpper:
			s = "HTTP://" + addr + p
		case crossNoScheme:
			s = "//" + addr + p
		case crossDotted:
			s = "http://" + addr + dotted(t.page)
		}
	} else {
		n := f.same
		f.same++
		frag = n/numSameForms%2 == 1
		switch n % numSameForms {
		case sameAbsPath:
			s = p
		case sameRelative:
			s = relative(k, t.page)
		case sameDotRelative:
			s = dotRelative(k, t.page)
		case sameDotted:
			s = dotted(t.page)
		case sameAbsolute:
			s = "http://" + addr + p
		case sameUpper:
			s = "HTTP://" + addr + p
		case sameNoScheme:
			s = "//" + addr + p
		}
	}
	if frag {
		s += "#section-" + strconv.Itoa(t.page%3)
	}
	return s
}

// relative spells a link from page k to page t of the same host relative to
// the directory of page k ("/" for page 0, "/p/" otherwise).
func relative(k, t int) string {
	switch {
	case k == 0 && t == 0:
		return "./"
	case k == 0:
		return "p/" + strconv.Itoa(t)
	case t == 0:
		return "../"
	default:
		return strconv.Itoa(t)
	}
}

// dotRelative is like relative but with "." and ".." segments.
func dotRelative(k, t int) string {
	switch {
	case k == 0 && t == 0:
		return "."
	case k == 0:
		return "./p/" + strconv.Itoa(t)
	case t == 0:
		return "../."
	default:
		return "../p/" + strconv.Itoa(t)
	}
}

// dotted spells the absolute path of page t with a ".." segment.
func dotted(t int) string {
	if t == 0 {
		return "/p/../"
	}
	return "/p/../p/" + strconv.Itoa(t)
}

// renderPage returns the HTML of page k of host i.
func renderPage(i, k int, links []target, hrefs, text []string) []byte {
	title := "Host " + strconv.Itoa(i) + " page " + strconv.Itoa(k)
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><title>" + title + "</title>\n")
	b.WriteString("<style>body { font-family: sans-serif; } nav a { display: block; }</style>\n")
	b.WriteString("<script>var x = 1;</script>\n")
	b.WriteString("</head><body>\n<h1>" + title + "</h1>\n")
	b.WriteString("<p>This is page " + strconv.Itoa(k) + " of host " + strconv.Itoa(i) +
		". " + strings.Join(text, " ") + ".</p>\n<nav>\n")
	for j, t := range links {
		b.WriteString(`<a href="` + html.EscapeString(hrefs[j]) + `">Host ` +
			strconv.Itoa(t.host) + " page " + strconv.Itoa(t.page) + "</a>\n")
	}
	b.WriteString(`<a href="mailto:someone@example.invalid">Write to us</a>` + "\n")
	b.WriteString(`<a href="javascript:void(0)">Do nothing</a>` + "\n")
	b.WriteString("</nav>\n<noscript>no script text</noscript>\n</body></html>\n")
	return []byte(b.String())
}
