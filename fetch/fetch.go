// Package fetch owns the crawler's HTTP: the client and its limits (timeouts,
// redirects, body cap, user agent). It knows nothing of the crawl: it fetches
// one URL when asked and reports what the server said.
//
// A Client is safe for concurrent use by many goroutines.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultUserAgent names the crawler and where to learn about it.
const DefaultUserAgent = "politecrawl/0.1 (+https://github.com/politecrawl/crawl)"

// Config configures a Client. The zero value means the defaults below.
type Config struct {
	UserAgent    string        // sent on every request [DefaultUserAgent]
	Timeout      time.Duration // whole fetch, from dial to the last body byte [30s]
	DialTimeout  time.Duration // TCP connect [10s]
	MaxBody      int64         // bytes of body kept; longer bodies are cut and marked [10 MiB]
	MaxRedirects int           // redirects followed before giving up [10]
	// IdleConnsPerHost bounds the keep-alive connections kept per host [64].
	IdleConnsPerHost int
}

func (c *Config) defaults() {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 10 << 20
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 10
	}
	if c.IdleConnsPerHost <= 0 {
		c.IdleConnsPerHost = 64
	}
}

// ErrTooManyRedirects is returned when a chain of redirects exceeds
// Config.MaxRedirects.
var ErrTooManyRedirects = errors.New("too many redirects")

// Response is what a fetch brought back.
type Response struct {
	URL         string        // the URL asked for
	FinalURL    string        // the URL of the last response, after redirects
	Status      int           // HTTP status code
	Header      http.Header   // response headers of the final response
	ContentType string        // media type without parameters, lower case ("text/html")
	Body        []byte        // at most Config.MaxBody bytes
	Truncated   bool          // the body was longer than Config.MaxBody and was cut
	Duration    time.Duration // from the request to the last body byte read
}

// IsHTML reports whether the response is an HTML document.
func (r *Response) IsHTML() bool {
	return r.ContentType == "text/html" || r.ContentType == "application/xhtml+xml"
}

// Client fetches URLs over HTTP.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client configured by cfg.
func New(cfg Config) *Client {
	cfg.defaults()
	tr := &http.Transport{
		Proxy: nil, // a crawler talks to the hosts it names
		DialContext: (&net.Dialer{
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           0, // no global cap: the per-host cap bounds it
		MaxIdleConnsPerHost:    cfg.IdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 1 << 20, // net/http's default is 10 MiB
		ExpectContinueTimeout:  time.Second,
	}
	c := &Client{cfg: cfg}
	c.http = &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return fmt.Errorf("%w (%d)", ErrTooManyRedirects, cfg.MaxRedirects)
			}
			return nil
		},
	}
	return c
}

// UserAgent returns the User-Agent header the client sends.
func (c *Client) UserAgent() string { return c.cfg.UserAgent }

// Fetch GETs rawURL and reads at most Config.MaxBody bytes of its body. The
// whole fetch, a slowly dripping body included, is bounded by Config.Timeout
// and by ctx. A non-2xx status is not an error: it is in Response.Status.
func (c *Client) Fetch(ctx context.Context, rawURL string) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, unwrapURLError(err))
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: read body: %w", rawURL, err)
	}
	r := &Response{
		URL:      rawURL,
		FinalURL: resp.Request.URL.String(),
		Status:   resp.StatusCode,
		Header:   resp.Header,
		Body:     body,
		Duration: time.Since(start),
	}
	if int64(len(body)) > c.cfg.MaxBody {
		r.Body, r.Truncated = body[:c.cfg.MaxBody], true
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			r.ContentType = mt
		} else {
			r.ContentType = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
		}
	} else {
		mt, _, _ := mime.ParseMediaType(http.DetectContentType(r.Body))
		r.ContentType = mt
	}
	return r, nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL that the caller already names.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
