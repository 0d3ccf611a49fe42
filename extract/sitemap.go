package extract

import (
	"encoding/xml"
	"io"
	"strings"

	"golang.org/x/net/html/charset"
)

// Sitemap returns the <loc> values of a sitemap (<urlset>) or sitemap
// index (<sitemapindex>) read from rd, and whether it is an index; nothing
// if the document is neither. take is asked before each value is kept:
// reading stops when it returns false, and at the first XML error (a cut
// body yields what came before it).
func Sitemap(rd io.Reader, take func() bool) (locs []string, index bool) {
	d := xml.NewDecoder(rd)
	d.Strict = false
	d.CharsetReader = charset.NewReaderLabel
	root := ""
	inLoc := false
	var loc strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return locs, index
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = t.Name.Local
				if root != "urlset" && root != "sitemapindex" {
					return nil, false
				}
				index = root == "sitemapindex"
				continue
			}
			if t.Name.Local == "loc" {
				inLoc = true
				loc.Reset()
			}
		case xml.CharData:
			if inLoc && loc.Len() < 4096 {
				loc.Write(t)
			}
		case xml.EndElement:
			if inLoc && t.Name.Local == "loc" {
				inLoc = false
				if s := strings.TrimSpace(loc.String()); s != "" {
					if !take() {
						return locs, index
					}
					locs = append(locs, s)
				}
			}
		}
	}
}
