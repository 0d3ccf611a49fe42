package crawler_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nlnwa/gowarc/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// recrawl runs a recrawl of st with cfg (Recrawl set) as of now and
// returns how many URLs it queued and the crawl's stats.
func recrawl(t *testing.T, st *store.Store, cfg crawler.Config, now time.Time) (int, crawler.Stats) {
	t.Helper()
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := c.QueueRecrawl(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return n, c.Stats()
}

// versions returns the stored versions of every URL of st.
func versions(t *testing.T, st *store.Store) map[string][]*store.Page {
	t.Helper()
	out := map[string][]*store.Page{}
	for _, u := range storedURLs(t, st) {
		vs, err := st.Versions(u)
		if err != nil {
			t.Fatal(err)
		}
		out[u] = vs
	}
	return out
}

// pageStatuses counts the statuses the web answered to its generated
// pages' requests (robots.txt and sitemaps aside).
func pageStatuses(w *crawltest.Web) map[int]int {
	out := map[int]int{}
	for _, r := range w.Log() {
		if r.Path == "/" || strings.HasPrefix(r.Path, "/p/") {
			out[r.Status]++
		}
	}
	return out
}

// TestRecrawl: a first pass, then a recrawl of the same web in which a few
// pages changed. Unchanged pages are answered 304 (at least 95% of the
// requests) and cost at most a tenth of the first pass's bytes; they keep
// their content and payload (a not_modified version, no second body);
// changed pages are new versions with a new digest and their own body.
// Pages served with the same body under several URLs are stored once.
// Then the exports: WARC (read back with gowarc, every revisit pointing at
// a response of the same file), CDXJ (offsets read back) and WACZ (hashes
// checked).
func TestRecrawl(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 40, LinksPerPage: 6, Conditional: true})
	web.Mirror(1, 5, 0, 5) // three URLs, one body
	web.Mirror(2, 7, 0, 5)
	st := openStore(t, "")
	cfg := fast(crawler.Config{Workers: 8, PerHost: 2, KeepBody: true})
	first := crawl(t, st, cfg, web.Seeds())
	pages := web.Pages()
	if first.Stored != len(pages) || first.Failed != 0 {
		t.Fatalf("first pass: %+v, want %d pages", first, len(pages))
	}
	before := versions(t, st)
	dups := 0
	for u, vs := range before {
		p := vs[0]
		if !strings.HasPrefix(p.Digest, "sha1:") || len(p.Digest) != 37 || len(p.SimHash) != 16 {
			t.Errorf("%s: digest %q, simhash %q", u, p.Digest, p.SimHash)
		}
		if p.DuplicateOf != nil {
			dups++
			if p.Body != nil || p.DuplicateOf.URL == u {
				t.Errorf("%s: duplicate of %+v with a body of %d bytes", u, p.DuplicateOf, len(p.Body))
			}
		}
	}
	if dups != 2 {
		t.Errorf("%d duplicates after the first pass, want 2 (two mirrors of one page)", dups)
	}

	changed := map[string]bool{}
	for _, c := range [][2]int{{0, 1}, {0, 2}, {1, 3}} {
		web.Change(c[0], c[1])
		changed[pageURL(web, c[0], c[1])] = true
	}
	web.ResetLog()
	cfg.Recrawl = time.Hour
	n, second := recrawl(t, st, cfg, time.Now().Add(2*time.Hour))
	if n != len(pages) {
		t.Fatalf("recrawl queued %d URLs, want %d", n, len(pages))
	}
	statuses := pageStatuses(web)
	requests := statuses[200] + statuses[304]
	t.Logf("first pass: %d requests, %d bytes, %v; recrawl: %d requests, %d answered 304, %d bytes, %v",
		first.Fetched, first.Bytes, first.Elapsed.Round(time.Millisecond), second.Fetched, second.NotModified, second.Bytes,
		second.Elapsed.Round(time.Millisecond))
	if requests != len(pages) || statuses[200] != len(changed) {
		t.Errorf("recrawl statuses %v, want %d × 304 and %d × 200", statuses, len(pages)-len(changed), len(changed))
	}
	if float64(statuses[304]) < 0.95*float64(requests-len(changed)) || int(second.NotModified) != statuses[304] {
		t.Errorf("%d of %d unchanged pages answered 304 (crawler counted %d), want at least 95%%", statuses[304], requests-len(changed), second.NotModified)
	}
	if second.Bytes*10 > first.Bytes {
		t.Errorf("recrawl read %d bytes, more than a tenth of the first pass's %d", second.Bytes, first.Bytes)
	}
	after := versions(t, st)
	for u, vs := range after {
		if len(vs) != 2 {
			t.Errorf("%s: %d versions, want 2", u, len(vs))
			continue
		}
		old, cur := vs[0], vs[1]
		if changed[u] {
			if cur.NotModified || cur.Digest == old.Digest || cur.DuplicateOf != nil || len(cur.Body) == 0 ||
				!strings.Contains(string(cur.Body), "Revision 1.") {
				t.Errorf("%s changed: newest version %+v", u, brief(cur))
			}
			continue
		}
		if !cur.NotModified || cur.Digest != old.Digest || cur.Body != nil || cur.Title != old.Title ||
			cur.Text != old.Text || !slices.Equal(cur.Links, old.Links) || cur.DuplicateOf == nil || !cur.FetchedAt.After(old.FetchedAt) {
			t.Errorf("%s unchanged: newest version %+v, first %+v", u, brief(cur), brief(old))
		}
	}
	sum, err := export.Summarize(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.Recrawl; r == nil || r.URLs != len(pages) || r.Changed != len(changed) || r.NotModified != len(pages)-len(changed) ||
		sum.Versions != len(pages) {
		t.Errorf("stats: recrawl %+v, versions %d", sum.Recrawl, sum.Versions)
	}
	if sum.NearDuplicates == nil || sum.NearDuplicates.Top[0].Size < 3 {
		t.Errorf("stats: near-duplicates %+v, want the three mirrors in a cluster", sum.NearDuplicates)
	}

	dir := t.TempDir()
	t.Run("warc", func(t *testing.T) {
		for _, all := range []bool{false, true} {
			path := filepath.Join(dir, fmt.Sprintf("all-%v.warc.gz", all))
			res := exportWARC(t, st, path, &export.WARCOptions{AllVersions: all})
			revisits := checkWARC(t, path)
			wantRevisits := len(pages) - len(changed) // 304s (the mirrors' newest versions among them)
			if all {
				wantRevisits += 2 // the mirrors' first versions
			}
			if res.Revisits != wantRevisits || revisits != res.Revisits || res.NoBody != 0 {
				t.Errorf("all versions %v: %+v, %d revisits read back, want %d", all, res, revisits, wantRevisits)
			}
			if lines := checkCDXJ(t, path); lines != res.Pages+res.Revisits+res.Originals {
				t.Errorf("all versions %v: %d index lines for %+v", all, lines, res)
			}
		}
	})
	t.Run("wacz", func(t *testing.T) {
		path := filepath.Join(dir, "crawl.wacz")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := export.ExportWACZ(f, st, nil, &export.WACZOptions{Software: "test", TempDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if res.Pages != len(pages) {
			t.Errorf("%d pages in pages.jsonl, want %d", res.Pages, len(pages))
		}
		checkWACZ(t, path)
	})
}

// pageURL returns the URL of page k of host i of w.
func pageURL(w *crawltest.Web, i, k int) string {
	p := "/"
	if k > 0 {
		p = fmt.Sprintf("/p/%d", k)
	}
	return "http://" + w.Hosts()[i] + p
}

// brief is a page without its long fields, for messages.
func brief(p *store.Page) store.Page {
	b := *p
	b.Text, b.Links, b.Body, b.HTTP = "", nil, []byte(fmt.Sprintf("%d bytes", len(p.Body))), nil
	return b
}

func exportWARC(t *testing.T, st *store.Store, path string, opts *export.WARCOptions) export.WARCResult {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := export.ExportWARC(f, st, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkWARC reads the WARC file back with gowarc, validating every record,
// and checks that each revisit refers to a response record earlier in the
// file by ID, target URI and date, with the same payload digest. It returns
// the number of revisits.
func checkWARC(t *testing.T, path string) int {
	t.Helper()
	rd, err := gowarc.NewWarcFileReader(path, 0, gowarc.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	type resp struct{ uri, date, digest string }
	responses := map[string]resp{}
	revisits := 0
	for {
		rec, off, val, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		if !val.Valid() {
			t.Errorf("record at %d: %v", off, val)
		}
		h := rec.WarcHeader()
		switch rec.Type() {
		case gowarc.Response:
			if err := rec.ValidateDigest(val); err != nil || !val.Valid() {
				t.Errorf("response at %d: digest %v %v", off, err, val)
			}
			responses[rec.RecordId()] = resp{h.Get(gowarc.WarcTargetURI), h.Get(gowarc.WarcDate), h.Get(gowarc.WarcPayloadDigest)}
		case gowarc.Revisit:
			revisits++
			ref, err := rec.RevisitRef()
			if err != nil {
				t.Fatal(err)
			}
			to, ok := responses[ref.TargetRecordId]
			switch {
			case !ok:
				t.Errorf("revisit at %d refers to %s, no response before it", off, ref.TargetRecordId)
			case to.uri != ref.TargetUri || to.date != ref.TargetDate || to.digest != h.Get(gowarc.WarcPayloadDigest):
				t.Errorf("revisit at %d: refers to %s %s (payload %s), the response is %s %s (%s)", off,
					ref.TargetUri, ref.TargetDate, h.Get(gowarc.WarcPayloadDigest), to.uri, to.date, to.digest)
			}
			if p := ref.Profile; p != gowarc.ProfileIdenticalPayloadDigestV1_1 && p != gowarc.ProfileServerNotModifiedV1_1 {
				t.Errorf("revisit at %d: profile %q", off, p)
			}
		}
		rec.Close()
	}
	return revisits
}

// checkCDXJ indexes the WARC file and reads the record at each line's
// offset: the one the line describes, exactly length bytes long. It returns
// the number of lines.
func checkCDXJ(t *testing.T, path string) int {
	t.Helper()
	lines, err := export.IndexWARC(path, "")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if i > 0 && l.Key < lines[i-1].Key {
			t.Errorf("line %d not sorted: %q after %q", i, l.Key, lines[i-1].Key)
		}
		if l.Filename != filepath.Base(path) || len(l.Timestamp) != 14 || (l.Status != "200" && l.Status != "304") ||
			(l.Mime != "text/html" && l.Mime != "warc/revisit") {
			t.Errorf("line %s", l.String())
		}
		var off, n int64
		fmt.Sscan(l.Offset, &off)
		fmt.Sscan(l.Length, &n)
		rd, err := gowarc.NewWarcFileReaderFromStream(bytes.NewReader(data[off:off+n]), 0)
		if err != nil {
			t.Fatal(err)
		}
		rec, _, _, err := rd.Next()
		if err != nil {
			t.Fatalf("line %s: %v", l.String(), err)
		}
		wantType := "response"
		if l.Mime == "warc/revisit" {
			wantType = "revisit"
		}
		if got := rec.WarcHeader().Get(gowarc.WarcTargetURI); got != l.URL || rec.Type().String() != wantType ||
			rec.WarcHeader().Get(gowarc.WarcPayloadDigest) != l.Digest {
			t.Errorf("line %s: the record there is a %s of %s", l.String(), rec.Type(), got)
		}
		if _, _, _, err := rd.Next(); !errors.Is(err, io.EOF) {
			t.Errorf("line %s: length runs past the record: %v", l.String(), err)
		}
		rec.Close()
		rd.Close()
	}
	if len(lines) > 0 && !strings.HasPrefix(lines[0].String(), "1,1,0,127:") {
		t.Errorf("first line %q: want a SURT key of 127.0.1.1", lines[0].String())
	}
	return len(lines)
}

// checkWACZ opens a WACZ and checks its layout and every hash and size
// datapackage.json and datapackage-digest.json give.
func checkWACZ(t *testing.T, path string) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name] = data
		if strings.HasPrefix(f.Name, "archive/") && f.Method != zip.Store {
			t.Errorf("%s is compressed in the ZIP: WARCs must be stored", f.Name)
		}
	}
	sha := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	var pkg struct {
		Profile   string            `json:"profile"`
		Version   string            `json:"wacz_version"`
		Resources []export.WACZFile `json:"resources"`
	}
	if err := json.Unmarshal(files["datapackage.json"], &pkg); err != nil {
		t.Fatal(err)
	}
	var digest struct{ Path, Hash string }
	if err := json.Unmarshal(files["datapackage-digest.json"], &digest); err != nil {
		t.Fatal(err)
	}
	if digest.Path != "datapackage.json" || digest.Hash != sha(files["datapackage.json"]) {
		t.Errorf("datapackage-digest.json %+v", digest)
	}
	if pkg.Profile != "data-package" || pkg.Version != "1.1.1" {
		t.Errorf("datapackage.json: %s", files["datapackage.json"])
	}
	var paths []string
	for _, r := range pkg.Resources {
		paths = append(paths, r.Path)
		data, ok := files[r.Path]
		if !ok || r.Hash != sha(data) || r.Bytes != int64(len(data)) {
			t.Errorf("resource %+v: in the zip %v, %d bytes, %s", r, ok, len(data), sha(data))
		}
	}
	if want := []string{"archive/data.warc.gz", "indexes/index.cdxj", "pages/pages.jsonl"}; !slices.Equal(paths, want) {
		t.Errorf("resources %q, want %q", paths, want)
	}
	if !bytes.HasPrefix(files["pages/pages.jsonl"], []byte(`{"format":"json-pages-1.0"`)) ||
		!bytes.Contains(files["indexes/index.cdxj"], []byte(`"filename":"data.warc.gz"`)) {
		t.Errorf("pages.jsonl or index.cdxj malformed")
	}
}

// TestRecrawlBadValidators: servers whose conditional answers cannot be
// trusted get plain fetches and lose nothing: a 304 naming another ETag is
// followed by a plain request; a 304 to a plain request is recorded as it
// is (no content made up, the earlier version kept); a Last-Modified in the
// future is never sent back; an ETag that changes with every response
// makes full fetches whose payload is recognised as unchanged.
func TestRecrawlBadValidators(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 2, LinksPerPage: -1})
	body := func(s string) string { return "<!doctype html><title>" + s + "</title><p>" + s + " text</p>" }
	var mu sync.Mutex
	sent := map[string][]string{} // path → conditional headers of each request
	n := 0
	handler := func(serve func(rw http.ResponseWriter, r *http.Request)) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			mu.Lock()
			sent[r.URL.Path] = append(sent[r.URL.Path], r.Header.Get("If-None-Match")+"|"+r.Header.Get("If-Modified-Since"))
			n++
			k := n
			mu.Unlock()
			rw.Header().Set("Content-Type", "text/html")
			_ = k
			serve(rw, r)
		})
	}
	web.Handle(0, "/wrong-etag", handler(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "" {
			rw.Header().Set("Etag", `"other"`)
			rw.WriteHeader(http.StatusNotModified)
			return
		}
		rw.Header().Set("Etag", `"a"`)
		fmt.Fprint(rw, body("wrong etag"))
	}))
	web.Handle(0, "/always-304", handler(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusNotModified)
	}))
	future := time.Now().Add(48 * time.Hour).UTC().Format(http.TimeFormat)
	web.Handle(0, "/future", handler(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Last-Modified", future)
		if r.Header.Get("If-Modified-Since") != "" {
			rw.WriteHeader(http.StatusNotModified) // what a server trusting its own clock would say
			return
		}
		fmt.Fprint(rw, body("future"))
	}))
	web.Handle(0, "/random-etag", handler(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rw.Header().Set("Etag", fmt.Sprintf(`"%d"`, n))
		mu.Unlock()
		if r.Header.Get("If-None-Match") == `"never"` {
			rw.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(rw, body("random etag"))
	}))
	base := "http://" + web.Hosts()[0]
	seeds := []string{base + "/always-304", base + "/future", base + "/random-etag", base + "/wrong-etag"}
	st := openStore(t, "")
	cfg := fast(crawler.Config{Workers: 4, NoFollow: true, KeepBody: true})
	crawl(t, st, cfg, seeds)
	cfg.Recrawl = time.Minute
	if n, _ := recrawl(t, st, cfg, time.Now().Add(time.Hour)); n != len(seeds) {
		t.Fatalf("recrawl queued %d, want %d", n, len(seeds))
	}
	vs := versions(t, st)
	for _, u := range seeds {
		if len(vs[u]) != 2 {
			t.Fatalf("%s: %d versions, want 2", u, len(vs[u]))
		}
	}
	check := func(path string, ok bool, format string, args ...any) {
		t.Helper()
		if !ok {
			mu.Lock()
			t.Errorf("%s: "+format+" (conditional headers sent: %q)", append(append([]any{path}, args...), sent[path])...)
			mu.Unlock()
		}
	}
	old, cur := vs[base+"/wrong-etag"][0], vs[base+"/wrong-etag"][1]
	check("/wrong-etag", cur.Status == 200 && !cur.NotModified && cur.Digest == old.Digest && cur.Title == "wrong etag" &&
		len(sent["/wrong-etag"]) == 3 && sent["/wrong-etag"][1] == `"a"|` && sent["/wrong-etag"][2] == "|",
		"newest %+v: want a plain fetch after the 304 naming another ETag", brief(cur))
	old, cur = vs[base+"/always-304"][0], vs[base+"/always-304"][1]
	check("/always-304", old.Status == 304 && cur.Status == 304 && !cur.NotModified && cur.Title == "" && sent["/always-304"][1] == "|",
		"versions %+v, %+v: want two plain 304 records", brief(old), brief(cur))
	old, cur = vs[base+"/future"][0], vs[base+"/future"][1]
	check("/future", cur.Status == 200 && !cur.NotModified && cur.Title == "future" && cur.Digest == old.Digest &&
		cur.DuplicateOf != nil && sent["/future"][1] == "|",
		"newest %+v: want a plain fetch, If-Modified-Since not sent", brief(cur))
	old, cur = vs[base+"/random-etag"][0], vs[base+"/random-etag"][1]
	check("/random-etag", cur.Status == 200 && !cur.NotModified && cur.Digest == old.Digest && cur.DuplicateOf != nil &&
		cur.Body == nil && strings.HasPrefix(sent["/random-etag"][1], `"`),
		"newest %+v: want a full fetch recognised as the same payload", brief(cur))
	sum, err := export.Summarize(st, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := sum.Recrawl; r == nil || r.Unchanged != 4 || r.Changed != 0 || r.NotModified != 0 {
		t.Errorf("stats: %+v, want 4 unchanged (the same payload, an empty one for always-304)", sum.Recrawl)
	}
}

