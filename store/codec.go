package store

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Page records are stored as zstd frames of their JSON. A crawl's records
// are mostly links and text, which compress several-fold: the database, the
// bytes written and fsynced per commit, and the file pages bbolt maps into
// memory all shrink with them. Values that start with '{' are plain JSON
// (databases written before compression) and are read as they are.
var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(256<<20))
)

// encodeValue compresses a record's JSON for storing.
func encodeValue(js []byte) []byte {
	return encoder.EncodeAll(js, make([]byte, 0, len(js)/3+64))
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
	if len(v) > 0 && v[0] == '{' {
		return v, nil
	}
	js, err := decoder.DecodeAll(v, buf[:0])
	if err != nil {
		return nil, fmt.Errorf("decompress record: %w", err)
	}
	if !bytes.HasPrefix(js, []byte("{")) {
		return nil, fmt.Errorf("record is not a JSON object")
	}
	return js, nil
}
