package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// A salvage reads what it can of a damaged crawl database, without bbolt
// (whose cursors trust the file) and without writing to it, in two passes:
//
//  1. A tolerant walk (walk.go) from the root that the meta page names: every
//     page it reaches is checked as checkFile does; a damaged one is noted
//     and what lies below it skipped, and everything else is read with the
//     bucket it belongs to, the buckets this package does not know included
//     (a bucket added later is copied as it is).
//  2. When the walk met damage, or a meta page is damaged, a scan of every
//     page of the file that the walk did not reach, for leaf pages that
//     parse: the leaves below a damaged branch, or of the tree of the
//     damaged meta page. Such a page has no parent to say whose it is, so
//     its entries are placed by their shape, for the buckets whose entries
//     have one (records, the URL index, frontier entries, visited marks,
//     seeds), and counted as unplaced otherwise. The scan also finds free
//     pages: older copies of pages that a later commit rewrote. Their
//     entries are merged so that they cannot undo what was written since: a
//     record is the same record in every copy (the one the walk reached
//     wins), visited marks and seeds only ever grow, and a frontier entry is
//     dropped when its URL has a record. And since a damaged byte in a URL
//     makes another URL, which the crawl would fetch, a URL found by the
//     scan or on a page of the walk is kept only when something else names
//     it (see merge).
//
// A record that does not decode is lost; so are those on damaged pages. Their
// URLs are named, where they can be, by the URL index (record number → URL),
// and by the links of the records that remain whose fingerprint is in the
// visited set (they were queued once): Repair queues them again.
type salvage struct {
	path  string
	pf    *pageFile
	close func() // unmaps and closes the file

	last       uint64 // the page value read last, and its elements
	lastLeaves []leafElem

	records   map[string]*salvRecord // by URL
	index     map[uint64]string      // record number → URL (the urls bucket)
	pending   map[string]Entry       // frontier entries by URL
	seen      map[uint64]struct{}
	seeds     map[string]struct{}
	others    []otherKV // entries of buckets this package does not know, in walk order
	frontSeq  uint64    // the frontier bucket's sequence
	rootNames []string  // the root's buckets, as the walk found them
	format    string    // the format's number in meta, as stored; "" when none
	older     bool      // the walk found records or visited marks in format 0's layout (see formatOf)
	recorded  bool      // the walk has reached a record (the first is the oldest)

	badPages      []error             // pages the walk could not read
	seenWhole     bool                // the visited log was found, and read without meeting damage in it or above it
	undecodable   map[uint64]struct{} // numbers of the records the walk reached that do not decode
	namedLost     map[string]int      // URLs of lost records named by the index or a lost value's page → depth (-1: unknown)
	unplacedPages int                 // leaf pages found by the scan that belong to no known bucket
	scanned       int                 // leaf pages found by the scan and read

	// What the scan found, kept apart until merge decides what to trust.
	fp          func(string) uint64 // the visited set's fingerprint; nil: trust every URL
	scanRecords map[string]*salvRecord
	scanEntries map[string]Entry
	scanIndex   map[uint64]string
	scanSeeds   map[string]struct{}
	linked      map[string]int // links of the records → the lowest depth of a page linking them, plus one

	reader valueReader // for record, reused
	head   struct {    // for record, reused
		URL   string   `json:"url"`
		Depth int      `json:"depth"`
		Links []string `json:"links"`
	}
	untrusted int // entries found by the scan that nothing else names: left out
}

// salvRecord is a record that decodes. Its value stays in the file, where
// it is read again when written (see value): a copy of every record would
// hold the whole database in memory.
type salvRecord struct {
	page  uint64 // the page it is on
	index int    // its place on the page
	value []byte // as stored, when it is on an inline page (page 0): a copy
	seq   uint64 // its number in records
	live  bool   // reached by the walk
	depth int
}

// otherKV is an entry of a bucket this package does not know.
type otherKV struct {
	path   []string // the bucket's path from the root, the bucket itself last
	key    []byte
	value  []byte // nil for a nested bucket
	bucket bool
	seq    uint64 // a nested bucket's sequence
}

