package store

import (
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// A crawl database says which format it is in, under
//
//	meta  "format" → the format's number in decimal ("1")
//
// and a crawl opens only its own format: one of another is refused, with a
// FormatError, and left as it is. Format 1 is the schema in the package
// comment: S2 records appended to records and found through urls, the
// visited set in seenlog.
//
// Databases written before formats were numbered carry no key. One in
// format 1's layout is stamped with it by the first Open for writing (and
// loses the empty pages and seen buckets of the layout before, which it
// still had); one that holds records in another encoding (zstd, plain
// JSON), records in pages (keyed by URL, before the index) or visited
// marks in seen (before the log) is format 0.
const formatVersion = 1

var (
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")

	// The buckets of format 0 that format 1 does not have.
	bucketPages = []byte("pages")
	bucketSeen  = []byte("seen")
)

// FormatError is the error of Open for a crawl database of a format that
// this crawl does not read.
type FormatError struct {
	Version int // the database's format; 0 for one older than the numbered formats
}

func (e *FormatError) Error() string {
	by := "an older"
	if e.Version > formatVersion {
		by = "a newer"
	}
	return fmt.Sprintf("database format %d (written by %s crawl); this crawl reads format %d", e.Version, by, formatVersion)
}

// formatOf returns the format of the crawl database tx reads: the number it
// carries, else the one its layout tells.
func formatOf(tx *bolt.Tx) (int, error) {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		if v := meta.Get(keyFormat); v != nil {
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%w: format %q in bucket %s", ErrDamaged, v, bucketMeta)
			}
			return n, nil
		}
	}
	nonEmpty := func(name []byte) bool {
		b := tx.Bucket(name)
		if b == nil {
			return false
		}
		k, _ := b.Cursor().First()
		return k != nil
	}
	records := tx.Bucket(bucketRecords)
	switch {
	case nonEmpty(bucketPages), nonEmpty(bucketSeen):
		return 0, nil
	case records == nil && tx.Bucket(bucketURLs) == nil && tx.Bucket(bucketPages) != nil:
		return 0, nil // never opened by a crawl with the index
	case records != nil:
		// Records are appended: the first was written first.
		if _, v := records.Cursor().First(); v != nil && (len(v) == 0 || v[0] != s2Value) {
			return 0, nil
		}
	}
	return formatVersion, nil
}

// stamp writes the format's number into a database of this format, new or
// written before formats were numbered, and drops the empty buckets of the
// format before (formatOf found them empty).
func stamp(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if err := meta.Put(keyFormat, []byte(strconv.Itoa(formatVersion))); err != nil {
		return err
	}
	for _, name := range [][]byte{bucketPages, bucketSeen} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}
