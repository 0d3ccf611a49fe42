package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
	bolt "go.etcd.io/bbolt"
)

// crawled crawls web completely into a new database and returns its path.
func crawled(t *testing.T, web *crawltest.Web, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "crawl.db")
	if code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q", writeSeeds(t, dir, web.Seeds())); code != 0 {
		t.Fatalf("crawl: exit %d: %s", code, errOut)
	}
	return db
}

// boltUpdate changes the database at path with bbolt itself, as another
// version of the crawl (or damage) would.
func boltUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// readFile returns the bytes of path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantOneLineError checks that a command failed with exit code 1 and one
// line on stderr, "crawl: …", containing every one of want.
func wantOneLineError(t *testing.T, what string, code int, stderr string, want ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit %d, want 1; stderr %q", what, code, stderr)
	}
	if !strings.HasPrefix(stderr, "crawl: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("%s: stderr %q, want one line \"crawl: …\"", what, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr %q does not contain %q", what, stderr, w)
		}
	}
}

// TestBadSeedFilesChangeNothing: a seed file that is missing, empty, binary,
// or has a bad line stops `crawl run` with one line naming the file (and the
// line), before any request and without touching the existing database.
func TestBadSeedFilesChangeNothing(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 3})
	dir := t.TempDir()
	db := crawled(t, web, dir)
	before := readFile(t, db)
	web.ResetLog()
	good := web.Seeds()[0]
	for _, tt := range []struct {
		name    string
		content []byte // nil: the file does not exist
		want    string // after the file name
	}{
		{"missing", nil, ": no such file"},
		{"empty", []byte{}, ": no seed URLs"},
		{"comments", []byte("# nothing\n\n   # here\n"), ": no seed URLs"},
		{"binary", []byte(good + "\n\x7fELF\x02\x01\x01\x00\x00\x00\x00\n"), ":2: not text"},
		{"latin1", []byte(good + "\n# caf\xe9\n"), ":2: not text"},
		{"bad line", []byte(good + "\n\nwww.example.com/no-scheme\n"), ":3: "},
		{"two per line", []byte(good + " " + good + "\n"), ":1: "},
		{"other scheme", []byte("# x\n" + good + "\nftp://127.0.0.1/\n"), ":3: "},
		{"long line", []byte(good + "\n" + good + strings.Repeat("a", 1<<17) + "\n"), ":2: line longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seeds := filepath.Join(t.TempDir(), "seeds.txt")
			if tt.content != nil {
				if err := os.WriteFile(seeds, tt.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, errOut := run(t, "run", "--db", db, "--rate", "0", seeds)
			wantOneLineError(t, "bad seed file", code, errOut, seeds+tt.want)
			if n := len(web.Log()); n != 0 {
				t.Errorf("server saw %d requests, want none", n)
			}
			if !bytes.Equal(readFile(t, db), before) {
				t.Errorf("the database changed")
			}
		})
	}
}

// TestDatabaseHeldByAnotherCrawl: a second crawl on a database in use fails
// within a second or so (bounded generously here), naming the file.
func TestDatabaseHeldByAnotherCrawl(t *testing.T) {
	web := blockingWeb(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	start(t, "run", "--db", db, "--rate", "0", "-q", seeds)
	waitPages(t, web, 5)
	begin := time.Now()
	code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q", seeds)
	took := time.Since(begin)
	wantOneLineError(t, "second crawl", code, errOut, db, "in use by another crawl")
	if took > 10*time.Second {
		t.Errorf("second crawl took %v to fail", took)
	}
}

// TestNotADatabase: a file that is not a crawl database, or a truncated
// one, is refused by run and export with one line naming it, and left as it
// was. (A truncated database used to crash the process with a fault.)
func TestNotADatabase(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 30})
	dir := t.TempDir()
	db := crawled(t, web, dir)
	whole := readFile(t, db)
	web.ResetLog()
	seeds := writeSeeds(t, dir, web.Seeds())
	for _, tt := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"text", bytes.Repeat([]byte("http://127.0.0.1/\n"), 1000), "not a crawl database"},
		{"zeros", make([]byte, 64<<10), "not a crawl database"},
		{"truncated", whole[:len(whole)/4], "damaged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			code, _, errOut := run(t, "run", "--db", path, "--rate", "0", seeds)
			wantOneLineError(t, "run", code, errOut, path, tt.want)
			code, out, errOut := run(t, "export", "--db", path)
			wantOneLineError(t, "export", code, errOut, path, tt.want)
			if out != "" {
				t.Errorf("export wrote %d bytes to stdout", len(out))
			}
			if !bytes.Equal(readFile(t, path), tt.content) {
				t.Errorf("the file changed")
			}
			if n := len(web.Log()); n != 0 {
				t.Errorf("server saw %d requests, want none", n)
			}
		})
	}
}

