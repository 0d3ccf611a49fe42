package frontier

import (
	"time"

	"golang.org/x/time/rate"
)

// Limits are what the user configured for hosts: every frontier paces each
// host (or, with PerIP, each address) by them and by the Rules below.
type Limits struct {
	Rate    rate.Limit // requests per second per host; rate.Inf for no limit
	Burst   int        // requests a host may receive at once after a pause
	PerHost int        // concurrent requests per host
	// MaxBackoff caps the interval to which errors and slow responses
	// stretch a host's rate (never below the configured rate or
	// Crawl-delay) [DefaultMaxBackoff].
	MaxBackoff time.Duration
	// Host, if set, gives a host's rate, burst and concurrency in place of
	// Rate, Burst and PerHost (a result ≤ 0 keeps the configured one).
	Host func(host string) (r rate.Limit, burst, perHost int)
}

// For returns host's rate, burst (at least 1) and concurrency cap.
func (l Limits) For(host string) (rate.Limit, int, int) {
	limit, burst, perHost := l.Rate, l.Burst, l.PerHost
	if l.Host != nil {
		r, b, p := l.Host(host)
		if r > 0 {
			limit = r
		}
		if b > 0 {
			burst = b
		}
		if p > 0 {
			perHost = p
		}
	}
	return limit, max(burst, 1), max(perHost, 1)
}

// maxBackoff returns the configured cap on back-off, or its default.
func (l Limits) maxBackoff() time.Duration {
	if l.MaxBackoff > 0 {
		return l.MaxBackoff
	}
	return DefaultMaxBackoff
}

// The politeness rules, written once: the embedded frontier applies them in
// Go (Pace), and the Redis frontier hands these numbers to its script,
// which applies them to the state it keeps in Redis the same way (a test
// holds the two to each other).
//
// Adaptive back-off: each retryable failure multiplies a host's interval by
// SlowOnError, each success by RecoverOnSuccess (down to the configured
// interval), and the interval is at least the average response time
// (weighted LatencyWeight to the newest) divided by the per-host
// concurrency, as Scrapy's AutoThrottle does. A host without a rate limit
// backs off from MinBackoff; no back-off exceeds MaxBackoff. SendMargin is
// added between two sends (see sendGate).
const (
	SlowOnError       = 2.0
	RecoverOnSuccess  = 0.8
	LatencyWeight     = 0.3
	MinBackoff        = 100 * time.Millisecond
	DefaultMaxBackoff = 60 * time.Second
	SendMargin        = sendMargin
)

// Pace is the state from which a unit of politeness (a host, or the hosts
// at one address) gets its interval.
type Pace struct {
	Every      time.Duration // the configured interval; 0 for no limit
	PerHost    int           // concurrency cap
	MaxBackoff time.Duration
	CrawlDelay time.Duration // the longest robots.txt Crawl-delay of its hosts
	Slow       float64       // back-off factor from errors, ≥ 1
	Latency    time.Duration // moving average of successful response times
}

// Observe feeds the outcome of a request into the back-off: ok is false
// for retryable failures (timeouts, connection errors, 5xx, 429); latency
// is the response time of a success.
func (p *Pace) Observe(ok bool, latency time.Duration) {
	if p.Slow < 1 {
		p.Slow = 1
	}
	if ok {
		p.Slow = max(1, p.Slow*RecoverOnSuccess)
		if p.Latency == 0 {
			p.Latency = latency
		} else {
			p.Latency += time.Duration(LatencyWeight * float64(latency-p.Latency))
		}
		return
	}
	// No higher than what reaches the cap, so that recovery starts at once.
	limit := float64(p.MaxBackoff) / float64(max(p.Every, p.CrawlDelay, MinBackoff))
	p.Slow = min(p.Slow*SlowOnError, max(limit, 1))
}

// Interval returns the interval the unit leaves between requests: the
// longest of the configured interval, Crawl-delay, back-off and latency
// term, back-off capped at MaxBackoff, never shorter than configured.
//
// The latency term applies to a unit that has an interval (a rate limit or
// a Crawl-delay): a slow server stretches it. A unit with neither is held
// by its concurrency cap alone, which already bounds it to PerHost
// requests a response time; spacing them out as well would only cost (a
// shared frontier would have to pace, and so coordinate, every request of
// every such host). Errors still back it off.
func (p *Pace) Interval() time.Duration {
	base := max(p.Every, p.CrawlDelay)
	iv := base
	if p.Slow > 1 {
		iv = max(iv, time.Duration(float64(max(base, MinBackoff))*p.Slow))
	}
	if base > 0 {
		iv = max(iv, p.Latency/time.Duration(max(p.PerHost, 1)))
	}
	return min(iv, max(p.MaxBackoff, base))
}

// Every returns the interval between requests at rate lim; 0 for no limit.
func Every(lim rate.Limit) time.Duration {
	if lim == rate.Inf || lim <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / float64(lim))
}
