package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// benchDB writes a closed database of n records like the test web's (a
// record of about 1.6 KiB stored, as in the crawl of issue 17: 5,000 records
// in 8 MiB), each with a frontier entry and a visited mark, and returns
// its path.
func benchDB(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bench.db")
	s, err := Open(path, &Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	p := benchPage()
	p.Text = strings.Repeat(p.Text+" ", 30)
	for i := 0; i < n; i += 1000 {
		var b Batch
		for j := i; j < min(n, i+1000); j++ {
			u := fmt.Sprintf("http://127.0.1.%d:41234/p/%d", j%100+1, j)
			q := *p
			q.URL, q.Title = u, fmt.Sprintf("page %d %s", j, u)
			b.Done = append(b.Done, Done{Entry: Entry{URL: u, Host: hostName(u)}, Page: &q})
			b.Add = append(b.Add, Entry{URL: u + "/next", Host: hostName(u)})
			b.Seen = append(b.Seen, uint64(j)*0x9E3779B97F4A7C15)
		}
		if err := s.Commit(&b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkCheckFile measures the check that every Open runs (checkFile)
// against what bbolt's read-write Open costs, which walks the same pages to
// rebuild its free list, at the size of issue 17's crawl and at 20 times it.
func BenchmarkCheckFile(b *testing.B) {
	for _, n := range []int{5_000, 100_000} {
		path := benchDB(b, n)
		fi, _ := os.Stat(path)
		b.Run(fmt.Sprintf("records=%d/check", n), func(b *testing.B) {
			b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
			for b.Loop() {
				if err := checkFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("records=%d/bbolt-open", n), func(b *testing.B) {
			for b.Loop() {
				db, err := bolt.Open(path, 0o644, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
				if err != nil {
					b.Fatal(err)
				}
				db.Close()
			}
		})
	}
}
