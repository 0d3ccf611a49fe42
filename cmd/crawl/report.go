package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
)

// runReport gathers, from the records of this run as they are committed,
// what the closing summary, -v and the status page tell: the error reasons
// and the records per host. Its methods are safe for concurrent use.
type runReport struct {
	log *slog.Logger

	mu      sync.Mutex
	ok      int            // records this run that neither failed nor were skipped
	failed  int            // records this run that failed
	reasons map[string]int // failed records by reason
	hosts   map[string]*hostCount
}

// hostCount is one host's records this run.
type hostCount struct {
	Host           string
	Stored, Failed int
}

func newRunReport(log *slog.Logger) *runReport {
	return &runReport{log: log, reasons: map[string]int{}, hosts: map[string]*hostCount{}}
}

// page takes a record once it is stored (crawler.Config.OnPage): it is
// counted, and logged at debug level (-v) if it failed, whatever the cause.
func (r *runReport) page(p *store.Page) {
	host := p.URL
	if _, rest, ok := strings.Cut(p.URL, "://"); ok {
		host, _, _ = strings.Cut(rest, "/")
	}
	failed := p.Failed()
	var why string
	if failed {
		why = reason(p)
		msg := p.Error
		if msg == "" {
			msg = why
		}
		args := []any{"url", p.URL, "status", p.Status, "err", msg}
		if p.Attempts > 1 {
			args = append(args, "attempts", p.Attempts)
		}
		r.log.Debug("failed", args...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hosts[host]
	if h == nil {
		h = &hostCount{Host: host}
		r.hosts[host] = h
	}
	h.Stored++
	switch {
	case failed:
		h.Failed++
		r.failed++
		r.reasons[why]++
	case !p.Skipped:
		r.ok++
	}
}

// reason is a failed record's short reason, as crawl stats groups them,
// saying when it is robots.txt that could not be had.
func reason(p *store.Page) string {
	why := export.ErrorReason(p.URL, p.Status, p.Error)
	if strings.HasPrefix(p.Error, "robots.txt unavailable") && !strings.HasPrefix(why, "robots.txt") {
		why = "robots.txt unavailable (" + why + ")"
	}
	return why
}

// noneSucceeded reports whether records failed this run and none succeeded.
func (r *runReport) noneSucceeded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed > 0 && r.ok == 0
}

// topReasons returns the n most frequent error reasons, most first, and
// how many other reasons there were.
func (r *runReport) topReasons(n int) (top []export.Count, more int) {
	r.mu.Lock()
	all := make([]export.Count, 0, len(r.reasons))
	for k, v := range r.reasons {
		all = append(all, export.Count{Key: k, N: v})
	}
	r.mu.Unlock()
	slices.SortFunc(all, func(a, b export.Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key)) })
	if len(all) > n {
		return all[:n], len(all) - n
	}
	return all, 0
}

// busiest returns the n hosts with most records this run.
func (r *runReport) busiest(n int) []hostCount {
	r.mu.Lock()
	all := make([]hostCount, 0, len(r.hosts))
	for _, h := range r.hosts {
		all = append(all, *h)
	}
	r.mu.Unlock()
	slices.SortFunc(all, func(a, b hostCount) int { return cmp.Or(cmp.Compare(b.Stored, a.Stored), cmp.Compare(a.Host, b.Host)) })
	return all[:min(n, len(all))]
}

// errorLine is the summary's line about errors, such as "20 errors:
// no such host ×10, robots.txt unavailable ×10 — crawl stats --db pub.db",
// or "" when there were none.
func (r *runReport) errorLine(failed int64, db string) string {
	top, more := r.topReasons(3)
	if failed == 0 || len(top) == 0 {
		return ""
	}
	parts := make([]string, len(top))
	for i, c := range top {
		parts[i] = fmt.Sprintf("%s ×%d", c.Key, c.N)
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("%d other reasons", more))
	}
	return fmt.Sprintf("%s: %s — crawl stats --db %s", plural(int(failed), "error"), strings.Join(parts, ", "), db)
}

// progressLine renders the terminal's progress line in at most width
// columns: the fields in order of importance, dropping the least important
// ones that do not fit, and cutting only if even the first does not.
func progressLine(s crawler.Stats, rate float64, width int) string {
	fields := []string{
		fmt.Sprintf("stored %d", s.Stored),
		fmt.Sprintf("%.0f pages/s", rate),
		fmt.Sprintf("queued %d", s.Pending),
		fmt.Sprintf("in flight %d", s.InFlight),
		fmt.Sprintf("errors %d", s.Failed),
		s.Elapsed.Round(1e9).String(),
		fmt.Sprintf("hosts %d (%d ready, %d waiting, %d held)", s.Hosts, s.Ready, s.Waiting, s.Held),
		byteSize(s.Bytes),
	}
	// The last column stays empty: a line that fills the row makes some
	// terminals wrap before the next \r.
	width--
	const sep = " · "
	line := fields[0]
	for _, f := range fields[1:] {
		if utf8.RuneCountInString(line)+utf8.RuneCountInString(sep)+utf8.RuneCountInString(f) > width {
			continue // a shorter field further on may still fit
		}
		line += sep + f
	}
	if utf8.RuneCountInString(line) > width {
		line = string([]rune(line)[:max(width, 0)])
	}
	return line
}
