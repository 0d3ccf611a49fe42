package main

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

var crashSeed = flag.Uint64("crash.seed", 0, "seed of TestKill9Anywhere's kill moments (0: from the clock)")

// storedAfterKill returns the URLs stored in the database, after checking
// its consistency. A kill at start-up may leave no database, an empty file or
// a bbolt file without the crawl's buckets: nothing is stored yet, and the
// next run initialises it.
func storedAfterKill(t *testing.T, db string) map[string]bool {
	t.Helper()
	if fi, err := os.Stat(db); errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		return map[string]bool{}
	}
	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrNotDatabase) {
		return map[string]bool{}
	}
	st.Close()
	return storedSet(t, db)
}

// storedSet opens the database read-only, checks its consistency and returns
// its stored URLs.
func storedSet(t *testing.T, db string) map[string]bool {
	t.Helper()
	st, err := store.Open(db, &store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("consistency check of %s: %v", db, err)
	}
	set := map[string]bool{}
	if err := st.ForEachPage(func(u string, _ []byte) error { set[u] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return set
}

// waitPagesOrExit waits until the web has served n page requests or p has
// exited, and reports whether the requests were seen.
func waitPagesOrExit(t *testing.T, web *crawltest.Web, p *proc, n int) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := web.WaitRequests(ctx, n, func(r crawltest.Request) bool { return r.Path != "/robots.txt" })
	return err == nil
}

// TestKill9Anywhere is the fault-injection test of invariant 1 of DESIGN.md:
// it SIGKILLs the real binary at random moments of one crawl (chosen by the
// number of page requests the test web has received, plus two at start-up,
// when the database may be being created), restarts it each time with the
// same command, and lets the last run finish. Then:
//
//   - the stored pages are exactly the site's pages, each stored once, and
//     the database passes bbolt's consistency check after every kill;
//   - no run fetched a page that was already stored when it started
//     (storing is exactly-once, fetching at-least-once);
//   - each kill lost at most the uncommitted fetches: the batch being
//     written, the one filling, the results queued for it and the fetches
//     in flight;
//   - the refetches (requests − pages) are no more than the fetches that
//     were uncommitted at the kills, and the last run wasted none.
//
// Each run sends its own User-Agent, so that every request in the server's
// log is attributed to the run that made it, with no timing assumption.
// Reproduce a failure with -crash.seed=N (the seed is logged).
func TestKill9Anywhere(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("kill moments: -crash.seed=%d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	web := crawltest.New(t, crawltest.Config{Hosts: 4, PagesPerHost: 60})
	total := len(web.Pages())
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	seeds := writeSeeds(t, dir, web.Seeds())
	const workers, batchSize = 8, 8
	args := []string{"run", "--db", db, "--rate", "25", "--workers", strconv.Itoa(workers),
		"--batch-size", strconv.Itoa(batchSize), "--batch-delay", "100ms", "-q", seeds}
	// Fetches not committed at any moment: a batch being written and one
	// being built, the results waiting for the committer (one per worker)
	// and the fetches in flight (at most one per worker).
	const lossBound = 2*batchSize + 2*workers

	// Kill moments: one request count drawn from each tenth of the crawl,
	// and two kills as soon as the process has started (threshold 0).
	const spread = 10
	var thresholds []int
	for i := range spread {
		lo, hi := 1+i*(total-20)/spread, 1+(i+1)*(total-20)/spread
		thresholds = append(thresholds, lo+rng.IntN(hi-lo))
	}
	for range 2 {
		thresholds = slices.Insert(thresholds, rng.IntN(len(thresholds)+1), 0)
	}

	type kill struct {
		threshold int
		stored    map[string]bool // pages in the database after the kill
	}
	var kills []kill
	ua := func(run int) string { return "crashtest/" + strconv.Itoa(run) }
	requested := 0 // page requests seen so far
	for i, th := range thresholds {
		p := start(t, append(args, "--user-agent", ua(i))...)
		if th > 0 {
			th = max(th, requested+1) // at least one request of this run
			if !waitPagesOrExit(t, web, p, th) {
				t.Fatalf("run %d exited (code %d) before %d page requests; stderr:\n%s", i, p.wait(t), th, p.stderr.String())
			}
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		if code := p.wait(t); code != 128+int(syscall.SIGKILL) {
			t.Fatalf("run %d: exit code %d, want death by SIGKILL; stderr:\n%s", i, code, p.stderr.String())
		}
		kills = append(kills, kill{threshold: th, stored: storedAfterKill(t, db)})
		requested = pageRequestCount(web)
	}
	final := len(thresholds)
	if code, _, errOut := run(t, append(args, "--user-agent", ua(final))...); code != 0 {
		t.Fatalf("final run: exit %d; stderr:\n%s", code, errOut)
	}

	// The result equals an uninterrupted crawl's: every page once, no
	// error records, nothing pending, a consistent database.
	recs := exported(t, db) // fails on a duplicate URL
	if got := keys(recs); !slices.Equal(got, web.Pages()) {
		t.Fatalf("stored %d pages, the site has %d", len(got), total)
	}
	for u, m := range recs {
		if m["status"] != float64(200) || m["error"] != nil {
			t.Errorf("%s: status %v, error %v", u, m["status"], m["error"])
		}
	}
	if set := storedSet(t, db); len(set) != total {
		t.Fatalf("database holds %d pages, want %d", len(set), total)
	}

	// Attribute every request to its run.
	byRun := make([]map[string]int, final+1)
	for i := range byRun {
		byRun[i] = map[string]int{}
	}
	pageReqs := 0
	for _, r := range web.Log() {
		if r.Path == "/robots.txt" {
			continue
		}
		run, ok := strings.CutPrefix(r.UserAgent, "crashtest/")
		n, err := strconv.Atoi(run)
		if !ok || err != nil || n < 0 || n > final {
			t.Fatalf("request with User-Agent %q", r.UserAgent)
		}
		byRun[n]["http://"+r.Host+r.Path]++
		pageReqs++
	}
	storedBefore := map[string]bool{} // stored when run i started
	uncommitted := 0
	for i := range final + 1 {
		reqs := 0
		for u, n := range byRun[i] {
			reqs += n
			if storedBefore[u] {
				t.Errorf("run %d fetched %s, which was stored before it started", i, u)
			}
			if n > 1 {
				t.Errorf("run %d fetched %s %d times", i, u, n)
			}
		}
		storedAfter := web.Pages()
		if i < final {
			storedAfter = nil
			for u := range kills[i].stored {
				storedAfter = append(storedAfter, u)
			}
		}
		committed := len(storedAfter) - len(storedBefore)
		lost := reqs - committed
		if i < final {
			t.Logf("kill %2d at %3d page requests: run fetched %3d, committed %3d, lost %2d", i+1, kills[i].threshold, reqs, committed, lost)
			uncommitted += lost
		}
		switch {
		case lost < 0:
			t.Errorf("run %d committed %d pages but fetched only %d", i, committed, reqs)
		case i < final && lost > lossBound:
			t.Errorf("kill %d lost %d fetches, more than the bound %d (2 × batch %d + 2 × %d workers)", i+1, lost, lossBound, batchSize, workers)
		case i == final && lost != 0:
			t.Errorf("the final run fetched %d pages it did not store", lost)
		}
		for _, u := range storedAfter {
			storedBefore[u] = true
		}
	}
	refetches := pageReqs - total
	t.Logf("%d kills; %d pages, %d page requests: %d refetches, %d fetches uncommitted at the kills", len(kills), total, pageReqs, refetches, uncommitted)
	if refetches > uncommitted {
		t.Errorf("%d refetches, more than the %d fetches uncommitted at the kills", refetches, uncommitted)
	}
}

// pageRequestCount counts the page requests (not robots.txt) in the log.
func pageRequestCount(web *crawltest.Web) int {
	n := 0
	for _, r := range web.Log() {
		if r.Path != "/robots.txt" {
			n++
		}
	}
	return n
}
