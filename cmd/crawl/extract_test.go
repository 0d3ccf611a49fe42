package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// fieldsOf returns the fields member of each exported record, by URL path.
func fieldsOf(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for _, rec := range records(t, out) {
		var u string
		var f map[string]any
		if err := json.Unmarshal(rec["url"], &u); err != nil {
			t.Fatal(err)
		}
		if raw, ok := rec["fields"]; ok {
			if err := json.Unmarshal(raw, &f); err != nil {
				t.Fatal(err)
			}
		}
		rest := u[len("http://"):]
		got[rest[strings.IndexByte(rest, '/'):]] = f
	}
	return got
}

// TestRunExtract: crawl run --extract stores fields in the records of the
// pages --extract-url matches; crawl export --extract computes new ones
// from the kept bodies without fetching, and says once that the records of
// a crawl without bodies keep theirs.
func TestRunExtract(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, LinksPerPage: 2, CrossHost: -1})
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds())
	extract := []string{"--extract", "heading=h1", "--extract", "links[]=nav a@href", "--extract", "sku=.sku",
		"--extract-url", `/p/\d+$`}
	db := filepath.Join(dir, "crawl.db")
	args := append([]string{"run", "--db", db, "--rate", "0", "-q", "--keep-body", "--no-sitemaps", seeds}, extract...)
	if code, _, errOut := runIn(t, args...); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	code, out, errOut := runIn(t, "export", "--db", db)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	got := fieldsOf(t, out)
	if len(got) != 4 || got["/"] != nil {
		t.Fatalf("got fields %v; want 4 records, none for / (not matched by --extract-url)", got)
	}
	for _, path := range []string{"/p/1", "/p/2", "/p/3"} {
		f := got[path]
		links, _ := f["links"].([]any)
		if f["heading"] != "Host 0 page "+path[len("/p/"):] || len(links) != 5 || links[4] != "javascript:void(0)" || len(f) != 2 {
			t.Errorf("%s: got fields %v", path, f)
		}
	}

	// Change the selectors and export again: nothing is fetched.
	web.ResetLog()
	code, out, errOut = runIn(t, "export", "--db", db, "--fields", "url,fields", "--extract", "title=title", "--extract", "intro=p@class")
	if code != 0 || errOut != "" {
		t.Fatalf("export --extract: exit %d: %s", code, errOut)
	}
	got = fieldsOf(t, out)
	for path, f := range got {
		if want := map[string]any{"title": "Host 0 page " + strings.TrimPrefix(strings.TrimPrefix(path, "/p/"), "/")}; path != "/" && !reflect.DeepEqual(f, want) {
			t.Errorf("%s: re-exported fields %v, want %v", path, f, want)
		}
	}
	if got["/"]["title"] != "Host 0 page 0" {
		t.Errorf("/: re-exported fields %v, want its title (no --extract-url now)", got["/"])
	}
	if n := len(web.Log()); n != 0 {
		t.Errorf("export --extract made %d requests, want none", n)
	}

	// Without kept bodies, records keep the crawl's fields, and export
	// says so once.
	db2 := filepath.Join(dir, "nobody.db")
	args = append([]string{"run", "--db", db2, "--rate", "0", "-q", "--no-sitemaps", seeds}, extract...)
	if code, _, errOut := runIn(t, args...); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	code, out, errOut = runIn(t, "export", "--db", db2, "--extract", "title=title")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if want := "crawl: --extract: 4 HTML pages have no kept body (crawl run --keep-body keeps them): their fields are those stored by the crawl\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	if f := fieldsOf(t, out)["/p/1"]; f["heading"] != "Host 0 page 1" || f["title"] != nil {
		t.Errorf("/p/1 without a body: fields %v, want the stored ones", f)
	}
}