// TestRecrawlInterrupted: a recrawl stopped midway resumes as a first
// crawl does: a second run fetches what the first left, and no URL is
// fetched again twice.
func TestRecrawlInterrupted(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 40, LinksPerPage: 4, Conditional: true})
	st := openStore(t, "")
	cfg := fast(crawler.Config{Workers: 4, BatchSize: 4})
	crawl(t, st, cfg, web.Seeds())
	pages := web.Pages()
	web.ResetLog()
	web.SetLatency(5 * time.Millisecond)
	// Every run below is as of a time a little more than an hour after
	// the first pass, and a recrawl's fetches come at least 50 ms after
	// that pass: so the first pass's pages are due, the recrawled ones not.
	cfg.Recrawl = time.Hour
	now := time.Now().Add(time.Hour + 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)

	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if n, err := c.QueueRecrawl(ctx, now); err != nil || n != len(pages) {
		t.Fatalf("QueueRecrawl: %d, %v", n, err)
	}
	go func() {
		web.WaitRequests(ctx, len(pages)/3, func(r crawltest.Request) bool { return r.Status == 304 })
		cancel()
	}()
	if err := c.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run: %v", err)
	}
	counts, _ := st.Counts()
	if counts.Pending == 0 || counts.Pending == len(pages) {
		t.Fatalf("after the interrupt %d pending of %d: not midway", counts.Pending, len(pages))
	}
	// The same command again, a little later.
	n, _ := recrawl(t, st, cfg, now.Add(time.Millisecond))
	if n != 0 {
		t.Errorf("the second run queued %d URLs again, want 0 (all pending or done)", n)
	}
	for u, vs := range versions(t, st) {
		if len(vs) != 2 || !vs[1].NotModified {
			t.Errorf("%s: %d versions (newest not modified: %v), want 2", u, len(vs), vs[len(vs)-1].NotModified)
		}
	}
	// A third run finds nothing due.
	if n, _ := recrawl(t, st, cfg, now.Add(2*time.Millisecond)); n != 0 {
		t.Errorf("a third run queued %d", n)
	}
}

