package crawler

import (
	"net/url"
	"testing"
)

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

func TestDropParamsConfigured(t *testing.T) {
	c := &Crawler{drop: map[string]bool{"sessionid": true, "ref": true}}
	u, _ := url.Parse("http://h/p?sessionid=9&id=1&ref=home")
	c.dropTracking(u)
	if got := u.String(); got != "http://h/p?id=1" {
		t.Errorf("got %s, want http://h/p?id=1", got)
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
