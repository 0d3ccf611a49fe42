package extract

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
	// Each word's hash goes into 8 counters of 8 bits side by side in a
	// uint64 (bit b of the hash adds to byte b%8 of lane b/8), flushed
	// into v before a byte can overflow: a word costs 8 additions.
	var v [64]int32
	var lanes [8]uint64
	pending := 0
	flush := func() {
		for l, x := range lanes {
			for k := range 8 {
				v[l*8+k] += int32(x >> (8 * k) & 0xff)
			}
		}
		lanes = [8]uint64{}
		pending = 0
	}
	words := 0
	h := uint64(fnvOffset) // FNV-1a of the word so far
	in := false            // within a word
	end := func() {
		x := mix64(h)
		for l := range lanes {
			lanes[l] += x >> l & 0x0101010101010101
		}
		words++
		if pending++; pending == 255 {
			flush()
		}
		h, in = fnvOffset, false
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			if !asciiWord[c] {
				if in {
					end()
				}
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = (h ^ uint64(c)) * fnvPrime
			in = true
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if in {
				end()
			}
			continue
		}
		var buf [utf8.UTFMax]byte
		for _, b := range utf8.AppendRune(buf[:0], unicode.ToLower(r)) {
			h = (h ^ uint64(b)) * fnvPrime
		}
		in = true
	}
	if in {
		end()
	}
	if words == 0 {
		return 0
	}
	flush()
	// Bit b of the hash went to lane b%8, byte b/8: set it in the result
	// when more than half the words had it.
	var out uint64
	for l := range 8 {
		for k := range 8 {
			if 2*v[l*8+k] > int32(words) {
				out |= 1 << (8*k + l)
			}
		}
	}
	return out
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// asciiWord marks the ASCII letters and digits.
var asciiWord = func() (w [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		w[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	return w
}()

// mix64 spreads FNV's weak high bits over the word (SplitMix64's
// finaliser), so that every bit of the SimHash counts alike.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
