package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
)

// summary returns the summary of d with host addresses anonymised and times
// dropped, so that it is the same on every run.
func (d *testDB) summary(t *testing.T) *export.Summary {
	t.Helper()
	st, err := store.Open(d.path, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := export.Summarize(st, 10)
	if err != nil {
		t.Fatal(err)
	}
	sum.FirstFetch, sum.LastFetch = nil, nil
	for i := range sum.TopHosts {
		sum.TopHosts[i].Host = d.anonymise(sum.TopHosts[i].Host)
	}
	for i := range sum.Errors {
		sum.Errors[i].Key = d.anonymise(sum.Errors[i].Key)
	}
	return sum
}

// TestStatsGolden compares the text and JSON of a summary with the golden
// files (go test -update rewrites them). Host names are anonymised; body
// sizes include the test web's absolute links, whose ports Linux picks from
// 32768–60999, always five digits, so the byte counts are stable.
func TestStatsGolden(t *testing.T) {
	d := buildDB(t, false)
	sum := d.summary(t)

	var text bytes.Buffer
	if err := writeStats(&text, sum); err != nil {
		t.Fatal(err)
	}
	golden(t, "stats.golden", text.Bytes())

	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "stats.json.golden", append(js, '\n'))
}

// TestStatsCommand runs `crawl stats` on the database and checks that it
// prints what the golden test rendered, and JSON that decodes to it.
func TestStatsCommand(t *testing.T) {
	d := buildDB(t, false)
	code, out, errOut := runIn(t, "stats", "--db", d.path)
	if code != 0 {
		t.Fatalf("crawl stats: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"pages ", "status\n", "  4xx ", "top hosts ", "errors\n", "redirect loop", "EOF", "depth\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, d.web.Hosts()[0]) {
		t.Errorf("stats output does not name host %s:\n%s", d.web.Hosts()[0], out)
	}

	code, out, errOut = runIn(t, "stats", "--db", d.path, "--json")
	if code != 0 {
		t.Fatalf("crawl stats --json: exit %d, stderr %q", code, errOut)
	}
	var got export.Summary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	want := d.summary(t)
	if got.Pages != want.Pages || got.Pending != want.Pending || len(got.Depth) != len(want.Depth) {
		t.Errorf("stats --json: got pages %d pending %d depths %d, want %d %d %d",
			got.Pages, got.Pending, len(got.Depth), want.Pages, want.Pending, len(want.Depth))
	}
	if got.FirstFetch == nil || got.LastFetch == nil || got.LastFetch.Before(*got.FirstFetch) {
		t.Errorf("stats --json: fetch times %v … %v", got.FirstFetch, got.LastFetch)
	}
}

// TestStatsLocked checks that stats fails at once, naming the file, when a
// crawl holds the database.
func TestStatsLocked(t *testing.T) {
	d := buildDB(t, false)
	st, err := store.Open(d.path, nil) // as a running crawl does
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errOut := runIn(t, "stats", "--db", d.path)
	if code != 1 || !strings.Contains(errOut, d.path) || !strings.Contains(errOut, "in use") {
		t.Errorf("stats on a locked db: exit %d, stderr %q; want 1 and a message naming the file", code, errOut)
	}
}

func TestStatsMissing(t *testing.T) {
	code, _, errOut := runIn(t, "stats", "--db", t.TempDir()+"/nope.db")
	if code != 1 || !strings.Contains(errOut, "nope.db") {
		t.Errorf("stats on a missing db: exit %d, stderr %q", code, errOut)
	}
}
