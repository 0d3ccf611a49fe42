package store

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Page records are stored compressed: a crawl's records are mostly links
// and text, which compress several-fold, and the database, the bytes
// written and fsynced per commit, and the file pages bbolt maps into memory
// all shrink with them. A stored value is one of:
//
//   - s2Value followed by an S2 block of the record's JSON (what is written
//     now);
//   - a zstd frame of the JSON (written before S2);
//   - the plain JSON, starting with '{' (written before compression).
//
// S2 rather than zstd, because the compression is paid by every page on the
// crawl's hot path: S2 takes a fraction of zstd's time, and its tables are
// small enough to stay in cache beside the parser, where zstd's are not.
// zstd is smaller, which matters less than the CPU (figures in README's
// Performance).
const s2Value = 'S'

var decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))

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
	if len(v) > 0 && v[0] == '{' {
		return v, nil // plain JSON: v itself, never to be written to (bbolt's map)
	}
	js, err := decodeValue(v, r.buf)
	if err == nil {
		r.buf = js
	}
	return js, err
}

// decodeValue returns the JSON of a stored value, decompressed into buf's
// storage when it is compressed, or v itself when it is plain JSON.
func decodeValue(v, buf []byte) ([]byte, error) {
	var (
		js  []byte
		err error
	)
	switch {
	case len(v) > 0 && v[0] == '{':
		return v, nil
	case len(v) > 0 && v[0] == s2Value:
		js, err = decodeS2(v[1:], buf)
	default:
		js, err = decoder.DecodeAll(v, buf[:0])
	}
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
