package export

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

	"github.com/politecrawl/crawl/store"
)

// WARCOptions configures ExportWARC. The zero value writes gzip-compressed
// records of each URL's newest version and a warcinfo record naming no
// software.
type WARCOptions struct {
	Software string // warcinfo "software" field, such as "politecrawl/0.1"
	Filename string // warcinfo WARC-Filename, usually the output file's base name
	NoGzip   bool   // write a plain .warc instead of one gzip member per record
	// AllVersions writes every stored version of each URL, oldest first,
	// instead of the newest only.
	AllVersions bool

	// page, if set, is called for each version written (as a response or
	// a revisit) that a selection kept: the pages of a WACZ.
	page func(p *store.Page)
}

// WARCResult counts what ExportWARC wrote and skipped.
type WARCResult struct {
	Pages int // pages written as a request and a response record
	// Revisits counts pages written as a request and a revisit record:
	// a payload already written (identical-payload-digest) or a 304
	// (server-not-modified).
	Revisits int
	// Originals counts responses written, though not selected, because a
	// revisit refers to them and they were not in the file yet (an
	// earlier version of a URL, or another URL with the same payload).
	Originals int
	NoBody    int // pages skipped: no body kept (crawl without --keep-body)
	NoReply   int // records skipped: the fetch got no response (an error)
}

// warcTarget is a response record written, which revisits refer to.
type warcTarget struct {
	id, uri string
	date    time.Time
}

// ExportWARC writes the selected pages (sel's filters apply, its fields do
// not) to w as a WARC 1.1 file: a warcinfo record, then for every page with
// a kept body a request record and a response record (status line, headers
// and body as fetched), WARC-Target-URI being the final URL after redirects.
//
// A page whose payload is already in the file (its duplicate_of, or a
// 304's earlier version) is written as a revisit record in place of the
// response: profile identical-payload-digest, or server-not-modified for a
// 304, with WARC-Refers-To, WARC-Refers-To-Target-URI and -Date naming the
// response written earlier in the same file. When that response is not in
// the file yet, it is written first (counted in Originals), so that every
// revisit refers to a response of the same file.
//
// Each record is its own gzip member, as the standard tools expect of a
// .warc.gz. Records are streamed: memory holds one record at a time, and
// the digests of the responses written.
func ExportWARC(w io.Writer, s *store.Store, sel *Selection, opts *WARCOptions) (WARCResult, error) {
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
	written := map[string]warcTarget{} // payload digest → its response in the file
	early := map[string]bool{}         // versions written before their turn, as originals
	response := func(p *store.Page) (warcTarget, error) {
		req, resp, err := warcPair(p)
		if err != nil {
			return warcTarget{}, err
		}
		t := warcTarget{id: resp.RecordId(), uri: resp.WarcHeader().Get(gowarc.WarcTargetURI), date: p.FetchedAt}
		if err := write(req); err != nil {
			resp.Close()
			return t, err
		}
		if p.Digest != "" && p.Size > 0 {
			if _, ok := written[p.Digest]; !ok {
				written[p.Digest] = t
			}
		}
		return t, write(resp)
	}
	var p store.Page
	err = s.View(func(v *store.Snapshot) error {
		walk := v.ForEachPage
		if o.AllVersions {
			walk = v.ForEachVersion
		}
		return walk(func(u string, raw []byte) error {
			if sel != nil {
				if ok, err := sel.keep(u, raw); !ok || err != nil {
					return err
				}
			}
			p = store.Page{}
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("page %s: %w", u, err)
			}
			switch {
			case p.Status == 0:
				res.NoReply++
				return nil
			case p.HTTP == nil:
				res.NoBody++
				return nil
			}
			if p.NotModified || p.DuplicateOf != nil {
				t, ok := written[p.Digest]
				if !ok || p.Digest == "" {
					orig, err := original(v, &p)
					if err != nil {
						return fmt.Errorf("page %s: %w", u, err)
					}
					if orig == nil {
						res.NoBody++
						return nil
					}
					if t, err = response(orig); err != nil {
						return fmt.Errorf("page %s: %w", orig.URL, err)
					}
					res.Originals++
					early[orig.URL+" "+orig.FetchedAt.String()] = true
				}
				req, rev, err := warcRevisit(&p, t)
				if err != nil {
					return fmt.Errorf("page %s: %w", u, err)
				}
				if err := write(req); err != nil {
					rev.Close()
					return fmt.Errorf("page %s: %w", u, err)
				}
				if err := write(rev); err != nil {
					return fmt.Errorf("page %s: %w", u, err)
				}
				res.Revisits++
				if o.page != nil {
					o.page(&p)
				}
				return nil
			}
			if p.Body == nil && p.Size > 0 {
				res.NoBody++
				return nil
			}
			if early[p.URL+" "+p.FetchedAt.String()] {
				return nil // written already, as the original of a revisit
			}
			if _, err := response(&p); err != nil {
				return fmt.Errorf("page %s: %w", u, err)
			}
			res.Pages++
			if o.page != nil {
				o.page(&p)
			}
			return nil
		})
	})
	// Records skipped by a keep-going read: the file is complete without
	// them, and the error says how many.
	if _, skipped := errors.AsType[*store.UnreadableError](err); err == nil || skipped {
		if ferr := bw.Flush(); ferr != nil {
			err = ferr
		}
	}
	if err != nil {
		return res, fmt.Errorf("export warc: %w", err)
	}
	return res, nil
}

