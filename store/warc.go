package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nlnwa/gowarc/v2"
)

// HTTPExchange is the part of an HTTP exchange that a WARC record needs
// besides the body: the response's status line and headers and the headers
// the crawler sent. Header keys are canonical; values keep their order.
type HTTPExchange struct {
	StatusLine    string      `json:"status_line"`              // "HTTP/1.1 200 OK"
	Header        http.Header `json:"header"`                   // response headers
	RequestHeader http.Header `json:"request_header,omitempty"` // request headers (User-Agent, Accept)
}

// WARCOptions configures ExportWARC. The zero value writes gzip-compressed
// records and a warcinfo record naming no software.
type WARCOptions struct {
	Software string // warcinfo "software" field, such as "politecrawl/0.1"
	Filename string // warcinfo WARC-Filename, usually the output file's base name
	NoGzip   bool   // write a plain .warc instead of one gzip member per record
}

// WARCResult counts what ExportWARC wrote and skipped.
type WARCResult struct {
	Pages   int // pages written as a request and a response record
	NoBody  int // pages skipped: no body kept (crawl without --keep-body)
	NoReply int // records skipped: the fetch got no response (an error)
}

// ExportWARC writes the selected pages (sel's filters apply, its fields do
// not) to w as a WARC 1.1 file: a warcinfo record, then for every page with
// a kept body a request record and a response record (status line, headers
// and body as fetched), WARC-Target-URI being the final URL after redirects.
// Each record is its own gzip member, as the standard tools expect of a
// .warc.gz. Records are streamed: memory holds one record at a time.
func ExportWARC(w io.Writer, s *Store, sel *Selection, opts *WARCOptions) (WARCResult, error) {
	var o WARCOptions
	if opts != nil {
		o = *opts
	}
	var res WARCResult
	if sel.whole() {
		sel = nil
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	gz, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
	marshaler := gowarc.NewMarshaler()
	write := func(rec gowarc.WarcRecord) error {
		defer rec.Close()
		if o.NoGzip {
			_, _, err := marshaler.Marshal(bw, rec, 0)
			return err
		}
		gz.Reset(bw)
		if _, _, err := marshaler.Marshal(gz, rec, 0); err != nil {
			return err
		}
		return gz.Close()
	}

	info, err := warcinfo(&o)
	if err != nil {
		return res, fmt.Errorf("export warc: %w", err)
	}
	if err := write(info); err != nil {
		return res, fmt.Errorf("export warc: %w", err)
	}
	var p Page
	err = s.ForEachPage(func(u string, raw []byte) error {
		if sel != nil {
			if ok, err := sel.keep(u, raw); !ok || err != nil {
				return err
			}
		}
		p = Page{}
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("page %s: %w", u, err)
		}
		switch {
		case p.Status == 0:
			res.NoReply++
			return nil
		case p.HTTP == nil || (p.Body == nil && p.Size > 0):
			res.NoBody++
			return nil
		}
		req, resp, err := warcPair(&p)
		if err != nil {
			return fmt.Errorf("page %s: %w", u, err)
		}
		if err := write(req); err != nil {
			resp.Close()
			return fmt.Errorf("page %s: %w", u, err)
		}
		if err := write(resp); err != nil {
			return fmt.Errorf("page %s: %w", u, err)
		}
		res.Pages++
		return nil
	})
	// Records skipped by a keep-going read: the file is complete without
	// them, and the error says how many.
	if _, skipped := errors.AsType[*UnreadableError](err); err == nil || skipped {
		if ferr := bw.Flush(); ferr != nil {
			err = ferr
		}
	}
	if err != nil {
		return res, fmt.Errorf("export warc: %w", err)
	}
	return res, nil
}

// warcinfo builds the file's first record.
func warcinfo(o *WARCOptions) (gowarc.WarcRecord, error) {
	b := gowarc.NewRecordBuilder(gowarc.Warcinfo)
	b.AddWarcHeader(gowarc.ContentType, gowarc.ApplicationWarcFields)
	b.AddWarcHeaderTime(gowarc.WarcDate, time.Now().UTC().Truncate(time.Millisecond))
	if o.Filename != "" {
		b.AddWarcHeader(gowarc.WarcFilename, o.Filename)
	}
	fields := "format: WARC File Format 1.1\r\n" +
		"conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
	if o.Software != "" {
		fields = "software: " + o.Software + "\r\n" + fields
	}
	if _, err := b.WriteString(fields); err != nil {
		return nil, err
	}
	rec, _, err := b.Build()
	return rec, err
}

// warcPair builds the request and response records of a page.
func warcPair(p *Page) (req, resp gowarc.WarcRecord, err error) {
	target := p.FinalURL
	if target == "" {
		target = p.URL
	}
	tu, err := url.Parse(target)
	if err != nil {
		return nil, nil, err
	}

	var block bytes.Buffer
	block.WriteString(p.HTTP.StatusLine + "\r\n")
	writeHeader(&block, p.HTTP.Header)
	block.WriteString("\r\n")
	block.Write(p.Body)
	rb := gowarc.NewRecordBuilder(gowarc.Response)
	rb.AddWarcHeader(gowarc.WarcTargetURI, target)
	rb.AddWarcHeaderTime(gowarc.WarcDate, p.FetchedAt)
	rb.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=response")
	if p.Truncated {
		rb.AddWarcHeader(gowarc.WarcTruncated, "length")
	}
	if _, err := rb.Write(block.Bytes()); err != nil {
		return nil, nil, err
	}
	resp, _, err = rb.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("response record: %w", err)
	}

	block.Reset()
	block.WriteString("GET " + tu.RequestURI() + " HTTP/1.1\r\n")
	h := p.HTTP.RequestHeader.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Host", tu.Host)
	writeHeader(&block, h)
	block.WriteString("\r\n")
	qb := gowarc.NewRecordBuilder(gowarc.Request)
	qb.AddWarcHeader(gowarc.WarcTargetURI, target)
	qb.AddWarcHeaderTime(gowarc.WarcDate, p.FetchedAt)
	qb.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=request")
	qb.AddWarcHeader(gowarc.WarcConcurrentTo, "<"+resp.RecordId()+">")
	if _, err := qb.Write(block.Bytes()); err != nil {
		resp.Close()
		return nil, nil, err
	}
	req, _, err = qb.Build()
	if err != nil {
		resp.Close()
		return nil, nil, fmt.Errorf("request record: %w", err)
	}
	return req, resp, nil
}

// writeHeader writes h in wire format, keys sorted.
func writeHeader(buf *bytes.Buffer, h http.Header) {
	var sb strings.Builder
	h.Write(&sb) // sorted keys, CRLF line ends, values sanitised
	buf.WriteString(sb.String())
}
