// Package storetest opens stores for tests, each checked for consistency
// when its test ends.
package storetest

import (
	"path/filepath"
	"testing"

	"github.com/politecrawl/crawl/store"
)

// Open opens the store at path with o (a new one in tb.TempDir when path is
// ""); when the test ends it is checked (store.Check) and closed.
func Open(tb testing.TB, path string, o *store.Options) *store.Store {
	tb.Helper()
	if path == "" {
		path = filepath.Join(tb.TempDir(), "crawl.db")
	}
	st, err := store.Open(path, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := st.Check(); err != nil {
			tb.Errorf("store consistency: %v", err)
		}
		st.Close()
	})
	return st
}
