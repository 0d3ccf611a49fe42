package crawler

import (
	"unicode"
	"unicode/utf8"
)

// SimHash returns the 64-bit SimHash (Charikar) of text: each word, folded
// to lower case, is hashed, and bit i of the result is set when more words
// have bit i set than not. Texts that share most of their words get hashes
// that differ in few bits, so a small Hamming distance between two pages'
// hashes marks near-duplicates. Empty text (no word) gives 0.
func SimHash(text string) uint64 {
	var v [64]int32
	words := 0
	var buf [64]byte
	for i := 0; i < len(text); {
		// Skip to the next word: a run of letters and digits.
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			i += size
			continue
		}
		w := buf[:0]
		for i < len(text) {
			r, size = utf8.DecodeRuneInString(text[i:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			w = utf8.AppendRune(w, unicode.ToLower(r))
			i += size
		}
		h := mix64(fnv64a(w))
		for b := range 64 {
			if h&(1<<b) != 0 {
				v[b]++
			} else {
				v[b]--
			}
		}
		words++
	}
	if words == 0 {
		return 0
	}
	var out uint64
	for b := range 64 {
		if v[b] > 0 {
			out |= 1 << b
		}
	}
	return out
}

func fnv64a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 spreads FNV's weak high bits over the word (SplitMix64's
// finaliser), so that every bit of the SimHash counts alike.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
