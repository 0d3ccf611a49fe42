package store

import (
	"cmp"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/politecrawl/crawl/internal/fpmap"
)

// The digest index names, for each payload stored, the record that holds
// it (see versions.go). Like the visited set, it is a log kept in memory:
//
//	payloads  seq (8 bytes, big endian) → entries of 16 bytes: the first 8 bytes of a payload's SHA-1 ‖ seq of its holder's record
//
// Each commit appends the holders it names as one value, and Open's first
// use reads the log whole, later entries taking the place of earlier ones.
// A bucket keyed by digest (digests, which databases written before the log
// have, and which is read first) rewrote a random page of a tree as big as
// a tenth of the database for every page stored; at 1M pages that was half
// of each commit's time. In memory the index costs about 19 bytes a payload.
//
// Eight bytes of a digest name a payload but do not prove it: a record the
// index names is read and its digest compared before a page is called its
// duplicate.
var bucketPayloads = []byte("payloads")

// payloadIndex maps a payload's digest key (digestKey) to the seq of the
// record that holds it, in an fpmap, as the crawler's visited set is kept
// (about 19 bytes a payload at a million, BenchmarkPayloadIndexBytes).
type payloadIndex struct {
	mu    sync.Mutex
	m     *fpmap.Map[uint64]
	freed bool // the store is closed
}

// free releases the memory of ix, whose store is closed.
func (ix *payloadIndex) free() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.m.Free()
	ix.freed = true
}

// digestKey returns the key of a digest in the index: the first 8 bytes of
// a "sha1:" digest (see Digest). A digest in another form has none.
func digestKey(d string) (uint64, bool) {
	const prefix = "sha1:"
	if !strings.HasPrefix(d, prefix) || len(d) < len(prefix)+16 {
		return 0, false
	}
	var b [10]byte // 16 base32 digits
	if _, err := base32.StdEncoding.Decode(b[:], []byte(d[len(prefix):len(prefix)+16])); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[:8]), true
}

func (ix *payloadIndex) get(key uint64) (uint64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.m.Get(key)
}

// set makes seq the holder of key.
func (ix *payloadIndex) set(key, seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if !ix.freed {
		ix.m.Set(key, seq)
	}
}

// loadPayloads reads the digest index of the database tx reads: the
// digests bucket of earlier versions, then the log.
func loadPayloads(tx *bolt.Tx) (*payloadIndex, error) {
	type payloadEntry struct{ key, seq uint64 }
	var all []payloadEntry
	if b := tx.Bucket(bucketDigests); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			if key, ok := digestKey(string(k)); ok && len(v) >= 8 {
				all = append(all, payloadEntry{key, binary.BigEndian.Uint64(v)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if b := tx.Bucket(bucketPayloads); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			if len(v)%16 != 0 {
				return fmt.Errorf("%w: entry %x of bucket %s is %d bytes, not a multiple of 16", ErrDamaged, k, bucketPayloads, len(v))
			}
			for ; len(v) > 0; v = v[16:] {
				all = append(all, payloadEntry{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Sorted by key, the latest of each key's entries last; keep that one.
	slices.SortStableFunc(all, func(a, b payloadEntry) int { return cmp.Compare(a.key, b.key) })
	m := fpmap.New[uint64]()
	for i, e := range all {
		if i+1 == len(all) || all[i+1].key != e.key {
			m.Load(e.key, e.seq)
		}
	}
	m.Loaded()
	return &payloadIndex{m: m}, nil
}

// payloads returns the store's digest index, read from the database the
// first time (a writer's Open reads it once read-only beforehand, so that a
// damaged log is refused before a crawl starts): in tx if it is not nil (a reader's, which must not open a
// second transaction), else in a transaction of its own. A commit reads it
// before it writes, so one read later in a reader's older transaction has
// missed no commit.
func (s *Store) payloads(tx *bolt.Tx) (*payloadIndex, error) {
	l := s.index
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ix != nil {
		return l.ix, nil
	}
	load := func(tx *bolt.Tx) (err error) {
		l.ix, err = loadPayloads(tx)
		return err
	}
	var err error
	if tx != nil {
		err = load(tx)
	} else {
		err = s.db.View(load)
	}
	if err != nil {
		return nil, fmt.Errorf("digest index: %w", err)
	}
	return l.ix, nil
}

// lazyPayloads is a store's digest index, nil until it is read.
type lazyPayloads struct {
	mu sync.Mutex
	ix *payloadIndex
}

// close frees the index, once the database is closed: no transaction can
// read it any more. A commit still running (a misuse) finds it empty.
func (l *lazyPayloads) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ix != nil {
		l.ix.free()
	}
}

// holderInfo is what dedupe reads of the record the index names.
type holderInfo struct {
	URL       string    `json:"url"`
	FetchedAt time.Time `json:"fetched_at"`
	Digest    string    `json:"digest"`
	Body      given     `json:"body"`
}

// given records whether a JSON value is there and not empty, without
// copying it (a body may be megabytes).
type given bool

func (g *given) UnmarshalJSON(b []byte) error {
	*g = given(string(b) != `""` && string(b) != "null")
	return nil
}

// holderOf returns the record that holds the payload with digest d: the one
// this commit names (pend) or else the index, read in tx; ok is false when
// there is none, or the record named has another digest.
func holderOf(tx *bolt.Tx, ix *payloadIndex, pend map[uint64]uint64, d string) (ref Ref, hasBody, ok bool) {
	key, ok := digestKey(d)
	if !ok {
		return Ref{}, false, false
	}
	seq, ok := pend[key]
	if !ok {
		if seq, ok = ix.get(key); !ok {
			return Ref{}, false, false
		}
	}
	v := tx.Bucket(bucketRecords).Get(seqKey(seq))
	if v == nil {
		return Ref{}, false, false
	}
	js, err := decodeValue(v, nil)
	if err != nil {
		return Ref{}, false, false
	}
	var h holderInfo
	if json.Unmarshal(js, &h) != nil || h.Digest != d {
		return Ref{}, false, false
	}
	hasBody = bool(h.Body)
	return Ref{URL: h.URL, FetchedAt: h.FetchedAt.UTC()}, hasBody, true
}

// payloadOf returns the digest key of the payload that the stored record v
// holds, and whether it holds its body; ok is false when v is a duplicate,
// has no payload or cannot be read.
func payloadOf(v []byte) (key uint64, body, ok bool) {
	js, err := decodeValue(v, nil)
	if err != nil {
		return 0, false, false
	}
	var r struct {
		Digest      string `json:"digest"`
		Size        int64  `json:"size"`
		DuplicateOf given  `json:"duplicate_of"`
		Body        given  `json:"body"`
	}
	if json.Unmarshal(js, &r) != nil || r.Size == 0 || r.DuplicateOf {
		return 0, false, false
	}
	key, ok = digestKey(r.Digest)
	return key, bool(r.Body), ok
}

// writePayloads appends the holders this commit names to the log.
func writePayloads(tx *bolt.Tx, pend map[uint64]uint64) error {
	if len(pend) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketPayloads)
	if err != nil {
		return err
	}
	v := make([]byte, 0, 16*len(pend))
	for k, s := range pend {
		v = binary.BigEndian.AppendUint64(v, k)
		v = binary.BigEndian.AppendUint64(v, s)
	}
	return appendLog(b, v)
}
