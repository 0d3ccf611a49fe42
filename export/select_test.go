package export

import (
	"bytes"
	"testing"

	"github.com/politecrawl/crawl/store"
)

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

func TestSelectionCheck(t *testing.T) {
	sel := &Selection{Fields: []string{"url", "http", "main_text"}, Computed: map[string]func(*store.Page) any{"main_text": nil}}
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

// TestSelectionRewrite: a Rewrite changes records before --fields chooses
// from them, and a record it does not change is written as json.Marshal
// writes it.
func TestSelectionRewrite(t *testing.T) {
	each := func(fn func(string, []byte) error) error {
		for _, raw := range []string{
			`{"url":"http://a.example/","status":200,"fields":{"old":"x"},"body":"PGgxPkE8L2gxPg=="}`,
			`{"url":"http://b.example/","status":404}`,
		} {
			if err := fn("", []byte(raw)); err != nil {
				return err
			}
		}
		return nil
	}
	rewrite := func(p *store.Page) error {
		if len(p.Body) > 0 {
			p.Fields = map[string]any{"h1": string(p.Body)}
		}
		return nil
	}
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{nil, `{"url":"http://a.example/","final_url":"","status":200,"content_type":"","title":"","text":"","links":null,"depth":0,"fetched_at":"0001-01-01T00:00:00Z","duration_ms":0,"size":0,"fields":{"h1":"\u003ch1\u003eA\u003c/h1\u003e"},"body":"PGgxPkE8L2gxPg=="}
{"url":"http://b.example/","final_url":"","status":404,"content_type":"","title":"","text":"","links":null,"depth":0,"fetched_at":"0001-01-01T00:00:00Z","duration_ms":0,"size":0}
`},
		{[]string{"url", "fields"}, `{"url":"http://a.example/","fields":{"h1":"\u003ch1\u003eA\u003c/h1\u003e"}}
{"url":"http://b.example/","fields":null}
`},
	} {
		var out bytes.Buffer
		n, err := exportEach(&out, each, JSONLines, &Selection{Fields: tc.fields, Rewrite: rewrite})
		if err != nil || n != 2 {
			t.Fatalf("fields %v: exportEach = %d, %v", tc.fields, n, err)
		}
		if got := out.String(); got != tc.want {
			t.Errorf("fields %v: got\n%s\nwant\n%s", tc.fields, got, tc.want)
		}
	}
}
