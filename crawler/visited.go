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

// addNew marks every fingerprint of fps as visited under one lock, and calls
// fn with the index of each one that was new.
func (v *visited) addNew(fps []uint64, fn func(i int)) {
	if len(fps) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, fp := range fps {
		if _, ok := v.set[fp]; !ok {
			v.set[fp] = struct{}{}
			fn(i)
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
