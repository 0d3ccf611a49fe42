//go:build unix

package store

import (
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
