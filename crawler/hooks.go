package crawler

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/politecrawl/crawl/store"
)

// committed calls the OnError and OnPage hooks for durably stored records.
func (c *Crawler) committed(done []store.Done) {
	if c.cfg.OnPage == nil && c.cfg.OnError == nil {
		return
	}
	for _, d := range done {
		if d.Page == nil {
			continue // done without a record
		}
		if c.cfg.OnError != nil && d.Page.Failed() {
			msg := d.Page.Error
			if msg == "" {
				msg = fmt.Sprintf("http %d %s", d.Page.Status, http.StatusText(d.Page.Status))
			}
			c.cfg.OnError(d.Entry.URL, errors.New(msg))
		}
		if c.cfg.OnPage != nil {
			c.cfg.OnPage(d.Page)
		}
	}
}
