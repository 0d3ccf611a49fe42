package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/politecrawl/crawl/store"
)

// openTemp opens a new store in t.TempDir and checks its consistency when
// the test ends.
func openTemp(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "crawl.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil {
			t.Errorf("consistency check: %v", err)
		}
		s.Close()
	})
	return s
}

func TestExport(t *testing.T) {
	s := openTemp(t)
	b := store.Batch{Done: []store.Done{
		{Entry: store.Entry{URL: "http://a.test/2"}, Page: &store.Page{URL: "http://a.test/2", Status: 200, Links: []string{"http://a.test/"}}},
		{Entry: store.Entry{URL: "http://a.test/1"}, Page: &store.Page{URL: "http://a.test/1", Status: 404}},
	}}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	if n, err := Export(&lines, s, JSONLines); err != nil || n != 2 {
		t.Fatalf("Export jsonl = %d, %v", n, err)
	}
	var urls []string
	for _, line := range strings.Split(strings.TrimSuffix(lines.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, f := range []string{"url", "final_url", "status", "content_type", "title", "text", "links", "depth", "fetched_at"} {
			if _, ok := m[f]; !ok {
				t.Errorf("line %q has no field %q", line, f)
			}
		}
		urls = append(urls, m["url"].(string))
	}
	if strings.Join(urls, " ") != "http://a.test/1 http://a.test/2" {
		t.Fatalf("export order %q, want URL order", urls)
	}
	for _, tc := range []struct {
		name string
		s    *store.Store
		n    int
	}{{"two pages", s, 2}, {"empty", openTemp(t), 0}} {
		var arr bytes.Buffer
		if _, err := Export(&arr, tc.s, JSONArray); err != nil {
			t.Fatal(err)
		}
		var pages []store.Page
		if err := json.Unmarshal(arr.Bytes(), &pages); err != nil || len(pages) != tc.n {
			t.Fatalf("%s: JSON array %q: %d pages, %v", tc.name, arr.String(), len(pages), err)
		}
	}
}

// TestSummarizeUnreadable: a record whose value does not decompress stops
// Summarize with ErrDamaged; on a store from KeepGoing it is counted in
// Unreadable and the others are summarised.
func TestSummarizeUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crawl.db")
	s, err := store.Open(path, &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	for i := range 100 {
		u := fmt.Sprintf("http://a.test/%d", i)
		b.Done = append(b.Done, store.Done{Entry: store.Entry{URL: u, Host: "a.test"},
			Page: &store.Page{URL: u, Status: 200, Text: strings.Repeat("x", 500)}})
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	s.Close()
	const bad = "http://a.test/7"
	corruptRecord(t, path, bad)

	s, err = store.Open(path, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v (the pages are sound)", err)
	}
	defer s.Close()
	if _, err := Summarize(s, 0); !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Summarize: %v, want ErrDamaged naming %s", err, bad)
	}
	sum, err := Summarize(s.KeepGoing(), 0)
	if _, ok := errors.AsType[*store.UnreadableError](err); !ok || sum == nil || sum.Pages != 99 || sum.Unreadable != 1 {
		t.Errorf("KeepGoing: Summarize = %+v, %v; want 99 pages and 1 unreadable", sum, err)
	}
}

// corruptRecord overwrites the head of the stored value of url's record in
// place, the pages' structure intact: what a bad sector inside a value
// leaves.
func corruptRecord(t *testing.T, path, url string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket([]byte("records")).Get(tx.Bucket([]byte("urls")).Get([]byte(url))))
		return nil
	})
	db.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, v)
	if at < 0 || len(v) < 16 {
		t.Fatalf("record of %s not found in the file", url)
	}
	// The S2 block's length, after the marker byte: a varint that never
	// ends.
	copy(data[at+1:], bytes.Repeat([]byte{0xff}, 10))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
