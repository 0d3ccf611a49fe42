// Package store owns the crawl database: a single bbolt file holding the
// stored pages, the persisted frontier (per-host FIFO queues), the visited set
// and the seeds; every transaction that changes them; the encoding of its
// records (a Page's JSON, S2-compressed); the reads of them, one
// transaction's at a time (View, Snapshot); and the check of a file before
// bbolt trusts it, and the salvage of a damaged one (Salvage, Repair).
// Turning the records into output (JSON, WARC, stats) is package export's.
//
// The schema (all keys and values are bytes):
//
//	meta     "format" → the format's number, 1 (see format.go)
//	records  seq (8 bytes, big endian) → Page as compressed JSON (the export schema; see records.go)
//	urls     normalised URL → seq of its record (the newest version)
//	versions normalised URL → seqs of its earlier records (see versions.go)
//	payloads seq (8 bytes, big endian) → digests of payloads and the records that hold them (see payloads.go)
//	digests  payload digest → the record that holds it, written before payloads (see versions.go)
//	frontier host → bucket of seq (8 bytes, big endian) → uvarint depth ‖ URL
//	seenlog  seq (8 bytes, big endian) → fingerprints (8 bytes each, big endian)
//	seeds    seed URL → empty
//	robots   origin → its last robots.txt answer (see robots.go)
//
// The visited set is a log: each commit appends the fingerprints it marks
// as one value, which costs one write however many there are, where a
// bucket keyed by fingerprint would rewrite a page of the tree for almost
// every one (they are random). It is only ever read whole, at start-up.
//
// A URL is pending while its entry is in frontier and done once it has a
// record. Commit moves fetched URLs from pending to done and queues the links
// they found in one transaction, so that a crash at any moment leaves every
// URL either pending or done: fetching is at-least-once, storing exactly-once.
//
// A Store is safe for concurrent use; bbolt serialises writers.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

var (
	bucketFrontier = []byte("frontier")
	bucketSeenLog  = []byte("seenlog")
	bucketSeeds    = []byte("seeds")
)

// The buckets that every crawl database of this format has.
var formatBuckets = [][]byte{bucketRecords, bucketURLs, bucketFrontier, bucketSeenLog, bucketSeeds}

// Errors returned by Open.
var (
	// ErrLocked means another process (a running crawl) holds the database.
	ErrLocked = errors.New("database is in use by another crawl")
	// ErrNotDatabase means the file exists but is not a crawl database.
	ErrNotDatabase = errors.New("not a crawl database")
	// ErrDamaged means the file is a bbolt database that cannot be read
	// safely: truncated (shorter than its pages need) or corrupt.
	ErrDamaged = errors.New("database file is damaged")
)

// Options configures Open. The zero value means: read-write, wait at most one
// second for the file lock, fsync every commit.
type Options struct {
	// ReadOnly opens the database with a shared lock, for export and stats.
	ReadOnly bool
	// Timeout bounds the wait for the file lock held by another process.
	// Zero means one second; a negative value waits forever.
	Timeout time.Duration
	// NoSync skips fsync after each commit. Only for benchmarks and tests:
	// a power cut may then lose or corrupt the database.
	NoSync bool
}

// Store is an open crawl database.
type Store struct {
	db        *bolt.DB
	path      string
	rssBase   int64 // file-backed resident memory of the process at Open (see afterCommit)
	keepGoing bool  // reads skip unreadable records (see KeepGoing)

	index *lazyPayloads // the digest index, read at its first use (see payloads.go); shared by KeepGoing's view
}

// After a commit that leaves the process with more than mappedBudget of file
// pages mapped, and every dropReadEvery records read in one walk, the store
// drops its mapped file pages (see dropMapped), so that memory stays flat as
// the database grows: a commit alone touches megabytes of the map.
const dropReadEvery = 2048

