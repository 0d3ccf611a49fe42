package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/politecrawl/crawl/store"
)

// records decodes JSON Lines.
func records(t *testing.T, out string) []map[string]json.RawMessage {
	t.Helper()
	var recs []map[string]json.RawMessage
	for line := range strings.Lines(out) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	return recs
}

// allPages reads every stored record of the database.
func allPages(t *testing.T, path string) (pages []store.Page, raw []byte) {
	t.Helper()
	st, err := store.Open(path, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.ForEachPage(func(_ string, v []byte) error {
		var p store.Page
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		pages = append(pages, p)
		raw = append(raw, v...)
		raw = append(raw, '\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages, raw
}

func TestExportDefaultUnchanged(t *testing.T) {
	d := buildDB(t, false)
	_, raw := allPages(t, d.path)
	code, out, errOut := runIn(t, "export", "--db", d.path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != string(raw) {
		t.Errorf("default export is not the stored records, one a line:\ngot  %.300s\nwant %.300s", out, raw)
	}
}

func TestExportFilters(t *testing.T) {
	d := buildDB(t, false)
	pages, _ := allPages(t, d.path)
	host0 := d.web.Hosts()[0]
	ip1, _, _ := strings.Cut(d.web.Hosts()[1], ":")
	last := slices.MaxFunc(pages, func(a, b store.Page) int { return a.FetchedAt.Compare(b.FetchedAt) }).FetchedAt

	hostOf := func(p store.Page) string { u, _ := url.Parse(p.URL); return u.Host }
	for _, tc := range []struct {
		name string
		args []string
		keep func(p store.Page) bool
	}{
		{"host", []string{"--host", host0}, func(p store.Page) bool { return hostOf(p) == host0 }},
		{"host without port, repeated", []string{"--host", ip1, "--host", host0},
			func(p store.Page) bool { return hostOf(p) == host0 || hostOf(p) == d.web.Hosts()[1] }},
		{"status class", []string{"--status", "4xx"}, func(p store.Page) bool { return p.Status >= 400 && p.Status < 500 }},
		{"status code and error", []string{"--status", "404,error"},
			func(p store.Page) bool { return p.Status == 404 || p.Status == 0 }},
		{"content type", []string{"--content-type", "text/plain"}, func(p store.Page) bool { return p.ContentType == "text/plain" }},
		{"content type wildcard", []string{"--content-type", "text/*"}, func(p store.Page) bool { return strings.HasPrefix(p.ContentType, "text/") }},
		{"since", []string{"--since", last.Format(time.RFC3339Nano)}, func(p store.Page) bool { return !p.FetchedAt.Before(last) }},
		{"since the future", []string{"--since", "2999-01-01T00:00:00Z"}, func(store.Page) bool { return false }},
		{"combined", []string{"--host", host0, "--status", "2xx", "--content-type", "text/html"},
			func(p store.Page) bool { return hostOf(p) == host0 && p.Status == 200 && p.ContentType == "text/html" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runIn(t, append([]string{"export", "--db", d.path}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got, want []string
			for _, r := range records(t, out) {
				var u string
				json.Unmarshal(r["url"], &u)
				got = append(got, u)
			}
			for _, p := range pages {
				if tc.keep(p) {
					want = append(want, p.URL)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d records %v,\nwant %d %v", len(got), got, len(want), want)
			}
		})
	}
}

func TestExportFields(t *testing.T) {
	d := buildDB(t, false)
	pages, _ := allPages(t, d.path)
	code, out, errOut := runIn(t, "export", "--db", d.path, "--fields", "title,url,status,error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(pages) {
		t.Fatalf("got %d lines, want %d", len(lines), len(pages))
	}
	for i, line := range lines {
		p := pages[i]
		want, _ := json.Marshal(map[string]any{"title": p.Title, "url": p.URL, "status": p.Status, "error": p.Error})
		// Same content, and the keys in the order asked for.
		var gotM, wantM map[string]any
		json.Unmarshal([]byte(line), &gotM)
		json.Unmarshal(want, &wantM)
		if !strings.HasPrefix(line, `{"title":`) || len(gotM) != 4 || !bytes.Equal(mustJSON(gotM), mustJSON(wantM)) {
			t.Errorf("line %d = %s, want fields title,url,status,error of %s", i, line, want)
		}
	}

	// --format json with fields is one valid array.
	code, out, _ = runIn(t, "export", "--db", d.path, "--format", "json", "--fields", "url", "--status", "404")
	var arr []map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &arr) != nil || len(arr) != 1 || !strings.HasSuffix(arr[0]["url"], "/p/3") {
		t.Errorf("json array of 404s: exit %d, %q", code, out)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestExportUsageErrors(t *testing.T) {
	d := buildDB(t, false)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--status", "6xx"}, `--status: status "6xx"`},
		{[]string{"--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"--fields", "url,nope"}, `--fields: unknown field "nope"`},
		{[]string{"--format", "xml"}, `--format: unknown export format "xml"`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
	} {
		code, out, errOut := runIn(t, append([]string{"export", "--db", d.path}, tc.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("export %v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
