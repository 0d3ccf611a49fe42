package crawler

import (
	"net/http"
	"strconv"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/fetch"
	"github.com/politecrawl/crawl/store"
)

// exchangeOf returns what a WARC export needs besides the body: the status
// line and every header of the response, and the request's headers. It is
// only called when bodies are kept, so the default crawl stores none of it.
func exchangeOf(resp *fetch.Response) *store.HTTPExchange {
	proto, status := resp.Proto, resp.StatusText
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if status == "" {
		status = strconv.Itoa(resp.Status) + " " + http.StatusText(resp.Status)
	}
	return &store.HTTPExchange{
		StatusLine:    proto + " " + status,
		Header:        resp.Header.Clone(),
		RequestHeader: resp.RequestHeader.Clone(),
	}
}

// hostLimits asks fn for host's limits and keeps the defaults given for any
// result that is not positive.
func hostLimits(fn func(string) (rate.Limit, int, int), host string, limit rate.Limit, burst, perHost int) (rate.Limit, int, int) {
	l, b, p := fn(host)
	if l > 0 {
		limit = l
	}
	if b > 0 {
		burst = b
	}
	if p > 0 {
		perHost = p
	}
	return limit, burst, perHost
}
