package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/time/rate"

	"github.com/politecrawl/crawl/crawler/crawltest"
	"github.com/politecrawl/crawl/store"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const testConfig = `
workers = 3
rate = 0.5
user-agent = "file-agent/1.0"
exclude = ['\.pdf$', '/private/']
grace = "2s"

[[host]]
match = "*.example.com"
rate = 0.25
burst = 2
per_host = 4

[[host]]
match = "127.0.0.1:8080"
rate = 0
`

// setting returns the line of key in crawl config output.
func setting(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`).FindString(out)
	if m == "" {
		t.Fatalf("no %s in:\n%s", key, out)
	}
	return m
}

// TestConfigPrecedence checks flags > file > defaults, as crawl config
// prints them.
func TestConfigPrecedence(t *testing.T) {
	cfg := writeFile(t, "crawl.toml", testConfig)
	code, out, errOut := runIn(t, "config", "--config", cfg, "--workers", "7", "--burst", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for key, want := range map[string]string{
		"workers":    `workers = 7  # flag`,                        // flag beats file
		"burst":      `burst = 3  # flag`,                          // flag, not in file
		"rate":       `rate = 0.5  # file`,                         // file beats default
		"user-agent": `user-agent = "file-agent/1.0"  # file`,      // file
		"exclude":    `exclude = ["\\.pdf$", "/private/"]  # file`, // list
		"grace":      `grace = "2s"  # file`,                       // duration
		"per-host":   `per-host = 1  # default`,                    // default
		"db":         `db = "crawl.db"  # default`,                 // default
	} {
		if got := setting(t, out, key); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, want := range []string{"[[host]]", `match = "*.example.com"`, "rate = 0.25", "burst = 2", "per-host = 4", `match = "127.0.0.1:8080"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "per_host") {
		t.Errorf("output spells per_host, the old spelling, besides per-host:\n%s", out)
	}

	// The output is a config file: read back, it gives the same settings,
	// now all from the file.
	again := writeFile(t, "effective.toml", out)
	code, out2, errOut := runIn(t, "config", "--config", again)
	if code != 0 {
		t.Fatalf("reading back: exit %d: %s", code, errOut)
	}
	strip := regexp.MustCompile(`  # (flag|file|default)\n`)
	if a, b := strip.ReplaceAllString(out, "\n"), strip.ReplaceAllString(out2, "\n"); a != b {
		t.Errorf("read back differs:\n%s\nwant:\n%s", b, a)
	}
	if strings.Contains(out2, "# flag") {
		t.Errorf("read back has flag sources:\n%s", out2)
	}
}

func TestHostRules(t *testing.T) {
	half, zero := 0.5, 0.0
	rules := hostRules{
		{Match: "*.example.com", Rate: &half, Burst: 2, PerHost: 3},
		{Match: "127.0.0.1:8080", Rate: &zero},
		{Match: "127.0.0.*", PerHost: 5},
	}
	for _, tc := range []struct {
		host        string
		lim         rate.Limit
		burst, conc int
	}{
		{"www.example.com", 0.5, 2, 3},
		{"WWW.Example.COM:443", 0.5, 2, 3},
		{"example.com", 0, 0, 0}, // *. needs a subdomain, as in colly
		{"127.0.0.1:8080", rate.Inf, 0, 0},
		{"127.0.0.1:9090", 0, 0, 5},
		{"other.org", 0, 0, 0},
	} {
		lim, burst, conc := rules.limits(tc.host)
		if lim != tc.lim || burst != tc.burst || conc != tc.conc {
			t.Errorf("limits(%q) = %v, %d, %d; want %v, %d, %d", tc.host, lim, burst, conc, tc.lim, tc.burst, tc.conc)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"unknown key", "wrokers = 3\n", `unknown key "wrokers"`},
		{"bad type", "workers = \"many\"\n", `workers = many`},
		{"syntax", "workers = \n", "line 1"},
		{"list for scalar", "rate = [1, 2]\n", "want one value"},
		{"bad value", "workers = 0\n", "--workers 0: need at least 1"},
		{"host without match", "[[host]]\nrate = 1\n", "match is missing"},
		{"host unknown key", "[[host]]\nmatch = \"a\"\nspeed = 1\n", `unknown key "speed"`},
		{"bad glob", "[[host]]\nmatch = \"[a\"\n", "syntax error in pattern"},
		{"hidden flag", "no-sync = true\n", `unknown key "no-sync"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeFile(t, "bad.toml", tc.content)
			code, out, errOut := runIn(t, "config", "--config", cfg)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", code, out, errOut, tc.want)
			}
			if tc.want != "--workers 0: need at least 1" && !strings.Contains(errOut, cfg) {
				t.Errorf("stderr %q does not name the file", errOut)
			}
		})
	}
	code, _, errOut := runIn(t, "config", "--config", filepath.Join(t.TempDir(), "missing.toml"))
	if code != 1 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("missing config: exit %d, stderr %q", code, errOut)
	}
}

// TestRunConfig crawls the test web with settings from a config file, and
// with a flag that overrides one of them.
func TestRunConfig(t *testing.T) {
	web := crawltest.New(t, crawltest.Config{Hosts: 2, PagesPerHost: 10})
	seeds := writeFile(t, "seeds.txt", strings.Join(web.Seeds(), "\n")+"\n")
	dir := t.TempDir()
	cfg := writeFile(t, "crawl.toml", `
rate = 0
max-pages = 3
quiet = true
workers = 2

[[host]]
match = "127.0.1.*"
per-host = 2
`)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 3},
		{[]string{"--max-pages", "5"}, 5},
	} {
		db := filepath.Join(dir, "c"+string(rune('0'+tc.want))+".db")
		args := append([]string{"run", "--config", cfg, "--db", db}, tc.args...)
		code, _, errOut := runIn(t, append(args, seeds)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		st, err := store.Open(db, &store.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.Counts()
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if c.Pages != tc.want {
			t.Errorf("%v: stored %d pages, want %d", tc.args, c.Pages, tc.want)
		}
	}
}
