package urlnorm

import (
	"net/url"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://Example.COM", "http://example.com/"},
		{"HTTP://example.com:80/a", "http://example.com/a"},
		{"https://example.com:443/", "https://example.com/"},
		{"https://example.com:8443/", "https://example.com:8443/"},
		{"http://example.com/a/./b/../c", "http://example.com/a/c"},
		{"http://example.com/a/b/..", "http://example.com/a/"},
		{"http://example.com/../a", "http://example.com/a"},
		{"http://example.com/a#frag", "http://example.com/a"},
		{"http://example.com/a?", "http://example.com/a"},
		{"http://example.com/a?b=1&a=2", "http://example.com/a?b=1&a=2"},
		{"http://user:pw@example.com/", "http://example.com/"},
		{"http://example.com./x", "http://example.com/x"},
		{"http://example.com/%7Euser", "http://example.com/~user"},
		{"http://example.com/a%2Fb", "http://example.com/a%2Fb"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://[::1]:80/x", "http://[::1]/x"},
		{"  http://example.com/  ", "http://example.com/"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again, err := Normalize(got); err != nil || again != got {
			t.Errorf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, in := range []string{"", "/relative", "example.com/a", "ftp://example.com/", "mailto:a@b.c",
		"javascript:void(0)", "http://", "http:///path", "HTTP://.. ", "http://./", "http://exa mple.com/", "http://[::1/"} {
		if got, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
		}
	}
}

func TestResolve(t *testing.T) {
	base, _ := url.Parse("http://example.com/dir/page.html")
	tests := []struct {
		href, want string
		ok         bool
	}{
		{"other.html", "http://example.com/dir/other.html", true},
		{"../up", "http://example.com/up", true},
		{"/abs#x", "http://example.com/abs", true},
		{"//cdn.example.com/x", "http://cdn.example.com/x", true},
		{"?q=1", "http://example.com/dir/page.html?q=1", true},
		{"#top", "", false},
		{"", "", false},
		{"mailto:x@example.com", "", false},
		{"javascript:alert(1)", "", false},
		{"tel:123", "", false},
		{"http://%zz", "", false},
	}
	for _, tt := range tests {
		u, ok := Resolve(base, tt.href)
		if ok != tt.ok {
			t.Errorf("Resolve(%q): ok = %v, want %v", tt.href, ok, tt.ok)
			continue
		}
		if ok && u.String() != tt.want {
			t.Errorf("Resolve(%q) = %q, want %q", tt.href, u, tt.want)
		}
	}
}

func TestFingerprintDistinct(t *testing.T) {
	a, b := Fingerprint("http://example.com/a"), Fingerprint("http://example.com/b")
	if a == b {
		t.Fatalf("Fingerprint of two URLs: both %x", a)
	}
	if a != Fingerprint("http://example.com/a") {
		t.Fatal("Fingerprint is not deterministic")
	}
}

func TestNormalizeDropsTrackingParameters(t *testing.T) {
	for in, want := range map[string]string{
		"http://h/p?utm_source=a&utm_medium=b":              "http://h/p",
		"http://h/p?id=3&utm_campaign=x&page=2":             "http://h/p?id=3&page=2",
		"http://h/p?fbclid=1&gclid=2&msclkid=3&id=4":        "http://h/p?id=4",
		"http://h/p?mc_eid=1&_ga=2&b=%20x&a=1":              "http://h/p?b=%20x&a=1",
		"http://h/p?UTM_Source=a&Id=1":                      "http://h/p?Id=1",
		"http://h/p?utm%5Fsource=a&q=utm_source":            "http://h/p?q=utm_source",
		"http://h/p?utmost=1&futm_x=2":                      "http://h/p?utmost=1&futm_x=2",
		"HTTP://H:80/a/../p?utm_term=z#frag":                "http://h/p",
		"http://h/p?a=1&&b=2&utm_source=x":                  "http://h/p?a=1&&b=2",
		"https://h/search?q=caf%C3%A9&utm_content=q&fbclid": "https://h/search?q=caf%C3%A9",
	} {
		got, err := Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzNormalizeIdempotent(f *testing.F) {
	for _, s := range []string{
		"http://h/p?utm_source=a&id=1", "HTTP://Example.COM:80/a/./b/../c?x=1&fbclid=2#f",
		"https://h/%7Euser/a%2Fb?q=%41", "http://[::1]:8080/?&&", "http://h/p?=&utm_=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n1, err := Normalize(s)
		if err != nil {
			return
		}
		n2, err := Normalize(n1)
		if err != nil || n2 != n1 {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v", s, n1, n1, n2, err)
		}
	})
}
