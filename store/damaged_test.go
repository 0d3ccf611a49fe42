package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// filledDB writes a closed crawl database of a few MiB and returns its bytes.
func filledDB(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "full.db")
	s, err := Open(path, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		var b Batch
		for j := range 50 {
			u := fmt.Sprintf("http://a.test/%d/%d", i, j)
			b.Done = append(b.Done, Done{Entry: Entry{URL: u, Host: "a.test"}, Page: &Page{URL: u, Text: strings.Repeat("x", 500)}})
			b.Add = append(b.Add, Entry{URL: u + "/next", Host: "a.test"})
			// As the crawler does: every URL queued is in the visited set.
			b.Seen = append(b.Seen, fingerprint(u), fingerprint(u+"/next"))
		}
		if err := s.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestOpenTruncated: bbolt memory-maps the file and trusts the page numbers
// in it, so reading a truncated database used to kill the process with a
// fault. Open must refuse it with ErrDamaged (or ErrNotDatabase when not even
// the meta pages are left), in both modes, and leave the file as it was.
func TestOpenTruncated(t *testing.T) {
	data := filledDB(t)
	dir := t.TempDir()
	const page = 4096
	for _, n := range []int{0, 100, page, page + 1, 2 * page, 3 * page, 5 * page, len(data) / 4, len(data) / 2, len(data) - 64*page} {
		for _, ro := range []bool{true, false} {
			path := filepath.Join(dir, fmt.Sprintf("cut%d-%v.db", n, ro))
			if err := os.WriteFile(path, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, &Options{ReadOnly: ro})
			if n == 0 && !ro {
				// An empty file is what a crash while creating the
				// database leaves: it is initialised as a new one.
				if err != nil {
					t.Fatalf("Open(empty file) = %v", err)
				}
				s.Close()
				continue
			}
			if err == nil {
				// Only the unused tail that bbolt allocates ahead was cut:
				// every page is there.
				c, cerr := s.Counts()
				if err := s.Check(); err != nil || cerr != nil || c.Pages != 1000 {
					t.Errorf("Open(first %d of %d bytes, ReadOnly=%v) succeeded, but the database has %d pages (%v), check: %v", n, len(data), ro, c.Pages, cerr, err)
				}
				s.Close()
				continue
			}
			if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrNotDatabase) && n > 2*page {
				t.Errorf("Open(first %d bytes, ReadOnly=%v) = %v, want ErrDamaged", n, ro, err)
			}
			if n == len(data)/2 && ro {
				t.Logf("e.g. %v", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s", msg, path)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data[:n]) {
				t.Errorf("Open(first %d bytes, ReadOnly=%v) changed the file", n, ro)
			}
		}
	}
}

// TestOpenForeignBolt: a bbolt file of another program is not a crawl
// database, and opening it for a crawl must not add buckets to it.
func TestOpenForeignBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("config"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	for _, ro := range []bool{false, true} {
		if _, err := Open(path, &Options{ReadOnly: ro}); !errors.Is(err, ErrNotDatabase) {
			t.Fatalf("Open(foreign bbolt file, ReadOnly=%v) = %v, want ErrNotDatabase", ro, err)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Open changed a foreign bbolt file")
	}
}

// TestOpenUninitialised: a bbolt file without buckets is what a crash
// between bbolt's creation of the file and the first transaction leaves; a
// crawl opens it as a new database.
func TestOpenUninitialised(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, &Options{ReadOnly: true}); !errors.Is(err, ErrNotDatabase) {
		t.Errorf("Open(uninitialised, ReadOnly) = %v, want ErrNotDatabase", err)
	}
	s, err := Open(path, nil)
	if err != nil {
		t.Fatalf("Open(uninitialised) = %v", err)
	}
	defer s.Close()
	if c, err := s.Counts(); err != nil || c != (Counts{}) {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}
