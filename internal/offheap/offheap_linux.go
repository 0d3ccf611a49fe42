//go:build linux

package offheap

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// Grow returns s, of the same length and contents, with room for n more
// elements: s itself if it has room, else s's mapping grown (the kernel
// moves its pages, nothing is copied). s must be nil or a slice that Grow
// returned.
func Grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	capacity, bytes := roomFor[T](cap(s), len(s)+n, pageSize)
	var p unsafe.Pointer
	var err error
	if cap(s) == 0 {
		p, err = unix.MmapPtr(-1, 0, nil, uintptr(bytes), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	} else {
		p, err = unix.MremapPtr(unsafe.Pointer(unsafe.SliceData(s)), uintptr(mapped[T](cap(s))), nil, uintptr(bytes), unix.MREMAP_MAYMOVE)
	}
	if err != nil {
		// As the runtime does when the heap cannot grow.
		panic(fmt.Sprintf("offheap: map %d bytes: %v", bytes, err))
	}
	if bytes >= hugePage {
		// Lookups land at random in these slices: on 4 KB pages, most
		// also miss the TLB. Where transparent huge pages are on request
		// only (madvise), ask; an error just leaves the small pages.
		unix.Madvise(unsafe.Slice((*byte)(p), bytes), unix.MADV_HUGEPAGE)
	}
	return unsafe.Slice((*T)(p), capacity)[:len(s)]
}

const hugePage = 2 << 20

// Free unmaps s, which Grow returned; a nil s is left alone.
func Free[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	if err := unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(s)), uintptr(mapped[T](cap(s)))); err != nil {
		panic(fmt.Sprintf("offheap: unmap: %v", err))
	}
}

// mapped returns the bytes of the mapping that holds capacity elements.
func mapped[T any](capacity int) int {
	size := int(unsafe.Sizeof(*new(T)))
	return (capacity*size + pageSize - 1) / pageSize * pageSize
}
