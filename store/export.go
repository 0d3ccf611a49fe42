package store

import (
	"bufio"
	"fmt"
	"io"
)

// Format is an export format.
type Format string

// Export formats.
const (
	JSONLines Format = "jsonl" // one JSON object per line
	JSONArray Format = "json"  // one JSON array of objects
)

// ParseFormat returns the Format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case JSONLines, JSONArray:
		return f, nil
	}
	return "", fmt.Errorf("unknown export format %q (want jsonl or json)", s)
}

// Export writes every stored page to w in format f, in URL order, and returns
// how many it wrote. Records are streamed from one read transaction: memory
// does not grow with the database.
func Export(w io.Writer, s *Store, f Format) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	sep, end := []byte("\n"), []byte("\n")
	if f == JSONArray {
		bw.WriteString("[")
		sep, end = []byte(",\n"), []byte("\n]\n")
	}
	err := s.ForEachPage(func(_ string, raw []byte) error {
		if f == JSONArray {
			if n == 0 {
				bw.WriteString("\n")
			} else {
				bw.Write(sep)
			}
		}
		if _, err := bw.Write(raw); err != nil {
			return err
		}
		if f == JSONLines {
			bw.Write(sep)
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if f == JSONArray {
		if n == 0 {
			end = []byte("]\n")
		}
		bw.Write(end)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	return n, nil
}