// The top-level buckets whose entries this package reads and checks, those
// of format 0 that format 1 dropped included (see format.go).
var knownBuckets = map[string]bool{
	string(bucketMeta): true, string(bucketRecords): true, string(bucketURLs): true,
	string(bucketFrontier): true, string(bucketSeenLog): true, string(bucketSeeds): true,
	string(bucketPages): true, string(bucketSeen): true,
}

// salvageFile reads what can be read of the crawl database at path; fp is
// the visited set's fingerprint (see merge), or nil.
func salvageFile(path string, fp func(string) uint64) (sv *salvage, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf := openPageFile(f, fi.Size())
	data, unmap := mapFile(f, fi.Size())
	pf.data = data
	closeFile := func() { unmap(); f.Close() }
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil { // an I/O error under the map
			err = fmt.Errorf("salvage %s: %v", path, r)
		}
		if err != nil {
			closeFile()
		}
	}()
	sv = &salvage{
		path: path, pf: pf, fp: fp, close: closeFile,
		records: map[string]*salvRecord{}, index: map[uint64]string{}, pending: map[string]Entry{},
		seen: map[uint64]struct{}{}, seeds: map[string]struct{}{},
		namedLost: map[string]int{}, undecodable: map[uint64]struct{}{}, linked: map[string]int{},
		scanRecords: map[string]*salvRecord{}, scanEntries: map[string]Entry{},
		scanIndex: map[uint64]string{}, scanSeeds: map[string]struct{}{},
	}
	var reached []bool
	if m := pf.meta; m != nil && m.hwm > pf.pages {
		sv.badPages = append(sv.badPages, fmt.Errorf("truncated to %d pages, its pages need %d", pf.pages, m.hwm))
	}
	if m := pf.meta; m != nil {
		w := newWalker(pf, false, sv.walked)
		w.reached[0], w.reached[1] = true, true
		if m.root >= 2 && m.root < w.limit {
			w.tree(nil, m.root, nil, nil)
		} else {
			w.bad = append(w.bad, fmt.Errorf("meta page %d: root page %d out of range", m.page, m.root))
		}
		sv.badPages, reached = append(sv.badPages, w.bad...), w.reached
		sv.seenWhole = sv.seenWhole && !w.badIn[""] && !w.badIn[string(bucketSeenLog)]
		sv.renamed()
		if err := sv.formatError(); err != nil {
			return nil, err
		}
	} else {
		sv.badPages = append(sv.badPages, fmt.Errorf("both meta pages are damaged (%v; %v)", pf.metaErr[0], pf.metaErr[1]))
	}
	// A sound tree holds everything: the pages outside it are free, older
	// copies. Else they may hold what the damaged pages led to, or what the
	// newer meta page did.
	if len(sv.badPages) > 0 || sv.pf.metaErr != [2]error{} {
		sv.scan(reached)
	}
	sv.merge()
	sv.named()
	return sv, nil
}

// renamed places by their shape the entries of the buckets whose names are
// damaged (see renamedBucket), as those of a page found by the scan,
// instead of copying them as another version's buckets.
func (sv *salvage) renamed() {
	damaged := map[string]bool{}
	for _, n := range sv.rootNames {
		for k := range knownBuckets {
			if !knownBuckets[n] && !slices.Contains(sv.rootNames, k) && nearly(n, k) {
				damaged[n] = true
			}
		}
	}
	if len(damaged) == 0 {
		return
	}
	sv.badPages = append(sv.badPages, renamedBucket(sv.rootNames))
	sv.seenWhole = false // the visited log may be one of them
	var leaves []leafElem
	others := sv.others[:0]
	for _, kv := range sv.others {
		switch {
		case !damaged[kv.path[0]]:
			others = append(others, kv)
		case !kv.bucket:
			leaves = append(leaves, leafElem{key: kv.key, value: kv.value})
		}
	}
	sv.others = others
	sv.place(leaves)
}

// formatError returns a *FormatError when the walk found a database of
// another format (see formatOf): a salvage of it would read none of its
// records.
func (sv *salvage) formatError() error {
	if sv.format == "" {
		has := func(b []byte) bool { return slices.Contains(sv.rootNames, string(b)) }
		beforeIndex := !has(bucketRecords) && !has(bucketURLs) && has(bucketPages)
		if sv.older || beforeIndex {
			return &FormatError{Version: 0}
		}
		return nil
	}
	if n, err := strconv.Atoi(sv.format); err == nil && n != formatVersion {
		return &FormatError{Version: n}
	}
	return nil // this format, or a damaged number: what can be read is
}

