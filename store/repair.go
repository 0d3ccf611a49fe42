package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// RepairOptions configures Repair. The zero value repairs without a
// fingerprint function: lost URLs are then named by the URL index only.
type RepairOptions struct {
	// Fingerprint is the visited set's hash of a normalised URL
	// (urlnorm.Fingerprint). With it, the links of the salvaged records
	// that were queued once (in the visited set) and have neither a record
	// nor a frontier entry are queued again, and the new visited set marks
	// every salvaged record and pending URL.
	Fingerprint func(url string) uint64
}

// RepairReport says what Repair kept and lost.
type RepairReport struct {
	Records     int // records written to the new database
	RecordsLost int // records known lost: named by the URL index, or unreadable
	Pending     int // frontier entries kept
	Requeued    int // URLs queued again: lost records and lost frontier entries that could be named
	Seeds       int
	Seen        int // visited marks written
	Other       int // entries of buckets this version does not know, copied as they were

	BadPages int    // pages of the tree that could not be read
	Problem  string // the first of them, in one line; empty when none
	// MetaProblem says why a meta page was not used, when the other was
	// (the tree is then one commit older; newer pages are found by the
	// scan); empty when both are sound.
	MetaProblem   string
	ScannedPages  int // leaf pages read outside the tree (below a damaged branch, or free)
	UnplacedPages int // of those, pages whose entries belong to no bucket this version knows
	// Untrusted counts the records and frontier entries that nothing else
	// names (older or damaged copies; see merge): left out.
	Untrusted int
}

