//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only, for checkFile and the salvage to
// read pages without copying them; unmap releases the map. It returns nil
// when the file cannot be mapped (the caller then reads with ReadAt).
func mapFile(f *os.File, size int64) (data []byte, unmap func()) {
	if size <= 0 || int64(int(size)) != size {
		return nil, func() {}
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, func() {}
	}
	return data, func() { unix.Munmap(data) }
}

// lockShared takes a shared lock on the file at path, as a read-only bbolt
// Open does, so that no crawl writes to it while it is salvaged; it fails
// with ErrLocked when a crawl holds it.
func lockShared(path string) (unlock func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
