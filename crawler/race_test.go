//go:build race

package crawler

import "time"

// policerSlack is the slack of the politeness tests' policer. The crawler's
// requests leave exactly their interval apart (TestWait*), but these tests
// serve the test web from their own process: under the race detector its
// handlers share a scheduler slowed several times over with the crawl's
// goroutines and log some arrivals tens of milliseconds late. cmd/crawl's
// TestPoliteAtTheServer polices a crawl in its own process at 5 ms.
const policerSlack = 30 * time.Millisecond
