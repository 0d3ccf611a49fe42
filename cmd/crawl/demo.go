package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

func newDemoCmd() *cobra.Command {
	var (
		o     runOptions
		hosts int
		pages int
	)
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "Crawl a built-in multi-host site on loopback (no internet needed)",
		Long: `Start a built-in test site of several hosts, each on its own loopback address
(127.0.1.1, 127.0.1.2, …: no DNS, no internet), and crawl it with the same
engine and flags as "crawl run". It shows progress on stderr and a summary,
and leaves the database for "crawl export".`,
		Example: `  crawl demo
  crawl demo --hosts 10 --pages 200 --rate 50 --db demo.db && crawl export --db demo.db | head`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			stderr := cmd.ErrOrStderr()
			if err := o.load(cmd); err != nil {
				return err
			}
			if !cmd.Flags().Changed("db") {
				dir, err := os.MkdirTemp("", "crawl-demo-")
				if err != nil {
					return err
				}
				o.db = filepath.Join(dir, "demo.db")
			}
			web, err := crawltest.Start(crawltest.Config{Hosts: hosts, PagesPerHost: pages, LinksPerPage: 8})
			if err != nil {
				return fmt.Errorf("demo site: %w", err)
			}
			defer web.Close()
			fmt.Fprintf(stderr, "crawl: demo site: %d hosts × %d pages on %s … %s\n",
				hosts, pages, web.Hosts()[0], web.Hosts()[len(web.Hosts())-1])
			fmt.Fprintf(stderr, "crawl: crawling at %g requests/s per host with %d workers into %s\n", o.rate, o.workers, o.db)
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
	cmd.Flags().Lookup("rate").DefValue = "20"
	o.rate = 20
	cmd.Flags().Lookup("db").Usage = "database `FILE` (default: a new file in a temporary folder)"
	return cmd
}
