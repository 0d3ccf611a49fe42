package fetch

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"
)

// Pacer spaces the requests a Client sends to each host. A host judges a
// crawler by when its requests arrive, whatever they are for (robots.txt,
// each hop of its redirects, pages, retries), so the Client asks the Pacer
// before every request it writes, at the transport, where no request can go
// around it.
type Pacer interface {
	// Wait returns once a request to host ("name" or "name:port" as in a
	// normalised URL: lower case, no default port) may be sent, or ctx's
	// error. The Client then calls sent exactly once: with the time the
	// request was written to its connection, or with the zero time if it
	// never reached one (the dial failed, ctx ended first). Until sent is
	// called the Pacer should let no other request to host go: it is
	// between a permit and a write that a scheduling delay would otherwise
	// bring two requests closer than their interval.
	Wait(ctx context.Context, host string) (sent func(time.Time), err error)
}

type pacerKey struct{}

// WithPacer returns a copy of ctx under which the Client's requests are
// paced by p (as httptrace.WithClientTrace attaches a trace).
func WithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// sendTimes is where a request's pacing is reported to get: when the last
// permit of its round trips was given, so that a response's Duration does
// not count the wait for its turn.
type sendTimes struct{ granted time.Time }

type sendTimesKey struct{}

// pacedTransport asks the context's Pacer before each round trip and tells
// it when the request was written.
type pacedTransport struct {
	rt     http.RoundTripper
	client *Client
}

func (t pacedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p, _ := req.Context().Value(pacerKey{}).(Pacer)
	if p == nil {
		return t.rt.RoundTrip(req)
	}
	host := pacingHost(req)
	sent, err := p.Wait(req.Context(), host)
	if err != nil {
		return nil, err
	}
	t.client.using(host)
	if st, _ := req.Context().Value(sendTimesKey{}).(*sendTimes); st != nil {
		st.granted = time.Now()
	}
	w := &wire{sent: sent, ctx: req.Context(), pacer: p, host: host}
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn:      w.gotConn,
		WroteRequest: w.wroteRequest,
		PutIdleConn:  w.putIdle,
	})
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	w.finish()
	return resp, err
}

// pacingHost returns the host key of req's URL: lower case, without the
// scheme's default port, as the crawler's normalised URLs write it.
func pacingHost(req *http.Request) string {
	h := strings.ToLower(req.URL.Host)
	switch {
	case req.URL.Scheme == "http" && strings.HasSuffix(h, ":80"):
		h = strings.TrimSuffix(h, ":80")
	case req.URL.Scheme == "https" && strings.HasSuffix(h, ":443"):
		h = strings.TrimSuffix(h, ":443")
	}
	return h
}

// wire follows one round trip to the moment its request leaves: for
// HTTP/1, the first write to the connection that completes after
// WroteRequest (net/http calls WroteRequest before it flushes the request's
// buffer); for HTTP/2, WroteRequest itself (called after its frames are
// flushed). A time taken after the write is never earlier than the bytes'
// departure, so the next request paced from it cannot arrive early.
type wire struct {
	ctx   context.Context
	pacer Pacer
	host  string // as the Pacer names it

	mu       sync.Mutex
	sent     func(time.Time)
	used     *wireConn // the connection obtained, HTTP/1 or 2
	conn     *wireConn // the HTTP/1 connection watched, if any
	got      bool      // a connection was obtained
	h2       bool
	wrote    bool // WroteRequest came
	reported bool
}

func (w *wire) gotConn(info httptrace.GotConnInfo) {
	c := info.Conn
	h2 := false
	if tc, ok := c.(*tls.Conn); ok {
		h2 = tc.ConnectionState().NegotiatedProtocol == "h2"
		c = tc.NetConn()
	}
	wc, _ := c.(*wireConn)
	if wc != nil && !h2 {
		wc.client.busy(wc, w)
	}
	w.mu.Lock()
	again, old := w.reported, w.conn
	w.mu.Unlock()
	if old != nil && old != wc {
		old.unwatch(w)
	}
	if again {
		// net/http sends a request again, on a new connection, when the
		// reused one turns out closed by the server (an idle keep-alive
		// timeout): the first copy never reached it, this one will, and
		// waits for its own permit. Should ctx end first, the request
		// fails with it.
		sent, err := w.pacer.Wait(w.ctx, w.host)
		if err != nil {
			return
		}
		w.mu.Lock()
		w.sent, w.reported, w.wrote = sent, false, false
		w.mu.Unlock()
	}
	w.mu.Lock()
	w.got, w.h2, w.used, w.conn = true, h2, wc, nil
	if !h2 && wc != nil {
		w.conn = wc
	}
	watch := w.conn
	w.mu.Unlock()
	if watch != nil {
		watch.watch(w)
	}
}

func (w *wire) wroteRequest(info httptrace.WroteRequestInfo) {
	w.mu.Lock()
	w.wrote = true
	now := w.h2 || w.conn == nil || info.Err != nil
	w.mu.Unlock()
	if now {
		w.report(time.Now())
	}
}

// written is called by the watched connection after each write.
func (w *wire) written(t time.Time) {
	w.mu.Lock()
	wrote := w.wrote
	w.mu.Unlock()
	if wrote {
		w.report(t)
	}
}

