package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/time/rate"
)

// hostRule overrides the politeness limits of the hosts it matches, like
// colly's LimitRule. Unset fields keep the crawl's values.
type hostRule struct {
	// Match is a glob (path.Match syntax) over the host name, such as
	// "*.example.com"; with a colon it matches host:port instead.
	Match   string   `toml:"match"`
	Rate    *float64 `toml:"rate,omitempty"` // requests per second; 0: no limit
	Burst   int      `toml:"burst,omitempty"`
	PerHost int      `toml:"per-host,omitempty"` // the flag's name, as at the top level
	// PerHostOld is per_host, the spelling of earlier versions, still read.
	PerHostOld int `toml:"per_host,omitzero"`
}

// hostRules are a config file's [[host]] tables; the first match wins.
type hostRules []hostRule

// limits implements crawler.Config.HostLimits: zero results keep the
// crawl's values.
func (rules hostRules) limits(host string) (rate.Limit, int, int) {
	name := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(name); err == nil {
		name = h
	}
	for _, r := range rules {
		subject := name
		if strings.Contains(r.Match, ":") {
			subject = strings.ToLower(host)
		}
		if ok, _ := path.Match(strings.ToLower(r.Match), subject); !ok {
			continue
		}
		var lim rate.Limit
		if r.Rate != nil {
			lim = rate.Limit(*r.Rate)
			if *r.Rate == 0 {
				lim = rate.Inf
			}
		}
		return lim, r.Burst, r.PerHost
	}
	return 0, 0, 0
}

// configFile is the schema of a --config file: top-level keys are the flag
// names of `crawl run`, plus [[host]] tables.
type configFile struct {
	Host hostRules `toml:"host"`
}

// Where a setting's value came from, as `crawl config` shows it.
const (
	fromDefault = "default"
	fromFile    = "file"
	fromFlag    = "flag"
)

