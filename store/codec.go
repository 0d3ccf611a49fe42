package store

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Page records are stored compressed: a crawl's records are mostly links
// and text, which compress several-fold, and the database, the bytes
// written and fsynced per commit, and the file pages bbolt maps into memory
// all shrink with them. A stored value is s2Value followed by an S2 block
// of the record's JSON. S2, because the compression is paid by every page
// on the crawl's hot path: it is fast, and its tables are small enough to
// stay in cache beside the parser.
const s2Value = 'S'

// encodeValue compresses a record's JSON for storing. The value it returns
// has the capacity it needs and no more: it waits in memory for its commit.
func encodeValue(js []byte) []byte {
	buf := getBuf()
	defer putBuf(buf)
	z := slices.Grow((*buf)[:0], 1+s2.MaxEncodedLen(len(js)))[:1+s2.MaxEncodedLen(len(js))]
	*buf = z
	z[0] = s2Value
	n := len(s2.Encode(z[1:], js))
	return slices.Clone(z[:1+n])
}

// Buffers for encoding records, reused across records; one that a large
// record (a kept body) grew is let go.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		bufPool.Put(b)
	}
}

// valueReader decodes stored values, reusing one buffer for the
// decompressed JSON. What read returns is valid until its next call.
type valueReader struct{ buf []byte }

func (r *valueReader) read(v []byte) ([]byte, error) {
	js, err := decodeValue(v, r.buf)
	if err == nil {
		r.buf = js
	}
	return js, err
}

// decodeValue returns the JSON of a stored value, decompressed into buf's
// storage when it is large enough.
func decodeValue(v, buf []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != s2Value {
		return nil, fmt.Errorf("record is not S2-compressed JSON")
	}
	js, err := decodeS2(v[1:], buf)
	if err != nil {
		return nil, fmt.Errorf("decompress record: %w", err)
	}
	if !bytes.HasPrefix(js, []byte("{")) {
		return nil, fmt.Errorf("record is not a JSON object")
	}
	return js, nil
}

// decodeS2 decodes an S2 block into buf's storage when it is large enough.
func decodeS2(block, buf []byte) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, err
	}
	if n > 256<<20 {
		return nil, fmt.Errorf("record of %d bytes", n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	return s2.Decode(buf[:n], block)
}
