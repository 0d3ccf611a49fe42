package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is one read transaction of a Store: every read through it sees
// the database as it was when View began, so that a reader that walks the
// records and looks up others on the way (an export of revisits, stats of
// versions) needs no second transaction. It is valid only during the call
// to View's fn, and not safe for concurrent use.
type Snapshot struct {
	s  *Store
	tx *bolt.Tx
	r  valueReader // decodes the records of the walks
	n  int         // records read, for dropMapped
}

// View calls fn with a Snapshot of the database, in one read transaction,
// and returns fn's error.
func (s *Store) View(fn func(*Snapshot) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Snapshot{s: s, tx: tx}) })
}

// read notes one record read, dropping the mapped pages every so often (see
// dropReadEvery).
func (v *Snapshot) read() {
	if v.n++; v.n%dropReadEvery == 0 {
		v.s.dropMapped(v.tx)
	}
}

// ForEachPage calls fn with every stored record (each URL's newest version)
// in URL order. The raw value is the record's JSON encoding; it is only
// valid during the call. An error from fn stops the walk and is returned.
//
// A record that cannot be read stops the walk with an error naming its URL
// and wrapping ErrDamaged; on a store from KeepGoing it is skipped instead,
// and the walk, having read all the others, returns an *UnreadableError
// counting them. An error from fn that wraps ErrDamaged says that fn could
// not read the record either (its JSON does not decode): it counts as
// unreadable in the same way. A fault or a panic while reading the file is
// an ErrDamaged error.
func (v *Snapshot) ForEachPage(fn func(url string, raw []byte) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer v.s.guard(&err)
	var bad UnreadableError
	err = forEachRecord(v.tx, func(k, val []byte) error {
		v.read()
		js, err := v.r.read(val)
		if err != nil {
			return v.s.unreadable(&bad, fmt.Errorf("page %s: %w", k, err))
		}
		if err := fn(string(k), js); err != nil {
			if errors.Is(err, ErrDamaged) {
				return v.s.unreadable(&bad, fmt.Errorf("page %s: %w", k, err))
			}
			return err
		}
		return nil
	})
	return bad.or(err)
}

// ForEachVersion calls fn with every stored record, earlier versions
// included: in URL order, each URL's versions oldest first. raw is the
// record's JSON, only valid during the call; an error from fn stops the walk.
func (v *Snapshot) ForEachVersion(fn func(url string, raw []byte) error) error {
	return forEachVersion(v.tx, func(k, val []byte, _ bool) error {
		v.read()
		js, err := v.r.read(val)
		if err != nil {
			return fmt.Errorf("page %s: %w", k, err)
		}
		return fn(string(k), js)
	})
}

// Versions returns every stored record of url, oldest first (none if it
// has none).
func (v *Snapshot) Versions(url string) ([]*Page, error) {
	newest := getPage(v.tx, url)
	if newest == nil {
		return nil, nil
	}
	var vals [][]byte
	if records := v.tx.Bucket(bucketRecords); records != nil {
		for _, seq := range history(v.tx, []byte(url)) {
			if val := records.Get(seq); val != nil {
				vals = append(vals, val)
			}
		}
	}
	var out []*Page
	for _, val := range append(vals, newest) {
		p, err := decodePage(val)
		if err != nil {
			return nil, fmt.Errorf("page %s: %w", url, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Earlier returns how many earlier versions url has (fetches before its
// newest record), and the JSON of the last of them; nil when it has none,
// or when that version cannot be read.
func (v *Snapshot) Earlier(url string) (n int, last []byte) {
	hs := history(v.tx, []byte(url))
	if len(hs) == 0 {
		return 0, nil
	}
	if val := v.tx.Bucket(bucketRecords).Get(hs[len(hs)-1]); val != nil {
		if js, err := decodeValue(val, nil); err == nil {
			last = js
		}
	}
	return len(hs), last
}

// Holder returns the record that the digest index names as the holder of
// the payload with this digest (see Page.Digest, Page.DuplicateOf), and
// whether there is one.
func (v *Snapshot) Holder(digest string) (*Page, bool, error) {
	key, ok := digestKey(digest)
	if !ok {
		return nil, false, nil
	}
	ix, err := v.s.payloads(v.tx)
	if err != nil {
		return nil, false, err
	}
	seq, ok := ix.get(key)
	if !ok {
		return nil, false, nil
	}
	val := v.tx.Bucket(bucketRecords).Get(seqKey(seq))
	if val == nil {
		return nil, false, nil // committed after this snapshot began
	}
	p, err := decodePage(val)
	if err != nil {
		return nil, false, fmt.Errorf("holder of %s: %w", digest, err)
	}
	if p.Digest != digest {
		return nil, false, nil // another payload whose digest begins alike
	}
	return p, true, nil
}

// ForEachQueue calls fn with every host that has pending URLs and how many
// it has, in host order; an error from fn stops the walk.
func (v *Snapshot) ForEachQueue(fn func(host string, pending int) error) error {
	front := v.tx.Bucket(bucketFrontier)
	return front.ForEachBucket(func(k []byte) error {
		return fn(string(k), front.Bucket(k).Stats().KeyN)
	})
}

// decodePage decodes a stored value into a new Page.
func decodePage(val []byte) (*Page, error) {
	js, err := decodeValue(val, nil)
	if err != nil {
		return nil, err
	}
	p := new(Page)
	if err := json.Unmarshal(js, p); err != nil {
		return nil, err
	}
	return p, nil
}
