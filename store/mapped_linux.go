//go:build linux

package store

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	bolt "go.etcd.io/bbolt"
)

// dropMapped tells the kernel that this process does not need the pages of
// the database file that bbolt has mapped in memory now. bbolt maps the file
// read-only and shared, so the pages stay in the page cache and a later read
// faults them back without I/O; but they no longer count in the process's
// resident memory, which would otherwise grow with the database. tx must be
// open: it holds bbolt's map lock, so the map cannot move meanwhile.
func (s *Store) dropMapped(tx *bolt.Tx) {
	unix.Syscall(unix.SYS_MADVISE, s.db.Info().Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
}

// mappedBudget, plus a twenty-fourth of the database's size (mappedShare), is
// how much more file-backed memory than at Open the process may hold after
// a commit before the database's mapped pages are dropped. Below it, what a
// commit touched (the upper levels of the trees, the URL index, the ends of
// the queues) stays mapped for the next commit, which then needs less time.
// The share grows with the database because the URL index does, and a
// commit that faults it back in is a slow one; a larger share keeps more
// resident memory for little speed. The URL index is about 4% of the
// 1M-page bench's database (records with their links and text, no bodies),
// which a twenty-fourth covers.
const (
	mappedBudget = 8 << 20
	mappedShare  = 24
)

// afterCommit drops the mapped pages of the database if the process holds
// more file-backed memory over what it held at Open than the budget allows.
func (s *Store) afterCommit(tx *bolt.Tx) {
	if rss := rssFile(); rss < 0 || rss > s.rssBase+mappedBudget+tx.Size()/mappedShare {
		s.dropMapped(tx)
	}
}

// rssFile returns the file-backed resident memory of this process in bytes
// (RssFile in /proc/self/status), or -1 if it cannot tell.
func rssFile() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	_, rest, ok := bytes.Cut(b, []byte("\nRssFile:"))
	if !ok {
		return -1
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 10, 64)
	if err != nil {
		return -1
	}
	return kb << 10
}
