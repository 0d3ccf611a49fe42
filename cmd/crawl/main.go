// Command crawl is a polite, concurrent, crash-safe web crawler: it crawls
// from a seed file into a bbolt database, stops cleanly on SIGINT/SIGTERM,
// resumes where it stopped, and exports the pages as JSON.
//
// Exit codes: 0 done, 1 failure, 2 usage error, 3 a crawl whose every URL
// failed, 130 interrupted by SIGINT, 143 interrupted by SIGTERM.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; when it
// is not, versionString asks the module's build information.
var version = ""

// versionString returns the version to print: the one set at build time, or
// the module version that `go install` recorded, or "devel" with the VCS
// revision when built from a work tree.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " " + rev + dirty
	}
	return v
}

func main() {
	tuneGC()
	os.Exit(crawlMain(os.Args[1:], os.Stdout, os.Stderr))
}

// gcPercent is the garbage collector's target that crawl runs with unless
// GOGC says otherwise. A crawl allocates fast (bodies, tokens, links) but
// keeps little (its frontier window, two batches, the visited set), so the
// default of 100 collects every few tens of milliseconds; 200 lets the heap
// grow to three times what is live instead of two, trading a little memory
// for throughput (figures in README's Performance section).
const gcPercent = 200

// tuneGC sets gcPercent unless the GOGC environment variable is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// crawlMain runs the command line args and returns the process's exit code.
func crawlMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signalContext()
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if se, ok := errors.AsType[signalError](err); ok {
		return 128 + int(se.sig)
	}
	fmt.Fprintln(stderr, "crawl:", err)
	if errors.Is(err, errNoneSucceeded) {
		return 3
	}
	if _, ok := errors.AsType[usageError](err); ok {
		return 2
	}
	if strings.HasPrefix(err.Error(), "unknown command ") { // cobra has no typed error for it
		return 2
	}
	return 1
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "interrupted by " + e.sig.String() }

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// signalContext returns a context cancelled, with a signalError cause, by the
// first SIGINT or SIGTERM. A second signal exits at once: every commit is
// atomic, so the database stays consistent and the next run resumes.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(signalError{s.(syscall.Signal)})
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(os.Stderr, "crawl: second %v: exiting now (committed pages are safe; run again to resume)\n", s)
			os.Exit(128 + int(s.(syscall.Signal)))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "crawl",
		Short: "A polite, concurrent, crash-safe web crawler",
		Long: `crawl crawls the web from a seed file into a bbolt database, politely
(per-host rate limits and concurrency caps), stops cleanly on Ctrl-C and
resumes where it stopped, and exports the pages as JSON Lines, JSON or WARC.

Exit codes: 0 done, 1 failure, 2 usage error, 3 the crawl ran but every
URL it tried failed, 130 interrupted (SIGINT), 143 interrupted (SIGTERM).`,
		Version: versionString() + " (" + runtime.Version() + ")",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q (see crawl --help)", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg = fmt.Sprintf("unknown command %q; did you mean %q?", args[0], s[0])
			}
			return usageError{errors.New(msg)}
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SuggestionsMinimumDistance = 2 // cobra's own default, which SuggestionsFor does not apply
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{flagError(err)} })
	root.AddCommand(newRunCmd(), newExportCmd(), newStatsCmd(), newRepairCmd(), newConfigCmd(), newDemoCmd(), newBenchCmd())
	return root
}

// badFlagValue is pflag's message for a value that does not parse.
var badFlagValue = regexp.MustCompile(`^invalid argument (".*") for "(.*)" flag: (.*)$`)

// flagError rewords pflag's error for a value that does not parse, which
// ends in the parser's own words ("strconv.ParseFloat: parsing …"), as the
// flag and what it wants: `--rate "fast": not a number`.
func flagError(err error) error {
	m := badFlagValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	why := m[3]
	switch {
	case strings.Contains(why, "ParseFloat"):
		why = "not a number (such as 2 or 0.5)"
	case strings.Contains(why, "ParseInt"), strings.Contains(why, "ParseUint"):
		why = "not a whole number"
	case strings.Contains(why, "ParseBool"):
		why = "want true or false"
	case strings.HasPrefix(why, "time: "):
		why = "not a duration (such as 500ms, 10s or 2m)"
	}
	name := m[2]
	if _, long, ok := strings.Cut(name, ", "); ok { // "-o, --output"
		name = long
	}
	return fmt.Errorf("%s %s: %s", name, m[1], why)
}

// argsUsage wraps a cobra argument validator so that its errors exit with 2.
func argsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
