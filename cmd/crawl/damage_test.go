package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// The tests here damage a real crawl database in the ways disks and copies
// do, and check that every command says so in one line without panicking,
// that crawl repair keeps every record on an undamaged page, and that a
// crawl resumed from the repaired database ends with the whole site.
//
// The pages of the file are read here from its bytes (the layout of
// go.etcd.io/bbolt/internal/common), independently of the store's reader:
// a page header is id u64, flags u16, count u16, overflow u32; a leaf
// element flags, pos, ksize, vsize (u32 each), its key pos bytes after it.

// rawPage is a page of a bbolt file as its header says.
type rawPage struct {
	id, flags, count, overflow int
	keys8                      bool // every element's key is 8 bytes
	first                      []byte
	value0                     []byte // a leaf's first value
	children                   []int  // a branch's
}

// rawPages reads the header and elements of every page of a bbolt file.
func rawPages(data []byte, pageSize int) []rawPage {
	le := binary.LittleEndian
	var out []rawPage
	for id := 2; (id+1)*pageSize <= len(data); id++ {
		b := data[id*pageSize : (id+1)*pageSize]
		p := rawPage{id: int(le.Uint64(b)), flags: int(le.Uint16(b[8:])), count: int(le.Uint16(b[10:])), overflow: int(le.Uint32(b[12:])), keys8: true}
		if p.id != id || p.flags != 1 && p.flags != 2 || 16+16*p.count > pageSize {
			continue
		}
		for i := range p.count {
			e := b[16+16*i:]
			switch p.flags {
			case 1:
				if le.Uint32(e[4:]) != 8 {
					p.keys8 = false
				}
				p.children = append(p.children, int(le.Uint64(e[8:])))
			case 2:
				pos, ks, vs := int(le.Uint32(e[4:])), int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
				if ks != 8 {
					p.keys8 = false
				}
				if i == 0 && 16+pos+ks+vs <= len(b)-16*i {
					p.value0 = e[pos+ks : pos+ks+vs]
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// recordLeaves returns the leaf pages of a file that hold records (8-byte
// keys, S2 values) and are in use (in live), by id.
func recordLeaves(pages []rawPage, live map[int]string) map[int]rawPage {
	out := map[int]rawPage{}
	for _, p := range pages {
		if p.flags == 2 && p.count > 0 && p.keys8 && len(p.value0) > 0 && p.value0[0] == 'S' && live[p.id] == "records" {
			out[p.id] = p
		}
	}
	return out
}

// newestMeta returns the offset of the meta (page 0 or 1) with the higher
// transaction id.
func newestMeta(d []byte, ps int) int {
	txid := func(m int) uint64 { return binary.LittleEndian.Uint64(d[m*ps+16+48:]) }
	if txid(1) > txid(0) {
		return ps
	}
	return 0
}

// livePages walks an intact file's trees from its newest meta page and
// returns the top-level bucket of every page in use, and the high-water
// mark (the pages in use are below it).
func livePages(d []byte, ps int) (map[int]string, int) {
	le := binary.LittleEndian
	meta := d[newestMeta(d, ps)+16:]
	live := map[int]string{}
	var walk func(id int, bucket string)
	walk = func(id int, bucket string) {
		b := d[id*ps:]
		flags, count, over := le.Uint16(b[8:]), int(le.Uint16(b[10:])), int(le.Uint32(b[12:]))
		for i := range over + 1 {
			live[id+i] = bucket
		}
		for i := range count {
			e := b[16+16*i:]
			if flags == 1 {
				walk(int(le.Uint64(e[8:])), bucket)
				continue
			}
			pos, ks := int(le.Uint32(e[4:])), int(le.Uint32(e[8:]))
			if le.Uint32(e[0:])&1 == 0 {
				continue
			}
			name := bucket
			if name == "" {
				name = string(e[pos : pos+ks])
			}
			if root := int(le.Uint64(e[pos+ks:])); root != 0 {
				walk(root, name)
			}
		}
	}
	walk(int(le.Uint64(meta[16:])), "")
	return live, int(le.Uint64(meta[40:]))
}

// recordsOnPages returns the URLs of the records on the given leaf pages of
// the intact database at path, through bbolt and the URL index.
func recordsOnPages(t *testing.T, path string, data []byte, pageSize int, leaves []rawPage) map[string]bool {
	t.Helper()
	db, err := bolt.Open(path, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bySeq := map[uint64]string{}
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("urls")).ForEach(func(k, v []byte) error {
			bySeq[binary.BigEndian.Uint64(v)] = string(k)
			return nil
		})
	})
	le := binary.LittleEndian
	out := map[string]bool{}
	for _, p := range leaves {
		b := data[p.id*pageSize:]
		for i := range p.count {
			e := b[16+16*i:]
			pos := int(le.Uint32(e[4:]))
			if u, ok := bySeq[binary.BigEndian.Uint64(e[pos:pos+8])]; ok {
				out[u] = true
			}
		}
	}
	return out
}

// damage is one way of hurting a database file.
type damage struct {
	name string
	// hurt returns the damaged copy of data and the byte ranges it changed
	// (or, for a truncation, everything past the cut).
	hurt func(data []byte, f *fileInfo) ([]byte, [][2]int)
}

// scatter overwrites n random bytes within [from, to) of data.
func scatter(rng *rand.Rand, data []byte, from, to, n int) [][2]int {
	var r [][2]int
	for range n {
		at := from + rng.IntN(to-from)
		data[at] = byte(rng.IntN(256))
		r = append(r, [2]int{at, at + 1})
	}
	return r
}

// fileInfo describes an intact database file.
type fileInfo struct {
	pageSize int
	hwm      int             // pages in use are below it
	pages    []rawPage       // every page that parses
	live     map[int]string  // pages in use → their top-level bucket
	leaves   map[int]rawPage // the leaf pages of records in use
}

func damages(rng *rand.Rand) []damage {
	middle := func(ids []int) int {
		slices.Sort(ids)
		return ids[len(ids)/2]
	}
	return []damage{
		{name: "leaf page of records", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			var ids []int
			for id := range f.leaves {
				ids = append(ids, id)
			}
			id := middle(ids)
			return d, scatter(rng, d, id*f.pageSize, (id+1)*f.pageSize, 40)
		}},
		{name: "branch page of records", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			var ids []int
			for _, p := range f.pages {
				if p.flags == 1 && f.live[p.id] == "records" {
					ids = append(ids, p.id)
				}
			}
			id, ps := middle(ids), f.pageSize
			// Its header and elements: what a branch is read by.
			return d, scatter(rng, d, id*ps, id*ps+16+16*int(binary.LittleEndian.Uint16(d[id*ps+10:])), 12)
		}},
		{name: "newest meta page", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			m := newestMeta(d, f.pageSize)
			return d, scatter(rng, d, m+16, m+80, 8)
		}},
		{name: "both meta pages", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			ps := f.pageSize
			return d, append(scatter(rng, d, 16, 80, 8), scatter(rng, d, ps+16, ps+80, 8)...)
		}},
		{name: "free pages (the free list)", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			// The store keeps no free list in the file (bbolt rebuilds it
			// from the trees at each read-write open): what stands for it
			// are the free pages themselves, below the high-water mark and
			// in no tree.
			var hurt [][2]int
			for id := 2; id < f.hwm && len(hurt) < 4*40; id++ {
				if _, used := f.live[id]; !used {
					hurt = append(hurt, scatter(rng, d, id*f.pageSize, (id+1)*f.pageSize, 40)...)
				}
			}
			if len(hurt) == 0 {
				panic("no free page")
			}
			return d, hurt
		}},
		{name: "truncated", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			cut := f.hwm * 2 / 3 * f.pageSize
			return d[:cut], [][2]int{{cut, len(d)}}
		}},
		{name: "zeroed range", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			var ids []int
			for id := range f.leaves {
				ids = append(ids, id)
			}
			from := middle(ids) * f.pageSize
			clear(d[from : from+4*f.pageSize])
			return d, [][2]int{{from, from + 4*f.pageSize}}
		}},
		{name: "170 bytes over 16 KiB a third in", hurt: func(d []byte, f *fileInfo) ([]byte, [][2]int) {
			from := f.hwm * f.pageSize / 3
			return d, scatter(rng, d, from, from+16<<10, 170)
		}},
	}
}