// original returns the stored version that holds the payload of p, a
// duplicate or a 304, with its body and exchange; nil when none is stored
// with them (a crawl without --keep-body). The candidates are the versions
// of the URL that p is a duplicate of, newest first, then the record the
// digest index names.
func original(v *store.Snapshot, p *store.Page) (*store.Page, error) {
	holds := func(o *store.Page) bool {
		return o.HTTP != nil && o.Status != 0 && (len(o.Body) > 0 || o.Size == 0) && !o.NotModified && o.DuplicateOf == nil
	}
	if p.DuplicateOf != nil {
		vs, err := v.Versions(p.DuplicateOf.URL)
		if err != nil {
			return nil, err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if o := vs[i]; o.FetchedAt.Equal(p.DuplicateOf.FetchedAt) && holds(o) {
				return o, nil
			}
		}
	}
	o, ok, err := v.Holder(p.Digest)
	if err != nil || !ok || !holds(o) {
		return nil, err
	}
	return o, nil
}

// warcRevisit builds the request and revisit records of p, whose payload
// is that of the response t: the revisit's block is p's status line and
// headers without a payload.
func warcRevisit(p *store.Page, t warcTarget) (req, rev gowarc.WarcRecord, err error) {
	target := p.FinalURL
	if target == "" {
		target = p.URL
	}
	var block bytes.Buffer
	block.WriteString(p.HTTP.StatusLine + "\r\n")
	writeHeader(&block, p.HTTP.Header)
	block.WriteString("\r\n")
	profile := gowarc.ProfileIdenticalPayloadDigestV1_1
	if p.NotModified {
		profile = gowarc.ProfileServerNotModifiedV1_1
	}
	rb := gowarc.NewRecordBuilder(gowarc.Revisit)
	rb.AddWarcHeader(gowarc.WarcTargetURI, target)
	rb.AddWarcHeaderTime(gowarc.WarcDate, p.FetchedAt)
	rb.AddWarcHeader(gowarc.ContentType, "application/http;msgtype=response")
	rb.AddWarcHeader(gowarc.WarcProfile, profile)
	rb.AddWarcHeader(gowarc.WarcRefersTo, "<"+t.id+">")
	rb.AddWarcHeader(gowarc.WarcRefersToTargetURI, t.uri)
	rb.AddWarcHeaderTime(gowarc.WarcRefersToDate, t.date)
	if p.Digest != "" {
		rb.AddWarcHeader(gowarc.WarcPayloadDigest, p.Digest)
	}
	if _, err := rb.Write(block.Bytes()); err != nil {
		return nil, nil, err
	}
	rev, _, err = rb.Build()
	if err != nil {
		return nil, nil, fmt.Errorf("revisit record: %w", err)
	}
	req, err = warcRequest(p, target, rev.RecordId())
	if err != nil {
		rev.Close()
		return nil, nil, err
	}
	return req, rev, nil
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
func warcPair(p *store.Page) (req, resp gowarc.WarcRecord, err error) {
	target := p.FinalURL
	if target == "" {
		target = p.URL
	}
	if _, err := url.Parse(target); err != nil {
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

	req, err = warcRequest(p, target, resp.RecordId())
	if err != nil {
		resp.Close()
		return nil, nil, err
	}
	return req, resp, nil
}

// warcRequest builds the request record of p's fetch of target, concurrent
// to the record whose ID is to.
func warcRequest(p *store.Page, target, to string) (gowarc.WarcRecord, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	var block bytes.Buffer
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
	qb.AddWarcHeader(gowarc.WarcConcurrentTo, "<"+to+">")
	if _, err := qb.Write(block.Bytes()); err != nil {
		return nil, err
	}
	req, _, err := qb.Build()
	if err != nil {
		return nil, fmt.Errorf("request record: %w", err)
	}
	return req, nil
}

// writeHeader writes h in wire format, keys sorted.
func writeHeader(buf *bytes.Buffer, h http.Header) {
	var sb strings.Builder
	h.Write(&sb) // sorted keys, CRLF line ends, values sanitised
	buf.WriteString(sb.String())
}