// Open opens or creates the database at path. It fails with ErrLocked, within
// Options.Timeout, when another crawl holds it, with ErrNotDatabase when the
// file is not a crawl database, and with ErrDamaged when it is truncated or
// its pages are damaged (see checkFile, run by every Open); it never changes
// a file it refuses, and never panics on one.
func Open(path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = time.Second
	case o.Timeout < 0:
		o.Timeout = 0 // bbolt: wait forever
	}
	fi, err := os.Stat(path)
	if err != nil && (o.ReadOnly || !errors.Is(err, os.ErrNotExist)) {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Opening read-write makes bbolt rebuild its free list at once, by
	// walking every page from a goroutine of its own, where a truncated file
	// is a fatal fault that no recover can catch. So an existing database is
	// checked read-only first (no walk) and opened read-write only if sound.
	// The read-only open takes the file's lock and tells a truncated file
	// or one of another program; checkFile then walks the pages itself.
	if !o.ReadOnly && err == nil && fi.Size() > 0 {
		s, err := open(path, &bolt.Options{Timeout: o.Timeout, ReadOnly: true}, true)
		if err != nil {
			return nil, err
		}
		err = checkFile(path)
		if err == nil {
			// A damaged digest log is refused here too, before the file
			// is opened for writing (the store reads the log again at
			// its first commit).
			_, err = s.payloads(nil)
		}
		s.Close()
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	s, err := open(path, &bolt.Options{
		Timeout:        o.Timeout,
		ReadOnly:       o.ReadOnly,
		NoSync:         o.NoSync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}, !o.ReadOnly)
	if err != nil || !o.ReadOnly {
		return s, err
	}
	// Read-only, the lock is held now: no crawl can write while the file
	// is checked.
	if err := checkFile(path); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// open opens path with bbolt and checks it (see init); allowEmpty accepts a
// bbolt file without any bucket, the state a crash during creation leaves.
func open(path string, opts *bolt.Options, allowEmpty bool) (*Store, error) {
	db, err := bolt.Open(path, 0o644, opts)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
		errors.Is(err, bolterrors.ErrChecksum):
		if err := damagedMetas(path); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, ErrNotDatabase)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, rssBase: rssFile(), index: &lazyPayloads{}}
	if err := s.init(!opts.ReadOnly, allowEmpty); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// init checks that the database can be read safely and is of this format
// (see format.go) and, if write, creates the buckets of a new crawl database
// and stamps it with its format. bbolt reads pages through a
// memory map and trusts the file: a page beyond the end of a truncated file
// is a fatal fault, and a corrupt page a panic. So the file's size is checked
// against the high-water mark in the meta page (read without touching any
// other page) before anything else, and faults and panics while reading the
// root are turned into ErrDamaged rather than a crash.
func (s *Store) init(write, allowEmpty bool) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrDamaged, r)
		}
	}()
	err = s.db.View(func(tx *bolt.Tx) error {
		fi, err := os.Stat(s.path)
		if err != nil {
			return err
		}
		if need := tx.Size(); fi.Size() < need {
			return fmt.Errorf("%w: truncated to %d bytes, its pages need %d", ErrDamaged, fi.Size(), need)
		}
		var names []string
		tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
		if err := renamedBucket(names); err != nil {
			return err
		}
		if !slices.ContainsFunc(names, func(n string) bool { return knownBuckets[n] }) {
			// A bbolt file of another program, or a crawl database that
			// was never initialised (a crash while creating it leaves it
			// empty).
			if k, _ := tx.Cursor().First(); k != nil || !allowEmpty {
				return ErrNotDatabase
			}
			return nil
		}
		version, err := formatOf(tx)
		switch {
		case err != nil:
			return err
		case version != formatVersion:
			return &FormatError{Version: version}
		}
		for _, name := range formatBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: the root has no bucket %q, but has %q", ErrDamaged, name, names)
			}
		}
		return nil
	})
	if err != nil || !write {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range slices.Concat(formatBuckets, [][]byte{bucketRobots}) {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if m := tx.Bucket(bucketMeta); m == nil || m.Get(keyFormat) == nil {
			return stamp(tx) // a new database, or one from before the numbers
		}
		return nil
	})
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close closes the database, waiting for open transactions to finish.
func (s *Store) Close() error {
	err := s.db.Close()
	s.index.close()
	return err
}

