package crawler

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/politecrawl/crawl/urlnorm"
)

// maxSeedLine bounds one line of a seed file; a longer line is an error, not
// a reason to buffer without limit.
const maxSeedLine = 64 << 10

// ReadSeedFile reads the seed file at path (see ParseSeeds).
func ReadSeedFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seed file: %w", err)
	}
	defer f.Close()
	return ParseSeeds(f, path)
}

// maxBadSeedLines is how many bad lines of a seed file its error lists: a
// user fixes them in one go, and a file that is not a seed file at all does
// not flood the terminal.
const maxBadSeedLines = 10

// ParseSeeds reads a seed file: one absolute http(s) URL a line; blank lines
// and lines starting with '#' are skipped, as is anything after " #" on a
// line. It returns the normalised URLs in file order, without duplicates.
// A bad line fails the whole file with an error "name:line: reason"; when
// there are several, the error lists the first maxBadSeedLines, one a line.
func ParseSeeds(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSeedLine)
	var seeds, bad []string
	nbad := 0
	badLine := func(format string, args ...any) {
		if nbad++; nbad <= maxBadSeedLines {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	seen := map[string]bool{}
	n := 1 // the line being read
	for ; sc.Scan(); n++ {
		line := sc.Text()
		if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
			badLine("%s:%d: not text (binary data or invalid UTF-8)", name, n)
			continue
		}
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			badLine("%s:%d: %q: more than one field (one URL a line)", name, n, line)
			continue
		}
		u, err := urlnorm.Normalize(line)
		if err != nil {
			badLine("%s:%d: %q: %v", name, n, line, unwrapParse(err))
			continue
		}
		if !seen[u] {
			seen[u] = true
			seeds = append(seeds, u)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			badLine("%s:%d: line longer than %d bytes", name, n, maxSeedLine)
		} else {
			badLine("%s:%d: %v", name, n, err)
		}
	}
	switch {
	case nbad == 1:
		return nil, errors.New(bad[0])
	case nbad > maxBadSeedLines:
		return nil, fmt.Errorf("%s: %d bad lines, the first %d:\n  %s", name, nbad, len(bad), strings.Join(bad, "\n  "))
	case nbad > 1:
		return nil, fmt.Errorf("%s: %d bad lines:\n  %s", name, nbad, strings.Join(bad, "\n  "))
	case len(seeds) == 0:
		return nil, fmt.Errorf("%s: no seed URLs (one absolute http(s) URL a line)", name)
	}
	return seeds, nil
}

// unwrapParse shortens net/url's "parse "x": reason" to the reason.
func unwrapParse(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}
