package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// articleRecord exports url,text,main_text and returns the article page's.
func articleRecord(t *testing.T, d *testDB, args ...string) map[string]string {
	t.Helper()
	code, out, errOut := runIn(t, append([]string{"export", "--db", d.path, "--host", d.web.Hosts()[0]}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["url"] == d.web.Seeds()[0]+"p/6" {
			rec := map[string]string{}
			for k, v := range m {
				if s, ok := v.(string); ok {
					rec[k] = s
				}
			}
			return rec
		}
	}
	t.Fatalf("no article page in:\n%s", out)
	return nil
}

func TestExportMainText(t *testing.T) {
	d := buildDB(t, true)
	rec := articleRecord(t, d, "--fields", "url,text,main_text")
	main := rec["main_text"]
	for _, want := range []string{"After a pause of eleven years", "in time for the first ferries", "Local councils along the route"} {
		if !strings.Contains(main, want) {
			t.Errorf("main_text lacks the article's %q:\n%s", want, main)
		}
	}
	for _, boiler := range []string{"Subscribe to our newsletter", "Weather", "Copyright 2026", "Cookie settings"} {
		if strings.Contains(main, boiler) {
			t.Errorf("main_text keeps boilerplate %q:\n%s", boiler, main)
		}
		if !strings.Contains(rec["text"], boiler) {
			t.Errorf("text lacks %q: the test page is not what it should be", boiler)
		}
	}

	// --main-text adds the field to the whole record.
	rec = articleRecord(t, d, "--main-text")
	if rec["main_text"] != main || rec["title"] != "Night trains return" || rec["body"] == "" {
		t.Errorf("--main-text: got main_text %.60q, title %q, body %d bytes", rec["main_text"], rec["title"], len(rec["body"]))
	}
}

// TestExportMainTextNoBody checks the fall-back on the stored text when the
// crawl kept no bodies.
func TestExportMainTextNoBody(t *testing.T) {
	d := buildDB(t, false)
	rec := articleRecord(t, d, "--fields", "url,text,main_text")
	if rec["main_text"] != rec["text"] || rec["text"] == "" {
		t.Errorf("main_text %q, want the stored text %q", rec["main_text"], rec["text"])
	}
}
