// Package fpmap is a compact map from uniformly distributed 64-bit keys
// (URL fingerprints, payload digests) to small pointer-free values: the
// crawler's visited set and the store's digest index.
//
// Uniform keys allow a compact layout: a slice sorted by key holds the
// entries (8 bytes and the value's), with a table of where each value of the
// keys' top indexBits bits starts, so that a lookup is one or two cache
// misses; new keys go to a small Go map first and are merged into the slice,
// in place, when it reaches mergeAt. At a million keys a set costs about 11
// bytes a key where a Go map costs about 38.
//
// The sorted slice lives outside the Go heap (internal/offheap): it lives
// as long as the crawl, and on the heap it would let the collector leave
// twice its size of garbage about (GOGC 200).
package fpmap

import (
	"cmp"
	"runtime"
	"slices"
	"unsafe"

	"github.com/politecrawl/crawl/internal/offheap"
)

const (
	indexBits = 16
	mergeAt   = 1 << 16
)

// entry puts the value first: with a value of size zero (a set) an entry
// is its key's 8 bytes, where a zero-size last field would be padded.
type entry[V any] struct {
	val V
	key uint64
}

// Map maps keys to values. It is not safe for concurrent use.
type Map[V any] struct {
	sorted []entry[V]   // ascending, keys distinct; off the heap
	mapped *[]entry[V]  // the mapping sorted lives in, for Free and the cleanup
	index  []uint32     // index[b]: first position in sorted whose key's top bits are ≥ b
	recent map[uint64]V // not in sorted yet
}

// New returns an empty map. Its memory off the heap is freed by Free, or
// once the map is unreachable.
func New[V any]() *Map[V] {
	m := &Map[V]{index: make([]uint32, 1<<indexBits+1), recent: map[uint64]V{}, mapped: new([]entry[V])}
	runtime.AddCleanup(m, func(p *[]entry[V]) { offheap.Free(*p) }, m.mapped)
	return m
}

// Free releases the map's memory off the heap; the map is empty after.
func (m *Map[V]) Free() {
	offheap.Free(*m.mapped)
	m.sorted, *m.mapped = nil, nil
	clear(m.recent)
	clear(m.index)
}

func (m *Map[V]) grow(n int) {
	m.sorted = offheap.Grow(m.sorted, n)
	*m.mapped = m.sorted
}

// find returns the position of k in the sorted part. (A binary search of
// its own: slices.BinarySearchFunc calls its comparison through the
// generic dictionary, a third more time a lookup.)
func (m *Map[V]) find(k uint64) (int, bool) {
	b := k >> (64 - indexBits)
	lo, end := int(m.index[b]), int(m.index[b+1])
	for hi := end; lo < hi; {
		mid := int(uint(lo+hi) >> 1)
		if m.sorted[mid].key < k {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < end && m.sorted[lo].key == k
}

// Get returns k's value and whether k is in the map.
func (m *Map[V]) Get(k uint64) (V, bool) {
	// The sorted part first: it holds all but the newest keys, and most
	// lookups (links to pages known for a while) find theirs there.
	if i, ok := m.find(k); ok {
		return m.sorted[i].val, true
	}
	v, ok := m.recent[k]
	return v, ok
}

// Set maps k to v.
func (m *Map[V]) Set(k uint64, v V) {
	if i, ok := m.find(k); ok {
		m.sorted[i].val = v
		return
	}
	m.recent[k] = v
	if len(m.recent) >= mergeAt {
		m.merge()
	}
}

// Load adds keys that mostly come in ascending order and are not in the map
// yet (a log read at start-up); Loaded ends a sequence of them.
func (m *Map[V]) Load(k uint64, v V) {
	if n := len(m.sorted); n > 0 && m.sorted[n-1].key >= k {
		m.Set(k, v) // out of order: the general path
		return
	}
	m.grow(1)
	m.sorted = append(m.sorted, entry[V]{v, k})
}

// Loaded finishes a sequence of Load calls.
func (m *Map[V]) Loaded() { m.merge() }

// Delete removes k.
func (m *Map[V]) Delete(k uint64) {
	if _, ok := m.recent[k]; ok {
		delete(m.recent, k)
		return
	}
	if i, ok := m.find(k); ok {
		m.sorted = slices.Delete(m.sorted, i, i+1)
		m.merge() // rebuild the index
	}
}

// Len returns the number of keys in the map.
func (m *Map[V]) Len() int { return len(m.sorted) + len(m.recent) }

// OffHeap returns the bytes the map holds outside the Go heap.
func (m *Map[V]) OffHeap() int {
	var e entry[V]
	return cap(m.sorted) * int(unsafe.Sizeof(e))
}

// merge moves the recent entries into the sorted slice, merging from the
// back so that no second slice is needed, and rebuilds the index.
func (m *Map[V]) merge() {
	if len(m.recent) > 0 {
		add := make([]entry[V], 0, len(m.recent))
		for k, v := range m.recent {
			add = append(add, entry[V]{v, k})
		}
		slices.SortFunc(add, func(a, b entry[V]) int { return cmp.Compare(a.key, b.key) })
		n := len(m.sorted)
		m.grow(len(add))
		m.sorted = m.sorted[:n+len(add)]
		i, j := n-1, len(add)-1
		for k := len(m.sorted) - 1; j >= 0; k-- {
			if i >= 0 && m.sorted[i].key > add[j].key {
				m.sorted[k] = m.sorted[i]
				i--
			} else {
				m.sorted[k] = add[j]
				j--
			}
		}
		clear(m.recent)
	}
	b := 0
	for i, e := range m.sorted {
		for top := int(e.key >> (64 - indexBits)); b <= top; b++ {
			m.index[b] = uint32(i)
		}
	}
	for ; b < len(m.index); b++ {
		m.index[b] = uint32(len(m.sorted))
	}
}