var (
	panicked = regexp.MustCompile(`panic|goroutine \d|runtime error|SIGSEGV`)
	kept     = regexp.MustCompile(`kept (\d+) records, (\d+) pending URLs`)
	lost     = regexp.MustCompile(`lost (\d+) records?`)
	requeued = regexp.MustCompile(`queued (\d+) URLs? again`)
)

// TestDamagedDatabase crawls part of a site, damages copies of the database
// in several ways, and checks for each:
//
//   - run, export, export --keep-going and stats --keep-going do not panic,
//     fail (if they fail) with exit 1 and one line naming the file, and
//     leave a file they refuse untouched; --keep-going exports every
//     record it can read and counts the others;
//   - repair writes a new database holding at least every record of the
//     leaf pages that the damage did not touch;
//   - a crawl resumed from the repaired database ends with every page of
//     the site, each once.
func TestDamagedDatabase(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 3, PagesPerHost: 60})
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	// Part of the site, so that the frontier holds pending URLs too.
	if code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q", "--max-pages", "120", "--batch-size", "16", seeds); code != 0 {
		t.Fatalf("crawl: exit %d: %s", code, errOut)
	}
	whole := readFile(t, db)
	f := &fileInfo{pageSize: int(binary.LittleEndian.Uint32(whole[16+8:]))}
	ps := f.pageSize
	f.pages = rawPages(whole, ps)
	f.live, f.hwm = livePages(whole, ps)
	f.leaves = recordLeaves(f.pages, f.live)
	if n := len(f.leaves); n < 10 {
		t.Fatalf("%d leaf pages of records: too few to damage one", n)
	}
	// The race detector makes each process sleep a second at exit (as if
	// it had found a race to report): this test runs about fifty.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	rng := rand.New(rand.NewPCG(17, 17))
	for _, dm := range damages(rng) {
		t.Run(strings.ReplaceAll(dm.name, " ", "_"), func(t *testing.T) {
			data, hurt := dm.hurt(slices.Clone(whole), f)
			// The records that repair must keep: those on leaf pages the
			// damage left whole.
			var intact []rawPage
			for _, p := range f.leaves {
				from, to := p.id*ps, (p.id+1+p.overflow)*ps
				if !slices.ContainsFunc(hurt, func(r [2]int) bool { return r[0] < to && from < r[1] }) {
					intact = append(intact, p)
				}
			}
			mustKeep := recordsOnPages(t, db, whole, ps, intact)

			tdir := t.TempDir()
			write := func(name string) string {
				path := filepath.Join(tdir, name)
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				return path
			}
			noPanic := func(what, stderr string) {
				t.Helper()
				if panicked.MatchString(stderr) {
					t.Fatalf("%s panicked: %.2000s", what, stderr)
				}
			}

			// run: goes on where the damage is outside what it reads (free
			// pages, the older meta page, the bytes of a record); else one
			// line naming the file and the repair, and the file untouched.
			runDB := write("run.db")
			code, _, errOut := run(t, "run", "--db", runDB, "--rate", "0", "-q")
			noPanic("run", errOut)
			runSays := "ok"
			if code != 0 {
				wantOneLineError(t, "run", code, errOut, runDB, "crawl repair --db "+runDB)
				if string(readFile(t, runDB)) != string(data) {
					t.Errorf("run changed the file it refused")
				}
				runSays = strings.TrimSpace(errOut)
			}

			src := write("damaged.db")
			ecode, out, errOut := run(t, "export", "--db", src)
			noPanic("export", errOut)
			exportN := strings.Count(out, "\n")
			if ecode != 0 {
				wantOneLineError(t, "export", ecode, errOut, "crawl repair --db "+src)
			}
			kcode, kout, kerr := run(t, "export", "--db", src, "--keep-going")
			noPanic("export --keep-going", kerr)
			keepN := strings.Count(kout, "\n")
			if kcode != 0 && (kcode != 1 || !strings.Contains(kerr, "unreadable") && !strings.Contains(kerr, "missing")) {
				t.Errorf("export --keep-going: exit %d, stderr %q", kcode, kerr)
			}
			scode, _, serr := run(t, "stats", "--db", src, "--keep-going")
			noPanic("stats --keep-going", serr)
			if scode != 0 && scode != 1 {
				t.Errorf("stats --keep-going: exit %d: %s", scode, serr)
			}

			fixed := filepath.Join(tdir, "fixed.db")
			code, _, errOut = run(t, "repair", "--db", src, "-o", fixed)
			noPanic("repair", errOut)
			if code != 0 {
				t.Fatalf("repair: exit %d: %s", code, errOut)
			}
			if string(readFile(t, src)) != string(data) {
				t.Errorf("repair changed its input")
			}
			got := exported(t, fixed)
			for u := range mustKeep {
				if got[u] == nil {
					t.Errorf("repair lost %s, whose leaf page was not damaged", u)
				}
			}
			repKept, repLost, repQueued := submatch(kept, errOut), submatch(lost, errOut), submatch(requeued, errOut)
			repairSays := errOut

			// Resume from the repaired database: the whole site.
			web.ResetLog()
			code, _, errOut = run(t, "run", "--db", fixed, "--rate", "0", "-q")
			if code != 0 {
				t.Fatalf("crawl of the repaired database: exit %d: %s", code, errOut)
			}
			final := exported(t, fixed)
			complete := slices.Equal(keys(final), web.Pages())
			if !complete {
				var missing []string
				for _, u := range web.Pages() {
					if final[u] == nil {
						missing = append(missing, u)
					}
				}
				t.Errorf("the resumed crawl ended with %d pages, the site has %d (missing %v); repair said:\n%s\nthe crawl:\n%s", len(final), len(web.Pages()), missing, repairSays, errOut)
			}
			t.Logf("%s: run: %s | export: exit %d, %d records | --keep-going: exit %d, %d records (%s) | repair: kept %s records (%d on intact leaves), lost %s, queued %s again | resumed crawl: %d fetches, %d/%d pages",
				dm.name, runSays, ecode, exportN, kcode, keepN, lastLine(kerr), repKept, len(mustKeep), repLost, repQueued,
				pageRequestCount(web), len(final), len(web.Pages()))
		})
	}
}

