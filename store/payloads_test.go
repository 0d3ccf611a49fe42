package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/politecrawl/crawl/internal/fpmap"
)

var payloadAt = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// putPayload commits a page of url whose payload has digest d.
func putPayload(t *testing.T, s *Store, url, d string, body []byte, minute int) {
	t.Helper()
	p := &Page{URL: url, Status: 200, Digest: d, Size: 100, Body: body, FetchedAt: payloadAt.Add(time.Duration(minute) * time.Minute)}
	if err := s.Commit(&Batch{Done: []Done{{Entry: Entry{URL: url}, Page: p}}}); err != nil {
		t.Fatal(err)
	}
}

// closedStore returns the path of a database that put wrote into and that
// is closed again.
func closedStore(t *testing.T, put func(s *Store)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crawl.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	put(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// repaired returns the store Repair writes from the database at src, open
// and closed when the test ends.
func repaired(t *testing.T, src string) *Store {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "new.db")
	if _, err := Repair(src, dst, &RepairOptions{Fingerprint: func(u string) uint64 { return uint64(len(u)) }}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// wantDuplicate fails unless url's newest record is the duplicate of want
// (nil: a holder, with its body).
func wantDuplicate(t *testing.T, s *Store, url string, want *Ref) {
	t.Helper()
	p, ok, err := s.Page(url)
	if err != nil || !ok {
		t.Fatalf("%s: stored %v, %v", url, ok, err)
	}
	switch {
	case want == nil && (p.DuplicateOf != nil || len(p.Body) == 0):
		t.Errorf("%s: duplicate of %+v, %d bytes of body; want the holder of its payload", url, p.DuplicateOf, len(p.Body))
	case want != nil && (p.DuplicateOf == nil || *p.DuplicateOf != *want || p.Body != nil):
		t.Errorf("%s: duplicate of %+v, %d bytes of body; want of %+v, no body", url, p.DuplicateOf, len(p.Body), *want)
	}
}

// TestDigestIndexReopened: the digest index is kept across Open, in a
// writer's commits and in a reader's Holder.
func TestDigestIndexReopened(t *testing.T) {
	d := Digest([]byte("same"))
	path := closedStore(t, func(s *Store) { putPayload(t, s, "http://a/1", d, []byte("same"), 1) })
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	putPayload(t, s, "http://a/2", d, []byte("same"), 2)
	wantDuplicate(t, s, "http://a/2", &Ref{URL: "http://a/1", FetchedAt: payloadAt.Add(time.Minute)})
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	r, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.View(func(v *Snapshot) error {
		h, ok, err := v.Holder(d)
		if err != nil || !ok || h.URL != "http://a/1" {
			t.Errorf("Holder(%s) = %+v, %v, %v; want http://a/1's record", d, h, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDigestIndexOfOlderDatabase: a database whose digest index is the
// digests bucket (written before the log) goes on deduplicating against it.
func TestDigestIndexOfOlderDatabase(t *testing.T) {
	d := Digest([]byte("same"))
	path := closedStore(t, func(s *Store) { putPayload(t, s, "http://a/1", d, []byte("same"), 1) })

	// As the earlier version wrote it: digest → seq ‖ fetched_at (ms) ‖
	// flags ‖ URL, and no log.
	update(t, path, func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketURLs).Get([]byte("http://a/1"))
		if err := tx.DeleteBucket(bucketPayloads); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketDigests)
		if err != nil {
			return err
		}
		v := append([]byte(nil), seq...)
		v = binary.BigEndian.AppendUint64(v, uint64(payloadAt.Add(time.Minute).UnixMilli()))
		v = append(append(v, 1), "http://a/1"...)
		return b.Put([]byte(d), v)
	})

	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	putPayload(t, s, "http://a/2", d, []byte("same"), 2)
	wantDuplicate(t, s, "http://a/2", &Ref{URL: "http://a/1", FetchedAt: payloadAt.Add(time.Minute)})
}

// TestDigestIndexPrefix: two payloads whose digests share the 8 bytes the
// index keeps are not taken for one another.
func TestDigestIndexPrefix(t *testing.T) {
	s := openTemp(t)
	d1 := "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	d2 := "sha1:AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB"
	if k1, _ := digestKey(d1); k1 != func() uint64 { k, _ := digestKey(d2); return k }() {
		t.Fatal("the two digests have different keys: the test tests nothing")
	}
	putPayload(t, s, "http://a/1", d1, []byte("one"), 1)
	putPayload(t, s, "http://a/2", d2, []byte("two"), 2)
	putPayload(t, s, "http://a/3", d2, []byte("two"), 3)
	wantDuplicate(t, s, "http://a/1", nil)
	wantDuplicate(t, s, "http://a/2", nil)
	wantDuplicate(t, s, "http://a/3", &Ref{URL: "http://a/2", FetchedAt: payloadAt.Add(2 * time.Minute)})
}

// TestDigestIndexInOneBatch: a payload met twice in one commit is stored
// once, the later page naming the earlier.
func TestDigestIndexInOneBatch(t *testing.T) {
	s := openTemp(t)
	d := Digest([]byte("same"))
	var b Batch
	for i, u := range []string{"http://a/1", "http://a/2"} {
		b.Done = append(b.Done, Done{Entry: Entry{URL: u}, Page: &Page{URL: u, Status: 200, Digest: d, Size: 4, Body: []byte("same"), FetchedAt: payloadAt.Add(time.Duration(i) * time.Minute)}})
	}
	if err := s.Commit(&b); err != nil {
		t.Fatal(err)
	}
	wantDuplicate(t, s, "http://a/1", nil)
	wantDuplicate(t, s, "http://a/2", &Ref{URL: "http://a/1", FetchedAt: payloadAt})
}

// BenchmarkPayloadIndexBytes reports the memory the digest index holds per
// payload at 1M payloads: on the heap (the newest entries' map, the top-bits
// table) and off it (the sorted entries' mapping).
func BenchmarkPayloadIndexBytes(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ix := &payloadIndex{m: fpmap.New[uint64]()}
		for i := range n {
			ix.set(uint64(i)*0x9E3779B97F4A7C15, uint64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/n, "heap-bytes/payload")
		b.ReportMetric((heap+float64(ix.m.OffHeap()))/n, "bytes/payload")
		ix.free()
		runtime.KeepAlive(ix)
	}
}

// TestRepairKeepsDigestIndex: a repaired database (its records written
// anew, under new seqs) goes on naming the holders of the payloads it holds.
func TestRepairKeepsDigestIndex(t *testing.T) {
	same, other := Digest([]byte("same")), Digest([]byte("other"))
	src := closedStore(t, func(s *Store) {
		putPayload(t, s, "http://a/0", same, nil, 0) // no body: gives way to a/1
		putPayload(t, s, "http://a/1", same, []byte("same"), 1)
		putPayload(t, s, "http://a/2", same, []byte("same"), 2)
		putPayload(t, s, "http://a/3", other, []byte("other"), 3)
	})

	r := repaired(t, src)
	putPayload(t, r, "http://a/4", same, []byte("same"), 4)
	putPayload(t, r, "http://a/5", other, []byte("other"), 5)
	wantDuplicate(t, r, "http://a/4", &Ref{URL: "http://a/1", FetchedAt: payloadAt.Add(time.Minute)})
	wantDuplicate(t, r, "http://a/5", &Ref{URL: "http://a/3", FetchedAt: payloadAt.Add(3 * time.Minute)})
}

// TestDamagedDigestLog: a digest log entry of the wrong length makes Open
// for writing refuse the file as damaged, naming the bucket, before
// anything is written; repair writes the index anew.
func TestDamagedDigestLog(t *testing.T) {
	d := Digest([]byte("same"))
	path := closedStore(t, func(s *Store) { putPayload(t, s, "http://a/1", d, []byte("same"), 1) })
	update(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPayloads).Put(seqKey(99), []byte("fifteen bytes!!"))
	})
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	if s, err := Open(path, nil); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "payloads") {
		if err == nil {
			s.Close()
		}
		t.Errorf("Open over a damaged digest log: %v, want ErrDamaged naming the bucket", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the refused file changed (%v)", err)
	}

	r := repaired(t, path)
	putPayload(t, r, "http://a/2", d, []byte("same"), 2)
	wantDuplicate(t, r, "http://a/2", &Ref{URL: "http://a/1", FetchedAt: payloadAt.Add(time.Minute)})
}
