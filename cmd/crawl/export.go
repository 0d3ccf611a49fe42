package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

// exportOptions are the flags of `crawl export`.
type exportOptions struct {
	dbs          []string
	format, out  string
	hosts        []string
	status       []string
	contentTypes []string
	since        string
	fields       []string
	mainText     bool
	skipNoIndex  bool
	keepGoing    bool
	versions     string         // --versions: newest or all
	warc         string         // --warc: the WARC file --format cdxj indexes
	extract      extractOptions // --extract, --extract-url, --config's [[extract]] tables
}

// write runs an export into -o FILE or standard output. An export that skipped
// unreadable records (--keep-going) is complete without them: it is kept,
// and the error that counts them returned.
func (o *exportOptions) write(cmd *cobra.Command, run func(io.Writer) error) error {
	if o.out == "" || o.out == "-" {
		return run(cmd.OutOrStdout())
	}
	var skipped error
	err := writeAtomically(o.out, func(w io.Writer) error {
		err := run(w)
		if _, ok := errors.AsType[*store.UnreadableError](err); ok {
			skipped, err = err, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return skipped
}

// exportSalvaged exports the records that a salvage of db could read.
func (o *exportOptions) exportSalvaged(cmd *cobra.Command, db string, f export.Format, sel *export.Selection) error {
	sv, err := store.Salvage(db, urlnorm.Fingerprint)
	if err != nil {
		return err
	}
	defer sv.Close()
	return damagedHint(db, o.write(cmd, func(w io.Writer) error {
		_, err := export.ExportSalvaged(w, sv, f, sel)
		return err
	}), false)
}

// selection builds the store's selection from the filter and field flags.
func (o *exportOptions) selection() (*export.Selection, error) {
	sel := &export.Selection{Hosts: o.hosts, ContentTypes: o.contentTypes, SkipNoIndex: o.skipNoIndex}
	for _, arg := range o.status {
		for s := range strings.SplitSeq(arg, ",") {
			m, err := export.ParseStatus(s)
			if err != nil {
				return nil, usageError{fmt.Errorf("--status: %w", err)}
			}
			sel.Status = append(sel.Status, m)
		}
	}
	if o.since != "" {
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return nil, usageError{fmt.Errorf("--since %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", o.since)}
		}
		sel.Since = t
	}
	for _, f := range o.fields {
		if f = strings.TrimSpace(f); f != "" {
			sel.Fields = append(sel.Fields, f)
		}
	}
	if o.mainText && !slices.Contains(sel.Fields, "main_text") {
		if len(sel.Fields) == 0 {
			sel.Fields = export.FieldNames()
		}
		sel.Fields = append(sel.Fields, "main_text")
	}
	sel.Computed = computedFields()
	if err := sel.Check(); err != nil {
		return nil, usageError{fmt.Errorf("--fields: %w", err)}
	}
	return sel, nil
}

// computedFields are the export fields computed from a stored record.
func computedFields() map[string]func(*store.Page) any {
	return map[string]func(*store.Page) any{
		"main_text": mainText,
	}
}

// mainText is the page's main text without boilerplate when its body was
// kept (crawl run --keep-body), else the stored visible text.
func mainText(p *store.Page) any {
	if len(p.Body) > 0 && (p.ContentType == "text/html" || p.ContentType == "application/xhtml+xml") {
		if text, ok := export.MainText(p.Body, p.FinalURL); ok {
			return text
		}
	}
	return p.Text
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --db FILE [--db FILE…] [--format jsonl|json|warc|cdxj|wacz] [--versions newest|all] [filters] [--fields LIST] [-o FILE]",
		Short: "Write the stored pages as JSON Lines, a JSON array, WARC, a CDXJ index or WACZ",
		Long: `Write the pages stored in --db, in URL order, as JSON Lines (one object a
line, the default) or as one JSON array, to standard output or to -o FILE.
The fields are documented in README.md ("Export schema").

Filters keep only some records; they combine with AND, and a repeated filter
with OR: --host (host, or host:port), --status (2xx, 404, error; repeatable
or comma-separated), --content-type (text/html, text/*), --since (RFC 3339
time of the fetch), --skip-noindex (leave out pages that ask not to be
indexed: noindex or none in a robots meta tag or X-Robots-Tag). --fields url,title,… writes only those fields, in that
order; besides the stored fields there is main_text, the article without
navigation, header and footer (Readability), which needs bodies kept with
crawl run --keep-body and falls back on the stored text. --main-text adds
it to every record. Without filters and --fields each record is written as
stored.

--format warc writes a WARC 1.1 file (-o FILE.warc.gz, or FILE.warc for no
compression): a request and a response record for every page whose body the
crawl kept (crawl run --keep-body); the filters apply. A page whose payload
is already in the file (a duplicate, or a 304 of a recrawl) is a revisit
record referring to that response. --format cdxj --warc FILE writes the
CDXJ index of a WARC file (pywb's format). --format wacz -o FILE.wacz writes
a WACZ 1.1.1 archive: the WARC, its CDXJ index, the list of pages and
datapackage.json with every file's sha256.

Each URL's newest version is written; --versions all writes every version
(every fetch of the URL: crawl run --recrawl), oldest first.

Several --db (the databases of workers that crawled together through one
Redis, crawl run --redis) are merged into one stream in URL order, each URL
once: where two hold the same URL (fetched again after a lease expired),
the record fetched last is written.

The database is opened read-only. If a running crawl holds it, export says so
within a second instead of waiting.

A damaged database: export stops at the first record it cannot read, naming
it (exit 1). --keep-going skips every record that cannot be read, writes all
the others, and exits 1 at the end with their count; when the file's pages
are too damaged for bbolt, they are read one by one as crawl repair reads
them. crawl repair --db FILE -o NEW.db salvages the database itself.`,
		Example: `  crawl export --db crawl.db | jq -r '.url + " " + .title'
  crawl export --db crawl.db --format json -o pages.json
  crawl export --db crawl.db --status 4xx,5xx,error --fields url,status,error
  crawl export --db crawl.db --host example.com --content-type text/html --since 2026-01-01T00:00:00Z
  crawl export --db crawl.db --skip-noindex --fields url,title,canonical
  crawl export --db crawl.db --fields url,title,main_text --content-type text/html
  crawl export --db crawl.db --format warc -o crawl.warc.gz
  crawl export --db w1.db --db w2.db --db w3.db > all.jsonl
  crawl export --format cdxj --warc crawl.warc.gz -o crawl.cdxj
  crawl export --db crawl.db --format wacz -o crawl.wacz
  crawl export --db crawl.db --versions all --fields url,fetched_at,digest,not_modified`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := export.ParseFormat(o.format)
			if err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			sel, err := o.selection()
			if err != nil {
				return err
			}
			if o.keepGoing && len(o.dbs) > 1 {
				return usageError{errors.New("--keep-going: one --db at a time")}
			}
			all := false
			switch o.versions {
			case "newest":
			case "all":
				all = true
			default:
				return usageError{fmt.Errorf("--versions %q: want newest or all", o.versions)}
			}
			switch {
			case f == export.CDXJ && o.warc == "":
				return usageError{errors.New("--format cdxj: name the WARC file to index with --warc FILE (written by --format warc)")}
			case f != export.CDXJ && o.warc != "":
				return usageError{errors.New("--warc: only with --format cdxj")}
			case f == export.WACZ && (o.out == "" || o.out == "-"):
				return usageError{errors.New("--format wacz: give the file to write with -o FILE.wacz")}
			}
			if f == export.CDXJ {
				return o.write(cmd, func(w io.Writer) error { return exportCDXJ(w, o.warc, cmd.ErrOrStderr()) })
			}
			x, err := o.extraction(sel)
			if err != nil {
				return err
			}
			if x != nil && (f == export.WARC || f == export.WACZ) {
				return usageError{errExtractWARC}
			}
			var stores []*store.Store
			for _, db := range o.dbs {
				st, err := store.Open(db, &store.Options{ReadOnly: true})
				if err != nil && o.keepGoing && f != export.WARC && f != export.WACZ && !all && errors.Is(err, store.ErrDamaged) {
					// bbolt cannot read this file: read what the salvage can.
					fmt.Fprintf(cmd.ErrOrStderr(), "crawl: %v; exporting what can be read\n", err)
					return o.exportSalvaged(cmd, db, f, sel)
				}
				if err != nil {
					return damagedHint(db, err, !o.keepGoing)
				}
				defer st.Close()
				if o.keepGoing {
					st = st.KeepGoing()
				}
				stores = append(stores, st)
			}
			st := stores[0]
			run := func(w io.Writer) error {
				if all {
					_, err := export.ExportAllVersions(w, st, f, sel)
					return err
				}
				_, err := export.ExportSelected(w, st, f, sel)
				return err
			}
			if len(stores) > 1 {
				if f == export.WARC || f == export.WACZ {
					return usageError{fmt.Errorf("--format %s: one --db at a time", f)}
				}
				if all {
					return usageError{errors.New("--versions all: one --db at a time")}
				}
				run = func(w io.Writer) error {
					_, err := export.ExportMerged(w, stores, f, sel)
					return err
				}
			}
			if f == export.WARC || f == export.WACZ {
				if len(sel.Fields) > 0 {
					return usageError{fmt.Errorf("--fields and --main-text: not with --format %s (records are written whole)", f)}
				}
				run = func(w io.Writer) error { return exportWARC(w, st, sel, o.out, all, cmd.ErrOrStderr()) }
			}
			if f == export.WACZ {
				run = func(w io.Writer) error { return exportWACZ(w, st, sel, o.out, all, cmd.ErrOrStderr()) }
			}
			if x != nil {
				defer x.report(cmd.ErrOrStderr())
			}
			return damagedHint(st.Path(), o.write(cmd, run), !o.keepGoing)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.dbs, "db", []string{"crawl.db"}, "database `FILE` to read; repeat it to merge the databases of several workers (each URL once, the newest record)")
	fl.StringVar(&o.format, "format", "jsonl", "jsonl (JSON Lines), json (one array), warc (WARC 1.1; gzipped unless -o ends in .warc), cdxj (the index of --warc FILE) or wacz (WACZ 1.1.1, with -o FILE.wacz)")
	fl.StringVar(&o.versions, "versions", "newest", "newest: each URL's last fetch; all: every stored version of each URL, oldest first")
	fl.StringVar(&o.warc, "warc", "", "with --format cdxj: the WARC `FILE` to index")
	fl.StringVarP(&o.out, "output", "o", "", "write to `FILE` instead of standard output")
	fl.StringArrayVar(&o.hosts, "host", nil, "keep records of this `HOST` or host:port (repeatable)")
	fl.StringArrayVar(&o.status, "status", nil, "keep records with this status: 2xx, 404, error (repeatable, or comma-separated)")
	fl.StringArrayVar(&o.contentTypes, "content-type", nil, "keep records of this media `TYPE`, such as text/html or text/* (repeatable)")
	fl.StringVar(&o.since, "since", "", "keep records fetched at or after this RFC 3339 `TIME`")
	fl.BoolVar(&o.skipNoIndex, "skip-noindex", false, "leave out pages that ask not to be indexed (noindex in a robots meta tag or X-Robots-Tag)")
	fl.StringSliceVar(&o.fields, "fields", nil, "write only these fields, in this order: url,title,… (see README)")
	fl.BoolVar(&o.keepGoing, "keep-going", false, "skip records that cannot be read (a damaged database), and exit 1 at the end with their count")
	o.extract.addFlags(fl)
	fl.StringVar(&o.extract.file, "config", "", "take the [[extract]] tables of this crawl run config `FILE` (other keys are ignored)")
	fl.BoolVar(&o.mainText, "main-text", false, "add the field main_text: the article without navigation and boilerplate (needs --keep-body bodies, else the stored text)")
	return cmd
}

// exportWARC writes the selected pages as WARC records to w, gzipped unless
// out ends in ".warc", and says on stderr what it wrote and skipped.
func exportWARC(w io.Writer, st *store.Store, sel *export.Selection, out string, all bool, stderr io.Writer) error {
	opts := &export.WARCOptions{
		Software:    "politecrawl/" + versionString(),
		NoGzip:      strings.HasSuffix(out, ".warc"),
		AllVersions: all,
	}
	if out != "" && out != "-" {
		opts.Filename = filepath.Base(out)
	}
	res, err := export.ExportWARC(w, st, sel, opts)
	if _, skipped := errors.AsType[*store.UnreadableError](err); err != nil && !skipped {
		return err
	}
	fmt.Fprintln(stderr, "crawl: wrote "+warcSummary(res))
	return err
}

// warcSummary says what a WARC export wrote and skipped.
func warcSummary(res export.WARCResult) string {
	s := fmt.Sprintf("%d pages as WARC request/response records", res.Pages)
	if res.Revisits > 0 || res.Originals > 0 {
		s += fmt.Sprintf(", %d as revisit records", res.Revisits)
		if res.Originals > 0 {
			s += fmt.Sprintf(" (and %d responses they refer to)", res.Originals)
		}
	}
	if res.NoBody > 0 {
		s += fmt.Sprintf("; skipped %d without a kept body (crawl with --keep-body)", res.NoBody)
	}
	if res.NoReply > 0 {
		s += fmt.Sprintf("; skipped %d fetch errors (no response)", res.NoReply)
	}
	return s
}

// exportWACZ writes the selected pages as a WACZ file to w and says on
// stderr what it holds.
func exportWACZ(w io.Writer, st *store.Store, sel *export.Selection, out string, all bool, stderr io.Writer) error {
	res, err := export.ExportWACZ(w, st, sel, &export.WACZOptions{
		Software:    "politecrawl/" + versionString(),
		Title:       "crawl of " + filepath.Base(st.Path()),
		AllVersions: all,
		TempDir:     filepath.Dir(out),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "crawl: wrote %s: %s; %d pages listed\n", filepath.Base(out), warcSummary(res.WARC), res.Pages)
	for _, f := range res.Files {
		fmt.Fprintf(stderr, "  %-24s %10d bytes  %s\n", f.Path, f.Bytes, f.Hash)
	}
	fmt.Fprintf(stderr, "  %-24s listing them, and datapackage-digest.json its hash\n", "datapackage.json")
	return nil
}

// exportCDXJ writes the CDXJ index of the WARC file warc to w.
func exportCDXJ(w io.Writer, warc string, stderr io.Writer) error {
	lines, err := export.IndexWARC(warc, filepath.Base(warc))
	if err != nil {
		return fmt.Errorf("--warc %s: %w", warc, err)
	}
	if err := export.WriteCDXJ(w, lines); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "crawl: indexed %d records of %s\n", len(lines), warc)
	return nil
}

// writeAtomically writes a file through a temporary file in the same folder
// and renames it into place only when write succeeded, so that a failed or
// interrupted export never leaves a file that looks complete.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		// The temporary file's name means nothing to the user: name theirs.
		if pe, ok := errors.AsType[*os.PathError](err); ok {
			err = pe.Err
		}
		return fmt.Errorf("-o %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
