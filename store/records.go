package store

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// Records are stored in the order they are written, and found by URL
// through an index:
//
//	records  seq (8 bytes, big endian) → Page as compressed JSON (codec.go)
//	urls     normalised URL → seq of its record
//
// A commit thus appends its records at the end of one tree, and writes into
// the index, whose entries are small: keyed by URL, the records themselves
// would go into some 250 random leaves of a tree as big as the database for
// each commit, and reading those leaves back is what made commits slow as
// the database grew (crawl bench growth at 300k pages: 83 ms a commit and
// 2,687 pages/s keyed by URL, 36 ms and 3,738 pages/s appended).
//
// Databases made before the index hold their records in pages (URL →
// record). They are read as they are; a URL stored again moves to records.
var (
	bucketRecords = []byte("records")
	bucketURLs    = []byte("urls")
)

// putPage stores v as the newest record of url and returns its seq. The
// record it had stays, as an earlier version (see versions.go); one of a
// database from before the index moves to records first.
func putPage(tx *bolt.Tx, url string, v []byte) (uint64, error) {
	records, urls, legacy := tx.Bucket(bucketRecords), tx.Bucket(bucketURLs), tx.Bucket(bucketPages)
	records.FillPercent = 1 // appended in key order: full pages
	key := []byte(url)
	if old := urls.Get(key); old != nil {
		if err := keepVersion(tx, key, bytes.Clone(old)); err != nil {
			return 0, err
		}
	} else if lv := legacy.Get(key); lv != nil {
		seq, err := records.NextSequence()
		if err != nil {
			return 0, err
		}
		if err := records.Put(seqKey(seq), bytes.Clone(lv)); err != nil {
			return 0, err
		}
		if err := keepVersion(tx, key, seqKey(seq)); err != nil {
			return 0, err
		}
		if err := legacy.Delete(key); err != nil {
			return 0, err
		}
	}
	seq, err := records.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := records.Put(seqKey(seq), v); err != nil {
		return 0, err
	}
	return seq, urls.Put(key, seqKey(seq))
}

// getPage returns the stored record of url, or nil.
func getPage(tx *bolt.Tx, url string) []byte {
	key := []byte(url)
	if urls, records := tx.Bucket(bucketURLs), tx.Bucket(bucketRecords); urls != nil && records != nil {
		if seq := urls.Get(key); seq != nil {
			return records.Get(seq)
		}
	}
	return tx.Bucket(bucketPages).Get(key)
}

// countPages returns the number of stored records.
func countPages(tx *bolt.Tx) int {
	n := tx.Bucket(bucketPages).Stats().KeyN
	if urls := tx.Bucket(bucketURLs); urls != nil {
		n += urls.Stats().KeyN
	}
	return n
}

// pageCursor walks the stored records in URL order, across both layouts.
type pageCursor struct {
	legacy, index *bolt.Cursor // index is nil in a database from before it
	records       *bolt.Bucket
	values        bool // read the records (else only the URLs)

	lk, lv, ik, iv []byte // the current entry of each cursor; nil at its end
	fromLegacy     bool   // the entry returned last came from legacy
}

func newPageCursor(tx *bolt.Tx, values bool) *pageCursor {
	c := &pageCursor{legacy: tx.Bucket(bucketPages).Cursor(), records: tx.Bucket(bucketRecords), values: values}
	if urls := tx.Bucket(bucketURLs); urls != nil && c.records != nil {
		c.index = urls.Cursor()
	}
	return c
}

// first returns the first URL and its record (which may be nil when values
// is false); a nil URL means there are none.
func (c *pageCursor) first() (url, v []byte) {
	c.lk, c.lv = c.legacy.First()
	if c.index != nil {
		c.ik, c.iv = c.index.First()
	}
	return c.current()
}

// next returns the URL after the one returned last, and its record.
func (c *pageCursor) next() (url, v []byte) {
	if c.fromLegacy {
		c.lk, c.lv = c.legacy.Next()
	} else {
		c.ik, c.iv = c.index.Next()
	}
	return c.current()
}

func (c *pageCursor) current() (url, v []byte) {
	// A URL is in one layout only (putPage moves it), so the two never
	// hold the same key.
	c.fromLegacy = c.ik == nil || c.lk != nil && bytes.Compare(c.lk, c.ik) < 0
	switch {
	case c.fromLegacy:
		return c.lk, c.lv
	case !c.values:
		return c.ik, nil
	default:
		return c.ik, c.records.Get(c.iv)
	}
}

// forEachRecord calls fn with every URL and its stored record, in URL order,
// until fn returns an error.
func forEachRecord(tx *bolt.Tx, fn func(url, v []byte) error) error {
	c := newPageCursor(tx, true)
	for k, v := c.first(); k != nil; k, v = c.next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
