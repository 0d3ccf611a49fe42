package crawler

import (
	"runtime"
	"slices"
	"sync"

	"github.com/politecrawl/crawl/internal/offheap"
)

// visited is the set of URLs the crawl has queued or fetched, keyed by the
// 64-bit fingerprint of the normalised URL. It is safe for concurrent use.
//
// Fingerprints are uniformly distributed, which a compact layout can use: a
// sorted slice holds them at 8 bytes each, with an index of where each value
// of the top indexBits bits starts, so a lookup is one or two cache misses;
// new fingerprints go to a small map first and are merged into the slice,
// in place, when it reaches mergeAt. At a million URLs it costs about 10
// bytes a URL where a Go map costs about 38 (BenchmarkVisitedBytesPerURL).
// The slice lives outside the Go heap (internal/offheap): it lives as long
// as the crawl, and on the heap it would let the collector leave twice its
// size of garbage about.
type visited struct {
	mu     sync.Mutex
	sorted []uint64            // distinct, ascending; off the heap
	mapped *[]uint64           // the mapping sorted lives in, freed once v is unreachable
	index  []uint32            // index[b]: first position in sorted whose top bits are ≥ b
	recent map[uint64]struct{} // not in sorted yet
}

const (
	indexBits = 16
	mergeAt   = 1 << 16
)

func newVisited() *visited {
	v := &visited{index: make([]uint32, 1<<indexBits+1), recent: map[uint64]struct{}{}, mapped: new([]uint64)}
	runtime.AddCleanup(v, func(m *[]uint64) { offheap.Free(*m) }, v.mapped)
	return v
}

// grow makes room in v.sorted for n more fingerprints.
func (v *visited) grow(n int) {
	v.sorted = offheap.Grow(v.sorted, n)
	*v.mapped = v.sorted
}

// load adds fingerprints that come in ascending order (the store's order).
func (v *visited) load(fp uint64) {
	if n := len(v.sorted); n > 0 && v.sorted[n-1] >= fp {
		v.recent[fp] = struct{}{} // out of order: take the general path
		return
	}
	v.grow(1)
	v.sorted = append(v.sorted, fp)
}

// loaded finishes a sequence of load calls.
func (v *visited) loaded() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.merge()
}

// has reports whether fp is in the set. v.mu must be held.
func (v *visited) has(fp uint64) bool {
	// The sorted part first: it holds all but the newest URLs, and most
	// links lead to a page known for a while.
	b := fp >> (64 - indexBits)
	if _, ok := slices.BinarySearch(v.sorted[v.index[b]:v.index[b+1]], fp); ok {
		return true
	}
	_, ok := v.recent[fp]
	return ok
}

// put adds fp, which is not in the set. v.mu must be held.
func (v *visited) put(fp uint64) {
	v.recent[fp] = struct{}{}
	if len(v.recent) >= mergeAt {
		v.merge()
	}
}

// merge moves the recent fingerprints into the sorted slice, merging from
// the back so that no second slice is needed, and rebuilds the index.
func (v *visited) merge() {
	if len(v.recent) > 0 {
		add := make([]uint64, 0, len(v.recent))
		for fp := range v.recent {
			add = append(add, fp)
		}
		slices.Sort(add)
		n := len(v.sorted)
		v.grow(len(add))
		v.sorted = v.sorted[:n+len(add)]
		i, j := n-1, len(add)-1
		for k := len(v.sorted) - 1; j >= 0; k-- {
			if i >= 0 && v.sorted[i] > add[j] {
				v.sorted[k] = v.sorted[i]
				i--
			} else {
				v.sorted[k] = add[j]
				j--
			}
		}
		clear(v.recent)
	}
	b := 0
	for i, fp := range v.sorted {
		for top := int(fp >> (64 - indexBits)); b <= top; b++ {
			v.index[b] = uint32(i)
		}
	}
	for ; b < len(v.index); b++ {
		v.index[b] = uint32(len(v.sorted))
	}
}

// add marks fp as visited and reports whether it was new.
func (v *visited) add(fp uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.has(fp) {
		return false
	}
	v.put(fp)
	return true
}

// addNew marks every new fingerprint of fps as visited under one lock: for
// each one that is not yet in the set it calls keep with its index, and
// marks it only if keep returns true. keep must not use v.
func (v *visited) addNew(fps []uint64, keep func(i int) bool) {
	if len(fps) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, fp := range fps {
		if !v.has(fp) && keep(i) {
			v.put(fp)
		}
	}
}

// forget removes fp, for a URL that was marked but could not be queued.
func (v *visited) forget(fp uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.recent[fp]; ok {
		delete(v.recent, fp)
		return
	}
	if i, ok := slices.BinarySearch(v.sorted, fp); ok {
		v.sorted = slices.Delete(v.sorted, i, i+1)
		v.merge() // rebuild the index
	}
}

func (v *visited) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.sorted) + len(v.recent)
}
