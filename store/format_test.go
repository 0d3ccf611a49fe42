package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// newDB writes a closed database of this format holding one record, and
// returns its path.
func newDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crawl.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	const u = "http://a.test/"
	if err := s.Commit(&Batch{Done: []Done{{Entry: Entry{URL: u, Host: "a.test"}, Page: &Page{URL: u, Status: 200}}}, Seen: []uint64{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// update changes the database at path with bbolt itself, as another
// version of the crawl would.
func update(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// formatKey returns the database's format number as stored, or nil.
func formatKey(t *testing.T, path string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil {
			v = bytes.Clone(m.Get(keyFormat))
		}
		return nil
	})
	return v
}

// TestFormatNew: a new database carries the format's number from its
// creation.
func TestFormatNew(t *testing.T) {
	if got := formatKey(t, newDB(t)); string(got) != "1" {
		t.Fatalf("format of a new database = %q, want 1", got)
	}
}

// TestFormatOther: a database of another format, said by its number or by
// its layout (one written before the numbers, whose records or visited
// marks are in a layout this crawl no longer reads), is refused for reading
// and for writing with one line naming the file and both formats, and left
// as it was.
func TestFormatOther(t *testing.T) {
	setFormat := func(v string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte(v)) }
	}
	unnumbered := func(fn func(*bolt.Tx) error) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketMeta); err != nil {
				return err
			}
			return fn(tx)
		}
	}
	// A record's first value written first: what a database begun by an
	// older crawl holds.
	firstRecord := func(v []byte) func(*bolt.Tx) error {
		return unnumbered(func(tx *bolt.Tx) error { return tx.Bucket(bucketRecords).Put(seqKey(0), v) })
	}
	for _, tc := range []struct {
		name    string
		change  func(*bolt.Tx) error
		version int
		by      string
	}{
		{"newer", setFormat("2"), 2, "a newer"},
		{"zero", setFormat("0"), 0, "an older"},
		{"records in pages", unnumbered(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketPages)
			if err != nil {
				return err
			}
			return b.Put([]byte("http://a.test/old"), []byte(`{"url":"http://a.test/old","status":404}`))
		}), 0, "an older"},
		{"marks in seen", unnumbered(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(bucketSeen)
			if err != nil {
				return err
			}
			return b.Put(seqKey(5), nil)
		}), 0, "an older"},
		{"zstd record", firstRecord([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00}), 0, "an older"},
		{"plain JSON record", firstRecord([]byte(`{"url":"http://a.test/old"}`)), 0, "an older"},
		{"before the index", unnumbered(func(tx *bolt.Tx) error {
			for _, name := range [][]byte{bucketRecords, bucketURLs} {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
			_, err := tx.CreateBucket(bucketPages)
			return err
		}), 0, "an older"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newDB(t)
			update(t, path, tc.change)
			before, _ := os.ReadFile(path)
			want := "open " + path + ": database format " + string(rune('0'+tc.version)) + " (written by " + tc.by + " crawl); this crawl reads format 1"
			for _, ro := range []bool{false, true} {
				s, err := Open(path, &Options{ReadOnly: ro})
				if err == nil {
					s.Close()
				}
				fe, ok := errors.AsType[*FormatError](err)
				if !ok || fe.Version != tc.version || err.Error() != want {
					t.Errorf("Open(ReadOnly=%v) = %v, want %q", ro, err, want)
				}
			}
			if _, err := Salvage(path, nil); !errors.As(err, new(*FormatError)) {
				t.Errorf("Salvage = %v, want a FormatError", err)
			}
			if _, err := Repair(path, filepath.Join(t.TempDir(), "new.db"), nil); !errors.As(err, new(*FormatError)) {
				t.Errorf("Repair = %v, want a FormatError", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("the refused file was changed")
			}
		})
	}
}

// TestFormatUnnumbered: a database in this format's layout written before
// formats were numbered (by the crawl of before: no meta bucket, and the
// empty pages and seen buckets of the layout before) opens as it is for
// reading, and is stamped, and loses the empty buckets, when it is first
// opened for writing.
func TestFormatUnnumbered(t *testing.T) {
	path := newDB(t)
	update(t, path, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketMeta); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketPages, bucketSeen} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
	before, _ := os.ReadFile(path)
	s, err := Open(path, &Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open(ReadOnly) = %v", err)
	}
	if c, err := s.Counts(); err != nil || c.Pages != 1 || c.Seen != 1 {
		t.Errorf("Counts = %+v, %v; want 1 page, 1 seen", c, err)
	}
	s.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only Open changed the file")
	}

	s, err = Open(path, nil)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	if _, ok, err := s.Page("http://a.test/"); !ok || err != nil {
		t.Errorf("Page = %v, %v; want the record", ok, err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPages) != nil || tx.Bucket(bucketSeen) != nil {
			t.Error("the empty buckets of the layout before are still there")
		}
		return nil
	})
	if err := s.Check(); err != nil {
		t.Error(err)
	}
	s.Close()
	if got := formatKey(t, path); string(got) != "1" {
		t.Fatalf("format after the first Open for writing = %q, want 1", got)
	}
}

// TestFormatDamaged: a format number that is not one is damage.
func TestFormatDamaged(t *testing.T) {
	path := newDB(t)
	update(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("1x")) })
	if _, err := Open(path, &Options{ReadOnly: true}); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open = %v, want ErrDamaged", err)
	}
}