// TestOtherFormat: a database of another format is refused by every
// command with one line naming the file and both formats, and left as it
// was.
func TestOtherFormat(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 5})
	dir := t.TempDir()
	db := crawled(t, web, dir)
	boltUpdate(t, db, func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("0")) })
	before := readFile(t, db)
	web.ResetLog()
	const want = ": database format 0 (written by an older crawl); this crawl reads format 1"
	for _, args := range [][]string{
		{"run", "--db", db, "--rate", "0", writeSeeds(t, dir, web.Seeds())},
		{"export", "--db", db},
		{"export", "--db", db, "--keep-going"},
		{"stats", "--db", db},
		{"repair", "--db", db, "-o", filepath.Join(dir, "new.db")},
	} {
		code, _, errOut := run(t, args...)
		wantOneLineError(t, strings.Join(args[:len(args)-1], " "), code, errOut, db+want)
	}
	if !bytes.Equal(readFile(t, db), before) {
		t.Errorf("the database changed")
	}
	if n := len(web.Log()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

// TestDiskFull runs a crawl whose database cannot grow past 128 KiB
// (RLIMIT_FSIZE via the shell's ulimit: Go ignores SIGXFSZ, so the write
// fails with EFBIG as on a full disk). The crawl must stop with exit code 1
// and an error naming the database, leave what it committed readable and
// consistent, and finish when resumed with the limit lifted.
func TestDiskFull(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash for ulimit")
	}
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 300})
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	args := []string{"run", "--db", db, "--rate", "0", "-q", seeds}

	p := &proc{cmd: exec.Command(bash, append([]string{"-c", `ulimit -f 128 && exec "$0" "$@"`, crawlBin}, args...)...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	code := p.wait(t)
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "crawl: commit to "+db+": ") || !strings.Contains(last, "file too large") {
		t.Fatalf("crawl with a full disk: exit %d, stderr:\n%s\nwant exit 1 and a last line \"crawl: commit to %s: … file too large\"", code, p.stderr.String(), db)
	}
	if !strings.Contains(p.stderr.String(), "crawl: failed: ") {
		t.Errorf("no summary; stderr:\n%s", p.stderr.String())
	}
	if fi, err := os.Stat(db); err != nil || fi.Size() > 128<<10 {
		t.Fatalf("database after the failure: %v, %v", fi, err)
	}
	stored := storedSet(t, db) // opens and checks consistency
	if n := len(exported(t, db)); n != len(stored) {
		t.Fatalf("export of the failed crawl: %d records, the database holds %d", n, len(stored))
	}
	t.Logf("full disk: the crawl stopped with %d of %d pages stored: %s", len(stored), len(web.Pages()), last)

	// Space is back: the same command resumes and finishes the crawl.
	if code, _, errOut := run(t, args...); code != 0 {
		t.Fatalf("resume after the full disk: exit %d: %s", code, errOut)
	}
	if got := keys(exported(t, db)); !slices.Equal(got, web.Pages()) {
		t.Fatalf("after resume: %d pages stored, want %d", len(got), len(web.Pages()))
	}
	for u := range stored {
		if n := web.PageRequests()[u]; n != 1 {
			t.Errorf("%s, stored before the failure, was requested %d times", u, n)
		}
	}
}
