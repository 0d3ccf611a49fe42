package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTemp opens a new store in t.TempDir and checks its consistency when
// the test ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crawl.db")
	s, err := Open(path, nil)
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

func TestCommitMovesPendingToDone(t *testing.T) {
	s := openTemp(t)
	seed := Batch{
		Add:   []Entry{{URL: "http://a.test/", Host: "a.test"}, {URL: "http://b.test/", Host: "b.test"}},
		Seen:  []uint64{1, 2},
		Seeds: []string{"http://a.test/", "http://b.test/"},
	}
	if err := s.Commit(&seed); err != nil {
		t.Fatal(err)
	}
	if seed.Add[0].Seq == 0 || seed.Add[1].Seq <= seed.Add[0].Seq {
		t.Fatalf("Commit set Seq %d, %d; want increasing non-zero", seed.Add[0].Seq, seed.Add[1].Seq)
	}
	c, _ := s.Counts()
	if c != (Counts{Pages: 0, Pending: 2, Seen: 2, LastSeq: 2}) {
		t.Fatalf("Counts after seeding = %+v", c)
	}

	// Fetch a.test/: store it, drop its entry and queue two links.
	done := Batch{
		Done: []Done{{Entry: seed.Add[0], Page: &Page{URL: "http://a.test/", Status: 200, Title: "A"}}},
		Add:  []Entry{{URL: "http://a.test/x", Host: "a.test", Depth: 1}, {URL: "http://a.test/y", Host: "a.test", Depth: 1}},
		Seen: []uint64{3, 4},
	}
	if err := s.Commit(&done); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Counts()
	if c != (Counts{Pages: 1, Pending: 3, Seen: 4, LastSeq: 4}) {
		t.Fatalf("Counts after one page = %+v", c)
	}
	q, err := s.Queue("a.test", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].URL != "http://a.test/x" || q[1].URL != "http://a.test/y" || q[0].Depth != 1 {
		t.Fatalf("Queue(a.test) = %+v, want x then y at depth 1", q)
	}
	if q, _ := s.Queue("a.test", q[0].Seq, 10); len(q) != 1 || q[0].URL != "http://a.test/y" {
		t.Fatalf("Queue(a.test, after x) = %+v, want y", q)
	}
	p, ok, err := s.Page("http://a.test/")
	if err != nil || !ok || p.Title != "A" {
		t.Fatalf("Page = %+v, %v, %v", p, ok, err)
	}
	seeds, _ := s.Seeds()
	if len(seeds) != 2 {
		t.Fatalf("Seeds = %q", seeds)
	}

	// Drain b.test: its queue disappears from Hosts.
	if err := s.Commit(&Batch{Done: []Done{{Entry: seed.Add[1], Page: &Page{URL: "http://b.test/"}}}}); err != nil {
		t.Fatal(err)
	}
	hosts, _ := s.Hosts()
	if len(hosts) != 1 || hosts[0] != "a.test" {
		t.Fatalf("Hosts = %q, want [a.test]", hosts)
	}
	var fps []uint64
	s.ForEachSeen(func(fp uint64) { fps = append(fps, fp) })
	if len(fps) != 4 {
		t.Fatalf("ForEachSeen gave %v", fps)
	}
}

// TestCommitGivenSeqs: entries may come with their queue positions (the
// crawler gives them out so that it can fetch links before their batch is
// committed). An entry queued and completed in one batch leaves nothing
// pending, and NextSequence-given positions continue above the given ones.
func TestCommitGivenSeqs(t *testing.T) {
	s := openTemp(t)
	parent := Entry{URL: "http://a.test/", Host: "a.test", Seq: 7}
	child := Entry{URL: "http://a.test/c", Host: "a.test", Depth: 1, Seq: 9}
	if err := s.Commit(&Batch{Add: []Entry{parent}}); err != nil {
		t.Fatal(err)
	}
	// The parent's record, its link, and the link's own record, together.
	b := Batch{
		Done: []Done{
			{Entry: parent, Page: &Page{URL: parent.URL, Status: 200}},
			{Entry: child, Page: &Page{URL: child.URL, Status: 200}},
		},
		Add: []Entry{child},
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Counts(); c != (Counts{Pages: 2, Pending: 0, LastSeq: 9}) {
		t.Fatalf("Counts = %+v, want 2 pages, nothing pending, last seq 9", c)
	}
	more := Batch{Add: []Entry{{URL: "http://a.test/d", Host: "a.test"}}}
	if err := s.Commit(&more); err != nil {
		t.Fatal(err)
	}
	if more.Add[0].Seq != 10 {
		t.Fatalf("next position given by the store = %d, want 10", more.Add[0].Seq)
	}
}

func TestCommitIsAtomic(t *testing.T) {
	s := openTemp(t)
	b := Batch{Add: []Entry{{URL: "http://a.test/", Host: "a.test"}}}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	// A page whose JSON cannot be encoded fails the whole batch: the entry
	// stays pending and the new link is not queued.
	bad := Batch{
		Done: []Done{{Entry: b.Add[0], Page: &Page{URL: "http://a.test/", DurationMS: badFloat()}}},
		Add:  []Entry{{URL: "http://a.test/new", Host: "a.test"}},
	}
	if err := s.Commit(&bad); err == nil {
		t.Fatal("Commit of an unencodable page: got nil error")
	}
	if bad.Add[0].Seq != 0 {
		t.Fatal("a failed Commit left a Seq set")
	}
	c, _ := s.Counts()
	if c.Pages != 0 || c.Pending != 1 {
		t.Fatalf("after a failed commit Counts = %+v, want 0 pages and 1 pending", c)
	}
}

func badFloat() float64 { var z float64; return 0 / z } // NaN: json cannot encode it

func TestOpenLockedFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crawl.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(path, &Options{ReadOnly: ro, Timeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open(held, ReadOnly=%v) = %v, want ErrLocked", ro, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open(held) took %v", d)
		}
	}
}

func TestOpenNotADatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seeds.txt")
	content := bytes.Repeat([]byte("http://example.com/\n"), 1000)
	os.WriteFile(path, content, 0o644)
	for _, ro := range []bool{false, true} {
		if _, err := Open(path, &Options{ReadOnly: ro}); !errors.Is(err, ErrNotDatabase) {
			t.Fatalf("Open(text file, ReadOnly=%v) = %v, want ErrNotDatabase", ro, err)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
		t.Fatal("Open changed a file that is not a database")
	}
	if _, err := Open(filepath.Join(dir, "missing.db"), &Options{ReadOnly: true}); err == nil {
		t.Fatal("Open(missing, ReadOnly): got nil error")
	}
}

// TestRecordsCompressed: records are stored compressed, and read back as
// they were.
func TestRecordsCompressed(t *testing.T) {
	s := openTemp(t)
	p := &Page{URL: "http://a.test/", Status: 200, Text: strings.Repeat("words words words ", 500)}
	for i := range 30 {
		p.Links = append(p.Links, "http://a.test/p/"+strings.Repeat("x", i))
	}
	if err := s.Commit(&Batch{Done: []Done{{Entry: Entry{URL: p.URL}, Page: p}}}); err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(p)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := getPage(tx, p.URL)
		if len(v) == 0 || v[0] == '{' || len(v) > len(js)/4 {
			t.Errorf("stored value of %d bytes (JSON %d): want it compressed", len(v), len(js))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Page(p.URL)
	if err != nil || !ok || got.Text != p.Text || len(got.Links) != 30 {
		t.Fatalf("compressed record read back as %+v, %v, %v", got, ok, err)
	}
	var n int
	var raw []string
	s.ForEachPage(func(u string, js []byte) error {
		n++
		raw = append(raw, string(js))
		return nil
	})
	if n != 1 || raw[0] != string(js) {
		t.Fatalf("ForEachPage gave %d records: %.80q", n, raw)
	}
}

// TestSeenLog: the visited set is read from the log that commits append
// to: once each, in order.
func TestSeenLog(t *testing.T) {
	s := openTemp(t)
	for _, seen := range [][]uint64{{9, 3, 1 << 63}, {7, 5, 1, 3}} {
		if err := s.Commit(&Batch{Seen: seen}); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	if err := s.ForEachSeen(func(fp uint64) { got = append(got, fp) }); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{1, 3, 5, 7, 9, 1 << 63}; !slices.Equal(got, want) {
		t.Fatalf("ForEachSeen gave %v, want %v", got, want)
	}
	if c, err := s.Counts(); err != nil || c.Seen != 7 {
		t.Fatalf("Counts.Seen = %d, %v; want 7 (marks, repeats included)", c.Seen, err)
	}
}

// TestRecords: records are appended and found through the URL index, in
// URL order; a URL stored again has its newest record read, and keeps the
// earlier one as a version.
func TestRecords(t *testing.T) {
	s := openTemp(t)
	store := func(u string, status int) {
		t.Helper()
		if err := s.Commit(&Batch{Done: []Done{{Entry: Entry{URL: u}, Page: &Page{URL: u, Status: status}}}}); err != nil {
			t.Fatal(err)
		}
	}
	store("http://a.test/c", 200)
	store("http://a.test/a", 200)
	store("http://a.test/e", 200)
	store("http://a.test/d", 410)
	store("http://a.test/b", 410)
	store("http://a.test/d", 201) // stored again
	store("http://a.test/e", 202) // stored again

	var got []string
	if err := s.ForEachPage(func(u string, raw []byte) error {
		var p Page
		if err := json.Unmarshal(raw, &p); err != nil || p.URL != u {
			t.Errorf("record of %s: %s, %v", u, raw, err)
		}
		got = append(got, u+" "+strconv.Itoa(p.Status))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"http://a.test/a 200", "http://a.test/b 410", "http://a.test/c 200", "http://a.test/d 201", "http://a.test/e 202"}
	if !slices.Equal(got, want) {
		t.Fatalf("ForEachPage gave %q, want %q", got, want)
	}
	var urls []string
	s.ForEachURL(func(u string) error { urls = append(urls, u); return nil })
	if len(urls) != 5 || !slices.IsSorted(urls) {
		t.Fatalf("ForEachURL gave %q", urls)
	}
	if c, _ := s.Counts(); c.Pages != 5 {
		t.Fatalf("Counts.Pages = %d, want 5", c.Pages)
	}
	if p, ok, err := s.Page("http://a.test/b"); err != nil || !ok || p.Status != 410 {
		t.Fatalf("Page(b) = %+v, %v, %v", p, ok, err)
	}
	if _, ok, err := s.Page("http://a.test/none"); err != nil || ok {
		t.Fatalf("Page(none) = %v, %v; want none", ok, err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketRecords).Stats().KeyN; n != 7 {
			t.Errorf("%d records appended, want 7", n)
		}
		return nil
	})
	for u, want := range map[string][]int{"http://a.test/d": {410, 201}, "http://a.test/e": {200, 202}, "http://a.test/b": {410}} {
		vs, err := s.Versions(u)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, v := range vs {
			got = append(got, v.Status)
		}
		if !slices.Equal(got, want) {
			t.Errorf("versions of %s: statuses %v, want %v", u, got, want)
		}
	}
}
