package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// This file reads a bbolt file's pages itself, with every offset and length
// checked against the page and the file, so that a damaged file can be
// checked (check.go) and salvaged (salvage.go) without bbolt, which trusts
// the file: a wrong page number in a branch makes its cursor panic, fault
// on an address outside the map, or loop, and its read-write Open walks
// every page from a goroutine of its own, where no recover can help.
//
// The layout, from go.etcd.io/bbolt/internal/common (little endian on every
// platform the crawler is built for):
//
//	page header   id u64, flags u16, count u16, overflow u32    (16 bytes)
//	meta          magic u32, version u32, pageSize u32, flags u32,
//	              root bucket {root u64, sequence u64}, freelist u64,
//	              pgid u64 (high-water mark), txid u64, checksum u64
//	              (FNV-64a of the 56 bytes before it)
//	branch elem   pos u32, ksize u32, pgid u64                  (16 bytes)
//	leaf elem     flags u32, pos u32, ksize u32, vsize u32      (16 bytes)
//
// An element's key starts pos bytes after the element itself; a leaf's value
// follows its key. A leaf element with flag 1 is a nested bucket: its value
// is a bucket header {root u64, sequence u64}, followed, when root is 0, by
// the bucket's only page inline. A page with overflow n spans n+1 pages.

const (
	pageHeaderSize = 16
	elemSize       = 16
	bucketHeader   = 16
	metaSize       = 64

	flagBranch   = 0x01
	flagLeaf     = 0x02
	flagMeta     = 0x04
	flagFreelist = 0x10

	boltMagic   = 0xED0CDAED
	boltVersion = 2
	noFreelist  = ^uint64(0)

	// maxOverflow bounds the pages one value may span (256 MiB of 4 KiB
	// pages): a damaged overflow count must not make us read gigabytes.
	maxOverflow = 1 << 16
)

// boltMeta is a decoded meta page.
type boltMeta struct {
	page     uint64 // 0 or 1
	pageSize int
	root     uint64 // root page of the root bucket
	rootSeq  uint64
	freelist uint64
	hwm      uint64 // pages in use: every page id is below it
	txid     uint64
}

// pageFile reads the pages of a bbolt file through ReadAt, never trusting
// them: a file opened read-only, never written.
type pageFile struct {
	r        io.ReaderAt
	data     []byte // the file mapped in memory, or nil: read with r
	size     int64
	pageSize int
	pages    uint64 // whole pages in the file
	meta     *boltMeta
	metaErr  [2]error // why each meta page was not used (nil for the one used)
}

// openPageFile reads the meta pages of r and chooses the one bbolt would:
// the valid one with the highest transaction id. When neither is valid, meta
// is nil and the page size is guessed from the pages' own ids.
func openPageFile(r io.ReaderAt, size int64) *pageFile {
	pf := &pageFile{r: r, size: size}
	var metas [2]*boltMeta
	var first [metaSize + pageHeaderSize]byte
	if _, err := r.ReadAt(first[:], 0); err == nil {
		if m, err := decodeMeta(first[:], 0); err == nil {
			metas[0] = m
		} else {
			pf.metaErr[0] = err
		}
	} else {
		pf.metaErr[0] = fmt.Errorf("meta page 0: %w", errShort)
	}
	// Meta page 1 sits one page size in: that of meta 0 if it is valid,
	// else bbolt's default, the OS page size.
	sizes := []int{os.Getpagesize()}
	if metas[0] != nil {
		sizes = []int{metas[0].pageSize}
	}
	for _, ps := range sizes {
		var second [metaSize + pageHeaderSize]byte
		if _, err := r.ReadAt(second[:], int64(ps)); err != nil {
			pf.metaErr[1] = fmt.Errorf("meta page 1: %w", errShort)
			continue
		}
		if m, err := decodeMeta(second[:], 1); err == nil {
			metas[1] = m
		} else {
			pf.metaErr[1] = err
		}
	}
	switch {
	case metas[0] != nil && (metas[1] == nil || metas[0].txid > metas[1].txid):
		pf.meta = metas[0]
	case metas[1] != nil:
		pf.meta = metas[1]
	}
	if pf.meta != nil {
		pf.pageSize = pf.meta.pageSize
		pf.metaErr[pf.meta.page] = nil
		if other := 1 - pf.meta.page; metas[other] != nil {
			pf.metaErr[other] = nil
		}
	} else {
		pf.pageSize = guessPageSize(r, size)
	}
	pf.pages = uint64(size / int64(pf.pageSize))
	return pf
}

