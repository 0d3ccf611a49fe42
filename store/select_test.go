package store

import "testing"

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StatusMatch
		ok   bool
	}{
		{"2xx", StatusMatch{Class: 2}, true},
		{"5XX", StatusMatch{Class: 5}, true},
		{"404", StatusMatch{Code: 404}, true},
		{" error ", StatusMatch{Error: true}, true},
		{"6xx", StatusMatch{}, false},
		{"99", StatusMatch{}, false},
		{"ok", StatusMatch{}, false},
	} {
		got, err := ParseStatus(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseStatus(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestErrorReason(t *testing.T) {
	const u = "http://127.0.0.1:9/x"
	for _, tc := range []struct {
		status int
		err    string
		want   string
	}{
		{404, "", "HTTP 404 Not Found"},
		{0, "fetch " + u + ": dial tcp 127.0.0.1:9: connect: connection refused", "connection refused"},
		{0, "fetch " + u + ": too many redirects (10)", "too many redirects (10)"},
		{0, "context deadline exceeded", "context deadline exceeded"},
	} {
		if got := ErrorReason(u, tc.status, tc.err); got != tc.want {
			t.Errorf("ErrorReason(%d, %q) = %q, want %q", tc.status, tc.err, got, tc.want)
		}
	}
}

func TestSelectionCheck(t *testing.T) {
	sel := &Selection{Fields: []string{"url", "http", "main_text"}, Computed: map[string]func(*Page) any{"main_text": nil}}
	if err := sel.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	sel.Fields = append(sel.Fields, "nope")
	if err := sel.Check(); err == nil {
		t.Error("Check accepted an unknown field")
	}
}

func TestSelectionSkipNoIndex(t *testing.T) {
	const u = "http://a.example/"
	for _, tc := range []struct {
		skip bool
		raw  string
		want bool
	}{
		{false, `{"url":"http://a.example/","noindex":true}`, true},
		{true, `{"url":"http://a.example/","noindex":true}`, false},
		{true, `{"url":"http://a.example/"}`, true}, // a record from before the field
		{true, `{"url":"http://a.example/","nofollow":true,"canonical":"http://a.example/c"}`, true},
	} {
		sel := &Selection{SkipNoIndex: tc.skip}
		if sel.whole() == tc.skip {
			t.Errorf("SkipNoIndex %v: whole() = %v", tc.skip, sel.whole())
		}
		got, err := sel.keep(u, []byte(tc.raw))
		if err != nil || got != tc.want {
			t.Errorf("SkipNoIndex %v, %s: got keep %v (%v), want %v", tc.skip, tc.raw, got, err, tc.want)
		}
	}
}
