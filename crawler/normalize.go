package crawler

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Errors of URL normalisation.
var (
	errNotAbsolute = errors.New("not an absolute URL")
	errScheme      = errors.New("scheme is not http or https")
	errNoHost      = errors.New("no host")
)

// Normalize returns the canonical form of an absolute http(s) URL: scheme and
// host in lower case, the default port dropped, the fragment and user info
// dropped, dot segments resolved, an empty path made "/", an empty query
// ("?") dropped and the path's percent-encoding made canonical. Two URLs that
// name the same resource this way normalise to the same string, and
// Normalize(Normalize(u)) == Normalize(u).
func Normalize(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", err
	}
	if err := normalizeURL(u); err != nil {
		return "", err
	}
	return u.String(), nil
}

// normalizeURL normalises u in place (see Normalize).
func normalizeURL(u *url.URL) error {
	if !u.IsAbs() {
		return errNotAbsolute
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return errScheme
	}
	if u.Opaque != "" {
		return errNoHost
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	host = strings.TrimRight(host, ".") // "example.com." is example.com; "." and ".." are no host
	if host == "" {
		return errNoHost
	}
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	u.ForceQuery = false
	// Resolving u against an empty base removes its dot segments (RFC 3986
	// section 5.2.4) and yields a fresh, canonically escaped path.
	if strings.Contains(u.Path, ".") {
		r := (&url.URL{}).ResolveReference(u)
		u.Path, u.RawPath = r.Path, r.RawPath
	}
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	// Keep the raw form only where it carries meaning Path cannot (an
	// escaped slash); elsewhere let net/url choose one canonical escaping.
	if u.RawPath != "" && !strings.Contains(strings.ToUpper(u.RawPath), "%2F") {
		u.RawPath = ""
	}
	return nil
}

// resolve turns href, found on a page whose base URL is base, into a
// normalised absolute URL. It reports false for links a crawler must not
// follow (other schemes, malformed URLs).
func resolve(base *url.URL, href string) (*url.URL, bool) {
	href = strings.TrimSpace(href)
	if href == "" || strings.HasPrefix(href, "#") {
		return nil, false
	}
	ref, err := url.Parse(href)
	if err != nil {
		return nil, false
	}
	u := base.ResolveReference(ref)
	if normalizeURL(u) != nil {
		return nil, false
	}
	return u, true
}

// Fingerprint is the 64-bit key of a normalised URL in the visited set.
func Fingerprint(normalized string) uint64 { return xxhash.Sum64String(normalized) }

// hostKey is the politeness key of a normalised URL: its host[:port].
func hostKey(u *url.URL) string { return u.Host }

// hostOf returns the host key of a normalised URL string.
func hostOf(normalized string) (string, error) {
	u, err := url.Parse(normalized)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", normalized, err)
	}
	return hostKey(u), nil
}
