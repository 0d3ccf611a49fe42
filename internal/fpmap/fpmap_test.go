package fpmap

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestMatchesMap drives a Map and a Go map with the same random operations,
// across several merges, and checks that they always agree.
func TestMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	m, want := New[uint64](), map[uint64]uint64{}
	// Loaded from a log: ascending, with a few out of order.
	var initial []uint64
	for range 5000 {
		initial = append(initial, rng.Uint64())
	}
	slices.Sort(initial)
	initial[100], initial[200] = initial[200], initial[100]
	for i, k := range initial {
		m.Load(k, uint64(i))
		want[k] = uint64(i)
	}
	m.Loaded()
	var some []uint64 // keys in the map, to ask for again
	for op := range 3*mergeAt + 1000 {
		var k uint64
		switch {
		case op%3 == 0 && len(some) > 0:
			k = some[rng.IntN(len(some))]
		case op%7 == 0:
			k = rng.Uint64() & 0xff // small keys crowd the first index bucket
		default:
			k = rng.Uint64()
		}
		if _, in := want[k]; op%101 == 0 && in {
			m.Delete(k)
			delete(want, k)
			continue
		}
		got, ok := m.Get(k)
		if w, in := want[k]; ok != in || got != w {
			t.Fatalf("op %d: Get(%#x) = %d, %v; want %d, %v", op, k, got, ok, w, in)
		}
		m.Set(k, uint64(op))
		want[k] = uint64(op)
		some = append(some, k)
	}
	if m.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(want))
	}
	for k, w := range want {
		if got, ok := m.Get(k); !ok || got != w {
			t.Fatalf("%#x: %d, %v; want %d", k, got, ok, w)
		}
	}
	if !slices.IsSortedFunc(m.sorted, func(a, b entry[uint64]) int { return cmp.Compare(a.key, b.key) }) {
		t.Fatal("sorted part is not sorted")
	}
	m.Free()
	if _, ok := m.Get(some[0]); ok || m.Len() != 0 {
		t.Fatal("a freed map is not empty")
	}
}

// TestSetEntry: a set's entries are their keys' 8 bytes.
func TestSetEntry(t *testing.T) {
	if n := unsafe.Sizeof(entry[struct{}]{}); n != 8 {
		t.Fatalf("an entry of a set is %d bytes, want 8", n)
	}
}
