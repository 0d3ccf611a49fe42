package crawler

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/politecrawl/crawl/urlnorm"
)

func TestVisitedAddNew(t *testing.T) {
	v := newVisited()
	if !v.add(1) || v.add(1) {
		t.Fatal("add: want true for a new fingerprint, then false")
	}
	var kept []int
	v.addNew([]uint64{1, 2, 3, 4}, func(i int) bool {
		kept = append(kept, i)
		return i != 2 // refuse fingerprint 3
	})
	if len(kept) != 3 || kept[0] != 1 || kept[1] != 2 || kept[2] != 3 {
		t.Fatalf("addNew asked about %v, want the new ones [1 2 3]", kept)
	}
	if v.add(3) != true || v.add(2) != false || v.len() != 4 {
		t.Fatalf("after addNew: refused fingerprint not free, or kept one missing (len %d)", v.len())
	}
}

// TestVisitedMatchesMap drives the set and a plain map with the same random
// operations, across several of its map's merges (internal/fpmap merges at
// 1<<16), and checks they always agree.
func TestVisitedMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	v, want := newVisited(), map[uint64]bool{}
	// Loaded from the store, in ascending order.
	var initial []uint64
	for range 5000 {
		initial = append(initial, rng.Uint64())
	}
	slices.Sort(initial)
	for _, fp := range initial {
		v.load(fp)
		want[fp] = true
	}
	v.loaded()
	var some []uint64 // fingerprints in the set, to ask for again
	for op := range 3<<16 + 1000 {
		var fp uint64
		switch {
		case op%3 == 0 && len(some) > 0:
			fp = some[rng.IntN(len(some))]
		case op%7 == 0:
			fp = rng.Uint64() & 0xff // small values crowd the first index bucket
		default:
			fp = rng.Uint64()
		}
		if op%101 == 0 && want[fp] {
			v.forget(fp)
			delete(want, fp)
			continue
		}
		if got := v.add(fp); got != !want[fp] {
			t.Fatalf("op %d: add(%#x) = %v, want %v", op, fp, got, !want[fp])
		}
		want[fp] = true
		some = append(some, fp)
	}
	if v.len() != len(want) {
		t.Fatalf("len = %d, want %d", v.len(), len(want))
	}
	for fp := range want {
		v.mu.Lock()
		ok := v.has(fp)
		v.mu.Unlock()
		if !ok {
			t.Fatalf("%#x missing", fp)
		}
	}
}

// BenchmarkVisitedBytesPerURL reports the memory the visited set holds per
// URL at 1M URLs, on the heap and off it (issue 5's bound: 16 bytes).
func BenchmarkVisitedBytesPerURL(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v := newVisited()
		for i := range n {
			v.add(urlnorm.Fingerprint("http://example.com/p/" + strconv.Itoa(i)))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if v.len() != n {
			b.Fatalf("%d URLs in the set, want %d", v.len(), n)
		}
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/n, "heap-bytes/URL")
		b.ReportMetric((heap+float64(v.set.OffHeap()))/n, "bytes/URL")
		runtime.KeepAlive(v)
	}
}

// BenchmarkVisitedLinks looks up a page's links in a set of 1M URLs, as
// follow does: most are known (the site's pages link to each other), one
// in sixty is new.
func BenchmarkVisitedLinks(b *testing.B) {
	const n = 1_000_000
	v := newVisited()
	for i := range n {
		v.add(urlnorm.Fingerprint("http://example.com/p/" + strconv.Itoa(i)))
	}
	fps := make([]uint64, 1<<16)
	for i := range fps {
		k := (i * 7919) % n
		if i%60 == 59 {
			k += n
		}
		fps[i] = urlnorm.Fingerprint("http://example.com/p/" + strconv.Itoa(k))
	}
	hits := 0
	for i := 0; b.Loop(); i++ {
		v.mu.Lock()
		if v.has(fps[i%len(fps)]) {
			hits++
		}
		v.mu.Unlock()
	}
	if hits == 0 {
		b.Fatal("no link found")
	}
}