// walked takes an element of a leaf page that the walk reached.
func (sv *salvage) walked(path []string, e leafElem) {
	if len(path) == 0 {
		sv.rootNames = append(sv.rootNames, string(e.key))
		if e.bucket && string(e.key) == string(bucketSeenLog) {
			sv.seenWhole = true // unless the walk meets damage in it
		}
		if e.bucket && string(e.key) == string(bucketFrontier) {
			if _, seq, _, err := inlineBucket(e.value); err == nil {
				sv.frontSeq = seq
			}
		}
		if e.bucket && !knownBuckets[string(e.key)] {
			_, seq, _, _ := inlineBucket(e.value)
			sv.others = append(sv.others, otherKV{path: []string{string(e.key)}, bucket: true, seq: seq})
		}
		return
	}
	if !knownBuckets[path[0]] {
		kv := otherKV{path: path, key: bytes.Clone(e.key), bucket: e.bucket}
		if e.bucket {
			_, kv.seq, _, _ = inlineBucket(e.value)
		} else {
			kv.value = bytes.Clone(e.value)
		}
		sv.others = append(sv.others, kv)
		return
	}
	if e.bucket {
		return // a queue of frontier: its entries come next
	}
	switch path[0] {
	case string(bucketMeta):
		if string(e.key) == string(keyFormat) {
			sv.format = string(e.value)
		}
	case string(bucketPages), string(bucketSeen):
		sv.older = true
	case string(bucketRecords):
		if !sv.recorded {
			sv.recorded = true
			sv.older = sv.older || len(e.value) == 0 || e.value[0] != s2Value
		}
		if len(e.key) == 8 {
			sv.record(binary.BigEndian.Uint64(e.key), e, true)
		}
	case string(bucketURLs):
		if len(e.value) == 8 {
			sv.index[binary.BigEndian.Uint64(e.value)] = string(e.key)
		}
	case string(bucketFrontier):
		if len(path) == 2 {
			if en, err := decodeEntry(path[1], e.key, e.value); err == nil {
				sv.entry(en)
			}
		}
	case string(bucketSeenLog):
		sv.marks(e.value)
	case string(bucketSeeds):
		sv.seeds[string(e.key)] = struct{}{}
	}
}

// record takes a stored record value, seq its number.
//
// The record's JSON is decoded whole (which checks it: a damaged byte can
// leave a value that decompresses), once, and its links noted in linked.
func (sv *salvage) record(seq uint64, e leafElem, live bool) bool {
	js, err := sv.reader.read(e.value)
	head := &sv.head
	head.URL, head.Depth, head.Links = "", 0, head.Links[:0]
	if err == nil {
		err = json.Unmarshal(js, head)
	}
	if err != nil || head.URL == "" {
		// Only the walk's: a free page found by the scan may be any old
		// bytes. The index names the record's URL (see named).
		if live {
			sv.undecodable[seq] = struct{}{}
		}
		return false
	}
	into := sv.records
	if !live {
		into = sv.scanRecords
	}
	if old := into[head.URL]; old == nil || seq > old.seq {
		rec := &salvRecord{page: e.page, index: e.index, seq: seq, live: live, depth: head.Depth}
		if e.page == 0 {
			rec.value = bytes.Clone(e.value)
		}
		into[head.URL] = rec
	}
	for _, l := range head.Links {
		if d, ok := sv.linked[l]; !ok || head.Depth+1 < d {
			sv.linked[l] = head.Depth + 1
		}
	}
	return true
}

