package store

import (
	"strconv"
	"strings"
	"testing"
)

// TestUsage: the records of a thousand pages of text take most of the
// file, and the parts Usage counts add up to no more than the part used,
// nor that to more than the file.
func TestUsage(t *testing.T) {
	s := openTemp(t)
	for i := range 10 {
		var b Batch
		for k := range 100 {
			u := "http://a.test/" + strconv.Itoa(i*100+k)
			b.Done = append(b.Done, Done{Entry: Entry{URL: u, Host: "a.test"},
				Page: &Page{URL: u, Status: 200, Text: strings.Repeat(u+" lorem ipsum ", 100)}})
		}
		if err := s.Commit(&b); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	sum := u.Free
	for _, n := range u.Buckets {
		sum += n
	}
	if sum > u.Used || u.Used > u.File {
		t.Errorf("buckets and free pages %d, used %d, file %d: want each at most the next", sum, u.Used, u.File)
	}
	if got := u.Buckets["records"]; got < u.Used/2 {
		t.Errorf("records take %d bytes of %d used, want most (%v)", got, u.Used, u.Buckets)
	}
}
