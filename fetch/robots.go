package fetch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/politecrawl/crawl/fetch/robotstxt"
)

const (
	// maxRobotsBody is how much of a robots.txt is read (RFC 9309 asks for
	// at least 500 KiB).
	maxRobotsBody = 512 << 10
	// maxRobotsRedirects is how many redirects a robots.txt fetch follows
	// (RFC 9309: at least five).
	maxRobotsRedirects = 5
)

// Robots is what a host's robots.txt says to this client's agent. A Robots
// is immutable and safe for concurrent use.
type Robots struct {
	// Status is the HTTP status of /robots.txt; 0 if it could not be fetched.
	Status int
	// Err says why robots.txt could not be had (a 5xx or 429 status, or a
	// fetch error): until Expires everything is disallowed. Nil otherwise.
	Err error
	// CrawlDelay is the Crawl-delay of the agent's group; 0 if none.
	CrawlDelay time.Duration
	// Sitemaps are the Sitemap: lines, as written.
	Sitemaps []string
	// Expires is when robots.txt should be fetched again.
	Expires time.Time
	// Fetched is when it was fetched, and Body the body of a 2xx answer:
	// with Status, what RobotsFrom needs to read it again.
	Fetched time.Time
	Body    []byte

	group *robotstxt.Group // nil: everything allowed
}

// Allowed reports whether the agent may fetch u (path and query are matched).
func (r *Robots) Allowed(u *url.URL) bool {
	if r.Err != nil {
		return false
	}
	return r.group.Allowed(u.RequestURI())
}

// FetchRobots fetches origin's ("scheme://host[:port]") /robots.txt now,
// following up to five redirects, and reads it for this client's agent (see
// RobotsFrom). It keeps nothing: the caller decides how long the answer
// serves (Expires) and where it is kept. It returns an error only when
// ctx ends: an unreachable robots.txt is a Robots whose Err is set.
func (c *Client) FetchRobots(ctx context.Context, origin string) (*Robots, error) {
	resp, err := c.get(ctx, c.robots, origin+"/robots.txt", maxRobotsBody, Validators{})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return c.RobotsFrom(0, nil, err, time.Now()), nil
	}
	r := c.RobotsFrom(resp.Status, resp.Body, nil, time.Now())
	if r.Err != nil {
		r.Err = fmt.Errorf("%s/robots.txt: %w", origin, r.Err)
	}
	return r, nil
}

// RobotsFrom builds the Robots for this client's agent from what a fetch
// of robots.txt at time fetched gave: fetchErr if it failed (status and
// body are then ignored), else the final status and body. It is how a
// stored robots.txt is read again, as fetchRobots reads a fresh one:
//
//   - 2xx: the body is parsed as RFC 9309 says (no error is possible: a
//     line that cannot be read is skipped);
//   - 429, 5xx or fetchErr: robots.txt is unreachable, and Err (fetchErr
//     itself, or "status N" for the caller to wrap with the URL) disallows
//     everything until Expires, RobotsErrorTTL after fetched;
//   - any other status (4xx, or redirects beyond the limit): there is no
//     robots.txt, and everything is allowed.
//
// Otherwise Expires is RobotsTTL after fetched.
func (c *Client) RobotsFrom(status int, body []byte, fetchErr error, fetched time.Time) *Robots {
	r := &Robots{Status: status, Expires: fetched.Add(c.cfg.RobotsTTL), Fetched: fetched}
	switch {
	case fetchErr != nil:
		r.Status = 0
		r.Err = fetchErr
	case status == http.StatusTooManyRequests || status >= 500:
		r.Err = fmt.Errorf("status %d", status)
	case status >= 200 && status < 300:
		r.Body = body
		rules := robotstxt.Parse(body)
		r.group = rules.Group(c.agent)
		if r.group != nil {
			r.CrawlDelay = r.group.CrawlDelay
		}
		r.Sitemaps = rules.Sitemaps
	}
	if r.Err != nil {
		r.Expires = fetched.Add(c.cfg.RobotsErrorTTL)
	}
	return r
}
