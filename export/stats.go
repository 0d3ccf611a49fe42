package export

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/politecrawl/crawl/store"
)

// Summary describes a crawl database: what `crawl stats` prints. Every list
// is in a stable order, so two summaries of the same data render alike.
type Summary struct {
	Pages      int        `json:"pages"`       // records stored, errors included
	Failed     int        `json:"failed"`      // records that are errors (see store.Page.Failed)
	Skipped    int        `json:"skipped"`     // records skipped on purpose (robots.txt, no /sitemap.xml)
	Bytes      int64      `json:"bytes"`       // body bytes fetched, summed over records
	Truncated  int        `json:"truncated"`   // records whose body was cut at the size cap
	FirstFetch *time.Time `json:"first_fetch"` // earliest FetchedAt; nil when no page
	LastFetch  *time.Time `json:"last_fetch"`  // latest FetchedAt; nil when no page

	Status       []Count     `json:"status"`        // by class: "2xx" … "5xx", then "error" (no response)
	ContentTypes []Count     `json:"content_types"` // by media type, most first; "(none)" when unknown
	Hosts        int         `json:"hosts"`         // distinct hosts with records or pending URLs
	TopHosts     []HostCount `json:"top_hosts"`     // at most the number asked for, most records first
	Errors       []Count     `json:"errors"`        // failed records by reason, most first
	Pending      int         `json:"pending"`       // frontier entries
	PendingHosts int         `json:"pending_hosts"` // hosts with frontier entries
	Depth        []Count     `json:"depth"`         // records by link distance from a seed, by depth
	// Unreadable counts the records that could not be read (a summary
	// with keep-going of a damaged database); omitted when none.
	Unreadable int `json:"unreadable,omitempty"`
	// Limits counts what the crawl's limits cut: "max-links" the links
	// beyond a page's cap, the others (max-depth, similar-hops, url-length,
	// path-depth, path-repeats) the links not followed; by name.
	Limits []Count `json:"limits"`

	// Versions counts the earlier versions kept: fetches of stored URLs
	// before their newest (crawl run --recrawl).
	Versions int `json:"versions,omitempty"`
	// Recrawl says what the newest fetch of each URL fetched again found;
	// nil when no URL has two versions.
	Recrawl *RecrawlCounts `json:"recrawl,omitempty"`
	// Duplicates counts the records (newest versions) whose payload is
	// another record's (duplicate_of), 304s apart.
	Duplicates int `json:"duplicates,omitempty"`
	// NearDuplicates are the clusters of pages with nearly the same text
	// (SimHash); nil when there are none.
	NearDuplicates *NearDuplicates `json:"near_duplicates,omitempty"`
}

// Count is one line of a histogram.
type Count struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// HostCount is one host's share of the crawl.
type HostCount struct {
	Host    string `json:"host"`
	Pages   int    `json:"pages"`
	Failed  int    `json:"failed"`
	Pending int    `json:"pending"`
}

// summaryPage is the part of a store.Page that Summarize reads; decoding into it
// skips the text, links and body without allocating them.
type summaryPage struct {
	URL         string         `json:"url"`
	Status      int            `json:"status"`
	ContentType string         `json:"content_type"`
	Depth       int            `json:"depth"`
	FetchedAt   time.Time      `json:"fetched_at"`
	Size        int64          `json:"size"`
	Truncated   bool           `json:"truncated"`
	Error       string         `json:"error"`
	Skipped     bool           `json:"skipped"`
	LinksCut    int            `json:"links_cut"`
	NotFollowed map[string]int `json:"not_followed"`
	Digest      string         `json:"digest"`
	DuplicateOf *store.Ref     `json:"duplicate_of"`
	NotModified bool           `json:"not_modified"`
	SimHash     string         `json:"simhash"`
}

// DefaultNearDistance is the Hamming distance within which Summarize
// counts two pages' SimHashes as near-duplicates.
const DefaultNearDistance = 3

// Summarize reads the whole database in one read transaction and returns its
// summary with at most topHosts hosts in TopHosts (0: none, negative: all).
// Memory grows with the number of hosts, content types, error reasons and
// depths, not with the number of pages. On a store from Store.KeepGoing,
// records that cannot be read are counted in Unreadable, and the summary of
// the others comes with a *store.UnreadableError.
func Summarize(s *store.Store, topHosts int) (*Summary, error) {
	return SummarizeNear(s, topHosts, DefaultNearDistance)
}

