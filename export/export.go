package export

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/politecrawl/crawl/store"
)

// Format is an export format.
type Format string

// Export formats.
const (
	JSONLines Format = "jsonl" // one JSON object per line
	JSONArray Format = "json"  // one JSON array of objects
	WARC      Format = "warc"  // WARC 1.1 request and response records (see ExportWARC)
	CDXJ      Format = "cdxj"  // a CDXJ index of a WARC file (see IndexWARC)
	WACZ      Format = "wacz"  // a WACZ 1.1.1 archive (see ExportWACZ)
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case JSONLines, JSONArray, WARC, CDXJ, WACZ:
		return f, nil
	}
	return "", fmt.Errorf("unknown export format %q (want jsonl, json, warc, cdxj or wacz)", s)
}

// Export writes every stored page to w in format f, in URL order, and returns
// how many it wrote. Records are streamed from one read transaction: memory
// does not grow with the database.
func Export(w io.Writer, s *store.Store, f Format) (int, error) {
	return ExportSelected(w, s, f, nil)
}

// ExportSelected is like Export but writes only the records and fields that
// sel selects. With no filter and no field list, the stored bytes are copied
// as they are, without decoding.
func ExportSelected(w io.Writer, s *store.Store, f Format, sel *Selection) (int, error) {
	return exportEach(w, s.ForEachPage, f, sel)
}

// ExportAllVersions is like ExportSelected but writes every stored version
// of each URL, oldest first, where ExportSelected writes the newest.
func ExportAllVersions(w io.Writer, s *store.Store, f Format, sel *Selection) (int, error) {
	return exportEach(w, s.ForEachVersion, f, sel)
}

// exportEach writes the records each walks, in its order.
func exportEach(w io.Writer, each func(func(url string, raw []byte) error) error, f Format, sel *Selection) (int, error) {
	if f != JSONLines && f != JSONArray {
		return 0, fmt.Errorf("export: format %q is not JSON", f)
	}
	if sel.whole() {
		sel = nil
	} else if err := sel.Check(); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	var rec bytes.Buffer
	var rewritten []byte // the record changed by sel.Rewrite
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	sep, end := []byte("\n"), []byte("\n")
	if f == JSONArray {
		bw.WriteString("[")
		sep, end = []byte(",\n"), []byte("\n]\n")
	}
	err := each(func(u string, raw []byte) error {
		if sel != nil {
			ok, err := sel.keep(u, raw)
			if !ok || err != nil {
				return err
			}
			if sel.Rewrite != nil {
				if rewritten, err = sel.rewrite(rewritten, u, raw); err != nil {
					return err
				}
				raw = rewritten
			}
			if len(sel.Fields) > 0 {
				rec.Reset()
				if err := sel.project(&rec, u, raw); err != nil {
					return err
				}
				raw = rec.Bytes()
			}
		}
		if f == JSONArray {
			if n == 0 {
				bw.WriteString("\n")
			} else {
				bw.Write(sep)
			}
		}
		if _, err := bw.Write(raw); err != nil {
			return err
		}
		if f == JSONLines {
			bw.Write(sep)
		}
		n++
		return nil
	})
	// Records skipped by a keep-going read: the output is complete
	// without them, and the error says how many.
	unread, skipped := errors.AsType[*store.UnreadableError](err)
	if err != nil && !skipped {
		return n, fmt.Errorf("export: %w", err)
	}
	if f == JSONArray {
		if n == 0 {
			end = []byte("]\n")
		}
		bw.Write(end)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if skipped {
		return n, fmt.Errorf("export: %w", unread)
	}
	return n, nil
}

// ExportSalvaged is ExportSelected for a store.Salvaged.
func ExportSalvaged(w io.Writer, s *store.Salvaged, f Format, sel *Selection) (int, error) {
	return exportEach(w, s.ForEachPage, f, sel)
}