var errShort = errors.New("beyond the end of the file")

// decodeMeta decodes and validates the meta page at the start of b.
func decodeMeta(b []byte, id uint64) (*boltMeta, error) {
	le := binary.LittleEndian
	m := b[pageHeaderSize:]
	switch {
	case le.Uint32(m[0:]) != boltMagic:
		return nil, fmt.Errorf("meta page %d: no bbolt magic number", id)
	case le.Uint32(m[4:]) != boltVersion:
		return nil, fmt.Errorf("meta page %d: version %d", id, le.Uint32(m[4:]))
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return nil, fmt.Errorf("meta page %d: checksum mismatch", id)
	}
	ps := int(le.Uint32(m[8:]))
	if ps < 512 || ps > 1<<20 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("meta page %d: page size %d", id, ps)
	}
	return &boltMeta{
		page: id, pageSize: ps,
		root: le.Uint64(m[16:]), rootSeq: le.Uint64(m[24:]),
		freelist: le.Uint64(m[32:]), hwm: le.Uint64(m[40:]), txid: le.Uint64(m[48:]),
	}, nil
}

// guessPageSize returns the page size under which most of the first pages
// of the file carry their own id, for a file whose meta pages are both
// damaged.
func guessPageSize(r io.ReaderAt, size int64) int {
	best, bestN := os.Getpagesize(), 0
	for ps := 1 << 12; ps <= 1<<16; ps <<= 1 {
		n := 0
		var h [pageHeaderSize]byte
		for id := int64(2); id < 64 && (id+1)*int64(ps) <= size; id++ {
			if _, err := r.ReadAt(h[:], id*int64(ps)); err == nil && binary.LittleEndian.Uint64(h[:]) == uint64(id) {
				n++
			}
		}
		if n > bestN {
			best, bestN = ps, n
		}
	}
	return best
}

// page is one page of the file (with its overflow), or an inline page.
type page struct {
	id    uint64
	flags uint16
	count int
	over  uint32
	buf   []byte
}

// readPage reads page id and its overflow pages, checking that the page says
// it is page id, that it is a branch or a leaf, and that it lies within the
// file and below limit (the high-water mark).
func (pf *pageFile) readPage(id, limit uint64) (*page, error) {
	if id < 2 || id >= limit || id >= pf.pages {
		return nil, fmt.Errorf("page %d: out of range (%d pages)", id, min(limit, pf.pages))
	}
	ps := int64(pf.pageSize)
	var head []byte
	if pf.data != nil {
		head = pf.data[int64(id)*ps : int64(id+1)*ps]
	} else {
		head = make([]byte, ps)
		if _, err := pf.r.ReadAt(head, int64(id)*ps); err != nil {
			return nil, fmt.Errorf("page %d: %w", id, err)
		}
	}
	p, err := parsePageHeader(head, id)
	if err != nil {
		return nil, err
	}
	if p.over > 0 {
		end := id + uint64(p.over)
		if p.over > maxOverflow || end >= limit || end >= pf.pages {
			return nil, fmt.Errorf("page %d: overflow of %d pages runs past the end", id, p.over)
		}
		if pf.data != nil {
			p.buf = pf.data[int64(id)*ps : int64(end+1)*ps]
			return p, nil
		}
		buf := make([]byte, (int64(p.over)+1)*ps)
		copy(buf, head)
		if _, err := pf.r.ReadAt(buf[ps:], int64(id+1)*ps); err != nil {
			return nil, fmt.Errorf("page %d: %w", id, err)
		}
		p.buf = buf
	}
	return p, nil
}

