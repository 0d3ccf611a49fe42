//go:build !linux

package offheap

import "slices"

// Grow returns s with room for n more elements, on the heap.
func Grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	capacity, _ := roomFor[T](cap(s), len(s)+n, 4096)
	return slices.Grow(s, capacity-len(s))
}

// Free does nothing: the garbage collector frees s.
func Free[T any](s []T) {}
