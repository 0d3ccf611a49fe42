package crawler

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
		u, ok := resolve(base, tt.href)
		if ok != tt.ok {
			t.Errorf("resolve(%q): ok = %v, want %v", tt.href, ok, tt.ok)
			continue
		}
		if ok && u.String() != tt.want {
			t.Errorf("resolve(%q) = %q, want %q", tt.href, u, tt.want)
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
