package export

import (
	"bytes"
	"net/url"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
)

// MainText returns the main text of an HTML page — the article, without
// navigation, headers, footers and other boilerplate — found by a port of
// Mozilla's Readability (codeberg.org/readeck/go-readability). Paragraphs
// are separated by a blank line. It reports false when it finds no main
// content, for a caller to fall back on the page's whole text.
func MainText(body []byte, pageURL string) (string, bool) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return "", false
	}
	art, err := readability.FromReader(bytes.NewReader(body), u)
	if err != nil || art.Node == nil {
		return "", false
	}
	var sb strings.Builder
	if err := art.RenderText(&sb); err != nil {
		return "", false
	}
	text := strings.TrimSpace(sb.String())
	return text, text != ""
}
