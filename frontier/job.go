package frontier

import "github.com/politecrawl/crawl/store"

// Job is a URL handed to a worker: its queue entry and what the crawl keeps
// of it in memory only (after a restart a URL starts afresh).
type Job struct {
	store.Entry
	Attempts int          // retryable failures so far
	Origin   *store.Entry // for a redirect hop: the queued URL whose record this fetch completes
	Hops     int          // redirects followed to reach URL
	Seen     []uint64     // fingerprints of the hops' targets, committed with the record
	// Lease is a shared frontier's claim on the URL (its fencing token),
	// acknowledged by the commit of its record (store.Done.Lease) or ended
	// by its requeue; 0 for the embedded frontier. A redirect hop carries
	// the lease of the URL it was reached from.
	Lease uint64
}

// Record returns the queue entry that the job's record completes.
func (j *Job) Record() store.Entry {
	if j.Origin != nil {
		return *j.Origin
	}
	return j.Entry
}
