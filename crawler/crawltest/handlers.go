package crawltest

import (
	"net/http"
	"time"
)

// Drip returns a handler that answers an HTML page that never ends: chunk,
// flushed, every interval, until the client goes away or the Web closes. It
// stands for the slow server that must not hold a crawler's worker.
func Drip(chunk string, every time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
}

// PageRequests counts the logged requests for each URL
// ("http://host:port/path?query"), robots.txt left out: a crawler asks for
// it once per host in each run, so tests of "no page fetched twice" across
// runs skip it.
func (w *Web) PageRequests() map[string]int {
	n := map[string]int{}
	for _, r := range w.Log() {
		if r.Path != "/robots.txt" {
			n["http://"+r.Host+r.Path]++
		}
	}
	return n
}
