package crawler

// Fuzz targets. Their seed corpora live in testdata/fuzz/FuzzXxx/ and run as
// ordinary tests with `go test`; `go test -fuzz FuzzXxx ./crawler` searches
// for new inputs. Each checks properties, not only the absence of panics.
// (robots.txt parsing is fuzzed with the fetch package, URL normalisation
// with urlnorm: the packages that own them.)

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/politecrawl/crawl/urlnorm"
)

// seedErr is the form of every ParseSeeds error: the name, a line number
// when the error is in a line, a reason, all on one line.
var seedErr = regexp.MustCompile(`^seeds\.txt:(\d+:)? [^\n]+$`)

// FuzzParseSeeds: ParseSeeds never panics; it returns seeds that are their
// own normal form, each once, or a one-line error naming the file and, for a
// bad line, the line (which exists in the input).
func FuzzParseSeeds(f *testing.F) {
	f.Add([]byte("# seeds\nhttp://Example.com\nhttps://a.example/x#f  # c\n\n"))
	f.Add([]byte("http://a.example/\nnot a url\n"))
	f.Add([]byte("\x00\x01binary\xff\n"))
	f.Add([]byte(""))
	f.Add([]byte("http://a.example/\r\nhttp://a.example\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		seeds, err := ParseSeeds(bytes.NewReader(data), "seeds.txt")
		if err != nil {
			msg := err.Error()
			m := seedErr.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("error %q: want one line \"seeds.txt:LINE: reason\" or \"seeds.txt: reason\"", msg)
			}
			if m[1] != "" {
				line, _ := strconv.Atoi(strings.TrimSuffix(m[1], ":"))
				if lines := bytes.Count(data, []byte("\n")) + 1; line < 1 || line > lines {
					t.Fatalf("error %q names line %d; the input has %d", msg, line, lines)
				}
			}
			return
		}
		if len(seeds) == 0 {
			t.Fatal("no seeds and no error")
		}
		seen := map[string]bool{}
		for _, s := range seeds {
			if n, err := urlnorm.Normalize(s); err != nil || n != s {
				t.Fatalf("seed %q is not normalised: Normalize = %q, %v", s, n, err)
			}
			if seen[s] {
				t.Fatalf("seed %q twice", s)
			}
			seen[s] = true
		}
	})
}
