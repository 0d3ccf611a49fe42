package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

func TestUsageExitCodes(t *testing.T) {
	seeds := writeFile(t, "seeds.txt", "http://127.0.0.1:9/\n")
	db := filepath.Join(t.TempDir(), "u.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"stat"}, `did you mean "stats"?`},
		{[]string{"runn"}, `did you mean "run"?`},
		{[]string{"run", "--rate", "fast", "--db", db, seeds}, `--rate "fast": not a number`},
		{[]string{"run", "--workers", "many", "--db", db, seeds}, `--workers "many": not a whole number`},
		{[]string{"run", "--grace", "soon", "--db", db, seeds}, `--grace "soon": not a duration`},
		{[]string{"run", "--workers", "0", "--db", db, seeds}, "--workers 0: need at least 1"},
		{[]string{"run", "--log-format", "xml", "--db", db, seeds}, `--log-format "xml": want text or json`},
		{[]string{"run", "--db", db, seeds, "extra"}, "accepts at most 1 arg"},
		{[]string{"run", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"stats", "--top", "-1"}, "--top -1"},
		{[]string{"stats", "extra"}, "unknown command"},
		{[]string{"export", "--status", "abc"}, `--status: status "abc"`},
	} {
		code, out, errOut := runIn(t, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("crawl %v: exit %d, stdout %q, stderr %q; want 2 and one line with %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a usage error created the database: %v", err)
	}
}

func TestVersionHelpCompletion(t *testing.T) {
	code, out, _ := runIn(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "crawl version ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, %q", code, out)
	}
	code, out, _ = runIn(t, "help", "export")
	if code != 0 || !strings.Contains(out, "--content-type") || !strings.Contains(out, "crawl export --db") {
		t.Errorf("help export: exit %d, %.200q", code, out)
	}
	code, out, _ = runIn(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d, %.100q", code, out)
	}
}

// lineWriter is a concurrency-safe writer that reports its first write.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
	once  sync.Once
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.first) })
	return w.buf.Write(p)
}

// TestProgressJSON checks that progress off a terminal is slog lines, here
// JSON, with the hosts by state.
func TestProgressJSON(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "p.db"), &store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := crawler.New(crawler.Config{}, st, fetch.New(fetch.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	w := &lineWriter{first: make(chan struct{})}
	stop := startProgress(c, &stderrLine{w: w}, slog.New(slog.NewJSONHandler(w, nil)), false, time.Millisecond)
	select {
	case <-w.first:
	case <-time.After(10 * time.Second):
		t.Fatal("no progress line in 10s")
	}
	stop()
	first, _, _ := strings.Cut(w.buf.String(), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(first), &m); err != nil {
		t.Fatalf("progress line %q is not JSON: %v", first, err)
	}
	for _, k := range []string{"time", "level", "msg", "stored", "pages_per_s", "queued", "in_flight", "hosts", "ready", "waiting", "held", "errors", "bytes", "elapsed"} {
		if _, ok := m[k]; !ok {
			t.Errorf("progress line lacks %q: %s", k, first)
		}
	}
	if m["msg"] != "progress" {
		t.Errorf("msg = %v, want progress", m["msg"])
	}
}

// TestSignalExitCodes builds the command, starts a crawl held on a page of
// the test web, signals it, and checks the exit code and that the database
// is left consistent for the next run.
func TestSignalExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := crawlBin // built by TestMain
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 4, CrossHost: -1})
			entered := make(chan struct{}, 1)
			web.Handle(0, "/p/1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-r.Context().Done() // held until the crawler gives up on it
			}))
			seeds := writeFile(t, "seeds.txt", web.Seeds()[0]+"\n")
			db := filepath.Join(t.TempDir(), "s.db")
			cmd := exec.Command(bin, "run", "--db", db, "--rate", "0", "--grace", "50ms", "--quiet", seeds)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-entered:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the crawl did not reach the held page in 30s")
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Fatalf("exit %d (%v), want %d; stderr:\n%s", code, err, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stderr.String(), "run the same command again") {
				t.Errorf("stderr lacks the interrupted summary:\n%s", stderr.String())
			}
			st, err := store.Open(db, &store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			counts, _ := st.Counts()
			if counts.Pending == 0 {
				t.Errorf("no URL pending after the interrupt: %+v", counts)
			}
		})
	}
}
