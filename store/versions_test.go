package store

import (
	"crypto/sha1"
	"encoding/base32"
	"slices"
	"testing"
	"time"
)

func TestDigest(t *testing.T) {
	// The form of WARC-Payload-Digest: the empty payload's is well known.
	if got, want := Digest(nil), "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"; got != want {
		t.Errorf("Digest(nil) = %s, want %s", got, want)
	}
	sum := sha1.Sum([]byte("abc"))
	if got, want := Digest([]byte("abc")), "sha1:"+base32.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("Digest(abc) = %s, want %s", got, want)
	}
}

func TestEntryRecrawlMark(t *testing.T) {
	for _, e := range []Entry{
		{URL: "http://a/", Host: "a", Depth: 3, Run: 2, Recrawl: true, Seq: 9},
		{URL: "http://a/", Host: "a", Depth: 1<<31 - 1, Run: 1<<31 - 1, Seq: 1},
		{URL: "http://a/x", Host: "a", Recrawl: true, Seq: 1},
	} {
		got, err := decodeEntry(e.Host, seqKey(e.Seq), encodeEntry(&e))
		if err != nil || got != e {
			t.Errorf("round trip of %+v: %+v, %v", e, got, err)
		}
	}
}

// TestDuplicatesStoredOnce: a payload already stored (same URL or another)
// is recorded as duplicate_of its holder and its body is not stored again;
// a record without a body never becomes the holder of a body stored later.
func TestDuplicatesStoredOnce(t *testing.T) {
	s := openTemp(t)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	body := []byte("<p>same</p>")
	d := Digest(body)
	put := func(u string, b []byte, minute int) {
		t.Helper()
		p := &Page{URL: u, Status: 200, Digest: d, Size: int64(len(body)), Body: b, FetchedAt: at.Add(time.Duration(minute) * time.Minute)}
		if err := s.Commit(&Batch{Done: []Done{{Entry: Entry{URL: u}, Page: p}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("http://a/nobody", nil, 0) // crawled without --keep-body
	put("http://a/1", body, 1)     // the first body: the holder
	put("http://a/2", body, 2)
	put("http://a/1", body, 3) // the same URL again
	want := Ref{URL: "http://a/1", FetchedAt: at.Add(time.Minute)}
	for _, c := range []struct {
		url     string
		version int
		dupOf   *Ref
	}{
		{"http://a/nobody", 0, &Ref{URL: "http://a/1", FetchedAt: at.Add(time.Minute)}},
		{"http://a/1", 0, nil},
		{"http://a/2", 0, &want},
		{"http://a/1", 1, &want},
	} {
		vs, err := s.Versions(c.url)
		if err != nil {
			t.Fatal(err)
		}
		p := vs[c.version]
		switch {
		case c.dupOf == nil && (p.DuplicateOf != nil || !slices.Equal(p.Body, body)):
			t.Errorf("%s #%d: duplicate of %+v, body %q; want the holder", c.url, c.version, p.DuplicateOf, p.Body)
		case c.dupOf != nil && c.url != "http://a/nobody" && (p.DuplicateOf == nil || *p.DuplicateOf != *c.dupOf || p.Body != nil):
			t.Errorf("%s #%d: duplicate of %+v, body %q; want of %+v, no body", c.url, c.version, p.DuplicateOf, p.Body, c.dupOf)
		}
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