// value returns the stored value of a salvaged record, read again from its
// page, which was sound when the record was taken. It is valid until the
// next call.
func (sv *salvage) value(r *salvRecord) ([]byte, error) {
	if r.value != nil {
		return r.value, nil
	}
	if sv.lastLeaves == nil || sv.last != r.page {
		p, err := sv.pf.readPage(r.page, sv.pf.pages)
		if err != nil {
			return nil, err
		}
		if sv.lastLeaves, _, err = p.elems(); err != nil {
			return nil, err
		}
		sv.last = r.page
	}
	if r.index >= len(sv.lastLeaves) {
		return nil, fmt.Errorf("page %d: no element %d", r.page, r.index)
	}
	return sv.lastLeaves[r.index].value, nil
}

// entry takes a frontier entry: the one the walk reached, else the first.
func (sv *salvage) entry(e Entry) {
	if _, ok := sv.pending[e.URL]; !ok {
		sv.pending[e.URL] = e
	}
}

// marks takes a value of the visited log.
func (sv *salvage) marks(v []byte) {
	for ; len(v) >= 8; v = v[8:] {
		sv.seen[binary.BigEndian.Uint64(v)] = struct{}{}
	}
}

// scan reads the leaf pages that the walk did not reach.
func (sv *salvage) scan(reached []bool) {
	for id := uint64(2); id < sv.pf.pages; id++ {
		if id < uint64(len(reached)) && reached[id] {
			continue
		}
		p, err := sv.pf.readPage(id, sv.pf.pages)
		if err != nil || p.flags != flagLeaf {
			continue
		}
		leaves, _, err := p.elems()
		if err != nil || len(leaves) == 0 {
			continue
		}
		sv.scanned++
		// A page of nested buckets only (the root's, or frontier's, whose
		// queues have pages of their own) has nothing to place.
		values := slices.ContainsFunc(leaves, func(e leafElem) bool { return !e.bucket })
		if placed := sv.place(leaves); placed == 0 && values {
			sv.unplacedPages++
		}
	}
}

// place puts the entries of a leaf page found by the scan where their shape
// says they belong, and returns how many it placed. The values of an
// 8-byte key tell records (they decode), frontier entries (a depth and a
// URL), visited marks (a multiple of 8 bytes) apart; a URL key is the URL
// index's (an 8-byte value) or a seed's (empty).
func (sv *salvage) place(leaves []leafElem) int {
	placed, failed := 0, 0
	for _, e := range leaves {
		if e.bucket {
			// A frontier queue small enough to live in its parent's page.
			if _, _, inline, err := inlineBucket(e.value); err == nil && inline != nil && isHost(e.key) {
				if sub, _, err := inline.elems(); err == nil {
					placed += sv.place(sub)
				}
			}
			continue
		}
		k, v := e.key, e.value
		switch {
		case len(k) == 8 && isEntry(v):
			depth, n := binary.Uvarint(v)
			u := string(v[n:])
			if _, ok := sv.scanEntries[u]; !ok {
				sv.scanEntries[u] = Entry{URL: u, Host: hostName(u), Depth: int(depth), Seq: binary.BigEndian.Uint64(k)}
			}
		case len(k) == 8 && looksRecord(v):
			if !sv.record(binary.BigEndian.Uint64(k), e, false) {
				failed++
				continue
			}
		case len(k) == 8 && len(v) > 0 && len(v)%8 == 0:
			sv.marks(v)
		case isURL(k) && len(v) == 0:
			sv.scanSeeds[string(k)] = struct{}{}
		case isURL(k) && len(v) == 8:
			sv.scanIndex[binary.BigEndian.Uint64(v)] = string(k)
		default:
			continue
		}
		placed++
	}
	return placed + failed
}

// looksRecord reports whether v starts as a stored record does.
func looksRecord(v []byte) bool { return len(v) > 0 && v[0] == s2Value }

func isEntry(v []byte) bool {
	_, n := binary.Uvarint(v)
	return n > 0 && n <= 2 && isURL(v[n:])
}

func isURL(b []byte) bool {
	return bytes.HasPrefix(b, []byte("http://")) || bytes.HasPrefix(b, []byte("https://"))
}

func isHost(b []byte) bool {
	return len(b) > 0 && len(b) < 300 && !bytes.ContainsAny(b, "/ \x00")
}