// submatch returns re's first group in s, or "?".
func submatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return "?"
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	last := ""
	for sc.Scan() {
		last = sc.Text()
	}
	return last
}

// TestRepairUndamaged: repairing a sound database keeps everything, queues
// nothing again, and says it lost nothing; it refuses to overwrite a file.
func TestRepairUndamaged(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0") // see TestDamagedDatabase
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 20})
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	if code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q", "--max-pages", "25", writeSeeds(t, dir, web.Seeds())); code != 0 {
		t.Fatalf("crawl: exit %d: %s", code, errOut)
	}
	fixed := filepath.Join(dir, "fixed.db")
	code, _, errOut := run(t, "repair", "--db", db, "-o", fixed)
	if code != 0 || !strings.Contains(errOut, "lost nothing") {
		t.Fatalf("repair: exit %d: %s", code, errOut)
	}
	before, after := exported(t, db), exported(t, fixed)
	if b, a := mustJSON(before), mustJSON(after); string(a) != string(b) {
		t.Errorf("the repaired database exports differently")
	}
	var sb, sa map[string]any
	for db, s := range map[string]*map[string]any{db: &sb, fixed: &sa} {
		code, out, errOut := run(t, "stats", "--db", db, "--json")
		if code != 0 || json.Unmarshal([]byte(out), s) != nil {
			t.Fatalf("stats %s: exit %d: %s", db, code, errOut)
		}
	}
	if fmt.Sprint(sb["pending"]) != fmt.Sprint(sa["pending"]) {
		t.Errorf("pending %v after repair, %v before", sa["pending"], sb["pending"])
	}
	code, _, errOut = run(t, "repair", "--db", db, "-o", fixed)
	wantOneLineError(t, "repair into an existing file", code, errOut, fixed, "exists")
}

