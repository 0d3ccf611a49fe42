// Package offheap keeps large, long-lived slices of pointer-free values
// outside the Go heap.
//
// The garbage collector lets the heap grow to (1 + GOGC/100) times what is
// live before it collects (crawl runs with GOGC 200, cmd/crawl's tuneGC): a
// slice that lives as long as the crawl, such as the visited set's 8 bytes
// a URL or the digest index's 16 bytes a payload, makes room for twice its
// size of garbage besides itself. Mapped outside the heap, it costs its own
// pages only. Go has no allocator for that (arenas were withdrawn), so this
// package maps anonymous memory itself, on Linux; elsewhere it is the heap.
//
// A slice from Grow must hold no pointers, must not be appended to with the
// builtin append beyond its capacity, and must not be used after it is given
// to Grow again or to Free.
package offheap

import "unsafe"

// roomFor returns the capacity, at least need and at least twice old, whose
// bytes fill whole pages of pageSize.
func roomFor[T any](old, need, pageSize int) (capacity, bytes int) {
	size := int(unsafe.Sizeof(*new(T)))
	want := max(need, 2*old, pageSize/size)
	bytes = (want*size + pageSize - 1) / pageSize * pageSize
	return bytes / size, bytes
}
