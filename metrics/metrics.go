// Package metrics exposes a crawl as Prometheus metrics: fetches by status,
// bytes, fetch latency, the frontier's sizes, hosts by state and commits.
//
// A Metrics owns its own registry (not the global one), so that several
// crawls in one process, or tests, never share counters. It is safe for
// concurrent use.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/fetch"
)

// Metrics holds a crawl's metrics. Create one with New.
type Metrics struct {
	reg     *prometheus.Registry
	fetches *prometheus.CounterVec
	bytes   prometheus.Counter
	latency prometheus.Histogram
}

// New returns Metrics with the fetch counters and the Go runtime and
// process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawl_fetches_total",
			Help: "Fetches finished, by HTTP status code, or status=\"error\" when there was no response.",
		}, []string{"status"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "crawl_fetched_bytes_total",
			Help: "Response body bytes read (after the body cap).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crawl_fetch_duration_seconds",
			Help:    "Time from request to the last body byte, by fetch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5ms … 41s
		}),
	}
	m.reg.MustRegister(m.fetches, m.bytes, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveFetch counts one page fetch (fetch.Config.OnFetch): its status
// or error, body bytes and duration.
func (m *Metrics) ObserveFetch(resp *fetch.Response, err error, start time.Time) {
	if err != nil {
		m.fetches.WithLabelValues("error").Inc()
		m.latency.Observe(time.Since(start).Seconds())
		return
	}
	m.fetches.WithLabelValues(strconv.Itoa(resp.Status)).Inc()
	m.bytes.Add(float64(len(resp.Body)))
	m.latency.Observe(resp.Duration.Seconds())
}

// Watch registers the gauges read from c.Stats at each scrape: URLs queued,
// in flight and stored, hosts by state, and commits.
func (m *Metrics) Watch(c *crawler.Crawler) {
	m.reg.MustRegister(&statsCollector{c: c})
}

var (
	descQueued   = prometheus.NewDesc("crawl_queued_urls", "URLs pending in the frontier, not yet handed to a worker.", nil, nil)
	descInFlight = prometheus.NewDesc("crawl_inflight_urls", "URLs handed to workers and not yet committed.", nil, nil)
	descStored   = prometheus.NewDesc("crawl_stored_pages", "Records in the database, this run and before.", nil, nil)
	descHosts    = prometheus.NewDesc("crawl_hosts", "Hosts with work, by state: ready (may be fetched now), waiting (for their rate limit), held (at their concurrency cap).", []string{"state"}, nil)
	descKnown    = prometheus.NewDesc("crawl_hosts_known", "Hosts the crawl has met.", nil, nil)
	descCommits  = prometheus.NewDesc("crawl_commits_total", "Store transactions committed this run.", nil, nil)
	descFailed   = prometheus.NewDesc("crawl_failed_total", "Fetches this run that ended in an error or a status of 400 or more.", nil, nil)
	descDenied   = prometheus.NewDesc("crawl_robots_denials_total", "URLs not fetched this run because robots.txt disallows them.", nil, nil)
	descSkipped  = prometheus.NewDesc("crawl_skipped_total", "URLs stored as skipped this run: robots.txt denials and hosts without a /sitemap.xml.", nil, nil)
	descRetries  = prometheus.NewDesc("crawl_retries_total", "Fetch attempts queued again this run after a failure or a back-off answer.", nil, nil)
)

// statsCollector reads one Stats snapshot per scrape.
type statsCollector struct{ c *crawler.Crawler }

func (s *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueued, descInFlight, descStored, descHosts, descKnown, descCommits, descFailed,
		descDenied, descSkipped, descRetries} {
		ch <- d
	}
}

func (s *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := s.c.Stats()
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	gauge(descQueued, st.Pending)
	gauge(descInFlight, st.InFlight)
	gauge(descStored, st.Stored)
	gauge(descKnown, st.Hosts)
	gauge(descHosts, st.Ready, "ready")
	gauge(descHosts, st.Waiting, "waiting")
	gauge(descHosts, st.Held, "held")
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(st.Commits))
	ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(descDenied, prometheus.CounterValue, float64(st.Denied))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(st.Skipped))
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(st.Retries))
}
