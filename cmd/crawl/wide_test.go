package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/politecrawl/crawl/crawler/crawltest"
)

// TestWideDNS crawls hosts by name through --dns-server: a virtual web's
// hosts, which the server resolves to the web, and links to a name that
// does not exist, to one whose lookups time out and to a public name the
// server maps to a private address. Those end as error records, the
// timing-out one without holding up the others: the crawl, with two
// workers, takes about one lookup timeout, not one per worker.
func TestWideDNS(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 40, PagesPerHost: 3, LinksPerPage: -1, Virtual: true})
	res := web.Resolver()
	port := web.Hosts()[0][strings.LastIndex(web.Hosts()[0], ":")+1:]
	dns := crawltest.NewDNS(t, func(name string) (netip.Addr, error) {
		switch name {
		case "slow.example":
			return netip.Addr{}, crawltest.ErrNoAnswer
		case "private.example":
			return netip.MustParseAddr("127.0.0.1"), nil // where the web is, but not a seed's host
		}
		if ips, err := res.LookupNetIP(t.Context(), "ip4", name); err == nil {
			return ips[0], nil
		}
		return netip.Addr{}, errors.New("nxdomain")
	})
	bad := []string{"http://nx.example:" + port + "/", "http://slow.example:" + port + "/", "http://private.example:" + port + "/"}
	web.Handle(0, "/p/1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for _, u := range bad {
			fmt.Fprintf(w, `<a href="%s">x</a>`, u)
		}
	}))
	dir := t.TempDir()
	db := filepath.Join(dir, "crawl.db")
	start := time.Now()
	code, _, errOut := run(t, "run", "--db", db, "--rate", "0", "--workers", "2", "--any-host", "--retries", "0",
		"--dns-server", dns, "-q", writeSeeds(t, dir, web.Seeds()))
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("crawl: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "export", "--db", db, "--fields", "url,status,error")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	got := map[string]string{}
	ok := 0
	for _, r := range records(t, out) {
		var u, e string
		json.Unmarshal(r["url"], &u)
		json.Unmarshal(r["error"], &e)
		if e == "" {
			ok++
		}
		got[u] = e
	}
	if want := 40*3 - 1; ok != want { // host 0's /p/1 leads to no /p/2
		t.Errorf("%d pages stored without error, want %d", ok, want)
	}
	for u, want := range map[string]string{bad[0]: "no such host", bad[1]: "timeout", bad[2]: "address not allowed"} {
		if e, found := got[u]; !found || !strings.Contains(e, want) {
			t.Errorf("%s: error %q (recorded: %v), want one saying %q", u, e, found, want)
		}
	}
	// One lookup timeout is 4 s; the crawl of 123 pages takes far less.
	if elapsed > 12*time.Second {
		t.Errorf("crawl took %v: a lookup held the workers", elapsed)
	}
}
