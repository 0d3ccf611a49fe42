package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
)

// checkFile checks the structure of the bbolt file at path with a strict
// walker (walk.go), reading it with ReadAt rather than through bbolt, and
// returns the first problem as an ErrDamaged error of one line.
//
// It runs before every Open, read-write or read-only. Read-write, because
// bbolt's Open then walks every page from a goroutine of its own (it
// rebuilds the free list, which the store does not keep in the file) and a
// damaged page there kills the process; read-only, because a cursor on a
// damaged branch panics, faults or loops. It reads every page of the trees
// once, through a read-only map of the file: the same order of cost as
// bbolt's read-write Open itself, which walks the same pages, bounded by
// the file's size, and small beside a crawl, or an export, which reads
// every page anyway (BenchmarkCheckFile; figures in README). Record values
// are not decoded here (that would cost seconds at 100,000 records): a
// record that does not decompress is found by the export or stats that
// reads it.
func checkFile(path string) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pf := openPageFile(f, fi.Size())
	data, unmap := mapFile(f, fi.Size())
	defer unmap()
	pf.data = data
	// Every read is bounded by the file's size, but the map can still
	// fault on an I/O error of the disk.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: reading %s: %v", ErrDamaged, path, r)
		}
	}()
	if pf.meta == nil {
		return fmt.Errorf("%w: both meta pages are damaged (%v; %v)", ErrDamaged, pf.metaErr[0], pf.metaErr[1])
	}
	if m := pf.meta; m.hwm < 2 || m.hwm > pf.pages || m.root < 2 || m.root >= m.hwm {
		return fmt.Errorf("%w: meta page %d: root page %d and high-water mark %d do not fit a file of %d pages", ErrDamaged, m.page, m.root, m.hwm, pf.pages)
	}
	w := newWalker(pf, true, nil)
	w.reached[0], w.reached[1] = true, true
	if err := checkFreelist(pf, w); err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if err := w.tree(nil, pf.meta.root, nil, nil); err != nil {
		return fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return nil
}

// checkFreelist checks the free-list page, when the file has one (a crawl
// database has none: bbolt rebuilds the list at each read-write Open), and
// marks the pages it lists as reached: bbolt's check fails on a page that
// is both free and in use.
func checkFreelist(pf *pageFile, w *walker) error {
	id := pf.meta.freelist
	if id == noFreelist {
		return nil
	}
	if id < 2 || id >= w.limit {
		return fmt.Errorf("free list page %d: out of range", id)
	}
	ps := int64(pf.pageSize)
	head := make([]byte, ps)
	if _, err := pf.r.ReadAt(head, int64(id)*ps); err != nil {
		return fmt.Errorf("free list page %d: %w", id, err)
	}
	le := binary.LittleEndian
	flags, count, over := le.Uint16(head[8:]), uint64(le.Uint16(head[10:])), uint64(le.Uint32(head[12:]))
	if le.Uint64(head) != id || flags != flagFreelist || over > maxOverflow || id+over >= w.limit {
		return fmt.Errorf("free list page %d: damaged header", id)
	}
	buf := make([]byte, (over+1)*uint64(ps))
	if _, err := pf.r.ReadAt(buf, int64(id)*ps); err != nil {
		return fmt.Errorf("free list page %d: %w", id, err)
	}
	ids := buf[pageHeaderSize:]
	if count == 0xFFFF { // the count is the first element
		if len(ids) < 8 {
			return fmt.Errorf("free list page %d: damaged count", id)
		}
		count, ids = le.Uint64(ids), ids[8:]
	}
	if count > uint64(len(ids)/8) {
		return fmt.Errorf("free list page %d: %d ids do not fit in it", id, count)
	}
	for i := range over + 1 {
		w.reached[id+i] = true
	}
	for i := range count {
		free := le.Uint64(ids[8*i:])
		if free < 2 || free >= w.limit || w.reached[free] {
			return fmt.Errorf("free list page %d: lists page %d", id, free)
		}
		w.reached[free] = true
	}
	return nil
}

// damagedMetas tells a bbolt file whose two meta pages are damaged, which
// bbolt refuses as it refuses any other file, from a file of another kind:
// it returns an ErrDamaged error when a meta page still has bbolt's magic
// number or the pages after them carry their own ids, and nil otherwise.
func damagedMetas(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	pf := openPageFile(f, fi.Size())
	if pf.meta != nil {
		return nil // bbolt refused it for another reason
	}
	le := binary.LittleEndian
	magic := false
	for _, off := range []int64{0, int64(pf.pageSize)} {
		var b [pageHeaderSize + 4]byte
		if _, err := f.ReadAt(b[:], off); err == nil && le.Uint32(b[pageHeaderSize:]) == boltMagic {
			magic = true
		}
	}
	var h [pageHeaderSize]byte
	ids := 0
	for id := int64(2); id < 6; id++ {
		if _, err := f.ReadAt(h[:], id*int64(pf.pageSize)); err == nil && le.Uint64(h[:]) == uint64(id) {
			ids++
		}
	}
	if !magic && ids < 3 {
		return nil
	}
	return fmt.Errorf("%w: both meta pages are damaged (%v; %v)", ErrDamaged, pf.metaErr[0], pf.metaErr[1])
}

// renamedBucket returns an ErrDamaged error when the root bucket's names
// (names) lack one of the crawl's buckets and hold, in its place, a name
// this version does not know that differs from it in a byte or two: a
// damaged byte in a bucket's name leaves the root's keys in order, so that
// no check of the pages sees it, and the crawl would start that bucket
// again, empty. (A database of an older version lacks buckets but has no
// unknown one; a newer version's has unknown ones but lacks none.)
func renamedBucket(names []string) error {
	for _, n := range names {
		if knownBuckets[n] {
			continue
		}
		for k := range knownBuckets {
			if !slices.Contains(names, k) && nearly(n, k) {
				return fmt.Errorf("%w: the root holds a bucket %q where %q should be (a damaged name)", ErrDamaged, n, k)
			}
		}
	}
	return nil
}

// nearly reports whether a and b have the same length and differ in at
// most two bytes.
func nearly(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	diff := 0
	for i := range len(a) {
		if a[i] != b[i] {
			diff++
		}
	}
	return diff <= 2
}
