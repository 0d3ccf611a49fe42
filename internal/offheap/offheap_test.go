package offheap

import (
	"runtime"
	"testing"
)

type pair struct{ a, b uint64 }

// TestGrow: growing keeps the contents, by steps of one and by large ones,
// and a freed slice's successor starts empty.
func TestGrow(t *testing.T) {
	var s []pair
	for i := range 100_000 {
		s = Grow(s, 1)
		s = append(s, pair{uint64(i), uint64(i) * 3})
	}
	s = Grow(s, 1_000_000)
	if cap(s)-len(s) < 1_000_000 {
		t.Fatalf("room for %d, want 1000000", cap(s)-len(s))
	}
	for i, p := range s {
		if p.a != uint64(i) || p.b != uint64(i)*3 {
			t.Fatalf("element %d is %v after growing", i, p)
		}
	}
	Free(s)
	if s := Grow[uint64](nil, 3); len(s) != 0 || cap(s) < 3 {
		t.Fatalf("new slice: len %d, cap %d", len(s), cap(s))
	}
}

// BenchmarkHeapGoal reports the heap the collector aims for while 1M
// entries of 16 bytes live in a slice from Grow, and in one from make: the
// first's goal does not grow with it.
func BenchmarkHeapGoal(b *testing.B) {
	const n = 1 << 20
	goal := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.NextGC) / (1 << 20)
	}
	for b.Loop() {
		off := Grow[pair](nil, n)[:n]
		b.ReportMetric(goal(), "MB-goal-offheap")
		Free(off)
		heap := make([]pair, n)
		b.ReportMetric(goal(), "MB-goal-heap")
		runtime.KeepAlive(heap)
	}
}
