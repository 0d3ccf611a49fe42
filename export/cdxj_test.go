package export

import "testing"

func TestSURT(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://www.Example.com/Path?b=2&a=1", "com,example)/path?a=1&b=2"},
		{"https://example.com", "com,example)/"},
		{"http://example.com:80/", "com,example)/"},
		{"http://127.0.1.1:8080/p/3", "1,1,0,127:8080)/p/3"},
		{"https://sub.example.co.uk:443/a/", "uk,co,example,sub)/a/"},
	} {
		if got := SURT(c.in); got != c.want {
			t.Errorf("SURT(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
