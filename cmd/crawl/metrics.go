package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveMetrics listens on addr at once (so that a bad address fails before
// the crawl starts) and serves h at /metrics and the status page at / until
// stop is called.
func serveMetrics(addr string, h, status http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	mux.Handle("GET /{$}", status)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln) // ErrServerClosed after stop; a failed listener only ends the metrics
	}()
	return "http://" + ln.Addr().String() + "/", func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}