// SummarizeNear is Summarize with near-duplicates within near bits (0:
// identical SimHashes only). It keeps 12 bytes for each page with a
// SimHash.
func SummarizeNear(s *store.Store, topHosts, near int) (*Summary, error) {
	sm := newSummarizer()
	var unread *store.UnreadableError
	err := s.View(func(v *store.Snapshot) error {
		err := v.ForEachPage(func(u string, js []byte) error {
			if err := sm.add(v, u, js); err != nil {
				return fmt.Errorf("%w (%w)", err, store.ErrDamaged) // unreadable (see ForEachPage)
			}
			return nil
		})
		var skipped bool
		if unread, skipped = errors.AsType[*store.UnreadableError](err); err != nil && !skipped {
			return err
		}
		if len(sm.hashes) > 1 {
			nd, want := summarizeClusters(nearClusters(sm.hashes, near), near)
			if nd.Clusters > 0 {
				sm.sum.NearDuplicates = nd
				// A second walk names the first pages of the largest
				// clusters: the pages with a SimHash, in the same order.
				i := 0
				err := v.ForEachPage(func(u string, js []byte) error {
					var sp struct {
						SimHash string `json:"simhash"`
					}
					json.Unmarshal(js, &sp)
					if h, ok := parseSimHash(sp.SimHash); !ok || h == 0 {
						return nil
					}
					if j, ok := want[i]; ok {
						nd.Top[j].URLs = append(nd.Top[j].URLs, u)
					}
					i++
					return nil
				})
				if _, skipped := errors.AsType[*store.UnreadableError](err); err != nil && !skipped {
					return err // the unreadable ones were counted by the first walk
				}
			}
		}
		return v.ForEachQueue(func(host string, n int) error {
			sm.pending(host, n)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("stats of %s: %w", s.Path(), err)
	}
	sum := sm.finish(topHosts)
	if unread != nil {
		sum.Unreadable = unread.N
		return sum, fmt.Errorf("stats of %s: %w", s.Path(), unread)
	}
	return sum, nil
}

// SummarizeSalvaged returns the summary of the records and frontier that
// a salvage read, as Summarize does, with a *store.UnreadableError when
// records were lost.
func SummarizeSalvaged(s *store.Salvaged, topHosts int) (*Summary, error) {
	sm := newSummarizer()
	err := s.ForEachPage(func(u string, js []byte) error { return sm.add(nil, u, js) })
	unread, skipped := errors.AsType[*store.UnreadableError](err)
	if err != nil && !skipped {
		return nil, fmt.Errorf("stats of %s: %w", s.Path(), err)
	}
	s.ForEachQueue(func(host string, n int) error {
		sm.pending(host, n)
		return nil
	})
	sum := sm.finish(topHosts)
	if unread != nil {
		sum.Unreadable = unread.N
		return sum, fmt.Errorf("stats of %s: %w", s.Path(), unread)
	}
	return sum, nil
}

// summarizer builds a Summary from records and queue sizes.
type summarizer struct {
	sum     Summary
	status  map[string]int
	types   map[string]int
	reasons map[string]int
	depths  map[int]int
	hosts   map[string]*HostCount
	limits  map[string]int
	recrawl RecrawlCounts
	hashes  []uint64 // SimHashes of the pages that have one, in record order
}

func newSummarizer() *summarizer {
	return &summarizer{
		status: map[string]int{}, types: map[string]int{}, reasons: map[string]int{},
		depths: map[int]int{}, hosts: map[string]*HostCount{}, limits: map[string]int{},
	}
}

func (sm *summarizer) host(name string) *HostCount {
	h := sm.hosts[name]
	if h == nil {
		h = &HostCount{Host: name}
		sm.hosts[name] = h
	}
	return h
}

// add counts the record of URL k, whose JSON is js; with v, the URL's
// earlier versions too.
func (sm *summarizer) add(v *store.Snapshot, k string, js []byte) error {
	sum := &sm.sum
	var p summaryPage
	if err := json.Unmarshal(js, &p); err != nil {
		return err
	}
	sum.Pages++
	sum.Bytes += p.Size
	if p.DuplicateOf != nil && !p.NotModified {
		sum.Duplicates++
	}
	if h, ok := parseSimHash(p.SimHash); ok && h != 0 {
		sm.hashes = append(sm.hashes, h)
	}
	if v != nil {
		sm.versions(v, k, &p)
	}
	if p.LinksCut > 0 {
		sm.limits["max-links"] += p.LinksCut
	}
	for k, n := range p.NotFollowed {
		sm.limits[k] += n
	}
	if p.Truncated {
		sum.Truncated++
	}
	if !p.FetchedAt.IsZero() {
		if sum.FirstFetch == nil || p.FetchedAt.Before(*sum.FirstFetch) {
			t := p.FetchedAt
			sum.FirstFetch = &t
		}
		if sum.LastFetch == nil || p.FetchedAt.After(*sum.LastFetch) {
			t := p.FetchedAt
			sum.LastFetch = &t
		}
	}
	sm.status[StatusClass(p.Status, p.Error)]++
	ct := p.ContentType
	if ct == "" {
		ct = "(none)"
	}
	if p.Error == "" || p.Status != 0 {
		sm.types[ct]++
	}
	sm.depths[p.Depth]++
	h := sm.host(hostName(k))
	h.Pages++
	pg := store.Page{Status: p.Status, Error: p.Error, Skipped: p.Skipped}
	if p.Skipped {
		sum.Skipped++
	}
	if pg.Failed() {
		sum.Failed++
		h.Failed++
		sm.reasons[ErrorReason(p.URL, p.Status, p.Error)]++
	}
	return nil
}

// versions counts the earlier versions of URL k, whose newest record is p,
// and what the newest fetch found compared with the one before.
func (sm *summarizer) versions(v *store.Snapshot, k string, p *summaryPage) {
	n, last := v.Earlier(k)
	if n == 0 {
		return
	}
	rc := &sm.recrawl
	sm.sum.Versions += n
	rc.URLs++
	var prev struct {
		Digest string `json:"digest"`
	}
	if last != nil {
		json.Unmarshal(last, &prev)
	}
	switch {
	case p.NotModified:
		rc.NotModified++
	case p.Status == 0 || p.Error != "":
		rc.Failed++
	case p.Digest != "" && p.Digest == prev.Digest:
		rc.Unchanged++
	default:
		rc.Changed++
	}
}

// pending counts n frontier entries of host.
func (sm *summarizer) pending(host string, n int) {
	if n == 0 {
		return
	}
	sm.sum.Pending += n
	sm.sum.PendingHosts++
	sm.host(host).Pending += n
}

// finish returns the summary with at most topHosts hosts in TopHosts.
func (sm *summarizer) finish(topHosts int) *Summary {
	sum := &sm.sum
	for _, class := range []string{"1xx", "2xx", "3xx", "4xx", "5xx", "error"} {
		if n := sm.status[class]; n > 0 {
			sum.Status = append(sum.Status, Count{class, n})
			delete(sm.status, class)
		}
	}
	sum.Status = append(sum.Status, byCount(sm.status)...) // odd codes, if any
	sum.ContentTypes = byCount(sm.types)
	sum.Limits = byCount(sm.limits)
	if sm.recrawl.URLs > 0 {
		rc := sm.recrawl
		sum.Recrawl = &rc
	}
	sum.Errors = byCount(sm.reasons)
	for _, d := range slices.Sorted(maps.Keys(sm.depths)) {
		sum.Depth = append(sum.Depth, Count{strconv.Itoa(d), sm.depths[d]})
	}
	sum.Hosts = len(sm.hosts)
	all := make([]HostCount, 0, len(sm.hosts))
	for _, h := range sm.hosts {
		all = append(all, *h)
	}
	slices.SortFunc(all, func(a, b HostCount) int {
		return cmp.Or(
			cmp.Compare(b.Pages+b.Pending, a.Pages+a.Pending),
			cmp.Compare(a.Host, b.Host),
		)
	})
	if topHosts >= 0 && len(all) > topHosts {
		all = all[:topHosts]
	}
	sum.TopHosts = all
	return sum
}

// StatusClass returns the class of a record's status, "2xx" for 204, or
// "error" when there was no response.
func StatusClass(status int, errMsg string) string {
	if status == 0 {
		if errMsg != "" {
			return "error"
		}
		return "none"
	}
	return strconv.Itoa(status/100) + "xx"
}

// ErrorReason returns a short, stable reason for a failed record, for
// grouping: "HTTP 404 Not Found" for a status, or the last part of the
// error message ("connection refused", "too many redirects (10)") without
// the URL and addresses that make every message unique.
func ErrorReason(pageURL string, status int, errMsg string) string {
	if errMsg == "" {
		return "HTTP " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	msg := strings.TrimPrefix(errMsg, "fetch "+pageURL+": ")
	msg = attemptsNote.ReplaceAllString(msg, "")
	if i := strings.Index(msg, " at http"); i >= 0 {
		msg = msg[:i] // "redirect loop at URL"
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// attemptsNote is the " (after N attempts)" that earlier crawls wrote at the
// end of a retried URL's error, besides Page.Attempts: the records of the
// databases they wrote still carry it, and group with the plain error.
var attemptsNote = regexp.MustCompile(` \(after \d+ attempts\)$`)

// hostName returns the host[:port] of a stored URL, or the URL itself if it
// does not parse.
func hostName(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}

// byCount returns m's entries, most first, then by key.
func byCount(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{k, n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key))
	})
	return out
}