// Page is one stored record: a fetched page, or the final error of a URL that
// could not be fetched. Its JSON encoding is both the stored value and the
// export schema (documented in README.md).
type Page struct {
	URL         string            `json:"url"`
	FinalURL    string            `json:"final_url"`
	Status      int               `json:"status"`
	ContentType string            `json:"content_type"`
	Headers     map[string]string `json:"headers,omitempty"`
	Title       string            `json:"title"`
	Text        string            `json:"text"`
	Links       []string          `json:"links"`
	// Canonical is the page's <link rel="canonical"> (the first), resolved
	// and normalised like Links.
	Canonical string `json:"canonical,omitempty"`
	// NoIndex and NoFollow are the robots directives that apply to this
	// crawler, from <meta name="robots">, the meta tag of its product
	// token and X-Robots-Tag ("none" is both). A nofollow page's links are
	// recorded but were not followed (unless robots were ignored).
	NoIndex    bool      `json:"noindex,omitempty"`
	NoFollow   bool      `json:"nofollow,omitempty"`
	Depth      int       `json:"depth"`
	FetchedAt  time.Time `json:"fetched_at"`
	DurationMS float64   `json:"duration_ms"`
	Size       int64     `json:"size"`
	Truncated  bool      `json:"truncated,omitempty"`
	Error      string    `json:"error,omitempty"`
	// Skipped marks a URL that was not fetched because robots.txt
	// disallows it (Error says so). Skipped records are not failures.
	Skipped bool `json:"skipped,omitempty"`
	// Attempts is how many times the URL was requested (retries included).
	Attempts int `json:"attempts,omitempty"`
	// LinksCut counts the page's links beyond the crawl's --max-links:
	// neither in Links nor followed. (Past 10,000 distinct links the
	// extractor keeps none and counts every further href, repeats
	// included.)
	LinksCut int `json:"links_cut,omitempty"`
	// NotFollowed counts, by the limit's name, the links of Links that a
	// crawl limit kept from being followed (max-depth, similar-hops,
	// url-length, path-depth, path-repeats). Links out of scope are not
	// counted: they are not limits.
	NotFollowed map[string]int `json:"not_followed,omitempty"`
	// Fields are the values extracted with CSS selectors (crawl run
	// --extract, crawler.Config.Extract): a string for the first match,
	// a []string for an array field (NAME[]), or what a Config.OnHTML
	// hook set. A field whose selector matched nothing is absent. Read
	// back from JSON, arrays are []any.
	Fields map[string]any `json:"fields,omitempty"`
	// Digest is the SHA-1 of the payload (the body as read), written as
	// WARC-Payload-Digest is: "sha1:" and 32 base32 digits (see Digest).
	// Every record with a response has one.
	Digest string `json:"digest,omitempty"`
	// DuplicateOf names the record that holds this record's payload: an
	// earlier fetch of the same URL or of another whose payload had the
	// same digest. The body is stored once, there (see versions.go).
	DuplicateOf *Ref `json:"duplicate_of,omitempty"`
	// NotModified marks a fetch that the server answered 304 Not Modified
	// to a conditional request: the content fields (status, type,
	// headers, title, text, links, digest) are the earlier version's, and
	// Size is what this fetch read.
	NotModified bool `json:"not_modified,omitempty"`
	// SimHash is the 64-bit SimHash of Text, as 16 hex digits: pages whose
	// SimHashes differ in few bits are near-duplicates.
	SimHash string `json:"simhash,omitempty"`
	Body    []byte `json:"body,omitempty"`
	// HTTP is the exchange's status line and headers, kept with the body
	// (crawl run --keep-body) so that a WARC export can rebuild it.
	HTTP *HTTPExchange `json:"http,omitempty"`
}

// HTTPExchange is the part of an HTTP exchange that a WARC record needs
// besides the body: the response's status line and headers and the headers
// the crawler sent. Header keys are canonical; values keep their order.
type HTTPExchange struct {
	StatusLine    string      `json:"status_line"`              // "HTTP/1.1 200 OK"
	Header        http.Header `json:"header"`                   // response headers
	RequestHeader http.Header `json:"request_header,omitempty"` // request headers (User-Agent, Accept)
}

// Failed reports whether the record is an error: no response, or a status of
// 400 or more, unless robots.txt kept it from being fetched.
func (p *Page) Failed() bool { return !p.Skipped && (p.Error != "" || p.Status >= 400) }

// Entry is a pending URL in a host's queue.
type Entry struct {
	URL   string // normalised absolute URL
	Host  string // queue key (the URL's host[:port])
	Depth int    // link distance from a seed
	// Run is how many links in a row led here through URLs that differ
	// only in their numbers (a calendar's next month, a next page).
	Run int
	Seq uint64 // position in the queue, assigned by Commit
	// Recrawl marks the fetch of a URL that is already stored (crawl run
	// --recrawl): its record becomes the URL's newest version.
	Recrawl bool
}

