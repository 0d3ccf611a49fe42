package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketRobots holds each origin's last robots.txt answer: origin
// ("scheme://host[:port]") → EncodeRobots.
var bucketRobots = []byte("robots")

// Robots is a robots.txt answer as the crawl keeps it, so that a resumed
// crawl (or another worker) does not ask the host again while it is fresh.
type Robots struct {
	Status  int       // HTTP status; 0 if the fetch failed
	Err     string    // why it could not be had (fetch error, 5xx, 429); "" if none
	Fetched time.Time // when it was fetched
	Body    []byte    // the body of a 2xx answer
}

// robotsVersion starts every encoded Robots, so that a later layout can be
// told from this one.
const robotsVersion = 1

// ErrBadRobots means a stored robots.txt answer could not be decoded.
var ErrBadRobots = errors.New("stored robots.txt answer cannot be decoded")

// EncodeRobots returns r as the store (and a Redis frontier) keeps it:
// version, status, fetch time (Unix ns), the error's length and bytes, then
// the body.
func EncodeRobots(r Robots) []byte {
	b := make([]byte, 0, 32+len(r.Err)+len(r.Body))
	b = append(b, robotsVersion)
	b = binary.AppendUvarint(b, uint64(r.Status))
	b = binary.AppendVarint(b, r.Fetched.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(r.Err)))
	b = append(b, r.Err...)
	return append(b, r.Body...)
}

// DecodeRobots reads what EncodeRobots wrote; the result shares no memory
// with v.
func DecodeRobots(v []byte) (Robots, error) {
	var r Robots
	if len(v) == 0 || v[0] != robotsVersion {
		return r, ErrBadRobots
	}
	v = v[1:]
	status, n := binary.Uvarint(v)
	if n <= 0 || status > 999 {
		return r, ErrBadRobots
	}
	v = v[n:]
	ns, n := binary.Varint(v)
	if n <= 0 {
		return r, ErrBadRobots
	}
	v = v[n:]
	el, n := binary.Uvarint(v)
	if n <= 0 || el > uint64(len(v)-n) {
		return r, ErrBadRobots
	}
	v = v[n:]
	r.Status, r.Fetched, r.Err = int(status), time.Unix(0, ns), string(v[:el])
	if body := v[el:]; len(body) > 0 {
		r.Body = append([]byte(nil), body...)
	}
	return r, nil
}

// Robots returns the robots.txt answer stored for origin, and whether there
// is one. A stored value that cannot be decoded is an error wrapping
// ErrBadRobots (the caller fetches robots.txt again).
func (s *Store) Robots(origin string) (Robots, bool, error) {
	var r Robots
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRobots)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(origin))
		if v == nil {
			return nil
		}
		var err error
		r, err = DecodeRobots(v)
		if err != nil {
			return fmt.Errorf("robots.txt of %s in %s: %w", origin, s.path, err)
		}
		ok = true
		return nil
	})
	return r, ok, err
}

// RobotsAnswer is a robots.txt answer of an origin, to store.
type RobotsAnswer struct {
	Origin string
	Robots Robots
}
