package export_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
)

// TestExportMerged: three databases with overlapping URLs export as one
// stream in URL order, each URL once, the newest record of a URL kept.
func TestExportMerged(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dbs := [][]store.Page{
		{{URL: "http://a/1", Title: "old", FetchedAt: t0}, {URL: "http://a/3", FetchedAt: t0}},
		{{URL: "http://a/1", Title: "new", FetchedAt: t0.Add(time.Second)}, {URL: "http://a/2", FetchedAt: t0}},
		{},
		{{URL: "http://a/0", FetchedAt: t0}, {URL: "http://a/3", Title: "same time, later db", FetchedAt: t0}},
	}
	var stores []*store.Store
	for i, pages := range dbs {
		st, err := store.Open(filepath.Join(t.TempDir(), "w.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		var b store.Batch
		for _, p := range pages {
			b.Done = append(b.Done, store.Done{Entry: store.Entry{URL: p.URL, Host: "a"}, Page: &p})
		}
		if err := st.Commit(&b); err != nil {
			t.Fatalf("db %d: %v", i, err)
		}
		stores = append(stores, st)
	}
	var out bytes.Buffer
	n, err := export.ExportMerged(&out, stores, export.JSONLines, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for line := range strings.Lines(out.String()) {
		var p store.Page
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, p.URL+" "+p.Title)
	}
	want := []string{"http://a/0 ", "http://a/1 new", "http://a/2 ", "http://a/3 "}
	if n != len(want) || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %d records %q, want %q", n, got, want)
	}
}