// TestExtractUsageErrors: a selector, name or regexp that does not parse
// is a usage error naming it (exit 2), before the database is made and
// anything is fetched.
func TestExtractUsageErrors(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 2})
	dir := t.TempDir()
	seeds := writeSeeds(t, dir, web.Seeds())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--extract", "price=.price[data-x"}, `crawl: --extract "price=.price[data-x": price: selector ".price[data-x": `},
		{[]string{"--extract", "h1"}, `crawl: --extract "h1": "h1": want NAME=SELECTOR`},
		{[]string{"--extract", "a b=h1"}, `crawl: --extract "a b=h1": name "a b"`},
		{[]string{"--extract", "a=h1", "--extract", "a[]=p"}, `crawl: --extract "a[]=p": field a given twice`},
		{[]string{"--extract", "a=h1", "--extract-url", "(("}, `crawl: --extract-url "((": `},
		{[]string{"--extract-url", "x"}, `crawl: --extract-url "x": no --extract to limit`},
	} {
		db := filepath.Join(dir, "crawl.db")
		code, _, errOut := runIn(t, append([]string{"run", "--db", db, "--rate", "0", seeds}, tc.args...)...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: got exit %d, %q; want exit 2, one line starting %q", tc.args, code, errOut, tc.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%q: the database was made", tc.args)
		}
		code, _, errOut = runIn(t, append([]string{"export", "--db", db}, tc.args...)...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("export %q: got exit %d, %q; want exit 2, starting %q", tc.args, code, errOut, tc.want)
		}
	}
	if n := len(web.Log()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
	code, _, errOut := runIn(t, "export", "--db", filepath.Join(dir, "none.db"), "--format", "warc", "--extract", "a=b")
	if code != 2 || !strings.Contains(errOut, "--extract: not with --format warc") {
		t.Errorf("export --format warc --extract: exit %d, %q; want exit 2", code, errOut)
	}
}

const extractConfig = `
rate = 0
keep-body = true
no-sitemaps = true

[[host]]
match = "*.example.com"
rate = 0.25

[[extract]]
match = '/p/[12]$'
[extract.fields]
heading = "h1"
"links[]" = "nav a@href"

[[extract]]
match = '/$'
fields = { site = "title", style = "style" }
`

// TestExtractConfigTables: [[extract]] tables give each kind of page its
// fields; crawl config shows them, as TOML that reads back the same; crawl
// export --config takes them.
func TestExtractConfigTables(t *testing.T) {
	cfg := writeFile(t, "crawl.toml", extractConfig)
	code, out, errOut := runIn(t, "config", "--config", cfg)
	if code != 0 {
		t.Fatalf("config: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"[[extract]]\n  match = \"/p/[12]$\"\n  [extract.fields]\n    heading = \"h1\"\n    \"links[]\" = \"nav a@href\"\n",
		"[[extract]]\n  match = \"/$\"\n  [extract.fields]\n    site = \"title\"\n    style = \"style\"\n", "[[host]]\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("crawl config output lacks %q:\n%s", want, out)
		}
	}
	unmarked := func(s string) string {
		return regexp.MustCompile(`(?m)  # (default|file|flag)$`).ReplaceAllString(s, "")
	}
	again := writeFile(t, "again.toml", out)
	if code, out2, errOut := runIn(t, "config", "--config", again); code != 0 || unmarked(out2) != unmarked(out) {
		t.Errorf("crawl config of its own output: exit %d, %s\n%s\nwant\n%s", code, errOut, out2, out)
	}
	// --extract flags beside tables: printed as one more table, first.
	code, out, errOut = runIn(t, "config", "--config", cfg, "--extract", "h[]=h2", "--extract-url", "/x/")
	if want := "[[extract]]\n  match = \"/x/\"\n  [extract.fields]\n    \"h[]\" = \"h2\"\n\n[[extract]]\n  match = \"/p/[12]$\""; code != 0 || !strings.Contains(out, want) || strings.Contains(out, "extract-url") {
		t.Errorf("crawl config --extract with tables: exit %d, %s\n%s\nwant it to contain\n%s", code, errOut, out, want)
	}

	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, LinksPerPage: 2, CrossHost: -1})
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	if code, _, errOut := runIn(t, "run", "--config", cfg, "--db", db, "-q", writeSeeds(t, dir, web.Seeds())); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	code, out, errOut = runIn(t, "export", "--db", db, "--fields", "url,fields")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	got := fieldsOf(t, out)
	if f := got["/"]; !reflect.DeepEqual(f, map[string]any{"site": "Host 0 page 0", "style": "body { font-family: sans-serif; } nav a { display: block; }"}) {
		t.Errorf("/: fields %v", f)
	}
	if f := got["/p/2"]; f["heading"] != "Host 0 page 2" || len(f["links"].([]any)) != 5 {
		t.Errorf("/p/2: fields %v", f)
	}
	if f := got["/p/3"]; f != nil {
		t.Errorf("/p/3: fields %v, want none", f)
	}

	// The same tables at export time, from the kept bodies.
	code, out2, errOut := runIn(t, "export", "--db", db, "--fields", "url,fields", "--config", cfg)
	if code != 0 || out2 != out {
		t.Errorf("export --config: exit %d, %s\n%s\nwant\n%s", code, errOut, out2, out)
	}
}

func TestExtractConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"[[extract]]\nmatch = 'x'\n[extract.fields]\nprice = '.price['\n", `[[extract]] 1 (match "x"): field "price" = ".price[": price: selector ".price["`},
		{"[[extract]]\nmatch = '(('\nfields = { a = 'b' }\n", `[[extract]] 1 (match "(("): match: `},
		{"[[extract]]\nmatch = 'x'\n", `[[extract]] 1 (match "x"): no fields`},
		{"[[extract]]\nfields = { a = 'b' }\nselector = 'p'\n", `[[extract]]: unknown key "selector"`},
		{"[[extract]]\nfields = { a = 1 }\n", `[[extract]]: `},
	} {
		cfg := writeFile(t, "crawl.toml", tc.file)
		for _, cmd := range []string{"config", "run", "export"} {
			code, _, errOut := runIn(t, cmd, "--config", cfg, "--db", filepath.Join(t.TempDir(), "x.db"))
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("%s with %q: exit %d, %q; want exit 2 and %q", cmd, tc.file, code, errOut, tc.want)
			}
		}
	}
}

// TestExtractKeyInConfig: a config file may also give the flags as keys.
func TestExtractKeyInConfig(t *testing.T) {
	cfg := writeFile(t, "crawl.toml", "extract = ['h=h1', 'all[]=p']\nextract-url = '/p/'\n")
	code, out, errOut := runIn(t, "config", "--config", cfg)
	if code != 0 {
		t.Fatalf("config: exit %d: %s", code, errOut)
	}
	if got, want := setting(t, out, "extract"), `extract = ["h=h1", "all[]=p"]  # file`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
