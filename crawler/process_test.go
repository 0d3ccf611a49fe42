package crawler

import (
	"net/url"
	"testing"
	"unsafe"

	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/urlnorm"
)

func TestDropParamsConfigured(t *testing.T) {
	c := &Crawler{drop: map[string]bool{"sessionid": true, "ref": true}}
	got := c.dropTracking([]urlnorm.Link{
		{URL: "http://h/p?sessionid=9&id=1&ref=home", Host: "h"}, {URL: "http://h/p?id=1", Host: "h"}, {URL: "http://h/q?ref=x", Host: "h"},
	})
	if len(got) != 2 || got[0].URL != "http://h/p?id=1" || got[1].URL != "http://h/q" {
		t.Errorf("got %v, want http://h/p?id=1 and http://h/q, each once", got)
	}
}

func TestSimilar(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"http://h/cal?m=2026-11", "http://h/cal?m=2026-12", true},
		{"http://h/page/9", "http://h/page/10", true},
		{"http://h/cal/2026/11", "http://h/cal/2026/11/05", false},
		{"http://h/p/1", "http://h/q/1", false},
		{"http://h/p/1", "http://h/p/x", false},
		{"http://h/p/1", "http://h/p/1", true},
		{"http://h/", "http://h/", true},
		{"http://h1/p/1", "http://h2/p/1", false},
		{"http://127.0.1.1:80/p/1", "http://127.0.1.2:80/p/1", false},
		{"http://h/p/1a", "http://h/p/1", false},
		{"http://h", "http://h/", false},
	} {
		if got := similar(tc.a, tc.b); got != tc.want {
			t.Errorf("similar(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := similar(tc.b, tc.a); got != tc.want {
			t.Errorf("similar(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// A page's links share one string; a URL queued for later must not keep it
// alive, so ownStrings copies the URL and cuts the host from the copy.
func TestOwnStrings(t *testing.T) {
	page, _ := url.Parse("http://example.com/dir/page")
	x := extract.HTML([]byte(`<a href="/a">a</a><a href="http://other.example:8080/b">b</a><a href="c">c</a>`), page, "")
	if len(x.Links) != 3 {
		t.Fatalf("links = %v", x.Links)
	}
	shared := unsafe.StringData(x.Links[0].URL)
	for _, l := range x.Links {
		o := ownStrings(l)
		if o != l {
			t.Errorf("ownStrings(%v) = %v", l, o)
		}
		u, h := unsafe.StringData(o.URL), unsafe.StringData(o.Host)
		if u == unsafe.StringData(l.URL) || uintptr(unsafe.Pointer(h)) < uintptr(unsafe.Pointer(u)) ||
			uintptr(unsafe.Pointer(h)) >= uintptr(unsafe.Pointer(u))+uintptr(len(o.URL)) {
			t.Errorf("ownStrings(%v): the URL is not a copy, or the host is not cut from it", l)
		}
		if u == shared {
			t.Errorf("ownStrings(%v) shares the page's string", l)
		}
	}
	if unsafe.StringData(x.Links[1].URL) != (*byte)(unsafe.Add(unsafe.Pointer(shared), len(x.Links[0].URL))) {
		t.Error("the page's links do not share one string (the test no longer tests anything)")
	}
}