// merge adds what the scan found to what the walk found, where the walk
// found nothing, and only for URLs that something else names: a page found
// by the scan may be an old copy, or damaged itself, and a damaged byte in
// a URL makes another URL, which the crawl would then fetch. A URL is named
// when its fingerprint is in the visited set (every URL the crawl queued
// is), a record links to it, or it is a seed. Without fp or a visited set,
// every URL is trusted.
func (sv *salvage) merge() {
	trusted := func(u string) bool {
		if sv.fp == nil || len(sv.seen) == 0 {
			// No visited set to ask: a worker of a Redis crawl keeps
			// it in Redis, or it was lost.
			return true
		}
		if _, ok := sv.seen[sv.fp(u)]; ok {
			return true
		}
		_, linked := sv.linked[u]
		_, seed := sv.seeds[u]
		return linked || seed
	}
	// The walk's records and frontier entries too: a damaged byte in a
	// URL leaves the page it is on sound. A record's URL must also be the
	// one the index gives its number, when the index has it.
	for u, rec := range sv.records {
		name, indexed := sv.index[rec.seq]
		if indexed && rec.seq != 0 && name != u || !indexed && !trusted(u) {
			delete(sv.records, u)
			sv.untrusted++
			if indexed {
				sv.namedLost[name] = -1
			}
		}
	}
	for u := range sv.pending {
		if sv.seenWhole && !trusted(u) { // else its mark may be what was lost
			delete(sv.pending, u)
			sv.untrusted++
		}
	}
	for u, rec := range sv.scanRecords {
		switch {
		case sv.records[u] != nil:
		case trusted(u):
			sv.records[u] = rec
		default:
			sv.untrusted++
		}
	}
	for seq, u := range sv.scanIndex {
		if _, ok := sv.index[seq]; !ok && trusted(u) {
			sv.index[seq] = u
		}
	}
	for u, e := range sv.scanEntries {
		if trusted(u) {
			sv.entry(e)
		} else {
			sv.untrusted++
		}
	}
	for u := range sv.scanSeeds {
		if trusted(u) {
			sv.seeds[u] = struct{}{}
		}
	}
}

// named records as lost the URLs that the index names but no record holds.
func (sv *salvage) named() {
	for _, u := range sv.index {
		if sv.records[u] == nil {
			if _, ok := sv.namedLost[u]; !ok {
				sv.namedLost[u] = -1
			}
		}
	}
	for u := range sv.records {
		delete(sv.namedLost, u)
	}
	for u := range sv.pending {
		if sv.records[u] != nil {
			delete(sv.pending, u)
		}
	}
}

// damaged reports whether anything was lost.
func (sv *salvage) damaged() bool {
	return len(sv.badPages) > 0 || len(sv.undecodable) > 0 || len(sv.namedLost) > 0 || sv.metaLost()
}

// metaLost reports whether a meta page was damaged, so that the file was
// read from the other one, a commit older: that commit's new frontier
// entries are lost while its records and visited marks may be found beside
// the tree, and the URLs they name must be queued again.
func (sv *salvage) metaLost() bool {
	m := sv.pf.meta
	return m != nil && sv.pf.metaErr[1-m.page] != nil
}

// lost returns the number of records known to be lost: named by the index,
// or reached by the walk and not decodable.
func (sv *salvage) lost() int {
	n := len(sv.namedLost)
	for seq := range sv.undecodable {
		if _, named := sv.index[seq]; !named {
			n++
		}
	}
	return n
}

