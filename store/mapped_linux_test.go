//go:build linux

package store

import (
	"math/rand/v2"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func rssFileKB(t *testing.T) int {
	t.Helper()
	n := rssFile()
	if n < 0 {
		t.Skip("no RssFile in /proc/self/status")
	}
	return int(n >> 10)
}

// TestDropMapped: reading a whole database maps its file pages into this
// process; dropMapped gives them back, and the data reads the same after.
func TestDropMapped(t *testing.T) {
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, 32<<10) // random: does not compress
	for batch := range 16 {
		var b Batch
		for i := range 64 {
			for j := range body {
				body[j] = byte(rng.Uint32())
			}
			u := "http://a.test/" + strconv.Itoa(batch*64+i)
			b.Done = append(b.Done, Done{Entry: Entry{URL: u}, Page: &Page{URL: u, Body: append([]byte(nil), body...)}})
		}
		if err := s.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	read := func(tx *bolt.Tx) int {
		n := 0
		tx.Bucket(bucketRecords).ForEach(func(_, v []byte) error {
			for i := 0; i < len(v); i += 4096 {
				n += int(v[i])
			}
			return nil
		})
		return n
	}
	s.db.View(func(tx *bolt.Tx) error {
		sum := read(tx)
		touched := rssFileKB(t)
		s.dropMapped(tx)
		dropped := rssFileKB(t)
		t.Logf("RssFile after reading %d MiB: %d kB; after dropMapped: %d kB", tx.Size()>>20, touched, dropped)
		if touched-dropped < 20<<10 {
			t.Errorf("dropMapped freed %d kB of mapped pages, want at least 20 MiB of the ~40 MiB read", touched-dropped)
		}
		if again := read(tx); again != sum {
			t.Errorf("data read after dropMapped differs: checksum %d, before %d", again, sum)
		}
		return nil
	})
}
