package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/politecrawl/crawl/store"
)

// Selection chooses which records an export writes and which of their
// fields. The zero value (or a nil *Selection) selects every record whole,
// exactly as stored. A Selection is read-only during an export.
type Selection struct {
	// Hosts keeps records whose URL host is one of these. "example.com"
	// matches that host on any port; "example.com:8080" only that port.
	Hosts []string
	// Status keeps records whose status matches one of these (see
	// ParseStatus): "2xx", "404", "error".
	Status []StatusMatch
	// ContentTypes keeps records whose media type is one of these, such as
	// "text/html"; "text/*" matches every text type.
	ContentTypes []string
	// Since keeps records fetched at or after this time.
	Since time.Time
	// SkipNoIndex leaves out the records of pages that ask not to be
	// indexed (noindex: robots meta tag or X-Robots-Tag).
	SkipNoIndex bool
	// Fields lists the JSON fields to write, in this order (see FieldNames
	// and Computed). Empty means the whole record as stored.
	Fields []string
	// Computed adds fields that are not stored, computed from the record,
	// such as "main_text". Keys are field names usable in Fields.
	Computed map[string]func(*store.Page) any
	// Rewrite, if set, changes each selected record before its fields are
	// chosen and it is written, such as crawl export --extract computing
	// store.Page.Fields from kept bodies. It is called from the exporting
	// goroutine, one record at a time.
	Rewrite func(*store.Page) error
}

// StatusMatch matches a record's status: a class (Class 2 for "2xx"), one
// code, or no response at all (Error).
type StatusMatch struct {
	Class int  // 1–5: any code in Class*100 … Class*100+99
	Code  int  // one code
	Error bool // no response (transport error)
}

// ParseStatus parses "2xx", "404" or "error".
func ParseStatus(s string) (StatusMatch, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "error":
		return StatusMatch{Error: true}, nil
	case len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5':
		return StatusMatch{Class: int(s[0] - '0')}, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 100 && n <= 599 {
		return StatusMatch{Code: n}, nil
	}
	return StatusMatch{}, fmt.Errorf("status %q: want a class (2xx), a code (404) or error", s)
}

func (m StatusMatch) match(status int, errMsg string) bool {
	switch {
	case m.Error:
		return status == 0 && errMsg != ""
	case m.Class > 0:
		return status/100 == m.Class
	}
	return status == m.Code
}

// FieldNames returns the JSON names of the stored fields of a store.Page, in
// schema order.
func FieldNames() []string { return slices.Clone(pageFields) }

var (
	pageFields []string                       // JSON names in struct order
	zeroFields = map[string]json.RawMessage{} // JSON of each field's zero value
)

func init() {
	t := reflect.TypeFor[store.Page]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		pageFields = append(pageFields, name)
		zero, _ := json.Marshal(reflect.Zero(f.Type).Interface())
		zeroFields[name] = zero
	}
}

// Check validates the selection's field names; Export calls it.
func (sel *Selection) Check() error {
	for _, f := range sel.Fields {
		if _, ok := zeroFields[f]; ok {
			continue
		}
		if _, ok := sel.Computed[f]; ok {
			continue
		}
		names := FieldNames()
		for k := range sel.Computed {
			names = append(names, k)
		}
		slices.Sort(names[len(pageFields):])
		return fmt.Errorf("unknown field %q (fields: %s)", f, strings.Join(names, ", "))
	}
	return nil
}

// whole reports whether the selection writes every record whole: the fast
// path that copies stored bytes without decoding them.
func (sel *Selection) whole() bool {
	return sel == nil || (len(sel.Hosts) == 0 && len(sel.Status) == 0 && len(sel.ContentTypes) == 0 &&
		sel.Since.IsZero() && !sel.SkipNoIndex && len(sel.Fields) == 0 && sel.Rewrite == nil)
}

// filterPage is the part of a record that the filters read.
type filterPage struct {
	Status      int       `json:"status"`
	ContentType string    `json:"content_type"`
	FetchedAt   time.Time `json:"fetched_at"`
	Error       string    `json:"error"`
	NoIndex     bool      `json:"noindex"`
}

// keep reports whether the record at key u, stored as raw, passes the
// filters.
func (sel *Selection) keep(u string, raw []byte) (bool, error) {
	if len(sel.Hosts) > 0 && !sel.matchHost(u) {
		return false, nil
	}
	if len(sel.Status) == 0 && len(sel.ContentTypes) == 0 && sel.Since.IsZero() && !sel.SkipNoIndex {
		return true, nil
	}
	var p filterPage
	if err := json.Unmarshal(raw, &p); err != nil {
		return false, fmt.Errorf("page %s: %w", u, err)
	}
	if sel.SkipNoIndex && p.NoIndex {
		return false, nil
	}
	if !sel.Since.IsZero() && p.FetchedAt.Before(sel.Since) {
		return false, nil
	}
	if len(sel.Status) > 0 && !slices.ContainsFunc(sel.Status, func(m StatusMatch) bool { return m.match(p.Status, p.Error) }) {
		return false, nil
	}
	if len(sel.ContentTypes) > 0 && !slices.ContainsFunc(sel.ContentTypes, func(ct string) bool {
		if prefix, ok := strings.CutSuffix(ct, "/*"); ok {
			return strings.HasPrefix(p.ContentType, strings.ToLower(prefix)+"/")
		}
		return strings.EqualFold(ct, p.ContentType)
	}) {
		return false, nil
	}
	return true, nil
}

func (sel *Selection) matchHost(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	for _, h := range sel.Hosts {
		if strings.EqualFold(h, pu.Host) || strings.EqualFold(h, pu.Hostname()) {
			return true
		}
	}
	return false
}

// project writes the selected fields of the record raw to buf as one JSON
// object.
func (sel *Selection) project(buf *bytes.Buffer, u string, raw []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return fmt.Errorf("page %s: %w", u, err)
	}
	var page *store.Page // decoded once, only for computed fields
	buf.WriteByte('{')
	for i, name := range sel.Fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		buf.Write(key)
		buf.WriteByte(':')
		if fn, ok := sel.Computed[name]; ok {
			if page == nil {
				page = new(store.Page)
				if err := json.Unmarshal(raw, page); err != nil {
					return fmt.Errorf("page %s: %w", u, err)
				}
			}
			v, err := json.Marshal(fn(page))
			if err != nil {
				return fmt.Errorf("page %s: field %s: %w", u, name, err)
			}
			buf.Write(v)
			continue
		}
		v, ok := fields[name]
		if !ok {
			v = zeroFields[name] // omitted when empty
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return nil
}

// rewrite returns the record raw changed by sel.Rewrite, re-encoded into
// buf.
func (sel *Selection) rewrite(buf []byte, u string, raw []byte) ([]byte, error) {
	var p store.Page
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("page %s: %w", u, err)
	}
	if err := sel.Rewrite(&p); err != nil {
		return nil, fmt.Errorf("page %s: %w", u, err)
	}
	return store.AppendPageJSON(buf[:0], &p)
}
