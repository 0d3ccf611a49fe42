package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/pflag"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/extract"
	"github.com/politecrawl/crawl/store"
)

// extractOptions are the extraction rules of crawl run and crawl export:
// the flags --extract and --extract-url (one rule), and the [[extract]]
// tables of a config file (one rule each).
type extractOptions struct {
	specs  []string       // --extract NAME=SELECTOR…
	urlRE  string         // --extract-url
	tables []extractTable // [[extract]] tables of file
	file   string         // the config file the tables come from
}

// extractTable is an [[extract]] table of a config file: the fields of
// the pages whose URL matches, the way a Scrapy spider has one callback
// per kind of page.
type extractTable struct {
	Match  string            `toml:"match,omitempty"` // a regexp over the page's final URL; empty: every page
	Fields map[string]string `toml:"fields"`          // NAME (or NAME[]) → SELECTOR or SELECTOR@ATTR
}

func (o *extractOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.specs, "extract", nil, "store in the record's fields the text of the first element matching a CSS selector: `NAME=SELECTOR`, NAME=SELECTOR@ATTR for an attribute, NAME[]=… for every match (repeatable; see README)")
	fs.StringVar(&o.urlRE, "extract-url", "", "apply --extract only to pages whose URL matches this `REGEXP`")
}

// rules compiles the flags and tables into the crawler's rules: the flags'
// rule first, then the tables in file order. A selector or regexp that
// does not parse is a usage error naming it.
func (o *extractOptions) rules() ([]extract.Rule, error) {
	var rules []extract.Rule
	if o.urlRE != "" && len(o.specs) == 0 {
		return nil, usageError{fmt.Errorf("--extract-url %q: no --extract to limit", o.urlRE)}
	}
	if len(o.specs) > 0 {
		var r extract.Rule
		if o.urlRE != "" {
			re, err := regexp.Compile(o.urlRE)
			if err != nil {
				return nil, usageError{fmt.Errorf("--extract-url %q: %v", o.urlRE, err)}
			}
			r.Match = re
		}
		for _, spec := range o.specs {
			f, err := extract.ParseField(spec)
			if err != nil {
				return nil, usageError{fmt.Errorf("--extract %q: %v", spec, unwrapBadField(err))}
			}
			if slices.ContainsFunc(r.Fields, func(g extract.Field) bool { return g.Name == f.Name }) {
				return nil, usageError{fmt.Errorf("--extract %q: field %s given twice", spec, f.Name)}
			}
			r.Fields = append(r.Fields, f)
		}
		rules = append(rules, r)
	}
	for i, t := range o.tables {
		where := fmt.Sprintf("%s: [[extract]] %d", o.file, i+1)
		if t.Match != "" {
			where += fmt.Sprintf(" (match %q)", t.Match)
		}
		var r extract.Rule
		if t.Match != "" {
			re, err := regexp.Compile(t.Match)
			if err != nil {
				return nil, usageError{fmt.Errorf("%s: match: %v", where, err)}
			}
			r.Match = re
		}
		if len(t.Fields) == 0 {
			return nil, usageError{fmt.Errorf("%s: no fields", where)}
		}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range t.Fields {
				if !yield(k) {
					return
				}
			}
		}) {
			spec := name + "=" + t.Fields[name]
			f, err := extract.ParseField(spec)
			if err != nil {
				return nil, usageError{fmt.Errorf("%s: field %q = %q: %v", where, name, t.Fields[name], unwrapBadField(err))}
			}
			if slices.ContainsFunc(r.Fields, func(g extract.Field) bool { return g.Name == f.Name }) {
				return nil, usageError{fmt.Errorf("%s: field %s given twice", where, f.Name)}
			}
			r.Fields = append(r.Fields, f)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// unwrapBadField drops the "bad extraction field: " that the usage error's
// own wording makes redundant.
func unwrapBadField(err error) string {
	return strings.TrimPrefix(err.Error(), extract.ErrBadField.Error()+": ")
}

// isExtractTables reports whether a config file's "extract" key holds
// [[extract]] tables rather than the --extract flag's list of strings.
func isExtractTables(v any) bool {
	_, ok := v.([]map[string]any)
	return ok
}

// readExtractTables reads the [[extract]] tables of the config file (none
// if file is "" or its "extract" key is the flag's list).
func readExtractTables(file string) ([]extractTable, error) {
	if file == "" {
		return nil, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var keys map[string]any
	if _, err := toml.Decode(string(data), &keys); err != nil {
		return nil, usageError{fmt.Errorf("%s: %v", file, err)}
	}
	if !isExtractTables(keys["extract"]) {
		return nil, nil
	}
	var cf struct {
		Extract []extractTable `toml:"extract"`
	}
	md, err := toml.Decode(string(data), &cf)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: [[extract]]: %v", file, err)}
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && k[0] == "extract" {
			return nil, usageError{fmt.Errorf("%s: [[extract]]: unknown key %q (want match, and fields as a table of NAME = SELECTOR)", file, k[len(k)-1])}
		}
	}
	return cf.Extract, nil
}

// writeExtractTables appends the [[extract]] tables to crawl config's
// output, as TOML that --config reads back.
func writeExtractTables(w io.Writer, tables []extractTable) error {
	if len(tables) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString("\n")
	if err := toml.NewEncoder(&buf).Encode(struct {
		Extract []extractTable `toml:"extract"`
	}{tables}); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// exportExtraction recomputes the fields of exported records from their
// kept bodies (crawl export --extract), counting what it could not do.
type exportExtraction struct {
	rules   []extract.Rule
	noBody  int // HTML pages without a kept body: their fields are as stored
	refused int // bodies x/net/html refuses (nested deeper than 512)
}

// rewrite is a export.Selection's Rewrite: a 2xx HTML record with a body
// gets the fields the rules give (none if no rule applies to it), in
// place of those stored.
func (x *exportExtraction) rewrite(p *store.Page) error {
	if p.Status < 200 || p.Status > 299 || (p.ContentType != "text/html" && p.ContentType != "application/xhtml+xml") {
		return nil
	}
	if len(p.Body) == 0 {
		x.noBody++
		return nil
	}
	ct := p.ContentType
	if p.HTTP != nil && p.HTTP.Header.Get("Content-Type") != "" {
		ct = p.HTTP.Header.Get("Content-Type") // with its charset
	}
	u := p.FinalURL
	if u == "" {
		u = p.URL
	}
	fields, err := extract.Fields(x.rules, p.Body, ct, u)
	if err != nil {
		x.refused++
		return nil
	}
	p.Fields = fields
	return nil
}

// report says once, on stderr, which records kept their stored fields.
func (x *exportExtraction) report(w io.Writer) {
	if x.noBody > 0 {
		fmt.Fprintf(w, "crawl: --extract: %d HTML pages have no kept body (crawl run --keep-body keeps them): their fields are those stored by the crawl\n", x.noBody)
	}
	if x.refused > 0 {
		fmt.Fprintf(w, "crawl: --extract: %d pages are nested deeper than 512 elements, which the HTML parser refuses: their fields are those stored by the crawl\n", x.refused)
	}
}

// errExtractWARC: WARC records are written whole, without fields.
var errExtractWARC = errors.New("--extract: not with --format warc (WARC records hold no fields)")

// extraction sets up crawl export's --extract: the fields of the records
// written are computed from their kept bodies. It returns nil when there
// are no rules.
func (o *exportOptions) extraction(sel *export.Selection) (*exportExtraction, error) {
	tables, err := readExtractTables(o.extract.file)
	if err != nil {
		return nil, err
	}
	o.extract.tables = tables
	rules, err := o.extract.rules()
	if err != nil || len(rules) == 0 {
		return nil, err
	}
	x := &exportExtraction{rules: rules}
	sel.Rewrite = x.rewrite
	return x, nil
}

// showTables returns the [[extract]] tables crawl config prints. TOML
// cannot hold both the key "extract" (the flag's list) and [[extract]]
// tables: when there are tables, the flags' rule is printed as one more
// table, first, and the flags are hidden from writeConfig, which skips
// hidden flags.
func (o *extractOptions) showTables(fs *pflag.FlagSet) []extractTable {
	if len(o.tables) == 0 {
		return nil
	}
	fs.MarkHidden("extract")
	fs.MarkHidden("extract-url")
	if len(o.specs) == 0 {
		return o.tables
	}
	t := extractTable{Match: o.urlRE, Fields: map[string]string{}}
	for _, spec := range o.specs {
		name, sel, _ := strings.Cut(spec, "=")
		t.Fields[strings.TrimSpace(name)] = strings.TrimSpace(sel)
	}
	return append([]extractTable{t}, o.tables...)
}