// Done is a fetched URL: its page is stored and its frontier entry removed.
// A nil Page removes the entry and stores nothing (a URL that proved not to
// be a page, such as a host's missing /sitemap.xml).
type Done struct {
	Entry Entry
	Page  *Page
	// Lease is the frontier's claim on the URL that committing this
	// acknowledges (a shared frontier's lease; see frontier.Job); the store
	// does not keep it.
	Lease uint64
	// Value is Page as stored, made by EncodePage where encoding costs no
	// time on the commit path (the crawler's workers); nil: Commit encodes
	// Page.
	Value []byte
}

// Batch is the content of one transaction.
type Batch struct {
	Done  []Done   // pages to store, whose entries leave the frontier
	Add   []Entry  // new frontier entries; Commit sets the Seq of those without one
	Seen  []uint64 // fingerprints to mark as visited
	Seeds []string // seed URLs to remember
	// Robots are robots.txt answers to keep (the latest of an origin wins).
	Robots []RobotsAnswer
}

// Len returns the number of records the batch writes.
func (b *Batch) Len() int {
	return len(b.Done) + len(b.Add) + len(b.Seen) + len(b.Seeds) + len(b.Robots)
}

// Commit writes the batch in one transaction: either all of it is durable
// when Commit returns nil, or none of it is. An entry of b.Add is queued at
// its Seq, which must then be higher than any Seq the store has given out
// (Counts.LastSeq), or, for Seq 0, at the next position, which Commit sets
// on success. New entries are written before done ones are removed, so a
// batch may queue an entry and complete it.
func (s *Store) Commit(b *Batch) error {
	given := make([]uint64, len(b.Add))
	for i, e := range b.Add {
		given[i] = e.Seq
	}
	payloads, err := s.payloads(nil)
	if err != nil {
		return fmt.Errorf("commit to %s: %w", s.path, err)
	}
	pend := map[uint64]uint64{} // the holders this commit names, indexed once it is committed
	err = s.db.Update(func(tx *bolt.Tx) error {
		frontier := tx.Bucket(bucketFrontier)
		touched := map[string]*bolt.Bucket{}
		queue := func(host string, create bool) (*bolt.Bucket, error) {
			if q := touched[host]; q != nil {
				return q, nil
			}
			q := frontier.Bucket([]byte(host))
			if q == nil && create {
				var err error
				if q, err = frontier.CreateBucket([]byte(host)); err != nil {
					return nil, fmt.Errorf("queue %q: %w", host, err)
				}
			}
			if q != nil {
				touched[host] = q
			}
			return q, nil
		}

		// New entries go in before done ones come out: an entry can be
		// queued and done in one batch (the crawler fetches links before
		// their batch is committed).
		for i := range b.Add {
			e := &b.Add[i]
			q, err := queue(e.Host, true)
			if err != nil {
				return err
			}
			if e.Seq == 0 {
				if e.Seq, err = frontier.NextSequence(); err != nil {
					return err
				}
			} else if e.Seq > frontier.Sequence() {
				// Given by the caller: the next NextSequence must be higher.
				if err := frontier.SetSequence(e.Seq); err != nil {
					return err
				}
			}
			if err := q.Put(seqKey(e.Seq), encodeEntry(e)); err != nil {
				return fmt.Errorf("queue %s: %w", e.URL, err)
			}
		}
		for _, d := range b.Done {
			if p := d.Page; p != nil {
				v := d.Value
				// A payload already stored makes p its duplicate, named
				// by its holder and without a body of its own; a holder
				// without a body gives way to p if p has one.
				indexed := p.Digest != "" && p.Size != 0 && p.DuplicateOf == nil
				holder, dup := false, false
				if indexed {
					ref, hasBody, held := holderOf(tx, payloads, pend, p.Digest)
					holder = !held || (!hasBody && len(p.Body) > 0)
					if dup = !holder; dup {
						p.DuplicateOf, p.Body = &ref, nil
					}
				}
				if v == nil || dup {
					var err error
					if v, err = EncodePage(p); err != nil {
						return fmt.Errorf("encode %s: %w", d.Entry.URL, err)
					}
				}
				seq, err := putPage(tx, d.Entry.URL, v)
				if err != nil {
					return fmt.Errorf("put %s: %w", d.Entry.URL, err)
				}
				if key, ok := digestKey(p.Digest); ok && holder {
					pend[key] = seq
				}
			}
			if d.Entry.Seq == 0 {
				continue // never queued (e.g. stored straight away)
			}
			q, err := queue(d.Entry.Host, false)
			if err != nil {
				return err
			}
			if q != nil {
				if err := q.Delete(seqKey(d.Entry.Seq)); err != nil {
					return err
				}
			}
		}
		if len(b.Seen) > 0 {
			v := make([]byte, 0, 8*len(b.Seen))
			for _, fp := range b.Seen {
				v = binary.BigEndian.AppendUint64(v, fp)
			}
			if err := appendLog(tx.Bucket(bucketSeenLog), v); err != nil {
				return err
			}
		}
		if err := writePayloads(tx, pend); err != nil {
			return fmt.Errorf("digest index: %w", err)
		}
		seeds := tx.Bucket(bucketSeeds)
		for _, u := range b.Seeds {
			if err := seeds.Put([]byte(u), nil); err != nil {
				return err
			}
		}
		if len(b.Robots) > 0 {
			robots, err := tx.CreateBucketIfNotExists(bucketRobots)
			if err != nil {
				return err
			}
			for _, a := range b.Robots {
				if err := robots.Put([]byte(a.Origin), EncodeRobots(a.Robots)); err != nil {
					return err
				}
			}
		}
		// Drop queues that are now empty, so Hosts lists only hosts with work.
		for host, q := range touched {
			if k, _ := q.Cursor().First(); k == nil {
				if err := frontier.DeleteBucket([]byte(host)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		for i := range b.Add {
			b.Add[i].Seq = given[i]
		}
		return fmt.Errorf("commit to %s: %w", s.path, err)
	}
	for k, seq := range pend {
		payloads.set(k, seq)
	}
	s.db.View(func(tx *bolt.Tx) error {
		s.afterCommit(tx)
		return nil
	})
	return nil
}

// EncodePage returns p as the store keeps it: its JSON, compressed. It is
// safe for concurrent use.
func EncodePage(p *Page) ([]byte, error) {
	buf := getBuf()
	defer putBuf(buf)
	js, err := AppendPageJSON((*buf)[:0], p)
	if err != nil {
		return nil, err
	}
	*buf = js
	return encodeValue(js), nil
}

// appendLog appends v to the log bucket b (seenlog, payloads) under its
// next sequence number.
func appendLog(b *bolt.Bucket, v []byte) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), v)
}

func seqKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// encodeEntry writes an entry as uvarint(depth | run<<32 | recrawl<<63) ‖
// URL: the run and the recrawl mark ride in the high bits, so that entries
// written before them read as run 0, not a recrawl.
func encodeEntry(e *Entry) []byte {
	v := make([]byte, 0, binary.MaxVarintLen64+len(e.URL))
	dr := uint64(uint32(e.Depth)) | uint64(uint32(e.Run)&recrawlRunMask)<<32
	if e.Recrawl {
		dr |= 1 << 63
	}
	v = binary.AppendUvarint(v, dr)
	return append(v, e.URL...)
}

// recrawlRunMask keeps a run below the recrawl mark's bit.
const recrawlRunMask = 1<<31 - 1

func decodeEntry(host string, k, v []byte) (Entry, error) {
	dr, n := binary.Uvarint(v)
	if n <= 0 || len(k) != 8 {
		return Entry{}, fmt.Errorf("corrupt frontier entry in queue %q", host)
	}
	return Entry{URL: string(v[n:]), Host: host, Depth: int(uint32(dr)), Run: int(dr >> 32 & recrawlRunMask),
		Recrawl: dr>>63 != 0, Seq: binary.BigEndian.Uint64(k)}, nil
}

// Hosts returns the hosts that have pending entries.
func (s *Store) Hosts() ([]string, error) {
	var hosts []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFrontier).ForEachBucket(func(k []byte) error {
			hosts = append(hosts, string(k))
			return nil
		})
	})
	return hosts, err
}

