package export

import (
	"container/heap"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/politecrawl/crawl/store"
)

// ForEachPageMerged calls fn with every record stored in any of stores, in
// URL order, each URL once: a k-way merge of the stores' URL-ordered
// cursors, in one read transaction per store, so memory does not grow with
// the databases. Several crawl processes sharing a Redis frontier each
// store into their own database, and a URL fetched again after a lease
// expired may be in two of them: then the record fetched last is kept (the
// newest copy; on equal times, the one of the store listed first). raw is
// only valid during the call; an error from fn stops the walk.
func ForEachPageMerged(stores []*store.Store, fn func(url string, raw []byte) error) (err error) {
	var h cursorHeap
	for i, s := range stores {
		c := openCursor(s, i)
		defer func() {
			if cerr := c.close(); err == nil {
				err = cerr
			}
		}()
		if ok, err := c.next(); err != nil {
			return err
		} else if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		k := h[0].k
		var same []*mergeCursor // the stores' records of k, first store first, advanced past it below
		for len(h) > 0 && h[0].k == k {
			same = append(same, heap.Pop(&h).(*mergeCursor))
		}
		if err := fn(k, newest(same)); err != nil {
			return err
		}
		for _, m := range same {
			if ok, err := m.next(); err != nil {
				return err
			} else if ok {
				heap.Push(&h, m)
			}
		}
	}
	return nil
}

// newest returns the JSON of the record, among those of one URL, fetched
// last (the first store's on equal times).
func newest(same []*mergeCursor) []byte {
	best := same[0].v
	if len(same) == 1 {
		return best
	}
	var bestAt struct {
		FetchedAt time.Time `json:"fetched_at"`
	}
	json.Unmarshal(best, &bestAt)
	for _, m := range same[1:] {
		var at struct {
			FetchedAt time.Time `json:"fetched_at"`
		}
		if json.Unmarshal(m.v, &at) == nil && at.FetchedAt.After(bestAt.FetchedAt) {
			best, bestAt = m.v, at
		}
	}
	return best
}

// mergeCursor walks one store's records in URL order: its ForEachPage,
// paused at each record (iter.Pull), so that its read transaction stays
// open and v stays valid until the next call of next.
type mergeCursor struct {
	k    string
	v    []byte
	i    int // the store's place in the list: ties go to the first
	pull func() (string, []byte, bool)
	stop func()
	err  error // what the walk returned
}

// errStopped ends a walk that the merge stopped.
var errStopped = errors.New("stopped")

func openCursor(s *store.Store, i int) *mergeCursor {
	c := &mergeCursor{i: i}
	c.pull, c.stop = iter.Pull2(func(yield func(string, []byte) bool) {
		c.err = s.ForEachPage(func(u string, raw []byte) error {
			if !yield(u, raw) {
				return errStopped
			}
			return nil
		})
	})
	return c
}

// next moves to the next record, and reports whether there is one, or
// why the walk failed. A walk of a store from Store.KeepGoing that skipped
// records ends as any other: close returns its *store.UnreadableError.
func (c *mergeCursor) next() (bool, error) {
	var ok bool
	c.k, c.v, ok = c.pull()
	if _, skipped := errors.AsType[*store.UnreadableError](c.err); !ok && c.err != nil && !skipped {
		return false, c.err
	}
	return ok, nil
}

// close stops the walk and returns its error, if it failed.
func (c *mergeCursor) close() error {
	c.stop()
	if errors.Is(c.err, errStopped) {
		return nil
	}
	return c.err
}

type cursorHeap []*mergeCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if h[i].k != h[j].k {
		return h[i].k < h[j].k
	}
	return h[i].i < h[j].i
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*mergeCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	m := old[len(old)-1]
	*h = old[:len(old)-1]
	return m
}

// ExportMerged is like ExportSelected over several stores: each URL once,
// as ForEachPageMerged chooses.
func ExportMerged(w io.Writer, stores []*store.Store, f Format, sel *Selection) (int, error) {
	return exportEach(w, func(fn func(string, []byte) error) error { return ForEachPageMerged(stores, fn) }, f, sel)
}
