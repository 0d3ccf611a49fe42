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
// each commit, and reading those leaves back makes commits slow as the
// database grows (README's Performance).
var (
	bucketRecords = []byte("records")
	bucketURLs    = []byte("urls")
)

// putPage stores v as the newest record of url and returns its seq. The
// record it had stays, as an earlier version (see versions.go).
func putPage(tx *bolt.Tx, url string, v []byte) (uint64, error) {
	records, urls := tx.Bucket(bucketRecords), tx.Bucket(bucketURLs)
	records.FillPercent = 1 // appended in key order: full pages
	key := []byte(url)
	if old := urls.Get(key); old != nil {
		if err := keepVersion(tx, key, bytes.Clone(old)); err != nil {
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
	if seq := tx.Bucket(bucketURLs).Get([]byte(url)); seq != nil {
		return tx.Bucket(bucketRecords).Get(seq)
	}
	return nil
}

// countPages returns the number of stored records.
func countPages(tx *bolt.Tx) int { return tx.Bucket(bucketURLs).Stats().KeyN }

// pageCursor walks the stored records in URL order, through the index.
type pageCursor struct {
	index   *bolt.Cursor
	records *bolt.Bucket
	values  bool // read the records (else only the URLs)
}

func newPageCursor(tx *bolt.Tx, values bool) *pageCursor {
	return &pageCursor{index: tx.Bucket(bucketURLs).Cursor(), records: tx.Bucket(bucketRecords), values: values}
}

// first returns the first URL and its record (nil when values is false); a
// nil URL means there are none.
func (c *pageCursor) first() (url, v []byte) { return c.current(c.index.First()) }

// next returns the URL after the one returned last, and its record.
func (c *pageCursor) next() (url, v []byte) { return c.current(c.index.Next()) }

func (c *pageCursor) current(k, seq []byte) (url, v []byte) {
	if k == nil || !c.values {
		return k, nil
	}
	return k, c.records.Get(seq)
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
