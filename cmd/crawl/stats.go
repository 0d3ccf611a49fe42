package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/export"
	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

func newStatsCmd() *cobra.Command {
	var (
		db        string
		asJSON    bool
		top       int
		keepGoing bool
		near      int
	)
	cmd := &cobra.Command{
		Use:   "stats --db FILE [--json] [--top N]",
		Short: "Summarise a crawl database: status, content types, hosts, errors, frontier, depth",
		Long: `Summarise the crawl database --db: records by status class and by content
type, the hosts with most records, failed records grouped by reason, the
frontier (URLs still pending) and the depth histogram (link distance from a
seed). After a recrawl (crawl run --recrawl), how each URL's newest fetch
compares with the one before: changed, unchanged, not modified (304). Records
whose payload another record holds (duplicates), and clusters of pages with
nearly the same text (SimHash within --near bits). Text by default, in a
stable order; --json for one JSON object.

The database is opened read-only. If a running crawl holds it, stats says so
within a second instead of waiting.

A damaged database: stats stops at the first record it cannot read, naming
it (exit 1); --keep-going summarises the others, counts the unreadable ones
("unreadable"), and exits 1 with their count.`,
		Example: `  crawl stats --db crawl.db
  crawl stats --db crawl.db --json | jq '.errors[:5]'`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if top < 0 {
				return usageError{fmt.Errorf("--top %d: need 0 or more", top)}
			}
			if near < 0 || near > 64 {
				return usageError{fmt.Errorf("--near %d: want 0 to 64 bits", near)}
			}
			sum, err := summarize(db, top, near, keepGoing, cmd.ErrOrStderr())
			if sum == nil {
				return damagedHint(db, err, !keepGoing)
			}
			// With --keep-going, the summary of what could be read, and
			// then the count of what could not.
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(sum); err != nil {
					return err
				}
			} else if err := writeStats(cmd.OutOrStdout(), sum); err != nil {
				return err
			}
			return damagedHint(db, err, false)
		},
	}
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "skip records that cannot be read (a damaged database), and exit 1 at the end with their count")
	cmd.Flags().StringVar(&db, "db", "crawl.db", "database `FILE` to read")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	cmd.Flags().IntVar(&top, "top", 10, "list the `N` hosts with most records")
	cmd.Flags().IntVar(&near, "near", export.DefaultNearDistance, "count pages whose SimHashes differ in at most `BITS` bits as near-duplicates")
	return cmd
}

// summarize returns the summary of db. With keepGoing, records that cannot
// be read are skipped (and a database too damaged for bbolt read page by
// page): the summary of the others comes with an error that counts them.
func summarize(db string, top, near int, keepGoing bool, stderr io.Writer) (*export.Summary, error) {
	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if err != nil && keepGoing && errors.Is(err, store.ErrDamaged) {
		fmt.Fprintf(stderr, "crawl: %v; summarising what can be read\n", err)
		sv, err := store.Salvage(db, urlnorm.Fingerprint)
		if err != nil {
			return nil, err
		}
		defer sv.Close()
		return export.SummarizeSalvaged(sv, top)
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if keepGoing {
		st = st.KeepGoing()
	}
	return export.SummarizeNear(st, top, near)
}

// writeStats prints a summary as aligned text sections.
func writeStats(w io.Writer, s *export.Summary) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "pages\t%d (%d failed, %d skipped, %d truncated)\n", s.Pages, s.Failed, s.Skipped, s.Truncated)
	fmt.Fprintf(tw, "body bytes\t%d (%s)\n", s.Bytes, byteSize(s.Bytes))
	if s.FirstFetch != nil && s.LastFetch != nil {
		fmt.Fprintf(tw, "fetched\t%s … %s\n", s.FirstFetch.Format(time.RFC3339), s.LastFetch.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "hosts\t%d\n", s.Hosts)
	fmt.Fprintf(tw, "pending\t%d (%s)\n", s.Pending, plural(s.PendingHosts, "host"))
	if s.Unreadable > 0 {
		fmt.Fprintf(tw, "unreadable\t%s\n", plural(s.Unreadable, "record"))
	}
	tw.Flush()
	section := func(title string, rows []export.Count) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(tw, "\n%s\n", title)
		for _, r := range rows {
			fmt.Fprintf(tw, "  %s\t%d\n", r.Key, r.N)
		}
		tw.Flush()
	}
	section("status", s.Status)
	section("content types", s.ContentTypes)
	if len(s.TopHosts) > 0 {
		fmt.Fprintf(tw, "\ntop hosts\tpages\tfailed\tpending\n")
		for _, h := range s.TopHosts {
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", h.Host, h.Pages, h.Failed, h.Pending)
		}
		tw.Flush()
	}
	section("errors", s.Errors)
	depth := make([]export.Count, len(s.Depth))
	for i, d := range s.Depth {
		depth[i] = export.Count{Key: "depth " + d.Key, N: d.N}
	}
	section("depth", depth)
	section("cut by limits (links)", s.Limits)
	if r := s.Recrawl; r != nil {
		section("recrawl (each URL's newest fetch against the one before)", []export.Count{
			{Key: "urls fetched again", N: r.URLs}, {Key: "changed", N: r.Changed}, {Key: "unchanged", N: r.Unchanged},
			{Key: "not modified (304)", N: r.NotModified}, {Key: "failed", N: r.Failed},
			{Key: "earlier versions kept", N: s.Versions}})
	}
	if s.Duplicates > 0 {
		fmt.Fprintf(tw, "\nduplicates\t%d (payload identical to another record's, stored once)\n", s.Duplicates)
		tw.Flush()
	}
	if nd := s.NearDuplicates; nd != nil {
		fmt.Fprintf(tw, "\nnear-duplicates\t%d clusters, %d pages (SimHash within %d bits)\n", nd.Clusters, nd.Pages, nd.Distance)
		for _, c := range nd.Top {
			more := ""
			if c.Size > len(c.URLs) {
				more = ", …"
			}
			fmt.Fprintf(tw, "  %d pages\t%s%s\n", c.Size, strings.Join(c.URLs, ", "), more)
		}
		tw.Flush()
	}
	tw.Flush()
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// plural returns "1 host" or "2 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
