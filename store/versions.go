package store

import (
	"bytes"
	"crypto/sha1"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Every fetch of a URL is a version. The newest is the URL's record, found
// through urls as ever; the earlier ones stay in records, listed by
//
//	versions  normalised URL → seqs (8 bytes each, big endian) of its earlier records, oldest first
//	digests   payload digest → seq (8 bytes) ‖ fetched_at (unix ms, 8 bytes) ‖ flags (1 byte) ‖ URL
//	          of the record that holds the payload (flag 1: its body is stored)
//
// A record whose payload is already held by another (the digest index,
// payloads.go) is a duplicate: it names the holder in DuplicateOf and its
// body is not stored again. Versions, and the digest index's log, are
// created by the first commit that needs them, so a database made before
// them opens, exports and recrawls as it is: its records have no digest
// and are nobody's duplicates. digests is the digest index of databases
// written before its log: read, no longer written.
var (
	bucketVersions = []byte("versions")
	bucketDigests  = []byte("digests")
)

// Ref names one version of a URL: its record fetched at FetchedAt.
type Ref struct {
	URL       string    `json:"url"`
	FetchedAt time.Time `json:"fetched_at"`
}

// Digest returns the digest of a payload as WARC-Payload-Digest writes it:
// "sha1:" and the SHA-1 in 32 base32 digits.
func Digest(payload []byte) string {
	sum := sha1.Sum(payload)
	return "sha1:" + base32.StdEncoding.EncodeToString(sum[:])
}

// keepVersion appends seq (8 bytes) to url's list of earlier versions.
func keepVersion(tx *bolt.Tx, url, seq []byte) error {
	vb, err := tx.CreateBucketIfNotExists(bucketVersions)
	if err != nil {
		return err
	}
	old := vb.Get(url)
	v := make([]byte, 0, len(old)+8)
	return vb.Put(url, append(append(v, old...), seq...))
}

// history returns the seqs of url's earlier records, oldest first.
func history(tx *bolt.Tx, url []byte) [][]byte {
	vb := tx.Bucket(bucketVersions)
	if vb == nil {
		return nil
	}
	v := vb.Get(url)
	out := make([][]byte, 0, len(v)/8)
	for ; len(v) >= 8; v = v[8:] {
		out = append(out, v[:8])
	}
	return out
}

// forEachVersion calls fn with every version of every stored URL: in URL
// order, each URL's oldest first, newest last.
func forEachVersion(tx *bolt.Tx, fn func(url, v []byte, newest bool) error) error {
	records := tx.Bucket(bucketRecords)
	return forEachRecord(tx, func(k, v []byte) error {
		if records != nil {
			for _, seq := range history(tx, k) {
				if old := records.Get(seq); old != nil {
					if err := fn(k, old, false); err != nil {
						return err
					}
				}
			}
		}
		return fn(k, v, true)
	})
}

// ForEachVersion calls fn with every stored record, earlier versions
// included, in one read transaction, as Snapshot.ForEachVersion does.
func (s *Store) ForEachVersion(fn func(url string, raw []byte) error) error {
	return s.View(func(v *Snapshot) error { return v.ForEachVersion(fn) })
}

// Versions returns every stored record of url, oldest first (none if it
// has none).
func (s *Store) Versions(url string) (out []*Page, err error) {
	err = s.View(func(v *Snapshot) error {
		out, err = v.Versions(url)
		return err
	})
	return out, err
}

// Version returns the version ref names, and whether it is stored.
func (s *Store) Version(ref Ref) (*Page, bool, error) {
	vs, err := s.Versions(ref.URL)
	if err != nil {
		return nil, false, err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].FetchedAt.Equal(ref.FetchedAt) {
			return vs[i], true, nil
		}
	}
	return nil, false, nil
}

// VersionInfo is what a recrawl's schedule reads of one version.
type VersionInfo struct {
	FetchedAt   time.Time `json:"fetched_at"`
	Status      int       `json:"status"`
	Depth       int       `json:"depth"`
	Digest      string    `json:"digest"`
	NotModified bool      `json:"not_modified"`
	Error       string    `json:"error"`
}

// ForEachHistory calls fn with every stored URL and what its versions say,
// oldest first (the newest last), in URL order, in one read transaction.
// vs is only valid during the call.
func (s *Store) ForEachHistory(fn func(url string, vs []VersionInfo) error) error {
	var r valueReader
	var vs []VersionInfo
	var cur []byte
	n := 0
	return s.db.View(func(tx *bolt.Tx) error {
		return forEachVersion(tx, func(k, v []byte, newest bool) error {
			if n++; n%dropReadEvery == 0 {
				s.dropMapped(tx)
			}
			if !bytes.Equal(k, cur) {
				cur, vs = append(cur[:0], k...), vs[:0]
			}
			js, err := r.read(v)
			if err != nil {
				return fmt.Errorf("page %s: %w", k, err)
			}
			var vi VersionInfo
			if err := json.Unmarshal(js, &vi); err != nil {
				return fmt.Errorf("page %s: %w", k, err)
			}
			vs = append(vs, vi)
			if !newest {
				return nil
			}
			return fn(string(k), vs)
		})
	})
}
