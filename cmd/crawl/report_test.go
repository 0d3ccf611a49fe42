package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
)

// TestReportAttempts: -v logs a failed record's attempts from its field when
// it was tried more than once, and its reason groups with the same error
// tried once.
func TestReportAttempts(t *testing.T) {
	var buf bytes.Buffer
	r := newRunReport(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.page(&store.Page{URL: "http://a.test/1", Status: 503, Error: "http 503 Service Unavailable", Attempts: 4})
	r.page(&store.Page{URL: "http://a.test/2", Status: 503, Error: "http 503 Service Unavailable", Attempts: 1})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `err="http 503 Service Unavailable" attempts=4`) || strings.Contains(lines[1], "attempts") {
		t.Errorf("log:\n%s\nwant attempts=4 on the first line only", buf.String())
	}
	if top, more := r.topReasons(3); len(top) != 1 || more != 0 || top[0] != (export.Count{Key: "http 503 Service Unavailable", N: 2}) {
		t.Errorf("reasons %v (+%d), want http 503 Service Unavailable ×2", top, more)
	}
}
