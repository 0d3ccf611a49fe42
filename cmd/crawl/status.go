package main

import (
	"html/template"
	"net/http"
	"time"

	"github.com/politecrawl/crawl/crawler"
	"github.com/politecrawl/crawl/export"
)

// statusPage serves the crawl's live status at --metrics-addr /: a plain
// HTML page (no script) that the browser reloads every few seconds, with
// the progress, the busiest hosts, the hosts held back and why, and the
// error reasons of this run.
type statusPage struct {
	c      *crawler.Crawler
	report *runReport
	db     string
	state  func() string // "crawling", "stopping", …
}

// statusRefresh is how often the page asks the browser to reload it.
const statusRefresh = 3

type statusData struct {
	DB, State           string
	Refresh             int
	Stats               crawler.Stats
	Rate                float64
	Bytes, Elapsed, Now string
	Busiest             []hostCount
	Held                []heldRow
	Reasons             []export.Count
	MoreReasons         int
}

type heldRow struct{ Host, Why, For string }

var statusTmpl = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>crawl: {{.State}} · {{.Stats.Stored}} stored</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}
td,th{padding:2px 12px 2px 0;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
h2{font-size:1.1em;margin:1em 0 .3em}
.muted{color:#777}
</style></head><body>
<h1>crawl: {{.State}}</h1>
<p class="muted">database {{.DB}} · updated {{.Now}}, every {{.Refresh}} s · <a href="/metrics">/metrics</a></p>
<table>
<tr><th>stored</th><td class="n">{{.Stats.Stored}}</td><th>queued</th><td class="n">{{.Stats.Pending}}</td></tr>
<tr><th>pages/s</th><td class="n">{{printf "%.1f" .Rate}}</td><th>in flight</th><td class="n">{{.Stats.InFlight}}</td></tr>
<tr><th>fetched</th><td class="n">{{.Stats.Fetched}}</td><th>errors</th><td class="n">{{.Stats.Failed}}</td></tr>
<tr><th>skipped</th><td class="n">{{.Stats.Skipped}}</td><th>retries</th><td class="n">{{.Stats.Retries}}</td></tr>
<tr><th>hosts</th><td class="n">{{.Stats.Hosts}}</td><td colspan="2">{{.Stats.Ready}} ready, {{.Stats.Waiting}} waiting for their rate, {{.Stats.Held}} at their concurrency cap</td></tr>
<tr><th>bytes</th><td class="n">{{.Bytes}}</td><th>elapsed</th><td class="n">{{.Elapsed}}</td></tr>
</table>
<h2>Busiest hosts (records this run)</h2>
{{if .Busiest}}<table><tr><th>host</th><th>records</th><th>failed</th></tr>
{{range .Busiest}}<tr><td>{{.Host}}</td><td class="n">{{.Stored}}</td><td class="n">{{.Failed}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none yet</p>{{end}}
<h2>Hosts held back</h2>
{{if .Held}}<table><tr><th>host</th><th>for</th><th>why</th></tr>
{{range .Held}}<tr><td>{{.Host}}</td><td class="n">{{.For}}</td><td>{{.Why}}</td></tr>
{{end}}</table>{{else}}<p class="muted">none</p>{{end}}
<h2>Errors by reason</h2>
{{if .Reasons}}<table><tr><th>reason</th><th>records</th></tr>
{{range .Reasons}}<tr><td>{{.Key}}</td><td class="n">{{.N}}</td></tr>
{{end}}</table>{{if .MoreReasons}}<p class="muted">and {{.MoreReasons}} other reasons: crawl stats --db {{.DB}}</p>{{end}}{{else}}<p class="muted">none</p>{{end}}
</body></html>
`))

func (sp *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s := sp.c.Stats()
	d := statusData{
		DB: sp.db, State: sp.state(), Refresh: statusRefresh, Stats: s,
		Bytes: byteSize(s.Bytes), Elapsed: s.Elapsed.Round(time.Second).String(), Now: now.Format(time.TimeOnly),
		Busiest: sp.report.busiest(10),
	}
	if sec := s.Elapsed.Seconds(); sec > 0 {
		d.Rate = float64(s.Fetched) / sec
	}
	for _, h := range sp.c.HeldHosts(now) {
		d.Held = append(d.Held, heldRow{h.Host, h.Why, h.Until.Sub(now).Round(time.Second).String()})
	}
	d.Reasons, d.MoreReasons = sp.report.topReasons(10)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	statusTmpl.Execute(w, d) // a write error is the browser gone
}
