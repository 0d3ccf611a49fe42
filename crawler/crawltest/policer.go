package crawltest

import (
	"fmt"
	"slices"
	"time"
)

// Policer is how a host polices a client's request rate: a token bucket of
// Burst tokens, full at the start, refilled at one token every Interval;
// each request takes a token, and one that finds less than a whole token
// even Slack later is an excess request (and takes none). Slack stands for
// the jitter between a request's departure and the moment the server logs
// it, a few milliseconds on a loaded machine.
type Policer struct {
	Interval time.Duration
	Burst    int           // [1]
	Slack    time.Duration // [5ms]
}

// Excess is a request a Policer found in excess: it arrived Early before
// the bucket held a token.
type Excess struct {
	Request
	Early time.Duration
}

func (e Excess) String() string {
	return fmt.Sprintf("%s %s %v early", e.Host, e.Path, e.Early)
}

// Check returns the requests of reqs (one host's) that p finds in excess,
// taking them in the order of their arrival times (the log's order is that
// of the handlers, which on several connections may differ). It is GCRA,
// the token bucket's arithmetic as policers implement it: tat is when the
// bucket will next be full.
func (p Policer) Check(reqs []Request) []Excess {
	reqs = slices.Clone(reqs)
	slices.SortStableFunc(reqs, func(a, b Request) int { return a.Time.Compare(b.Time) })
	burst := max(p.Burst, 1)
	slack := p.Slack
	if slack == 0 {
		slack = 5 * time.Millisecond
	}
	var out []Excess
	var tat time.Time
	for i, r := range reqs {
		allowed := tat.Add(-time.Duration(burst-1) * p.Interval)
		if i > 0 && r.Time.Add(slack).Before(allowed) {
			out = append(out, Excess{r, allowed.Sub(r.Time)})
			continue
		}
		if r.Time.After(tat) {
			tat = r.Time
		}
		tat = tat.Add(p.Interval)
	}
	return out
}

// ByHost splits a log by host, keeping each host's arrival order.
func ByHost(reqs []Request) map[string][]Request {
	m := map[string][]Request{}
	for _, r := range reqs {
		m[r.Host] = append(m[r.Host], r)
	}
	return m
}