// loadConfig reads the TOML file at path (if not empty) into the flags of
// cmd that were not set on the command line, and returns its host rules and
// where each flag's value came from. Flags explicitly set win over the file;
// the file wins over the defaults.
func loadConfig(cmd *cobra.Command, file string) (hostRules, map[string]string, error) {
	fs := cmd.Flags()
	source := map[string]string{}
	fs.VisitAll(func(f *pflag.Flag) {
		source[f.Name] = fromDefault
		if f.Changed {
			source[f.Name] = fromFlag
		}
	})
	if file == "" {
		return nil, source, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	bad := func(format string, args ...any) error {
		return usageError{fmt.Errorf("%s: "+format, append([]any{file}, args...)...)}
	}
	var keys map[string]any
	if _, err := toml.Decode(string(data), &keys); err != nil {
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			return nil, nil, bad("line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, nil, bad("%v", err)
	}
	var cf configFile
	md, err := toml.Decode(string(data), &cf)
	if err != nil {
		return nil, nil, bad("[[host]]: %v", err)
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && k[0] == "host" {
			return nil, nil, bad("[[host]]: unknown key %q (want match, rate, burst, per-host)", k[len(k)-1])
		}
	}
	for i := range cf.Host {
		r := &cf.Host[i]
		if r.PerHost != 0 && r.PerHostOld != 0 {
			return nil, nil, bad("[[host]] %q: per-host and per_host are one setting: give it once", r.Match)
		}
		if r.PerHost == 0 {
			r.PerHost, r.PerHostOld = r.PerHostOld, 0
		}
		switch {
		case r.Match == "":
			return nil, nil, bad("[[host]] %d: match is missing", i+1)
		case r.Rate != nil && (*r.Rate < 0 || math.IsNaN(*r.Rate)):
			return nil, nil, bad("[[host]] %q: rate %v: need 0 (no limit) or more", r.Match, *r.Rate)
		case r.Burst < 0 || r.PerHost < 0:
			return nil, nil, bad("[[host]] %q: burst and per-host need 1 or more", r.Match)
		}
		if _, err := path.Match(r.Match, ""); err != nil {
			return nil, nil, bad("[[host]] match %q: %v", r.Match, err)
		}
	}

	names := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	for _, name := range names {
		if name == "host" || name == "extract" && isExtractTables(keys[name]) {
			continue // tables, read apart (readExtractTables)
		}
		f := fs.Lookup(name)
		if f == nil || f.Hidden || name == "config" || name == "help" {
			return nil, nil, bad("unknown key %q (keys are the flags of crawl run, and [[host]] tables)", name)
		}
		if f.Changed {
			continue // the command line wins
		}
		vals, err := configValues(keys[name])
		if err != nil {
			return nil, nil, bad("%s: %v", name, err)
		}
		if _, isSlice := f.Value.(pflag.SliceValue); !isSlice && len(vals) != 1 {
			return nil, nil, bad("%s: want one value, not a list", name)
		}
		for _, v := range vals {
			if err := f.Value.Set(v); err != nil {
				return nil, nil, bad("%s = %v: %v", name, keys[name], err)
			}
		}
		source[name] = fromFile
	}
	return cf.Host, source, nil
}

// configValues turns a decoded TOML value into the strings a flag parses.
func configValues(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case int64:
		return []string{strconv.FormatInt(v, 10)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case []any:
		var out []string
		for _, e := range v {
			s, err := configValues(e)
			if err != nil {
				return nil, err
			}
			if len(s) != 1 {
				return nil, errors.New("nested lists are not allowed")
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
}

// writeConfig prints the effective configuration as a TOML file that
// --config reads back, each key followed by where its value came from.
func writeConfig(w io.Writer, fs *pflag.FlagSet, source map[string]string, rules hostRules) error {
	var buf bytes.Buffer
	buf.WriteString("# Effective configuration of crawl run: flags > --config file > defaults.\n")
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Hidden || f.Name == "config" || f.Name == "help" {
			return
		}
		var v any
		switch f.Value.Type() {
		case "int", "int64", "float64", "bool":
			// The flag's own spelling read as a TOML value; a float such
			// as +Inf that TOML spells otherwise stays a string.
			var m map[string]any
			if _, derr := toml.Decode("v = "+f.Value.String(), &m); derr == nil {
				v = m["v"]
			} else {
				v = f.Value.String()
			}
		case "stringArray", "stringSlice":
			v = f.Value.(pflag.SliceValue).GetSlice()
		default: // string, duration
			v = f.Value.String()
		}
		var line bytes.Buffer
		if err = toml.NewEncoder(&line).Encode(map[string]any{f.Name: v}); err != nil {
			return
		}
		fmt.Fprintf(&buf, "%s  # %s\n", strings.TrimSuffix(line.String(), "\n"), source[f.Name])
	})
	if err != nil {
		return err
	}
	if len(rules) > 0 {
		buf.WriteString("\n")
		if err := toml.NewEncoder(&buf).Encode(configFile{Host: rules}); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func newConfigCmd() *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "config [--config FILE] [flags]",
		Short: "Print the effective configuration of crawl run (flags, config file, defaults)",
		Long: `Print the configuration that "crawl run" would use with the same --config
file and flags, as TOML that --config reads back. Each line says where its
value came from: a flag given on the command line (which wins), the config
file, or the default.

A config file holds the flags of "crawl run" as TOML keys (the same names),
plus [[host]] tables that override the politeness limits of matching hosts,
the first match winning:

  workers = 32
  rate = 2
  exclude = ['\.pdf$']

  [[host]]
  match = "*.example.com"   # glob over the host name; with a colon, host:port
  rate = 0.5                # requests per second (0: no limit)
  burst = 1
  per-host = 2              # concurrent requests (per_host is read too)`,
		Example: `  crawl config --config crawl.toml
  crawl config --config crawl.toml --rate 5 > effective.toml`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.load(cmd); err != nil {
				return err
			}
			if _, err := o.config(nil); err != nil {
				return err
			}
			tables := o.extract.showTables(cmd.Flags())
			if err := writeConfig(cmd.OutOrStdout(), cmd.Flags(), o.sources, o.hostRules); err != nil {
				return err
			}
			return writeExtractTables(cmd.OutOrStdout(), tables)
		},
	}
	o.addFlags(cmd)
	return cmd
}