// Queue returns up to n pending entries of host, in queue order, whose Seq is
// greater than after.
func (s *Store) Queue(host string, after uint64, n int) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketFrontier).Bucket([]byte(host))
		if q == nil {
			return nil
		}
		c := q.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
			e, err := decodeEntry(host, k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// ForEachSeen calls fn with every fingerprint in the visited set, once
// each, in ascending order.
func (s *Store) ForEachSeen(fn func(fp uint64)) error {
	var fps []uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n := 0
		return tx.Bucket(bucketSeenLog).ForEach(func(_, v []byte) error {
			for ; len(v) >= 8; v = v[8:] {
				fps = append(fps, binary.BigEndian.Uint64(v))
			}
			if n++; n%dropReadEvery == 0 {
				s.dropMapped(tx)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	slices.Sort(fps)
	for _, fp := range slices.Compact(fps) {
		fn(fp)
	}
	return nil
}

// Seeds returns every seed URL ever given to this database.
func (s *Store) Seeds() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSeeds).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Counts holds the sizes of the database's parts.
type Counts struct {
	Pages   int // records stored, errors included
	Pending int // frontier entries
	Seen    int // URLs in the visited set
	// LastSeq is the highest queue position ever given out: new entries
	// must be given higher ones.
	LastSeq uint64
}

// Counts counts the pages, pending entries and visited URLs. It reads every
// bucket's pages, so it is meant for start-up and summaries, not hot paths.
func (s *Store) Counts() (Counts, error) {
	var c Counts
	err := s.db.View(func(tx *bolt.Tx) error {
		c.Pages = countPages(tx)
		tx.Bucket(bucketSeenLog).ForEach(func(_, v []byte) error {
			c.Seen += len(v) / 8
			return nil
		})
		c.LastSeq = tx.Bucket(bucketFrontier).Sequence()
		return tx.Bucket(bucketFrontier).ForEachBucket(func(k []byte) error {
			c.Pending += tx.Bucket(bucketFrontier).Bucket(k).Stats().KeyN
			return nil
		})
	})
	return c, err
}

// Page returns the stored record of a normalised URL, and whether there is one.
func (s *Store) Page(url string) (*Page, bool, error) {
	var p *Page
	err := s.db.View(func(tx *bolt.Tx) error {
		v := getPage(tx, url)
		if v == nil {
			return nil
		}
		var err error
		if p, err = decodePage(v); err != nil {
			return fmt.Errorf("page %s: %w", url, err)
		}
		return nil
	})
	return p, p != nil, err
}

// ForEachPage calls fn with every stored record in URL order, in one read
// transaction, as Snapshot.ForEachPage does.
func (s *Store) ForEachPage(fn func(url string, raw []byte) error) error {
	return s.View(func(v *Snapshot) error { return v.ForEachPage(fn) })
}

// KeepGoing returns a view of s whose walks of the newest records
// (ForEachPage, and so the exports and stats that use it) skip the records
// that cannot be read, count them, and end with an *UnreadableError.
// Closing either closes both.
func (s *Store) KeepGoing() *Store {
	c := *s
	c.keepGoing = true
	return &c
}

// UnreadableError is what a read of every record by a store from KeepGoing
// returns, after reading every other record, when it skipped some.
type UnreadableError struct {
	N     int   // records skipped
	First error // the first of them, naming its URL
}

func (e *UnreadableError) Error() string {
	switch e.N {
	case 0: // a salvage that lost pages, but cannot name a record on them
		return fmt.Sprintf("records may be missing (%v)", e.First)
	case 1:
		return fmt.Sprintf("1 unreadable record skipped (%v)", e.First)
	}
	return fmt.Sprintf("%d unreadable records skipped (the first: %v)", e.N, e.First)
}

func (e *UnreadableError) Unwrap() error { return ErrDamaged }

// unreadable returns err, which a record could not be read with, or, on a
// keep-going store, counts it in bad and returns nil.
func (s *Store) unreadable(bad *UnreadableError, err error) error {
	if !s.keepGoing {
		if errors.Is(err, ErrDamaged) {
			return err
		}
		return fmt.Errorf("%w (%w)", err, ErrDamaged)
	}
	if bad.N++; bad.First == nil {
		bad.First = err
	}
	return nil
}

// or returns err, or, when there is none, e if it counted anything.
func (e *UnreadableError) or(err error) error {
	if err == nil && e.N > 0 {
		return e
	}
	return err
}

// guard turns a panic or a fault while bbolt reads the file (a page that
// checkFile passed but that is damaged all the same, or an I/O error under
// the map) into an ErrDamaged error.
func (s *Store) guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("read %s: %w: %v", s.path, ErrDamaged, r)
	}
}

// ForEachURL calls fn with the URL of every stored record, in URL order,
// without reading the records.
func (s *Store) ForEachURL(fn func(url string) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := newPageCursor(tx, false)
		for k, _ := c.first(); k != nil; k, _ = c.next() {
			if err := fn(string(k)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Check runs bbolt's consistency check and returns the first problem found.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: the checker goroutine sends every problem
			if first == nil {
				first = err
			}
		}
		return first
	})
}