// Repair writes to dst a new crawl database holding everything that can be
// read of the one at src: every record that decodes, every frontier entry,
// seed and visited mark, and the entries of any other bucket, reading src's
// pages without trusting them (see salvage) and never writing to it. URLs
// whose records were lost are queued again when they can be named, so that
// a crawl of dst fetches them. dst must not exist; it appears only once
// complete.
func Repair(src, dst string, opts *RepairOptions) (*RepairReport, error) {
	var o RepairOptions
	if opts != nil {
		o = *opts
	}
	if _, err := os.Stat(dst); err == nil {
		return nil, fmt.Errorf("repair into %s: %w", dst, os.ErrExist)
	}
	if a, b := absPath(src), absPath(dst); a == b {
		return nil, fmt.Errorf("repair %s: the new database must be another file", src)
	}
	unlock, err := lockShared(src)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sv, err := salvageFile(src, o.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("repair %s: %w", src, err)
	}
	defer sv.close()
	if len(sv.records) == 0 && len(sv.pending) == 0 && len(sv.seeds) == 0 && len(sv.seen) == 0 {
		if len(sv.others) > 0 || sv.pf.meta != nil && !sv.damaged() {
			return nil, fmt.Errorf("repair %s: %w", src, ErrNotDatabase)
		}
		return nil, fmt.Errorf("repair %s: nothing of a crawl database could be read", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return nil, fmt.Errorf("repair into %s: %w", dst, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // a no-op after the rename
	st, err := Open(tmp.Name(), &Options{NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("repair into %s: %w", dst, err)
	}
	rep, err := sv.write(st, o.Fingerprint)
	if err == nil {
		err = st.db.Sync()
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return nil, fmt.Errorf("repair into %s: %w", dst, err)
	}
	return rep, nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return filepath.Clean(a)
	}
	return p
}

// write writes the salvage into st, a new database.
func (sv *salvage) write(st *Store, fp func(string) uint64) (rep *RepairReport, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer sv.guard(&err)
	rep = &RepairReport{
		RecordsLost: sv.lost(), BadPages: len(sv.badPages), Problem: sv.problem(),
		ScannedPages: sv.scanned, UnplacedPages: sv.unplacedPages, Untrusted: sv.untrusted, Seeds: len(sv.seeds),
	}
	if m := sv.pf.meta; m != nil && sv.pf.metaErr[1-m.page] != nil {
		rep.MetaProblem = sv.pf.metaErr[1-m.page].Error()
	}
	requeue := sv.requeue(fp)
	if sv.damaged() {
		// Seeds may have been lost with the page that held them, and the
		// crawl needs them: its scope is their hosts, and only they may be
		// on private addresses. A record or an entry at depth 0 is a seed.
		for u, r := range sv.records {
			if r.depth == 0 {
				sv.seeds[u] = struct{}{}
			}
		}
		for _, e := range sv.pending {
			if e.Depth == 0 {
				sv.seeds[e.URL] = struct{}{}
			}
		}
		rep.Seeds = len(sv.seeds)
	}

	// Records in their old order, a thousand a transaction.
	recs := make([]string, 0, len(sv.records))
	for u := range sv.records {
		recs = append(recs, u)
	}
	slices.SortFunc(recs, func(a, b string) int {
		return cmp.Or(cmp.Compare(sv.records[a].seq, sv.records[b].seq), cmp.Compare(a, b))
	})
	// The digest index is written anew with them (the records' seqs
	// change): a payload's holder is its first record, or the first with
	// a body after one without.
	holders := map[uint64]bool{} // payloads named so far: does the holder have a body?
	for chunk := range slices.Chunk(recs, 1000) {
		if err := st.db.Update(func(tx *bolt.Tx) error {
			pend := map[uint64]uint64{}
			for _, u := range chunk {
				v, err := sv.value(sv.records[u])
				if err != nil {
					return fmt.Errorf("read %s: %w", u, err)
				}
				// bbolt keeps v until the commit: it points into the
				// file's map, which stays until Repair returns.
				seq, err := putPage(tx, u, v)
				if err != nil {
					return fmt.Errorf("put %s: %w", u, err)
				}
				if key, body, ok := payloadOf(v); ok {
					if had, named := holders[key]; !named || (!had && body) {
						holders[key], pend[key] = body, seq
					}
				}
			}
			return writePayloads(tx, pend)
		}); err != nil {
			return nil, err
		}
		rep.Records += len(chunk)
	}

	// The frontier: kept entries at their places, then the URLs queued
	// again after them.
	entries := make([]Entry, 0, len(sv.pending)+len(requeue))
	last := sv.frontSeq
	for _, e := range sv.pending {
		entries = append(entries, e)
		last = max(last, e.Seq)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range requeue {
		last++
		e.Seq = last
		entries = append(entries, e)
	}
	rep.Pending, rep.Requeued = len(sv.pending), len(requeue)

	// The visited set. When something was lost, it is rebuilt from the
	// URLs the new database holds, records and frontier: an old mark of a
	// URL that is in neither (a lost record or frontier entry that could not
	// be named) would keep the crawl from queueing it when a refetched page
	// links to it again. This costs a refetch of the few URLs that were
	// marked without being stored (redirect hops), if linked again.
	marks := make([]uint64, 0, len(sv.seen)+len(recs)+len(entries))
	if !sv.damaged() || fp == nil {
		for m := range sv.seen {
			marks = append(marks, m)
		}
	}
	if fp != nil {
		for _, u := range recs {
			marks = append(marks, fp(u))
		}
		for _, e := range entries {
			marks = append(marks, fp(e.URL))
		}
	}
	slices.Sort(marks)
	marks = slices.Compact(marks)
	rep.Seen = len(marks)

	err = st.db.Update(func(tx *bolt.Tx) error {
		front := tx.Bucket(bucketFrontier)
		for _, e := range entries {
			q, err := front.CreateBucketIfNotExists([]byte(e.Host))
			if err != nil {
				return fmt.Errorf("queue %q: %w", e.Host, err)
			}
			if err := q.Put(seqKey(e.Seq), encodeEntry(&e)); err != nil {
				return fmt.Errorf("queue %s: %w", e.URL, err)
			}
		}
		if err := front.SetSequence(last); err != nil {
			return err
		}
		log := tx.Bucket(bucketSeenLog)
		for chunk := range slices.Chunk(marks, 1<<16) {
			v := make([]byte, 0, 8*len(chunk))
			for _, m := range chunk {
				v = binary.BigEndian.AppendUint64(v, m)
			}
			if err := appendLog(log, v); err != nil {
				return err
			}
		}
		seeds := tx.Bucket(bucketSeeds)
		for u := range sv.seeds {
			if err := seeds.Put([]byte(u), nil); err != nil {
				return err
			}
		}
		n, err := sv.writeOthers(tx)
		rep.Other = n
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// writeOthers copies the entries of the buckets this package does not know,
// nested buckets and sequences included, and returns how many it wrote.
func (sv *salvage) writeOthers(tx *bolt.Tx) (int, error) {
	n := 0
	bucket := func(path []string) (*bolt.Bucket, error) {
		b, err := tx.CreateBucketIfNotExists([]byte(path[0]))
		for _, name := range path[1:] {
			if err != nil {
				break
			}
			b, err = b.CreateBucketIfNotExists([]byte(name))
		}
		return b, err
	}
	for _, kv := range sv.others {
		path := kv.path
		if path[0] == string(bucketVersions) || path[0] == string(bucketDigests) || path[0] == string(bucketPayloads) {
			// They point at records by sequence, and the records are
			// written anew: a repaired database keeps each URL's newest
			// record, without its history.
			continue
		}
		if kv.bucket && kv.key != nil {
			path = append(path[:len(path):len(path)], string(kv.key))
		}
		b, err := bucket(path)
		if err != nil {
			return n, fmt.Errorf("bucket %s: %w", pathName(path), err)
		}
		if kv.bucket {
			if err := b.SetSequence(kv.seq); err != nil {
				return n, err
			}
			continue
		}
		if err := b.Put(kv.key, kv.value); err != nil {
			if errors.Is(err, bolterrors.ErrIncompatibleValue) {
				continue // a key that is also a bucket: the bucket wins
			}
			return n, fmt.Errorf("bucket %s: %w", pathName(path), err)
		}
		n++
	}
	return n, nil
}
