package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A record is stored as S2 of its JSON and read back as its JSON; a value
// of any other form is an error that says it is about a record.
func TestValueForms(t *testing.T) {
	js, err := json.Marshal(benchPage())
	if err != nil {
		t.Fatal(err)
	}
	v := encodeValue(js)
	if v[0] != s2Value || len(v) >= len(js)/2 {
		t.Fatalf("encodeValue: %d bytes starting %q for %d bytes of JSON", len(v), v[0], len(js))
	}
	var r valueReader
	for range 2 { // the second read reuses the reader's buffer
		got, err := r.read(v)
		if err != nil || !bytes.Equal(got, js) {
			t.Errorf("read = %.40q, %v; want the JSON", got, err)
		}
	}
	for name, v := range map[string][]byte{
		"truncated s2":   v[:len(v)/2],
		"s2 of non-JSON": encodeValue([]byte("[1]")),
		"plain JSON":     js,
		"zstd":           {0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00},
		"garbage":        []byte("garbage"),
		"empty":          nil,
		"huge s2":        append([]byte{s2Value}, 0xff, 0xff, 0xff, 0xff, 0x7f),
	} {
		if got, err := decodeValue(v, nil); err == nil {
			t.Errorf("%s: decodeValue = %.40q, want an error", name, got)
		} else if !strings.Contains(err.Error(), "record") {
			t.Errorf("%s: error %q does not say it is about a record", name, err)
		}
	}
}
