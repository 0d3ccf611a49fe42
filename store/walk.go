package store

import (
	"bytes"
	"fmt"
	"strings"
)

// walker walks the trees of a bbolt file through a pageFile from the meta
// page's root bucket down, checking every page it reaches as bbolt's own
// consistency check does (page ids below the high-water mark, each page
// reached once, branch and leaf pages only, elements inside their page, keys
// in order within the bounds their parent gives), so that a file it passes
// cannot make bbolt panic or fault.
//
// A strict walker stops at the first problem; a tolerant one (the salvage)
// notes the page, skips what lies below it and goes on.
type walker struct {
	pf      *pageFile
	limit   uint64 // the high-water mark: pages at or above it are not in use
	reached []bool // pages reached so far, overflow included
	strict  bool
	bad     []error         // the problems met, in tolerant mode
	badIn   map[string]bool // the top-level buckets they were met in ("" for the root)

	// leaf is called with every element of every leaf page reached (nested
	// buckets included, before their contents), with the names of the
	// buckets above it, the root bucket's children first. The element's
	// slices are valid only during the call.
	leaf func(path []string, e leafElem)
}

func newWalker(pf *pageFile, strict bool, leaf func([]string, leafElem)) *walker {
	limit := pf.pages
	if pf.meta != nil {
		limit = min(limit, pf.meta.hwm)
	}
	return &walker{pf: pf, limit: limit, reached: make([]bool, limit), strict: strict, leaf: leaf, badIn: map[string]bool{}}
}

// fail notes a problem met in the bucket at path; in strict mode it is
// returned, ending the walk.
func (w *walker) fail(path []string, err error) error {
	if w.strict {
		return err
	}
	w.bad = append(w.bad, err)
	top := ""
	if len(path) > 0 {
		top = path[0]
	}
	w.badIn[top] = true
	return nil
}

// bucket walks the bucket at path, whose root is page root or the inline
// page inline.
func (w *walker) bucket(path []string, root uint64, inline *page) error {
	if inline != nil {
		leaves, _, err := inline.elems()
		if err != nil {
			return w.fail(path, fmt.Errorf("inline bucket %s: %w", pathName(path), err))
		}
		return w.leaves(path, leaves)
	}
	return w.tree(path, root, nil, nil)
}

// tree walks the subtree at page id, whose keys must lie in [lo, hi) (nil:
// unbounded).
func (w *walker) tree(path []string, id uint64, lo, hi []byte) error {
	p, err := w.pf.readPage(id, w.limit)
	if err != nil {
		return w.fail(path, fmt.Errorf("%w (bucket %s)", err, pathName(path)))
	}
	for i := id; i <= id+uint64(p.over); i++ {
		if w.reached[i] {
			return w.fail(path, fmt.Errorf("page %d: reached twice (bucket %s)", i, pathName(path)))
		}
	}
	leaves, branches, err := p.elems()
	if err == nil && p.count > 0 {
		first, last := p.firstKey(leaves, branches), p.lastKey(leaves, branches)
		if lo != nil && bytes.Compare(first, lo) < 0 || hi != nil && bytes.Compare(last, hi) >= 0 {
			err = fmt.Errorf("page %d: keys outside the range its parent gives", id)
		}
	}
	if err != nil {
		return w.fail(path, fmt.Errorf("%w (bucket %s)", err, pathName(path)))
	}
	for i := id; i <= id+uint64(p.over); i++ {
		w.reached[i] = true
	}
	if p.flags == flagLeaf {
		return w.leaves(path, leaves)
	}
	for i, b := range branches {
		next := hi
		if i+1 < len(branches) {
			next = branches[i+1].key
		}
		if err := w.tree(path, b.child, b.key, next); err != nil {
			return err
		}
	}
	return nil
}

// leaves hands a leaf page's elements to w.leaf and walks its nested buckets.
func (w *walker) leaves(path []string, leaves []leafElem) error {
	for _, e := range leaves {
		if w.leaf != nil {
			w.leaf(path, e)
		}
		if !e.bucket {
			continue
		}
		sub := append(path[:len(path):len(path)], string(e.key))
		root, _, inline, err := inlineBucket(e.value)
		if err != nil {
			if err := w.fail(sub, fmt.Errorf("bucket %s: %w", pathName(sub), err)); err != nil {
				return err
			}
			continue
		}
		if err := w.bucket(sub, root, inline); err != nil {
			return err
		}
	}
	return nil
}

func (p *page) firstKey(l []leafElem, b []branchElem) []byte {
	if p.flags == flagLeaf {
		return l[0].key
	}
	return b[0].key
}

func (p *page) lastKey(l []leafElem, b []branchElem) []byte {
	if p.flags == flagLeaf {
		return l[len(l)-1].key
	}
	return b[len(b)-1].key
}

// pathName names a bucket path for messages: "frontier/example.com".
func pathName(path []string) string {
	if len(path) == 0 {
		return "(root)"
	}
	return strings.Join(path, "/")
}
