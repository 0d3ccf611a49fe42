package urlnorm

// Fuzz targets. Their seed corpora live in testdata/fuzz/FuzzXxx/ and run as
// ordinary tests with `go test`; `go test -fuzz FuzzXxx ./urlnorm` searches
// for new inputs. Each checks properties, not only the absence of panics.
// (FuzzNormalizeIdempotent is in normalize_test.go, FuzzResolveLink in
// resolve_test.go.)

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzNormalize: Normalize never panics; what it returns is an absolute
// http(s) URL with a host and no fragment or user info, parses again, and is
// its own normal form.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"http://Example.COM", "HTTP://example.com:80/a/./b/../c?x#f", "https://[::1]:443/%7e",
		"http://a/%2F/../b", "http://user:pw@h./?", "http://h/a b", "//h/p", "ftp://h/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, err := Normalize(raw)
		if err != nil {
			return
		}
		u, err := url.Parse(n)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q, which does not parse: %v", raw, n, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(n, "#") {
			t.Fatalf("Normalize(%q) = %q: not an absolute http(s) URL without user info and fragment", raw, n)
		}
		again, err := Normalize(n)
		if err != nil || again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q, %v: not idempotent", raw, n, n, again, err)
		}
	})
}