// TestExportKeepGoing: a record whose bytes are damaged, the pages around it
// sound, stops export and stats with one line naming it; --keep-going
// writes every other record, and exits 1 counting the one it skipped.
func TestExportKeepGoing(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0") // see TestDamagedDatabase
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 20})
	db := crawled(t, web, t.TempDir())
	bad := web.Pages()[7]

	// Overwrite the length at the head of bad's S2 block (after the
	// marker byte) with a varint that never ends.
	bdb, err := bolt.Open(db, 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var v []byte
	bdb.View(func(tx *bolt.Tx) error {
		v = slices.Clone(tx.Bucket([]byte("records")).Get(tx.Bucket([]byte("urls")).Get([]byte(bad))))
		return nil
	})
	bdb.Close()
	data := readFile(t, db)
	at := strings.Index(string(data), string(v))
	if len(v) < 16 || at < 0 {
		t.Fatalf("record of %s not found in the file", bad)
	}
	copy(data[at+1:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if err := os.WriteFile(db, data, 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := run(t, "export", "--db", db)
	wantOneLineError(t, "export", code, errOut, bad, "--keep-going", "crawl repair --db "+db)
	code, _, errOut = run(t, "stats", "--db", db)
	wantOneLineError(t, "stats", code, errOut, bad, "--keep-going")

	out := filepath.Join(t.TempDir(), "pages.jsonl")
	code, _, errOut = run(t, "export", "--db", db, "--keep-going", "-o", out)
	wantOneLineError(t, "export --keep-going", code, errOut, "1 unreadable record skipped", bad)
	if got, want := strings.Count(string(readFile(t, out)), "\n"), len(web.Pages())-1; got != want {
		t.Errorf("export --keep-going wrote %d records, want %d", got, want)
	}
	code, stdout, errOut := run(t, "stats", "--db", db, "--keep-going")
	wantOneLineError(t, "stats --keep-going", code, errOut, "1 unreadable record skipped")
	if !regexp.MustCompile(`(?m)^unreadable\s+1 record$`).MatchString(stdout) {
		t.Errorf("stats --keep-going printed no unreadable count:\n%s", stdout)
	}
}

// TestRunDamagedDigestLog: a crawl database whose digest log has a
// damaged entry is refused by run with one line naming the file and the
// repair, and left as it is; the repaired file crawls on.
func TestRunDamagedDigestLog(t *testing.T) {
	t.Setenv("GORACE", "atexit_sleep_ms=0") // see TestDamagedDatabase
	web := crawltest.New(t, crawltest.Config{Hosts: 1, PagesPerHost: 5})
	dir := t.TempDir()
	db := crawled(t, web, dir)
	boltUpdate(t, db, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("payloads"))
		if b == nil {
			return fmt.Errorf("the crawl wrote no digest log")
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, 1<<40), []byte("seven b"))
	})
	before := readFile(t, db)
	code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "-q")
	wantOneLineError(t, "run", code, errOut, db, "payloads", "crawl repair --db "+db)
	if string(readFile(t, db)) != string(before) {
		t.Error("run changed the file it refused")
	}
	fixed := filepath.Join(dir, "fixed.db")
	if code, _, errOut := run(t, "repair", "--db", db, "-o", fixed); code != 0 {
		t.Fatalf("repair: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run(t, "run", "--db", fixed, "--rate", "0", "-q"); code != 0 {
		t.Errorf("run on the repaired file: exit %d: %s", code, errOut)
	}
}
