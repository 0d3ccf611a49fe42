package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nlnwa/gowarc/v2"
)

// CDXJLine is one line of a CDXJ index (pywb's format, as warcio and
// cdxj-indexer write it): the SURT key of the URL, the 14-digit timestamp
// of the capture and a JSON block locating its record in a WARC file.
type CDXJLine struct {
	Key       string // SURT form of URL: "com,example)/path?a=1"
	Timestamp string // WARC-Date as yyyyMMddhhmmss
	URL       string
	Mime      string // media type; "warc/revisit" for a revisit
	Status    string // HTTP status code
	Digest    string // WARC-Payload-Digest
	Length    string // bytes of the record in the file (its gzip member)
	Offset    string // where the record starts in the file
	Filename  string // the WARC file's name
}

// String returns the line as the index holds it, without its newline.
func (l *CDXJLine) String() string {
	js, _ := json.Marshal(struct {
		URL      string `json:"url"`
		Mime     string `json:"mime"`
		Status   string `json:"status"`
		Digest   string `json:"digest,omitempty"`
		Length   string `json:"length"`
		Offset   string `json:"offset"`
		Filename string `json:"filename"`
	}{l.URL, l.Mime, l.Status, l.Digest, l.Length, l.Offset, l.Filename})
	return l.Key + " " + l.Timestamp + " " + string(js)
}

// IndexWARC reads the WARC file at path (gzipped, one member per record,
// or plain) and returns the CDXJ lines of its response, revisit and
// resource records, sorted by key and timestamp, naming the file filename
// (the path's base name when empty). A revisit's mime is "warc/revisit",
// as pywb writes it.
func IndexWARC(path, filename string) ([]CDXJLine, error) {
	if filename == "" {
		filename = path[strings.LastIndexByte(path, os.PathSeparator)+1:]
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// Lenient, but parsing blocks: the HTTP status and type are needed.
	rd, err := gowarc.NewWarcFileReaderFromStream(f, 0, gowarc.WithSyntaxErrorPolicy(gowarc.ErrIgnore),
		gowarc.WithSpecViolationPolicy(gowarc.ErrIgnore), gowarc.WithUnknownRecordTypePolicy(gowarc.ErrIgnore))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var lines []CDXJLine
	var pending *CDXJLine // the previous record's line: its length is known at the next
	var pendingOff int64
	for {
		rec, off, _, err := rd.Next()
		if pending != nil {
			end := off
			if errors.Is(err, io.EOF) {
				end = fi.Size()
			}
			pending.Length = strconv.FormatInt(end-pendingOff, 10)
			lines = append(lines, *pending)
			pending = nil
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("index %s: record at %d: %w", path, off, err)
		}
		line, ok, err := cdxjOf(rec)
		rec.Close()
		if err != nil {
			return nil, fmt.Errorf("index %s: record at %d: %w", path, off, err)
		}
		if ok {
			line.Offset = strconv.FormatInt(off, 10)
			line.Filename = filename
			pending, pendingOff = &line, off
		}
	}
	slices.SortStableFunc(lines, func(a, b CDXJLine) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Timestamp, b.Timestamp)
	})
	return lines, nil
}

// WriteCDXJ writes lines, one a line, to w.
func WriteCDXJ(w io.Writer, lines []CDXJLine) error {
	bw := bufio.NewWriter(w)
	for i := range lines {
		bw.WriteString(lines[i].String())
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// cdxjOf returns the index line of rec, without offset, length and file,
// and whether rec is a record the index lists.
func cdxjOf(rec gowarc.WarcRecord) (CDXJLine, bool, error) {
	t := rec.Type()
	if t != gowarc.Response && t != gowarc.Revisit && t != gowarc.Resource {
		return CDXJLine{}, false, nil
	}
	h := rec.WarcHeader()
	target := h.Get(gowarc.WarcTargetURI)
	date, err := rec.Date()
	if err != nil {
		return CDXJLine{}, false, err
	}
	l := CDXJLine{Key: SURT(target), Timestamp: date.UTC().Format("20060102150405"), URL: target,
		Digest: h.Get(gowarc.WarcPayloadDigest)}
	switch t {
	case gowarc.Resource:
		l.Mime, l.Status = h.Get(gowarc.ContentType), "200"
	default:
		if b, ok := rec.Block().(gowarc.ProtocolHeaderBlock); ok {
			l.Status, l.Mime = httpStatusAndType(b.ProtocolHeaderBytes())
		}
		if t == gowarc.Revisit {
			l.Mime = "warc/revisit"
		}
	}
	if l.Mime == "" {
		l.Mime = "unk"
	}
	if l.Status == "" {
		l.Status = "-"
	}
	return l, true, nil
}

// httpStatusAndType reads the status code and media type of an HTTP
// response head.
func httpStatusAndType(head []byte) (status, mime string) {
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Buffer(nil, 1<<20)
	first := true
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if first {
			first = false
			if _, rest, ok := strings.Cut(line, " "); ok {
				status, _, _ = strings.Cut(rest, " ")
			}
			continue
		}
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Type") {
			mime, _, _ = strings.Cut(v, ";")
			mime = strings.ToLower(strings.TrimSpace(mime))
		}
	}
	return status, mime
}

// SURT returns the Sort-friendly URI Reordering Transform of a URL as pywb
// keys its indexes: scheme and userinfo dropped, the host lower-cased
// without a leading "www." and its labels reversed and joined by commas, a
// port other than the scheme's default kept as ":port", then ")" and the
// path and query lower-cased, the query's parameters sorted; a URL that
// does not parse is returned lower-cased.
func SURT(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return strings.ToLower(raw)
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimSuffix(host, ".")
	if rest, ok := strings.CutPrefix(host, "www."); ok && rest != "" {
		host = rest
	}
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	var b strings.Builder
	b.WriteString(strings.Join(labels, ","))
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80") && !(u.Scheme == "https" && p == "443") {
		b.WriteString(":" + p)
	}
	b.WriteString(")")
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(strings.ToLower(path))
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		slices.Sort(params)
		b.WriteString("?" + strings.ToLower(strings.Join(params, "&")))
	}
	return b.String()
}
