package store

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// benchPage is a record like the test web's: 60 links, a line of text.
func benchPage() *Page {
	p := &Page{URL: "http://127.0.1.7:41234/p/1234", FinalURL: "http://127.0.1.7:41234/p/1234", Status: 200,
		ContentType: "text/html", Title: "Host 7 page 1234", Depth: 5, FetchedAt: time.Unix(1795000000, 0).UTC(),
		DurationMS: 0.412, Size: 5123, Attempts: 1,
		Headers: map[string]string{"Content-Length": "5123"},
		Text:    "Host 7 page 1234 alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november"}
	for i := range 60 {
		p.Links = append(p.Links, "http://127.0.1."+strconv.Itoa(i%20+1)+":41234/p/"+strconv.Itoa(i*37%2000))
	}
	return p
}

// BenchmarkEncodePage measures what a worker spends on each record before
// the commit: its JSON and the compression of it.
func BenchmarkEncodePage(b *testing.B) {
	p := benchPage()
	v, _ := EncodePage(p)
	js, _ := jsonOf(p)
	b.ReportMetric(float64(len(js))/float64(len(v)), "ratio")
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		if _, err := EncodePage(p); err != nil {
			b.Fatal(err)
		}
	}
}

func jsonOf(p *Page) ([]byte, error) { return json.Marshal(p) }
