// Package redisfrontier owns the frontier that several crawl processes, on
// one machine or many, share through one Redis or a Redis Cluster: the
// per-host queues, each host's politeness state (send permits and a GCRA
// bucket on Redis's clock, Crawl-delay, holds, back-off, requests in flight
// against the cap), the leases of claimed URLs and the visited set. Each
// change is one Lua script call on one shard (frontier.lua over
// common.lua), every key it touches in KEYS; the politeness numbers come
// from package frontier's rules, so a host is paced as the embedded
// frontier paces it. The caller builds a Frontier (New) and gives it to
// the crawler as its Frontier, its ScopeFrom (Scope), its SeenFrom (Seen)
// and its Robots keeper (crawler.Config).
package redisfrontier