// finish reports the round trip if nothing has yet: as sent now if a
// connection was obtained (the request, or part of it, may have left),
// as not sent otherwise.
func (w *wire) finish() {
	w.mu.Lock()
	got := w.got
	w.mu.Unlock()
	if got {
		w.report(time.Now())
	} else {
		w.report(time.Time{})
	}
}

func (w *wire) report(t time.Time) {
	w.mu.Lock()
	if w.reported {
		w.mu.Unlock()
		return
	}
	w.reported = true
	conn := w.conn
	w.mu.Unlock()
	if conn != nil {
		conn.unwatch(w)
	}
	w.sent(t)
}

// putIdle is told that the connection went back to the idle pool.
func (w *wire) putIdle(err error) {
	w.mu.Lock()
	wc, h2 := w.used, w.h2
	w.mu.Unlock()
	if err == nil && wc != nil && !h2 {
		wc.client.idle(wc, w)
	}
}

// wireConn is a dialled connection that tells the round trips watching it
// when a write to it has completed.
type wireConn struct {
	net.Conn
	client  *Client
	mu      sync.Mutex
	watched []*wire

	// Guarded by client.connMu: the host it serves and the round trip
	// using it (nil: idle or new).
	host   string
	user   *wire
	closed bool
}

func (c *wireConn) Close() error {
	c.client.forget(c)
	return c.Conn.Close()
}

func (c *wireConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	if len(c.watched) == 0 {
		c.mu.Unlock()
		return n, err
	}
	ws := append([]*wire(nil), c.watched...)
	c.mu.Unlock()
	now := time.Now()
	for _, w := range ws {
		w.written(now)
	}
	return n, err
}

func (c *wireConn) watch(w *wire) {
	c.mu.Lock()
	c.watched = append(c.watched, w)
	c.mu.Unlock()
}

func (c *wireConn) unwatch(w *wire) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.watched {
		if x == w {
			c.watched = append(c.watched[:i], c.watched[i+1:]...)
			return
		}
	}
}

// hostConns are the open HTTP/1 connections of one host, and whether the
// host's idle ones are to be closed (see Client.CloseIdle).
type hostConns struct {
	conns   map[*wireConn]struct{}
	closing bool
}

// CloseIdle closes host's idle keep-alive connections ("name" or
// "name:port", as the crawler names hosts), and those of its requests in
// flight as they become idle, until the next request to host: a crawler
// calls it when the host has nothing left to fetch, so that a wide crawl
// does not keep sockets open to thousands of hosts it is done with.
// HTTP/2 connections are left to the idle timeout and the global cap.
func (c *Client) CloseIdle(host string) {
	var idle []*wireConn
	c.connMu.Lock()
	hc := c.conns[host]
	if hc != nil {
		hc.closing = true
		for wc := range hc.conns {
			if wc.user == nil {
				idle = append(idle, wc)
			}
		}
	}
	c.connMu.Unlock()
	for _, wc := range idle {
		wc.Close() // the transport's read loop sees it and drops it from its pool
	}
}

// using notes a request to host: its connections are kept again.
func (c *Client) using(host string) {
	c.connMu.Lock()
	if hc := c.conns[host]; hc != nil {
		hc.closing = false
	}
	c.connMu.Unlock()
}

// busy notes that w uses wc, a connection to w.host.
func (c *Client) busy(wc *wireConn, w *wire) {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if wc.closed {
		return
	}
	wc.user = w
	if wc.host == "" {
		wc.host = w.host
		hc := c.conns[w.host]
		if hc == nil {
			hc = &hostConns{conns: map[*wireConn]struct{}{}}
			c.conns[w.host] = hc
		}
		hc.conns[wc] = struct{}{}
	}
}

// idle notes that w is done with wc, which is idle unless another round
// trip has it already; it closes wc if its host's are to be closed.
func (c *Client) idle(wc *wireConn, w *wire) {
	c.connMu.Lock()
	if wc.user != w {
		c.connMu.Unlock()
		return
	}
	wc.user = nil
	hc := c.conns[wc.host]
	closing := hc != nil && hc.closing
	c.connMu.Unlock()
	if closing {
		wc.Close()
	}
}

// forget drops a closed connection from its host's.
func (c *Client) forget(wc *wireConn) {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if wc.closed {
		return
	}
	wc.closed = true
	if hc := c.conns[wc.host]; hc != nil {
		delete(hc.conns, wc)
		if len(hc.conns) == 0 {
			delete(c.conns, wc.host)
		}
	}
}

// openConns returns the number of open HTTP/1 connections to host, for
// tests.
func (c *Client) openConns(host string) int {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	if hc := c.conns[host]; hc != nil {
		return len(hc.conns)
	}
	return 0
}

// idleConns returns the number of idle HTTP/1 connections to host, for
// tests.
func (c *Client) idleConns(host string) int {
	c.connMu.Lock()
	defer c.connMu.Unlock()
	n := 0
	if hc := c.conns[host]; hc != nil {
		for wc := range hc.conns {
			if wc.user == nil {
				n++
			}
		}
	}
	return n
}