// urls returns the URLs of the salvaged records in URL order.
func (sv *salvage) urls() []string {
	out := make([]string, 0, len(sv.records))
	for u := range sv.records {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// requeue returns the URLs to queue again: those of lost records, and the
// links of salvaged records that were queued once and that have neither a
// record nor a frontier entry, in a stable order, with the depth of their
// first parent plus one. A link was queued once when its fingerprint (fp
// tells it) is in the visited set; when the visited set itself was damaged,
// when it links to a host of the crawl (one with records or pending URLs):
// the crawl's default scope, which may then fetch a few URLs that its
// --max-depth, --include or --exclude had kept out. fp may be nil: then
// only the URLs named by the index are returned. Nothing is queued again
// when nothing was lost.
func (sv *salvage) requeue(fp func(string) uint64) []Entry {
	if !sv.damaged() {
		return nil
	}
	depth := map[string]int{}
	for u, d := range sv.namedLost {
		if ld, ok := sv.linked[u]; ok && d < 0 {
			d = ld
		}
		depth[u] = d
	}
	hosts := map[string]bool{}
	if !sv.seenWhole {
		for u := range sv.records {
			hosts[hostName(u)] = true
		}
		for _, e := range sv.pending {
			hosts[e.Host] = true
		}
	}
	if fp != nil {
		for l, d := range sv.linked {
			if sv.records[l] != nil {
				continue
			}
			if _, ok := sv.pending[l]; ok {
				continue
			}
			if _, ok := sv.seen[fp(l)]; !ok && !hosts[hostName(l)] {
				continue
			}
			if old, ok := depth[l]; !ok || old < 0 || d < old {
				depth[l] = d
			}
		}
	}
	out := make([]Entry, 0, len(depth))
	for u, d := range depth {
		if _, ok := sv.pending[u]; ok {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			continue
		}
		out = append(out, Entry{URL: u, Host: p.Host, Depth: max(d, 0)})
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.URL, b.URL) })
	return out
}

// problem summarises the damage in one line: the first damaged pages.
func (sv *salvage) problem() string {
	var parts []string
	for i, err := range sv.badPages {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(sv.badPages)-3))
			break
		}
		parts = append(parts, err.Error())
	}
	return strings.Join(parts, "; ")
}

// guard turns a fault under the map (an I/O error of the disk) into an
// error.
func (sv *salvage) guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("read %s: %v", sv.path, r)
	}
}

// Close releases the file.
func (s *Salvaged) Close() error {
	s.sv.close()
	return nil
}

// Salvaged is what a salvage could read of a damaged crawl database that
// Open refuses: its records that decode and its frontier, for an export or
// a summary that keeps going (crawl export --keep-going). It keeps the file
// open, under a shared lock, until Close.
type Salvaged struct{ sv *salvage }

// Salvage reads what it can of the crawl database at path without writing
// to it (see salvage), under a shared lock: it fails with ErrLocked when a
// crawl holds the file.
//
// fp is the visited set's fingerprint (urlnorm.Fingerprint): with it, what
// is found outside the tree is kept only when something else names it
// (see merge). It may be nil.
func Salvage(path string, fp func(url string) uint64) (*Salvaged, error) {
	unlock, err := lockShared(path)
	if err != nil {
		return nil, err
	}
	sv, err := salvageFile(path, fp)
	if err != nil {
		unlock()
		return nil, err
	}
	close := sv.close
	sv.close = func() { close(); unlock() }
	return &Salvaged{sv}, nil
}

// ForEachPage calls fn with every salvaged record in URL order, as
// Store.ForEachPage does, and then, when records were lost, returns an
// *UnreadableError counting those known lost.
func (s *Salvaged) ForEachPage(fn func(url string, raw []byte) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer s.sv.guard(&err)
	var r valueReader
	for _, u := range s.sv.urls() {
		v, err := s.sv.value(s.sv.records[u])
		if err != nil {
			return fmt.Errorf("page %s: %w", u, err)
		}
		js, err := r.read(v)
		if err != nil {
			return fmt.Errorf("page %s: %w", u, err) // it decoded once: cannot happen
		}
		if err := fn(u, js); err != nil {
			return err
		}
	}
	return s.lostError()
}

// Path returns the file the salvage read.
func (s *Salvaged) Path() string { return s.sv.path }

// ForEachQueue calls fn with every host that has salvaged pending URLs and
// how many it has, in host order; an error from fn stops the walk.
func (s *Salvaged) ForEachQueue(fn func(host string, pending int) error) error {
	hosts := map[string]int{}
	for _, e := range s.sv.pending {
		hosts[e.Host]++
	}
	for _, h := range slices.Sorted(maps.Keys(hosts)) {
		if err := fn(h, hosts[h]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Salvaged) lostError() error {
	if !s.sv.damaged() {
		return nil
	}
	return &UnreadableError{N: s.sv.lost(), First: fmt.Errorf("%s is damaged: %s", s.sv.path, s.sv.problem())}
}

// hostName returns the host[:port] of a stored URL, or the URL itself if it
// does not parse.
func hostName(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}
