package extract

import (
	"strings"
	"testing"
)

// TestSimHash: texts that differ in a word or two are within a few bits;
// unrelated texts are far apart; case and punctuation do not count.
func TestSimHash(t *testing.T) {
	base := strings.Repeat("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches ", 4) +
		"and the archive keeps every version of every page it fetched in one file for later"
	edited := strings.Replace(base, "later", "tomorrow", 1)
	other := "completely different words about crawling politely concurrently safely with bbolt storage and redis frontiers"
	dist := func(a, b string) int { return bitsDiff(SimHash(a), SimHash(b)) }
	if d := dist(base, edited); d > 3 {
		t.Errorf("one word changed: %d bits apart, want at most 3", d)
	}
	if d := dist(base, strings.ToUpper(base)+"!!"); d != 0 {
		t.Errorf("case and punctuation: %d bits apart, want 0", d)
	}
	if d := dist(base, other); d < 10 {
		t.Errorf("unrelated texts: %d bits apart, want many", d)
	}
	if SimHash("  ... ") != 0 {
		t.Error("a text without words has a SimHash")
	}
}

func bitsDiff(a, b uint64) int {
	n := 0
	for x := a ^ b; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func BenchmarkSimHash(b *testing.B) {
	text := strings.Repeat("alpha bravo charlie delta echo foxtrot golf hotel india juliett ", 30)
	b.SetBytes(int64(len(text)))
	var h uint64
	for b.Loop() {
		h = SimHash(text)
	}
	if h == 0 {
		b.Fatal("no hash")
	}
}
