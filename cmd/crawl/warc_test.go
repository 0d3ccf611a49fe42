package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlnwa/gowarc/v2"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// readWARC reads every record of a WARC file with strict validation
// (digests, lengths, mandatory fields) and returns them cached.
func readWARC(t *testing.T, path string) []gowarc.WarcRecord {
	t.Helper()
	r, err := gowarc.NewWarcFileReader(path, 0, gowarc.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []gowarc.WarcRecord
	for {
		rec, off, v, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("record at offset %d: %v", off, err)
		}
		if !v.Valid() {
			t.Errorf("record at offset %d (%s): %v", off, rec, v)
		}
		if err := rec.Block().Cache(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		t.Cleanup(func() { rec.Close() })
	}
}

func TestExportWARCRoundTrip(t *testing.T) {
	for _, name := range []string{"out.warc.gz", "out.warc"} {
		t.Run(name, func(t *testing.T) {
			d := buildDB(t, true)
			pages, _ := allPages(t, d.path)
			out := filepath.Join(t.TempDir(), name)
			code, stdout, errOut := runIn(t, "export", "--db", d.path, "--format", "warc", "-o", out)
			if code != 0 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, errOut)
			}
			raw, _ := os.ReadFile(out)
			if gz := bytes.HasPrefix(raw, []byte{0x1f, 0x8b}); gz != strings.HasSuffix(name, ".gz") {
				t.Errorf("%s: gzip = %v", name, gz)
			}

			recs := readWARC(t, out)
			if len(recs) == 0 || recs[0].Type() != gowarc.Warcinfo {
				t.Fatalf("first record is not warcinfo: %v", recs)
			}
			if v := recs[0].Version(); v != gowarc.V1_1 {
				t.Errorf("version %v, want WARC/1.1", v)
			}
			recs = recs[1:]
			var want []store.Page
			for _, p := range pages {
				if p.Status != 0 {
					want = append(want, p)
				}
			}
			if got := len(recs); got != 2*len(want) {
				t.Fatalf("got %d records after warcinfo, want %d (a request and a response for each of %d pages)", got, 2*len(want), len(want))
			}
			if !strings.Contains(errOut, "skipped 1 fetch errors") {
				t.Errorf("stderr %q does not report the skipped fetch error", errOut)
			}
			article := false
			for i, p := range want {
				req, resp := recs[2*i], recs[2*i+1]
				checkRequest(t, req, resp, &p)
				checkResponse(t, resp, &p)
				if p.URL == d.web.Seeds()[0]+"p/6" {
					blk := resp.Block().(gowarc.HttpResponseBlock)
					if got := blk.HttpHeader().Get("X-Test"); got != "article" {
						t.Errorf("%s: X-Test header %q, want the server's \"article\"", p.URL, got)
					}
					article = true
				}
			}
			if !article {
				t.Error("the article page is not in the archive")
			}
		})
	}
}

func checkResponse(t *testing.T, rec gowarc.WarcRecord, p *store.Page) {
	t.Helper()
	h := rec.WarcHeader()
	if rec.Type() != gowarc.Response {
		t.Fatalf("%s: record type %v, want response", p.URL, rec.Type())
	}
	if got := h.Get(gowarc.WarcTargetURI); got != p.FinalURL {
		t.Errorf("%s: WARC-Target-URI %q, want %q", p.URL, got, p.FinalURL)
	}
	if d, err := rec.Date(); err != nil || !d.Equal(p.FetchedAt.Truncate(1e9)) && !d.Equal(p.FetchedAt) {
		t.Errorf("%s: WARC-Date %v (%v), want %v", p.URL, d, err, p.FetchedAt)
	}
	if !h.Has(gowarc.WarcPayloadDigest) || !h.Has(gowarc.WarcBlockDigest) {
		t.Errorf("%s: missing digests: %v", p.URL, h)
	}
	blk, ok := rec.Block().(gowarc.HttpResponseBlock)
	if !ok {
		t.Fatalf("%s: block %T is not an HTTP response", p.URL, rec.Block())
	}
	if blk.HttpStatusCode() != p.Status {
		t.Errorf("%s: status %d, want %d", p.URL, blk.HttpStatusCode(), p.Status)
	}
	if blk.HttpStatusLine() != strings.TrimPrefix(p.HTTP.StatusLine, "HTTP/1.1 ") {
		t.Errorf("%s: status line %q, want %q", p.URL, blk.HttpStatusLine(), p.HTTP.StatusLine)
	}
	for k, v := range p.HTTP.Header {
		if got := blk.HttpHeader().Values(k); strings.Join(got, ",") != strings.Join(v, ",") {
			t.Errorf("%s: header %s = %q, want %q", p.URL, k, got, v)
		}
	}
	pr, err := blk.PayloadBytes()
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := io.ReadAll(pr)
	if !bytes.Equal(payload, p.Body) || len(payload) == 0 {
		t.Errorf("%s: payload of %d bytes differs from the stored body of %d", p.URL, len(payload), len(p.Body))
	}
}

func checkRequest(t *testing.T, rec, resp gowarc.WarcRecord, p *store.Page) {
	t.Helper()
	h := rec.WarcHeader()
	if rec.Type() != gowarc.Request {
		t.Fatalf("%s: record type %v, want request", p.URL, rec.Type())
	}
	if got := h.Get(gowarc.WarcTargetURI); got != p.FinalURL {
		t.Errorf("%s: request WARC-Target-URI %q, want %q", p.URL, got, p.FinalURL)
	}
	if got := h.GetId(gowarc.WarcConcurrentTo); got != resp.RecordId() {
		t.Errorf("%s: WARC-Concurrent-To %q, want the response %q", p.URL, got, resp.RecordId())
	}
	blk, ok := rec.Block().(gowarc.HttpRequestBlock)
	if !ok {
		t.Fatalf("%s: block %T is not an HTTP request", p.URL, rec.Block())
	}
	path := strings.TrimPrefix(p.FinalURL, "http://"+strings.Split(strings.TrimPrefix(p.FinalURL, "http://"), "/")[0])
	// HttpRequestLine gives only the URI; read the line itself.
	line, _, _ := bytes.Cut(blk.ProtocolHeaderBytes(), []byte("\r\n"))
	if want := "GET " + path + " HTTP/1.1"; string(line) != want || blk.HttpRequestLine() != path {
		t.Errorf("%s: request line %q (URI %q), want %q", p.URL, line, blk.HttpRequestLine(), want)
	}
	if ua := blk.HttpHeader().Get("User-Agent"); ua != fetch.DefaultUserAgent {
		t.Errorf("%s: User-Agent %q, want %q", p.URL, ua, fetch.DefaultUserAgent)
	}
}

// TestExportWARCNoBodies checks that a crawl without --keep-body exports an
// empty archive and says why.
func TestExportWARCNoBodies(t *testing.T) {
	d := buildDB(t, false)
	out := filepath.Join(t.TempDir(), "x.warc.gz")
	code, _, errOut := runIn(t, "export", "--db", d.path, "--format", "warc", "-o", out)
	if code != 0 || !strings.Contains(errOut, "wrote 0 pages") || !strings.Contains(errOut, "--keep-body") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if recs := readWARC(t, out); len(recs) != 1 {
		t.Errorf("got %d records, want only warcinfo", len(recs))
	}
}
