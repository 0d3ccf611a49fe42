package crawler

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSeeds(t *testing.T) {
	in := `# news sites
http://Example.com
https://example.org/a#x   # trailing comment

http://example.com/
	https://example.net/b
`
	got, err := ParseSeeds(strings.NewReader(in), "seeds.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://example.com/", "https://example.org/a", "https://example.net/b"}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseSeeds = %q, want %q", got, want)
	}
}

func TestParseSeedsErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"relative", "http://example.com/\n\n/just/a/path\n", "seeds.txt:3:"},
		{"scheme", "# c\nftp://example.com/\n", "seeds.txt:2:"},
		{"two fields", "http://a.example/ http://b.example/\n", "seeds.txt:1:"},
		{"binary", "http://a.example/\n\x00\x01\x02\n", "seeds.txt:2: not text"},
		{"bad utf8", "http://a.example/\xff\n", "seeds.txt:1: not text"},
		{"empty", "\n# only comments\n", "seeds.txt: no seed URLs"},
		{"long line", "http://a.example/\nhttp://b.example/" + strings.Repeat("a", maxSeedLine) + "\n", "seeds.txt:2: line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSeeds(strings.NewReader(tt.in), "seeds.txt")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseSeeds error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

// TestParseSeedsSeveralErrors checks that every bad line is reported, up
// to maxBadSeedLines, not only the first.
func TestParseSeedsSeveralErrors(t *testing.T) {
	in := "http://a.example/\n/rel\nftp://b.example/\nhttp://c.example/ x\n"
	_, err := ParseSeeds(strings.NewReader(in), "seeds.txt")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"seeds.txt: 3 bad lines", "seeds.txt:2:", "seeds.txt:3:", "seeds.txt:4:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	many := strings.Repeat("/rel\n", 25)
	_, err = ParseSeeds(strings.NewReader(many), "seeds.txt")
	if err == nil || !strings.Contains(err.Error(), "25 bad lines, the first 10") || strings.Count(err.Error(), "\n") != 10 {
		t.Errorf("25 bad lines: error %q, want the first 10 of 25, one a line", err)
	}
}

func TestReadSeedFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.txt")
	_, err := ReadSeedFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("ReadSeedFile(missing) error = %v, want one naming %s", err, path)
	}
}

func TestSeedFilesInRepo(t *testing.T) {
	files, _ := filepath.Glob("../seeds/*.txt")
	if len(files) == 0 {
		t.Skip("no seed files")
	}
	for _, f := range files {
		if _, err := ReadSeedFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}
