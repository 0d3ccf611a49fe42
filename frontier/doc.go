// Package frontier owns what is fetched next and when: the per-host queues,
// and each host's politeness — its interval from the configured rate,
// robots.txt Crawl-delay, back-off and response times (rules.go, written
// once for every frontier), its holds (Retry-After, retry back-off), its
// concurrency cap, and the send gate that lets each request go no sooner
// than the host's token bucket allows, timed from when the previous one
// was written (gate.go).
//
// Embedded is the frontier of one crawl process, over the store's queues;
// package redisfrontier is the one several processes share through Redis.
// The crawler consumes either through its own Frontier interface.
package frontier
