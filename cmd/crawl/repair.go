package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/store"
	"github.com/politecrawl/crawl/urlnorm"
)

func newRepairCmd() *cobra.Command {
	var db, out string
	cmd := &cobra.Command{
		Use:   "repair --db FILE -o NEW.db",
		Short: "Salvage a damaged database into a new one",
		Long: `Write to NEW.db a new crawl database holding everything that can still be
read of the damaged --db: every record that decodes, every pending URL, seed
and visited mark, and the entries of any other bucket. The file's pages are
read one by one and checked before use, so that a damaged page costs only
what it held; leaf pages that a damaged branch no longer reaches are found
by scanning the whole file.

URLs whose records were lost are queued again in NEW.db when they can be
named (by the URL index, or as links of the records that remain), so that
crawl run --db NEW.db fetches them again, and only them.

--db is never written to; NEW.db must not exist, and appears only when
complete. The summary on stderr says what was kept and what was lost.`,
		Example: `  crawl repair --db crawl.db -o repaired.db && crawl run --db repaired.db`,
		Args:    argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("-o NEW.db: where to write the repaired database")}
			}
			rep, err := store.Repair(db, out, &store.RepairOptions{Fingerprint: urlnorm.Fingerprint})
			if err != nil {
				return err
			}
			writeRepair(cmd.ErrOrStderr(), db, out, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "crawl.db", "the damaged database `FILE` (only read)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the new database `FILE` to write (must not exist)")
	return cmd
}

// writeRepair prints what a repair kept and lost.
func writeRepair(w io.Writer, db, out string, r *store.RepairReport) {
	fmt.Fprintf(w, "crawl: repaired %s into %s: kept %d records, %d pending URLs, %d seeds, %d visited marks",
		db, out, r.Records, r.Pending, r.Seeds, r.Seen)
	if r.Other > 0 {
		fmt.Fprintf(w, ", %d entries of other buckets", r.Other)
	}
	fmt.Fprintln(w)
	if r.MetaProblem != "" {
		fmt.Fprintf(w, "crawl: %s: read from the other meta page (one commit older) and the pages found beside its tree\n", r.MetaProblem)
	}
	if r.BadPages == 0 && r.RecordsLost == 0 && r.Requeued == 0 {
		fmt.Fprintf(w, "crawl: lost nothing: %s was readable throughout\n", db)
		return
	}
	fmt.Fprintf(w, "crawl: lost %s (known by URL) and %s of the tree", plural(r.RecordsLost, "record"), plural(r.BadPages, "damaged page"))
	if r.Problem != "" {
		fmt.Fprintf(w, " (%s)", r.Problem)
	}
	fmt.Fprintln(w)
	if r.Untrusted > 0 {
		entries := fmt.Sprintf("%d entries", r.Untrusted)
		if r.Untrusted == 1 {
			entries = "1 entry"
		}
		fmt.Fprintf(w, "crawl: left out %s (records, pending URLs) found outside the tree or on damaged pages, whose URL nothing else names: older or damaged copies\n", entries)
	}
	if r.ScannedPages > 0 {
		fmt.Fprintf(w, "crawl: read %s outside the tree (below damaged branches, or free)", plural(r.ScannedPages, "leaf page"))
		if r.UnplacedPages > 0 {
			fmt.Fprintf(w, "; %d of them belong to no bucket this version knows, and were left out", r.UnplacedPages)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "crawl: queued %s again (lost records, lost pending URLs): crawl run --db %s fetches them\n", plural(r.Requeued, "URL"), out)
}

// damagedHint adds the ways out to an error that says db is damaged: the
// repair, and --keep-going when the command has it and it was not given.
func damagedHint(db string, err error, keepGoing bool) error {
	if err == nil || !errors.Is(err, store.ErrDamaged) {
		return err
	}
	if keepGoing {
		return fmt.Errorf("%w; --keep-going reads past it, and crawl repair --db %s -o NEW.db salvages what can be read", err, db)
	}
	return fmt.Errorf("%w; salvage what can be read with: crawl repair --db %s -o NEW.db", err, db)
}
