package crawler

import "sync"

// visited is the set of URLs the crawl has queued or fetched, keyed by the
// 64-bit fingerprint of the normalised URL. It is safe for concurrent use.
type visited struct {
	mu  sync.Mutex
	set map[uint64]struct{}
}

func newVisited(sizeHint int) *visited {
	return &visited{set: make(map[uint64]struct{}, sizeHint)}
}

// add marks fp as visited and reports whether it was new.
func (v *visited) add(fp uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.set[fp]; ok {
		return false
	}
	v.set[fp] = struct{}{}
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
		if _, ok := v.set[fp]; !ok && keep(i) {
			v.set[fp] = struct{}{}
		}
	}
}

// forget removes fp, for a URL that was marked but could not be queued.
func (v *visited) forget(fp uint64) {
	v.mu.Lock()
	delete(v.set, fp)
	v.mu.Unlock()
}

func (v *visited) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.set)
}
