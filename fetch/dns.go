package fetch

import (
	"container/list"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// TTLResolver is a Resolver that also says how long its answer may be
// kept (the records' TTL). *DNSClient implements it; a Resolver that does
// not is cached for Config.DNSTTL.
type TTLResolver interface {
	Resolver
	LookupNetIPTTL(ctx context.Context, network, host string) ([]netip.Addr, time.Duration, error)
}

// Bounds of the time a lookup is kept: an answer with a shorter TTL is
// kept minTTL (long enough for the dial that the frontier looked the name
// up for: see Client.Resolved), one with a longer TTL maxTTL.
const (
	minTTL = 30 * time.Second
	maxTTL = time.Hour
)

// dnsCache keeps the answers of a Resolver, failures included, for their
// TTL, in at most size entries (the least recently used go first). A
// name looked up by several goroutines at once is looked up once. It is
// safe for concurrent use.
type dnsCache struct {
	r       Resolver
	size    int
	ttl     time.Duration // for answers without a TTL
	errTTL  time.Duration // for failures
	timeout time.Duration // of one lookup, whoever waits for it
	mu      sync.Mutex
	entries map[string]*list.Element // of *dnsEntry, by network and name
	lru     list.List                // front: most recently used
}

// dnsEntry is one name's lookup: done is closed once addrs and err are
// set, at which point expires is too.
type dnsEntry struct {
	key     string
	done    chan struct{}
	addrs   []netip.Addr
	err     error
	expires time.Time
}

func newDNSCache(r Resolver, size int, ttl, errTTL, timeout time.Duration) *dnsCache {
	return &dnsCache{r: r, size: size, ttl: ttl, errTTL: errTTL, timeout: timeout, entries: map[string]*list.Element{}}
}

// LookupNetIP returns the cached answer for host, looking it up if there is
// none or it expired.
func (c *dnsCache) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	key := network + "/" + strings.ToLower(host)
	now := time.Now()
	c.mu.Lock()
	var e *dnsEntry
	if el := c.entries[key]; el != nil {
		e = el.Value.(*dnsEntry)
		select {
		case <-e.done:
			if now.After(e.expires) {
				c.lru.Remove(el)
				delete(c.entries, key)
				e = nil
			} else {
				c.lru.MoveToFront(el)
			}
		default: // being looked up
		}
	}
	if e == nil {
		e = &dnsEntry{key: key, done: make(chan struct{})}
		c.entries[key] = c.lru.PushFront(e)
		c.evict()
		c.mu.Unlock()
		c.lookup(ctx, e, network, host)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-e.done:
		return e.addrs, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lookup looks e's name up on its own goroutine, bounded by c.timeout but
// not by ctx: other callers may be waiting for it. A resolver that does not
// answer within c.timeout, whether or not it heeds its context, fails the
// lookup as timed out.
func (c *dnsCache) lookup(ctx context.Context, e *dnsEntry, network, host string) {
	type answer struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	}
	go func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		done := make(chan answer, 1)
		go func() {
			var a answer
			if tr, ok := c.r.(TTLResolver); ok {
				a.addrs, a.ttl, a.err = tr.LookupNetIPTTL(lctx, network, host)
			} else {
				a.addrs, a.err = c.r.LookupNetIP(lctx, network, host)
				a.ttl = c.ttl
			}
			done <- a
		}()
		var a answer
		select {
		case a = <-done:
		case <-lctx.Done():
			a.err = lctx.Err()
		}
		if a.err == nil && len(a.addrs) == 0 {
			a.err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		if a.err != nil {
			if errors.Is(a.err, context.DeadlineExceeded) {
				a.err = &net.DNSError{Err: "lookup timed out", Name: host, IsTimeout: true}
			}
			a.addrs, a.ttl = nil, c.errTTL
		} else {
			a.ttl = min(max(a.ttl, minTTL), maxTTL)
		}
		c.mu.Lock()
		e.addrs, e.err, e.expires = a.addrs, a.err, time.Now().Add(a.ttl)
		close(e.done)
		c.mu.Unlock()
	}()
}

// evict drops the least recently used entries beyond c.size. c.mu is held.
func (c *dnsCache) evict() {
	for c.lru.Len() > c.size {
		el := c.lru.Back()
		delete(c.entries, el.Value.(*dnsEntry).key)
		c.lru.Remove(el) // a lookup in flight still completes for its waiters
	}
}

// cached reports whether a lookup of host would be answered from the cache
// now.
func (c *dnsCache) cached(network, host string) bool {
	key := network + "/" + strings.ToLower(host)
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		return false
	}
	e := el.Value.(*dnsEntry)
	select {
	case <-e.done:
		return time.Now().Before(e.expires)
	default:
		return false
	}
}

// len returns the number of entries, for tests.
func (c *dnsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
