package export

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/politecrawl/crawl/store"
)

// WACZOptions configures ExportWACZ. The zero value writes each URL's
// newest version, with its temporary WARC in the system's temporary folder.
type WACZOptions struct {
	Software    string // datapackage.json "software" and warcinfo, such as "politecrawl/0.1"
	Title       string // datapackage.json "title"
	AllVersions bool   // every stored version of each URL, as WARCOptions.AllVersions
	TempDir     string // folder for the WARC while it is written ["": os.TempDir()]
}

// WACZFile is one file of a WACZ, as datapackage.json lists it.
type WACZFile struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Hash  string `json:"hash"` // "sha256:" and 64 hex digits
	Bytes int64  `json:"bytes"`
}

// WACZResult says what ExportWACZ wrote.
type WACZResult struct {
	WARC  WARCResult
	Pages int        // lines of pages/pages.jsonl after its header
	Files []WACZFile // as datapackage.json lists them
}

// ExportWACZ writes the selected pages to w as a WACZ 1.1.1 file (Web
// Archive Collection Zipped, webrecorder's specification): a ZIP holding
//
//	archive/data.warc.gz     the WARC, as ExportWARC writes it (stored, not deflated)
//	indexes/index.cdxj       its CDXJ index (IndexWARC)
//	pages/pages.jsonl        the HTML pages written, with their titles
//	datapackage.json         every file's path, size and sha256
//	datapackage-digest.json  the sha256 of datapackage.json
//
// The WARC is written to a temporary file first: its index needs it whole.
func ExportWACZ(w io.Writer, s *store.Store, sel *Selection, opts *WACZOptions) (WACZResult, error) {
	var o WACZOptions
	if opts != nil {
		o = *opts
	}
	var res WACZResult
	tmp, err := os.CreateTemp(o.TempDir, "crawl-wacz-*.warc.gz")
	if err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	var pages bytes.Buffer
	pages.WriteString(`{"format":"json-pages-1.0","id":"pages","title":"All Pages"}` + "\n")
	var mainURL string
	var mainDate time.Time
	var mainSeed bool
	wopts := &WARCOptions{Software: o.Software, Filename: "data.warc.gz", AllVersions: o.AllVersions,
		page: func(p *store.Page) {
			if p.Status < 200 || p.Status > 299 || (p.ContentType != "text/html" && p.ContentType != "application/xhtml+xml") {
				return
			}
			js, _ := json.Marshal(struct {
				ID    string `json:"id"`
				URL   string `json:"url"`
				TS    string `json:"ts"`
				Title string `json:"title,omitempty"`
			}{fmt.Sprintf("%x", sha256.Sum256([]byte(p.URL+" "+p.FetchedAt.String())))[:16], warcTargetOf(p),
				p.FetchedAt.UTC().Format(time.RFC3339), p.Title})
			pages.Write(js)
			pages.WriteByte('\n')
			res.Pages++
			if mainURL == "" || (!mainSeed && p.Depth == 0) { // a seed's page, else the first
				mainURL, mainDate, mainSeed = warcTargetOf(p), p.FetchedAt, p.Depth == 0
			}
		}}
	if res.WARC, err = ExportWARC(tmp, s, sel, wopts); err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	lines, err := IndexWARC(tmp.Name(), "data.warc.gz")
	if err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	var index bytes.Buffer
	WriteCDXJ(&index, lines)

	zw := zip.NewWriter(w)
	add := func(path string, method uint16, r io.Reader) (WACZFile, error) {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: method, Modified: time.Now().UTC()})
		if err != nil {
			return WACZFile{}, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(fw, h), r)
		if err != nil {
			return WACZFile{}, err
		}
		return WACZFile{Name: path[strings.LastIndexByte(path, '/')+1:], Path: path, Hash: sha256Of(h), Bytes: n}, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	for _, f := range []struct {
		path   string
		method uint16
		r      io.Reader
	}{
		{"archive/data.warc.gz", zip.Store, tmp}, // already compressed: stored, for random access
		{"indexes/index.cdxj", zip.Deflate, &index},
		{"pages/pages.jsonl", zip.Deflate, &pages},
	} {
		wf, err := add(f.path, f.method, f.r)
		if err != nil {
			return res, fmt.Errorf("export wacz: %s: %w", f.path, err)
		}
		res.Files = append(res.Files, wf)
	}
	pkg := map[string]any{
		"profile":      "data-package",
		"wacz_version": "1.1.1",
		"resources":    res.Files,
		"created":      time.Now().UTC().Format(time.RFC3339),
		"software":     o.Software,
	}
	if o.Title != "" {
		pkg["title"] = o.Title
	}
	if mainURL != "" {
		pkg["mainPageUrl"], pkg["mainPageDate"] = mainURL, mainDate.UTC().Format(time.RFC3339)
	}
	pj, err := json.MarshalIndent(pkg, "", "  ")
	if err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	dp, err := add("datapackage.json", zip.Deflate, bytes.NewReader(pj))
	if err != nil {
		return res, fmt.Errorf("export wacz: datapackage.json: %w", err)
	}
	dj, _ := json.MarshalIndent(map[string]string{"path": "datapackage.json", "hash": dp.Hash}, "", "  ")
	if _, err := add("datapackage-digest.json", zip.Deflate, bytes.NewReader(dj)); err != nil {
		return res, fmt.Errorf("export wacz: datapackage-digest.json: %w", err)
	}
	if err := zw.Close(); err != nil {
		return res, fmt.Errorf("export wacz: %w", err)
	}
	return res, nil
}

func sha256Of(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// warcTargetOf returns the URL a page's WARC records name.
func warcTargetOf(p *store.Page) string {
	if p.FinalURL != "" {
		return p.FinalURL
	}
	return p.URL
}
