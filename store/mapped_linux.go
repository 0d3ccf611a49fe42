//go:build linux

package store

import (
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