// parsePageHeader decodes a page's header; want is the id it must carry.
func parsePageHeader(b []byte, want uint64) (*page, error) {
	if len(b) < pageHeaderSize {
		return nil, fmt.Errorf("page %d: %w", want, errShort)
	}
	le := binary.LittleEndian
	p := &page{id: le.Uint64(b), flags: le.Uint16(b[8:]), count: int(le.Uint16(b[10:])), over: le.Uint32(b[12:]), buf: b}
	switch {
	case p.id != want:
		return nil, fmt.Errorf("page %d: header says page %d", want, p.id)
	case p.flags != flagBranch && p.flags != flagLeaf:
		return nil, fmt.Errorf("page %d: not a branch or leaf page (flags %#x)", want, p.flags)
	}
	return p, nil
}

// leafElem is one key/value of a leaf page; the slices point into the page.
type leafElem struct {
	bucket bool
	key    []byte
	value  []byte
	page   uint64 // the page it is on; 0 for an inline bucket's
	index  int    // its place on the page
}

// branchElem is one child of a branch page.
type branchElem struct {
	key   []byte
	child uint64
}

// elems checks that the page's elements and their keys and values lie
// within it, after the element headers, with keys in strictly ascending
// order, and returns them.
func (p *page) elems() ([]leafElem, []branchElem, error) {
	le := binary.LittleEndian
	end := pageHeaderSize + p.count*elemSize
	if end > len(p.buf) {
		return nil, nil, fmt.Errorf("page %d: %d elements do not fit in it", p.id, p.count)
	}
	var (
		leaves   []leafElem
		branches []branchElem
		prev     []byte
	)
	for i := range p.count {
		at := pageHeaderSize + i*elemSize
		e := p.buf[at : at+elemSize]
		var pos, ksize, vsize uint64
		if p.flags == flagLeaf {
			pos, ksize, vsize = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		} else {
			pos, ksize = uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:]))
		}
		start := uint64(at) + pos
		if start < uint64(end) || start+ksize+vsize > uint64(len(p.buf)) {
			return nil, nil, fmt.Errorf("page %d: element %d lies outside the page", p.id, i)
		}
		key := p.buf[start : start+ksize]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return nil, nil, fmt.Errorf("page %d: key %d out of order", p.id, i)
		}
		prev = key
		if p.flags == flagLeaf {
			flags := le.Uint32(e[0:])
			if flags&^1 != 0 {
				return nil, nil, fmt.Errorf("page %d: element %d has flags %#x", p.id, i, flags)
			}
			leaves = append(leaves, leafElem{bucket: flags&1 != 0, key: key, value: p.buf[start+ksize : start+ksize+vsize], page: p.id, index: i})
		} else {
			branches = append(branches, branchElem{key: key, child: le.Uint64(e[8:])})
		}
	}
	if p.flags == flagBranch && p.count == 0 {
		return nil, nil, fmt.Errorf("page %d: empty branch", p.id)
	}
	return leaves, branches, nil
}

// inlineBucket decodes a nested bucket's value: its root page and sequence,
// and its page when it is inline (root 0).
func inlineBucket(v []byte) (root, seq uint64, inline *page, err error) {
	if len(v) < bucketHeader {
		return 0, 0, nil, fmt.Errorf("bucket header of %d bytes", len(v))
	}
	root, seq = binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[8:])
	if root != 0 {
		return root, seq, nil, nil
	}
	b := v[bucketHeader:]
	if len(b) < pageHeaderSize {
		return 0, 0, nil, fmt.Errorf("inline bucket of %d bytes", len(v))
	}
	p := &page{flags: binary.LittleEndian.Uint16(b[8:]), count: int(binary.LittleEndian.Uint16(b[10:])), buf: b}
	if p.flags != flagLeaf {
		return 0, 0, nil, fmt.Errorf("inline bucket page with flags %#x", p.flags)
	}
	return 0, seq, p, nil
}
