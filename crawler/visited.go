package crawler

import (
	"sync"

	"github.com/politecrawl/crawl/internal/fpmap"
)

// visited is the set of URLs the crawl has queued or fetched, keyed by the
// 64-bit fingerprint of the normalised URL, in an fpmap (about 11 bytes a
// URL at a million, BenchmarkVisitedBytesPerURL). It is safe for concurrent
// use.
type visited struct {
	mu  sync.Mutex
	set *fpmap.Map[struct{}]
}

func newVisited() *visited { return &visited{set: fpmap.New[struct{}]()} }

// load adds fingerprints that come in ascending order (the store's order).
func (v *visited) load(fp uint64) { v.set.Load(fp, struct{}{}) }

// loaded finishes a sequence of load calls.
func (v *visited) loaded() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.set.Loaded()
}

// has reports whether fp is in the set. v.mu must be held.
func (v *visited) has(fp uint64) bool {
	_, ok := v.set.Get(fp)
	return ok
}

// put adds fp, which is not in the set. v.mu must be held.
func (v *visited) put(fp uint64) { v.set.Set(fp, struct{}{}) }

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

// mark marks every fingerprint of fps as visited.
func (v *visited) mark(fps []uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, fp := range fps {
		if !v.has(fp) {
			v.put(fp)
		}
	}
}

// forget removes fp, for a URL that was marked but could not be queued.
func (v *visited) forget(fp uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.set.Delete(fp)
}

func (v *visited) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.set.Len()
}
