package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendPageJSON appends p's JSON to b: the bytes json.Marshal(p) gives
// (FuzzPageJSON checks it), written without reflection. It is the record's
// encoding before compression (see EncodePage) and its export schema.
// Every record a crawl stores goes through it, and json.Marshal took three
// times as long. A field added to Page must be added here too
// (TestPageJSONFields).
func AppendPageJSON(b []byte, p *Page) ([]byte, error) {
	b = append(b, `{"url":`...)
	b = appendJSONString(b, p.URL)
	b = append(b, `,"final_url":`...)
	b = appendJSONString(b, p.FinalURL)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(p.Status), 10)
	b = append(b, `,"content_type":`...)
	b = appendJSONString(b, p.ContentType)
	if len(p.Headers) > 0 {
		b, _ = appendJSONObject(append(b, `,"headers":`...), p.Headers, func(b []byte, v string) ([]byte, error) {
			return appendJSONString(b, v), nil
		})
	}
	b = append(b, `,"title":`...)
	b = appendJSONString(b, p.Title)
	b = append(b, `,"text":`...)
	b = appendJSONString(b, p.Text)
	b = append(b, `,"links":`...)
	if p.Links == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, l := range p.Links {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, l)
		}
		b = append(b, ']')
	}
	if p.Canonical != "" {
		b = append(b, `,"canonical":`...)
		b = appendJSONString(b, p.Canonical)
	}
	if p.NoIndex {
		b = append(b, `,"noindex":true`...)
	}
	if p.NoFollow {
		b = append(b, `,"nofollow":true`...)
	}
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(p.Depth), 10)
	b = append(b, `,"fetched_at":`...)
	var err error
	if b, err = appendJSONTime(b, p.FetchedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"duration_ms":`...)
	if b, err = appendJSONFloat(b, p.DurationMS); err != nil {
		return nil, err
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, p.Size, 10)
	if p.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	if p.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, p.Error)
	}
	if p.Skipped {
		b = append(b, `,"skipped":true`...)
	}
	if p.Attempts != 0 {
		b = append(b, `,"attempts":`...)
		b = strconv.AppendInt(b, int64(p.Attempts), 10)
	}
	if p.LinksCut != 0 {
		b = append(b, `,"links_cut":`...)
		b = strconv.AppendInt(b, int64(p.LinksCut), 10)
	}
	if len(p.NotFollowed) > 0 {
		b, _ = appendJSONObject(append(b, `,"not_followed":`...), p.NotFollowed, func(b []byte, n int) ([]byte, error) {
			return strconv.AppendInt(b, int64(n), 10), nil
		})
	}
	if len(p.Fields) > 0 {
		if b, err = appendJSONObject(append(b, `,"fields":`...), p.Fields, appendJSONValue); err != nil {
			return nil, err
		}
	}
	if p.Digest != "" {
		b = append(b, `,"digest":`...)
		b = appendJSONString(b, p.Digest)
	}
	if p.DuplicateOf != nil {
		b = append(b, `,"duplicate_of":{"url":`...)
		b = appendJSONString(b, p.DuplicateOf.URL)
		b = append(b, `,"fetched_at":`...)
		var err error
		if b, err = appendJSONTime(b, p.DuplicateOf.FetchedAt); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	if p.NotModified {
		b = append(b, `,"not_modified":true`...)
	}
	if p.SimHash != "" {
		b = append(b, `,"simhash":`...)
		b = appendJSONString(b, p.SimHash)
	}
	if len(p.Body) > 0 {
		b = append(b, `,"body":"`...)
		b = base64.StdEncoding.AppendEncode(b, p.Body)
		b = append(b, '"')
	}
	if p.HTTP != nil { // only with --keep-body: not worth writing by hand
		js, err := json.Marshal(p.HTTP)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"http":`...), js...)
	}
	return append(b, '}'), nil
}

// appendJSONValue appends a field's value: by hand for what extraction
// stores (a string, an array of strings), through encoding/json otherwise.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendJSONString(b, v), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, js...), nil
}

// appendJSONObject appends m as encoding/json writes a map: its keys
// sorted, each value by appendValue.
func appendJSONObject[V any](b []byte, m map[string]V, appendValue func([]byte, V) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	var buf [16]string // a record's maps are small: their keys sort on the stack
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json writes a string: quoted,
// with <, > and & escaped for HTML, invalid UTF-8 replaced by U+FFFD, and
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

// jsonSafe marks the ASCII characters encoding/json writes as they are
// when it escapes HTML.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 || t.Location() != time.UTC {
		js, err := t.MarshalJSON() // the rare cases, and their errors
		return append(b, js...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
