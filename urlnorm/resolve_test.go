package urlnorm

import (
	"net/url"
	"testing"
)

// slowLink is the reference Resolver.link must agree with.
func slowLink(base *url.URL, href string) (Link, bool) {
	u, ok := Resolve(base, href)
	if !ok {
		return Link{}, false
	}
	return Link{u.String(), hostKey(u)}, true
}

var linkCases = []string{
	"/", "/a", "/a/b.html", "/a/b?q=1&r=2", "/a#frag", "/a?", "/a?#f", "/.", "/..", "/a/./b", "/a/../b",
	"/a/.b", "/a/..b", "/a/b.", "/a/b..", "/.well-known/x", "/a%20b", "/a b", "/a(b)", "/a!b", "/a*b", "/a'b",
	"/a:b@c$d&e+f,g;h=i", "/a~b_c-d", "/é", "/a?b=é", "/a?b c", "/a?b%20c", "/a\\b", "//other/x",
	"http://example.com/x", "https://example.com/x", "http://example.com", "http://example.com:80/x",
	"https://example.com:443/x", "http://example.com:8080/x", "http://Example.com/x", "http://example.com./x",
	"http://user@example.com/x", "http://[::1]:8080/x", "http://example.com:/x", "http://example.com:0080/x",
	"http://example.com:99999/x", "http://-x.com/x", "http://ex_ample.com/x", "http:///x", "http://example.com/a/../b",
	"HTTP://example.com/x", "ftp://example.com/x", "p/3", "p/3?x=1", "p/./3", "a:b/c", "a/b:c", "-x", "~u/p", "_x", ".x", "3#f", "../x", "?q", "#top", "", " /a ", "mailto:x@y",
	// dot segments and upper-case schemes, which the fast path resolves
	"./p/3", "../p/3", "../.", ".", "..", "./", "../", "/p/../p/3", "/p/../", "../../../x", "/a/b/..?q=1",
	"/..//a", "/a/..//b", ".?q", "..?q", "./?q", "/a/b/../../..", "./a/../b/.", ".hidden", "..x/y",
	"HTTP://example.com/p/../x", "Http://example.com:8080/a/./b?x=1", "http://example.com/./", "//example.com/a/../b",
	"https://example.com:8443/a/b/c/../../d", "HTTPS://example.com/x#f", "http://EXAMPLE.com/a/../b",
}

func TestResolverMatchesResolve(t *testing.T) {
	for _, b := range []string{"http://example.com/dir/page", "https://h.example:8443/", "http://127.0.1.1:41234/p/3",
		"http://example.com/a/b/c/d", "http://example.com/a//b/c"} {
		base, _ := url.Parse(b)
		res := NewResolver(base)
		for _, href := range linkCases {
			got, gotOK := res.link(href)
			want, wantOK := slowLink(base, href)
			if got != want || gotOK != wantOK {
				t.Errorf("base %s, href %q: link = %+v, %v; resolve = %+v, %v", b, href, got, gotOK, want, wantOK)
			}
		}
	}
}

// FuzzResolveLink checks that the fast path of Resolver.link never disagrees
// with the general resolver.
func FuzzResolveLink(f *testing.F) {
	for _, h := range linkCases {
		f.Add(h)
	}
	var bases []*url.URL
	for _, b := range []string{"http://example.com:8080/dir/page", "https://example.com/", "http://example.com/a/b/c/d",
		"http://example.com/a//b/c"} {
		base, _ := url.Parse(b)
		bases = append(bases, base)
	}
	f.Fuzz(func(t *testing.T, href string) {
		for _, base := range bases {
			got, gotOK := NewResolver(base).link(href)
			want, wantOK := slowLink(base, href)
			if got != want || gotOK != wantOK {
				t.Fatalf("base %s, href %q: link = %+v, %v; resolve = %+v, %v", base, href, got, gotOK, want, wantOK)
			}
			if gotOK {
				if n, err := Normalize(got.URL); err != nil || n != got.URL {
					t.Fatalf("base %s, href %q gave %q, which normalises to %q, %v", base, href, got.URL, n, err)
				}
			}
		}
	})
}