// TestRecrawlAdaptive: with --recrawl-adaptive a page that did not change
// waits twice as long before the next recrawl, one that changed half as
// long.
func TestRecrawlAdaptive(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 10, LinksPerPage: 3, Conditional: true})
	st := openStore(t, "")
	cfg := fast(crawler.Config{Workers: 4})
	crawl(t, st, cfg, web.Seeds())
	web.Change(0, 4)
	d := time.Hour
	cfg.Recrawl, cfg.RecrawlAdaptive = d, true
	start := time.Now()
	if n, _ := recrawl(t, st, cfg, start.Add(d)); n != 10 {
		t.Fatalf("first recrawl queued %d, want 10", n)
	}
	// Now page 4's interval is d/2, the others' 2d.
	c, err := crawler.New(cfg, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.QueueRecrawl(context.Background(), time.Now().Add(3*d/4))
	if err != nil || n != 1 {
		t.Fatalf("at 3/4 d: queued %d (%v), want 1 (the changed page)", n, err)
	}
}

func TestRecrawlInterval(t *testing.T) {
	d := time.Hour
	v := func(digest string, notModified bool) store.VersionInfo {
		return store.VersionInfo{Status: 200, Digest: digest, NotModified: notModified}
	}
	for _, tc := range []struct {
		name string
		vs   []store.VersionInfo
		want time.Duration
	}{
		{"one fetch", []store.VersionInfo{v("a", false)}, d},
		{"changed", []store.VersionInfo{v("a", false), v("b", false)}, d / 2},
		{"changed often", []store.VersionInfo{v("a", false), v("b", false), v("c", false), v("d", false), v("e", false)}, d / 4},
		{"304", []store.VersionInfo{v("a", false), v("a", true)}, 2 * d},
		{"same payload", []store.VersionInfo{v("a", false), v("a", false), v("a", false)}, 4 * d},
		{"never changes", slices.Repeat([]store.VersionInfo{v("a", false)}, 10), 8 * d},
		{"failure says nothing", []store.VersionInfo{v("a", false), {Error: "timeout"}}, d},
		{"changed after quiet", []store.VersionInfo{v("a", false), v("a", true), v("a", true), v("b", false)}, 2 * d},
	} {
		if got := crawler.RecrawlInterval(tc.vs, d); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRecrawlOldDatabase: a database written before digests and versions
// (records without digest, no versions or digests bucket) is recrawled:
// its pages get 304s as any, the new versions take their digest from the
// stored body, and the WARC export writes revisits pointing at the old
// records' responses.
func TestRecrawlOldDatabase(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 12, LinksPerPage: 3, Conditional: true})
	path := filepath.Join(t.TempDir(), "old.db")
	st, err := store.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fast(crawler.Config{Workers: 4, KeepBody: true})
	crawl(t, st, cfg, web.Seeds())
	st.Close()
	makeOld(t, path)

	st = openStore(t, path)
	cfg.Recrawl = time.Minute
	n, s := recrawl(t, st, cfg, time.Now().Add(time.Hour))
	if n != 12 || s.NotModified != 12 {
		t.Fatalf("recrawl of an old database: %d queued, %d not modified, want 12", n, s.NotModified)
	}
	for u, vs := range versions(t, st) {
		if len(vs) != 2 || vs[0].Digest != "" || vs[1].Digest != store.Digest(vs[0].Body) || vs[1].DuplicateOf == nil {
			t.Errorf("%s: versions %+v", u, vs)
		}
	}
	wpath := filepath.Join(t.TempDir(), "old.warc.gz")
	res := exportWARC(t, st, wpath, nil)
	if res.Revisits != 12 || res.Originals != 12 || checkWARC(t, wpath) != 12 {
		t.Errorf("WARC of the recrawled old database: %+v", res)
	}
}

// makeOld rewrites the database at path as this version's predecessor
// wrote it: records without digest, simhash or duplicate_of, and neither
// versions nor digests bucket.
func makeOld(t *testing.T, path string) {
	t.Helper()
	st, err := store.Open(path, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string][]byte{}
	err = st.ForEachPage(func(u string, raw []byte) error {
		var p store.Page
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		p.Digest, p.SimHash, p.DuplicateOf = "", "", nil
		v, err := store.EncodePage(&p)
		old[u] = v
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for u, v := range old {
			seq := tx.Bucket([]byte("urls")).Get([]byte(u))
			if err := tx.Bucket([]byte("records")).Put(seq, v); err != nil {
				return err
			}
		}
		for _, b := range []string{"versions", "digests", "payloads"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
