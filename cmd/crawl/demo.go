package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

func newDemoCmd() *cobra.Command {
	var (
		o       runOptions
		hosts   int
		pages   int
		serve   bool
		port    int
		links   int
		latency time.Duration
		noLog   bool
		logFile string
		virtual bool
	)
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Crawl a built-in multi-host site on loopback (no internet needed)",
		Long: `Start a built-in test site of several hosts, each on its own loopback address
(127.0.1.1, 127.0.1.2, …: no DNS, no internet), and crawl it with the same
engine and flags as "crawl run". It shows progress on stderr and a summary,
and leaves the database for "crawl export".

With --serve it only serves the site, on --port of every host, until Ctrl-C,
so that "crawl run seeds/demo.txt" can crawl it from another terminal.`,
		Example: `  crawl demo
  crawl demo --hosts 10 --pages 200 --rate 50 --db demo.db && crawl export --db demo.db | head
  crawl demo --serve &  crawl run --db demo.db --rate 20 seeds/demo.txt`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			if err := o.load(cmd); err != nil {
				return err
			}
			if serve {
				web, err := crawltest.Start(crawltest.Config{Hosts: hosts, PagesPerHost: pages, LinksPerPage: links, Port: port, Latency: latency, NoLog: noLog, Conditional: true, Virtual: virtual})
				if err != nil {
					return fmt.Errorf("demo site: %w", err)
				}
				defer web.Close()
				fmt.Fprintf(stderr, "crawl: serving the demo site (%d hosts × %d pages) until interrupted; crawl it with the demo's rate:\n", hosts, pages)
				fmt.Fprintf(stderr, "crawl:   crawl run --db demo.db --rate %g seeds/demo.txt\n", o.rate)
				fmt.Fprintf(stderr, "crawl: seeds:\n")
				for _, s := range web.Seeds() {
					fmt.Fprintln(cmd.OutOrStdout(), s)
				}
				<-cmd.Context().Done()
				if logFile != "" {
					return writeRequestLog(logFile, web.Log())
				}
				return nil
			}
			if !cmd.Flags().Changed("db") {
				dir, err := os.MkdirTemp("", "crawl-demo-")
				if err != nil {
					return err
				}
				o.db = filepath.Join(dir, "demo.db")
			}
			web, err := crawltest.Start(crawltest.Config{Hosts: hosts, PagesPerHost: pages, LinksPerPage: links, Latency: latency, Conditional: true})
			if err != nil {
				return fmt.Errorf("demo site: %w", err)
			}
			defer web.Close()
			fmt.Fprintf(stderr, "crawl: demo site: %d hosts × %d pages on %s … %s\n",
				hosts, pages, web.Hosts()[0], web.Hosts()[len(web.Hosts())-1])
			if err := runCrawl(cmd.Context(), &o, "", web.Seeds(), stderr); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "crawl: next: crawl export --db %s | head -n 3\n", o.db)
			return nil
		},
	}
	o.addFlags(cmd)
	cmd.Flags().IntVar(&hosts, "hosts", 5, "hosts of the demo site")
	cmd.Flags().IntVar(&pages, "pages", 40, "pages per host")
	cmd.Flags().BoolVar(&serve, "serve", false, "only serve the demo site until interrupted (for crawl run seeds/demo.txt)")
	cmd.Flags().IntVar(&port, "port", 8080, "with --serve: the TCP port of every demo host")
	cmd.Flags().IntVar(&links, "links", 8, "links per page besides the next page")
	cmd.Flags().DurationVar(&latency, "latency", 0, "delay before every response of the demo site")
	cmd.Flags().BoolVar(&noLog, "no-log", false, "keep no request log (long benchmark runs)")
	cmd.Flags().MarkHidden("no-log")
	cmd.Flags().StringVar(&logFile, "log-file", "", "with --serve: write the request log (JSON Lines, arrival times as the kernel saw them) to `FILE` on exit")
	cmd.Flags().MarkHidden("log-file")
	cmd.Flags().BoolVar(&virtual, "virtual", false, "with --serve: serve every host on one listener by name (h0.web.test, …; crawl bench)")
	cmd.Flags().MarkHidden("virtual")
	cmd.Flags().Lookup("rate").DefValue = "20"
	o.rate = 20
	cmd.Flags().Lookup("db").Usage = "database `FILE` (default: a new file in a temporary folder)"
	cmd.Flags().Lookup("db").DefValue = "" // the usage says it; "crawl.db" is not
	return cmd
}

// writeRequestLog writes the test web's request log to path as JSON Lines,
// for crawl bench to police.
func writeRequestLog(path string, log []crawltest.Request) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	for _, r := range log {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
