package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/politecrawl/crawl/store"
)

func newExportCmd() *cobra.Command {
	var db, format, out string
	cmd := &cobra.Command{
		Use:   "export --db FILE [--format jsonl|json] [-o FILE]",
		Short: "Write the stored pages as JSON Lines or a JSON array",
		Long: `Write every page stored in --db, in URL order, as JSON Lines (one object a
line, the default) or as one JSON array, to standard output or to -o FILE.
The fields are documented in README.md ("Export schema").

The database is opened read-only. If a running crawl holds it, export says so
within a second instead of waiting.`,
		Example: `  crawl export --db crawl.db | jq -r '.url + " " + .title'
  crawl export --db crawl.db --format json -o pages.json`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := store.ParseFormat(format)
			if err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			st, err := store.Open(db, &store.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer st.Close()
			if out == "" || out == "-" {
				_, err = store.Export(cmd.OutOrStdout(), st, f)
				return err
			}
			return writeAtomically(out, func(w io.Writer) error {
				_, err := store.Export(w, st, f)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&db, "db", "crawl.db", "database `FILE` to read")
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl (JSON Lines) or json (one array)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to `FILE` instead of standard output")
	return cmd
}

// writeAtomically writes a file through a temporary file in the same folder
// and renames it into place only when write succeeded, so that a failed or
// interrupted export never leaves a file that looks complete.
func writeAtomically(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
