package store

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// ForEachPageMerged calls fn with every record stored in any of stores, in
// URL order, each URL once: a k-way merge of the stores' URL-ordered
// cursors, in one read transaction per store, so memory does not grow with
// the databases. Several crawl processes sharing a Redis frontier each
// store into their own database, and a URL fetched again after a lease
// expired may be in two of them: then the record fetched last is kept (the
// newest copy; on equal times, the one of the store listed first). raw is
// only valid during the call; an error from fn stops the walk.
func ForEachPageMerged(stores []*Store, fn func(url string, raw []byte) error) error {
	var h cursorHeap
	for i, s := range stores {
		tx, err := s.db.Begin(false)
		if err != nil {
			return fmt.Errorf("read %s: %w", s.path, err)
		}
		defer tx.Rollback()
		c := newPageCursor(tx, true)
		if k, v := c.first(); k != nil {
			h = append(h, &mergeCursor{c: c, k: k, v: v, i: i})
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		k := h[0].k
		var same []*mergeCursor // the stores' records of k, first store first, advanced past it below
		for len(h) > 0 && bytes.Equal(h[0].k, k) {
			same = append(same, heap.Pop(&h).(*mergeCursor))
		}
		js, err := newest(same)
		if err != nil {
			return fmt.Errorf("page %s: %w", k, err)
		}
		if err := fn(string(k), js); err != nil {
			return err
		}
		for _, m := range same {
			if m.k, m.v = m.c.next(); m.k != nil {
				heap.Push(&h, m)
			}
		}
	}
	return nil
}

// newest returns the JSON of the record, among those of one URL, fetched
// last (the first store's on equal times).
func newest(same []*mergeCursor) ([]byte, error) {
	best, err := same[0].r.read(same[0].v)
	if err != nil || len(same) == 1 {
		return best, err
	}
	var bestAt struct {
		FetchedAt time.Time `json:"fetched_at"`
	}
	json.Unmarshal(best, &bestAt)
	for _, m := range same[1:] {
		js, err := m.r.read(m.v) // each cursor decodes into its own buffer
		if err != nil {
			return nil, err
		}
		var at struct {
			FetchedAt time.Time `json:"fetched_at"`
		}
		if json.Unmarshal(js, &at) == nil && at.FetchedAt.After(bestAt.FetchedAt) {
			best, bestAt = js, at
		}
	}
	return best, nil
}

type mergeCursor struct {
	c    *pageCursor
	k, v []byte
	i    int         // the store's place in the list: ties go to the first
	r    valueReader // decodes v (records are stored compressed)
}

type cursorHeap []*mergeCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].k, h[j].k); c != 0 {
		return c < 0
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
func ExportMerged(w io.Writer, stores []*Store, f Format, sel *Selection) (int, error) {
	return exportEach(w, func(fn func(string, []byte) error) error { return ForEachPageMerged(stores, fn) }, f, sel)
}
