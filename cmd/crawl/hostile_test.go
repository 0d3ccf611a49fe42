package main

import (
	"bufio"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

// Bounds the hostile-server tests assert, generously: a fetch keeps at most
// --max-body (10 MiB) of a body, and the costliest case, 10 MiB of HTML
// parsed into a DOM, peaks at about 180 MiB of resident memory (the DOM
// costs several times the bytes, and the garbage collector lets the heap
// double); the others stay under 100 MiB. The slow-drip case runs with
// --timeout 1s and must end soon after; the others have a timeout long
// enough for a loaded machine, so that they test sizes, not speed.
const (
	maxHostileRSS = 256 << 20 // bytes of peak resident memory
	maxHostileRun = 30 * time.Second
)

// stream writes chunk to w until n bytes are written (n < 0: forever), the
// client goes away or the request is cancelled. It never holds more than one
// chunk in memory.
func stream(w http.ResponseWriter, r *http.Request, chunk []byte, n int64) {
	rc := http.NewResponseController(w)
	for written := int64(0); n < 0 || written < n; written += int64(len(chunk)) {
		if r.Context().Err() != nil {
			return
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		rc.Flush()
	}
}

// hostileCases are servers that try to exhaust the crawler; check looks at
// the stored record of the page.
var hostileCases = []struct {
	name    string
	timeout time.Duration // --timeout [15s]
	handler http.HandlerFunc
	check   func(p *store.Page) error
}{
	{
		name: "1 GB body",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			stream(w, r, []byte(strings.Repeat("<p>lorem ipsum dolor sit amet</p>\n", 2000)), 1<<30)
		},
		check: func(p *store.Page) error {
			if !p.Truncated || p.Size != 10<<20 || p.Status != 200 {
				return fmt.Errorf("status %d, size %d, truncated %v; want 200 and the body cut at 10 MiB", p.Status, p.Size, p.Truncated)
			}
			return nil
		},
	},
	{
		name: "endless chunked stream",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			stream(w, r, []byte(strings.Repeat("all work and no play\n", 3000)), -1)
		},
		check: func(p *store.Page) error {
			if !p.Truncated || p.Size != 10<<20 {
				return fmt.Errorf("size %d, truncated %v; want the body cut at 10 MiB", p.Size, p.Truncated)
			}
			return nil
		},
	},
	{
		name:    "endless slow drip",
		timeout: time.Second,
		handler: crawltest.Drip("<p>drip</p>", 10*time.Millisecond).ServeHTTP,
		check: func(p *store.Page) error {
			if !strings.Contains(p.Error, "body not received within the timeout") || p.Attempts != 1 {
				return fmt.Errorf("error %q after %d attempts, want the fetch timeout, not retried", p.Error, p.Attempts)
			}
			return nil
		},
	},
	{
		name: "100,000 links",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			bw := bufio.NewWriter(w)
			for i := range 100000 { // to a host outside the crawl's scope
				fmt.Fprintf(bw, "<a href=\"http://127.0.0.9/l/%d\">link %d</a>\n", i, i)
			}
			bw.Flush()
		},
		check: func(p *store.Page) error {
			if len(p.Links) != 2000 || p.LinksCut != 98000 || p.Error != "" {
				return fmt.Errorf("%d links stored, %d cut (error %q), want the cap of 2000 and 98000 cut", len(p.Links), p.LinksCut, p.Error)
			}
			return nil
		},
	},
	{
		name: "nested 100,000 deep",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			stream(w, r, []byte(strings.Repeat("<div>", 1000)), 100000*5)
			w.Write([]byte(`deep <a href="/after-the-deep">x</a>`))
		},
		check: func(p *store.Page) error {
			// The streaming tokenizer keeps no stack of open elements: the
			// page is read like any other, to its last word and link.
			if p.Status != 200 || p.Error != "" || p.Text != "deep x" || len(p.Links) != 1 || !strings.HasSuffix(p.Links[0], "/after-the-deep") {
				return fmt.Errorf("status %d, error %q, text %q, links %q; want 200, text \"deep x\" and the link", p.Status, p.Error, p.Text, p.Links)
			}
			return nil
		},
	},
	{
		name: "invalid UTF-8",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<title>caf\xe9 \xff\xfe</title><body>na\xefve \xc3 \xed\xa0\x80 text <a href=\"/\xff\">x</a></body>"))
		},
		check: func(p *store.Page) error {
			if p.Title != "caf\uFFFD \uFFFD" || !strings.Contains(p.Text, "na\uFFFDve") || p.Error != "" {
				return fmt.Errorf("title %q, text %q, error %q; want invalid bytes as U+FFFD", p.Title, p.Text, p.Error)
			}
			return nil
		},
	},
	{
		name: "header flood",
		handler: func(w http.ResponseWriter, r *http.Request) {
			conn, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer conn.Close()
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
			line := "X-Flood: " + strings.Repeat("a", 8000) + "\r\n"
			for i := 0; r.Context().Err() == nil; i++ { // endless headers
				if _, err := bw.WriteString(line); err != nil {
					return
				}
			}
		},
		check: func(p *store.Page) error {
			if !strings.Contains(p.Error, "headers exceeded") {
				return fmt.Errorf("status %d, error %q; want the header size limit", p.Status, p.Error)
			}
			return nil
		},
	},
}

// TestHostileServers crawls, with the real binary, one page served by each
// hostile handler (next to an ordinary page, which must be stored too) and
// checks the stored record, that the process ends soon after the fetch
// timeout, and its peak resident memory (printed for each case).
func TestHostileServers(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 2, LinksPerPage: -1})
			web.Handle(0, "/p/1", tc.handler) // the root links to /p/1
			dir := t.TempDir()
			db := filepath.Join(dir, "c.db")
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 15 * time.Second
			}
			begin := time.Now()
			p := start(t, "run", "--db", db, "--rate", "0", "--timeout", timeout.String(), "-q", writeSeeds(t, dir, web.Seeds()))
			code := p.wait(t)
			took := time.Since(begin)
			if code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, p.stderr.String())
			}
			rss := int64(p.cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) << 10 // KiB on Linux
			t.Logf("%s: peak RSS %.1f MiB, run took %v (fetch timeout %v)", tc.name, float64(rss)/(1<<20), took.Round(time.Millisecond), timeout)
			limit := int64(maxHostileRSS)
			if raceEnabled {
				limit *= 3 // the race detector's shadow memory
			}
			if rss > limit {
				t.Errorf("peak RSS %d MiB, more than %d MiB", rss>>20, limit>>20)
			}
			if took > timeout+maxHostileRun {
				t.Errorf("the crawl took %v with a fetch timeout of %v", took, timeout)
			}

			st, err := store.Open(db, &store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			for _, u := range web.Pages() {
				page, ok, err := st.Page(u)
				if err != nil || !ok {
					t.Fatalf("%s not stored (%v)", u, err)
				}
				if strings.HasSuffix(u, "/p/1") {
					if err := tc.check(page); err != nil {
						t.Errorf("%s: %v", tc.name, err)
					}
				} else if page.Status != 200 || page.Error != "" {
					t.Errorf("ordinary page %s: status %d, error %q", u, page.Status, page.Error)
				}
			}
		})
	}
}
