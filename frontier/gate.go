package frontier

import (
	"context"
	"sync"
	"time"
)

// sendMargin is added to a host's interval between two sends. The time of
// a write is exact, but a server logs (and polices) a request when its own
// goroutine or thread gets to it, which on a loaded machine is a few
// milliseconds late at times: a late arrival followed by a prompt one looks
// closer together than the two writes were. The margin keeps the gap
// whole at the server in all but rare cases, at a cost of 1% at 5
// requests a second.
const sendMargin = 2 * time.Millisecond

// sendGate paces the requests to one host as the host itself would police
// them: with a token bucket of the host's interval and burst, filled at the
// start, taken by each request at the moment it was written to its
// connection (fetch.Pacer reports that time). A permit is given only when no
// other is out, so the time of every earlier request is known when the next
// one is let go; since a request leaves at or after its permit, no two
// arrive closer than the bucket allows, however late a worker, a dial or a
// scheduler makes either of them.
//
// The bucket is kept as GCRA keeps it, as the time tat at which it will be
// full again: each send moves tat on by one interval. x/time/rate keeps
// tokens as of its last update instead, and cannot take one at a time
// before that update, which a write reported after a retune would be.
// When the interval changes (Crawl-delay, back-off), the requests already
// sent count at the new one, as the host's policer at that interval would
// count them: tat is the later of the bucket's debt scaled to the new
// interval and the last burst sends replayed at it.
//
// With no interval (no rate limit) permits are given at once and in any
// number; the sends are still recorded, so that a limit set later counts
// them. A sendGate is safe for concurrent use; its zero value has no limit.
type sendGate struct {
	mu    sync.Mutex
	every time.Duration // the host's current interval, margin included; 0: no limit
	burst int
	tat   time.Time     // when the bucket is full again
	busy  bool          // a permit is out whose request has not been written
	freed chan struct{} // closed when busy ends
	sends []time.Time   // the last burst send times, in order
}

// set sets the gate's interval (0: no limit) and burst.
func (g *sendGate) set(every time.Duration, burst int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if every > 0 {
		every += sendMargin
	}
	old := g.every
	g.every, g.burst = every, max(burst, 1)
	if every == old || every == 0 {
		return
	}
	// The sends so far, at the new interval.
	var tat time.Time
	for _, s := range g.sends {
		if s.After(tat) {
			tat = s
		}
		tat = tat.Add(every)
	}
	if now := time.Now(); old > 0 && g.tat.After(now) {
		scaled := now.Add(time.Duration(float64(g.tat.Sub(now)) * float64(every) / float64(old)))
		if scaled.After(tat) {
			tat = scaled
		}
	}
	g.tat = tat
}

// readyAt returns when the next request may leave. g.mu is held.
func (g *sendGate) readyAt() time.Time {
	return g.tat.Add(-time.Duration(g.burst-1) * g.every)
}

// wait returns once a request may leave, with the function to call with
// the time it was written (zero: it was not), or ctx's error.
func (g *sendGate) wait(ctx context.Context) (func(time.Time), error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		g.mu.Lock()
		if g.every <= 0 {
			g.mu.Unlock()
			return g.record, nil
		}
		var wake <-chan time.Time
		freed := g.freed
		if !g.busy {
			now := time.Now()
			at := g.readyAt()
			if !now.Before(at) {
				g.busy = true
				g.freed = make(chan struct{})
				g.mu.Unlock()
				return g.sent, nil
			}
			if t == nil {
				t = time.NewTimer(at.Sub(now))
			} else {
				t.Reset(at.Sub(now))
			}
			wake, freed = t.C, nil
		}
		g.mu.Unlock()
		select {
		case <-freed:
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sent ends the permit out, recording its request's send time.
func (g *sendGate) sent(at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.add(at)
	if g.busy {
		g.busy = false
		close(g.freed)
	}
}

// record records a send made without a permit (no limit was set).
func (g *sendGate) record(at time.Time) {
	g.mu.Lock()
	g.add(at)
	g.mu.Unlock()
}

// add records a send at at (zero: none). g.mu is held.
func (g *sendGate) add(at time.Time) {
	if at.IsZero() {
		return
	}
	if n := len(g.sends); n > 0 && at.Before(g.sends[n-1]) {
		at = g.sends[n-1] // sends are kept in order; an earlier one counts as the latest
	}
	if g.every > 0 {
		if at.After(g.tat) {
			g.tat = at
		}
		g.tat = g.tat.Add(g.every)
	}
	if len(g.sends) >= max(g.burst, 1) {
		copy(g.sends, g.sends[1:])
		g.sends = g.sends[:len(g.sends)-1]
	}
	g.sends = append(g.sends, at)
}

// atRest reports whether the gate is as a new one: no permit out and the
// bucket full at now.
func (g *sendGate) atRest(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.busy && !g.tat.After(now)
}
