package store

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	bolt "go.etcd.io/bbolt"
)

// fingerprint is the crawler's (urlnorm.Fingerprint), which store does not
// import.
func fingerprint(u string) uint64 { return xxhash.Sum64String(u) }

// writeDB writes data to a new file in t.TempDir and returns its path.
func writeDB(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// allURLs returns the URLs of the records of the database at path.
func allURLs(t *testing.T, path string) []string {
	t.Helper()
	s, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	if err := s.ForEachPage(func(u string, _ []byte) error { out = append(out, u); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRepairCopiesOtherBuckets: a bucket this version does not know (such
// as one a later version adds) is copied as it is, nested buckets and
// sequences included, and a sound database loses nothing.
func TestRepairCopiesOtherBuckets(t *testing.T) {
	src := filepath.Join(t.TempDir(), "c.db")
	s, err := Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Seeds: []string{"http://a.test/"}, Seen: []uint64{fingerprint("http://a.test/"), fingerprint("http://a.test/x")}}
	b.Done = append(b.Done, Done{Entry: Entry{URL: "http://a.test/", Host: "a.test"}, Page: &Page{URL: "http://a.test/", Links: []string{"http://a.test/x"}}})
	b.Add = append(b.Add, Entry{URL: "http://a.test/x", Host: "a.test", Depth: 1})
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		robots, err := tx.CreateBucket([]byte("later"))
		if err != nil {
			return err
		}
		robots.SetSequence(7)
		robots.Put([]byte("a.test"), []byte("User-agent: *\nDisallow: /private"))
		nested, err := robots.CreateBucket([]byte("by-host"))
		if err != nil {
			return err
		}
		nested.SetSequence(3)
		for i := range 300 { // more than a page: not inline
			nested.Put(fmt.Appendf(nil, "host%03d.test", i), bytes.Repeat([]byte{'r'}, 40))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	dst := filepath.Join(t.TempDir(), "new.db")
	rep, err := Repair(src, dst, &RepairOptions{Fingerprint: fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	want := RepairReport{Records: 1, Pending: 1, Seeds: 1, Seen: 2, Other: 301}
	want.ScannedPages = rep.ScannedPages // free pages, as bbolt left them
	if *rep != want {
		t.Errorf("report %+v, want %+v", *rep, want)
	}
	r, err := Open(dst, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	r.db.View(func(tx *bolt.Tx) error {
		robots := tx.Bucket([]byte("later"))
		if robots == nil {
			t.Fatal("no bucket later")
		}
		nested := robots.Bucket([]byte("by-host"))
		switch {
		case robots.Sequence() != 7 || nested == nil || nested.Sequence() != 3:
			t.Errorf("later: sequence %d, nested %v", robots.Sequence(), nested)
		case string(robots.Get([]byte("a.test"))) != "User-agent: *\nDisallow: /private":
			t.Errorf("later a.test = %q", robots.Get([]byte("a.test")))
		case nested.Stats().KeyN != 300:
			t.Errorf("later/by-host has %d keys, want 300", nested.Stats().KeyN)
		}
		return nil
	})
	if q, _ := r.Queue("a.test", 0, 10); len(q) != 1 || q[0].URL != "http://a.test/x" || q[0].Depth != 1 {
		t.Errorf("queue %+v", q)
	}
}

// corruptRecord overwrites the stored value of url's record in place, the
// pages' structure intact: what a bad sector inside a value leaves.
func corruptRecord(t *testing.T, path, url string) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = bytes.Clone(getPage(tx, url))
		return nil
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, v)
	if at < 0 || len(v) < 40 {
		t.Fatalf("record of %s not found in the file", url)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The S2 block's length, after the marker byte: a varint that never
	// ends. (Damage to a block's literal bytes goes unnoticed: S2 blocks
	// carry no checksum.)
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 10), int64(at+1)); err != nil {
		t.Fatal(err)
	}
}

// TestUnreadableRecord: a record whose value does not decompress stops a
// read, naming it; KeepGoing skips it and counts it; Repair loses it and
// queues its URL again.
func TestUnreadableRecord(t *testing.T) {
	path := writeDB(t, filledDB(t))
	const bad = "http://a.test/7/3"
	corruptRecord(t, path, bad)
	s, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open: %v (the pages are sound)", err)
	}
	defer s.Close()
	n := 0
	err = s.ForEachPage(func(string, []byte) error { n++; return nil })
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), bad) {
		t.Errorf("ForEachPage: %v, want ErrDamaged naming %s", err, bad)
	}
	n = 0
	err = s.KeepGoing().ForEachPage(func(string, []byte) error { n++; return nil })
	if ue, ok := errors.AsType[*UnreadableError](err); !ok || ue.N != 1 || n != 999 {
		t.Errorf("KeepGoing().ForEachPage: read %d, %v; want 999 and 1 unreadable", n, err)
	}

	dst := filepath.Join(t.TempDir(), "new.db")
	rep, err := Repair(path, dst, &RepairOptions{Fingerprint: fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 999 || rep.RecordsLost != 1 || rep.Requeued != 1 || rep.Pending != 1000 {
		t.Errorf("report %+v: want 999 records, 1 lost and queued again, 1000 pending", *rep)
	}
	r, err := Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if q, _ := r.Queue("a.test", 0, 2000); !slices.ContainsFunc(q, func(e Entry) bool { return e.URL == bad }) {
		t.Errorf("%s is not queued again", bad)
	}
}

// TestRandomDamage damages a database in random places, many times, and
// checks that Open never panics, and that a file that Open accepts for
// writing passes bbolt's own check (a file it passes could otherwise kill
// the process in bbolt's read-write Open); and that Repair keeps every
// record that the damage did not touch.
func TestRandomDamage(t *testing.T) {
	data := filledDB(t)
	want := allURLs(t, writeDB(t, data))
	const page = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	accepted, refused := 0, 0
	for i := range 24 {
		d := slices.Clone(data)
		var what string
		switch i % 4 {
		case 0: // bytes scattered over a few pages
			from := rng.IntN(len(d) - 4*page)
			for range 1 + rng.IntN(200) {
				d[from+rng.IntN(4*page)] = byte(rng.Uint32())
			}
			what = fmt.Sprintf("bytes scattered from %d", from)
		case 1: // a page's header and elements
			id := 2 + rng.IntN(len(d)/page-2)
			for range 1 + rng.IntN(8) {
				d[id*page+rng.IntN(64)] = byte(rng.Uint32())
			}
			what = fmt.Sprintf("the head of page %d", id)
		case 2: // a zeroed range
			from := rng.IntN(len(d)/page) * page
			clear(d[from:min(len(d), from+(1+rng.IntN(8))*page)])
			what = fmt.Sprintf("zeros from %d", from)
		case 3: // one element's position or size
			id := 2 + rng.IntN(len(d)/page-2)
			at := id*page + 16 + 16*rng.IntN(4) + 4 + rng.IntN(12)
			d[at] ^= byte(1 << rng.IntN(8))
			what = fmt.Sprintf("a bit at %d", at)
		}
		path := writeDB(t, d)
		s, err := Open(path, nil)
		if err != nil {
			refused++
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
				t.Errorf("%s: error %q: want one line naming the file", what, msg)
			}
		} else {
			accepted++
			if err := s.Check(); err != nil {
				t.Errorf("%s: Open accepted a file that bbolt's check fails: %v", what, err)
			}
			s.Close()
		}
		dst := filepath.Join(t.TempDir(), "new.db")
		rep, err := Repair(path, dst, &RepairOptions{Fingerprint: fingerprint})
		if err != nil {
			t.Errorf("%s: Repair: %v", what, err)
			continue
		}
		got := allURLs(t, dst)
		if lost := len(want) - len(got); lost > rep.RecordsLost && lost > 0 && rep.BadPages == 0 {
			t.Errorf("%s: %d records missing after repair, the report says %d lost and no damaged page", what, lost, rep.RecordsLost)
		}
	}
	t.Logf("%d damaged files accepted (the damage was on free pages or in values), %d refused", accepted, refused)
}

// TestRenamedBucket: a damaged byte in a bucket's name leaves every page
// sound; Open must still refuse the file (a crawl would start the bucket
// again, empty), and Repair place the bucket's entries where they belong.
func TestRenamedBucket(t *testing.T) {
	data := filledDB(t)
	pf := openPageFile(bytes.NewReader(data), int64(len(data)))
	root := data[pf.meta.root*uint64(pf.pageSize):][:pf.pageSize]
	for _, name := range []string{"records", "seenlog", "frontier"} {
		t.Run(name, func(t *testing.T) {
			d := slices.Clone(data)
			at := int(pf.meta.root)*pf.pageSize + bytes.Index(root, []byte(name))
			d[at+2] ^= 0x20 // "reCords"
			path := writeDB(t, d)
			for _, ro := range []bool{false, true} {
				if _, err := Open(path, &Options{ReadOnly: ro}); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), name) {
					t.Errorf("Open(ReadOnly=%v) = %v, want ErrDamaged naming %q", ro, err, name)
				}
			}
			dst := filepath.Join(t.TempDir(), "new.db")
			rep, err := Repair(path, dst, &RepairOptions{Fingerprint: fingerprint})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != 1000 || rep.Pending != 1000 || rep.Other != 0 {
				t.Errorf("report %+v, want 1000 records, 1000 pending, no other bucket", *rep)
			}
		})
	}
}
