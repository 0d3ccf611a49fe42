// Package extract owns what the crawler reads out of a fetched page: the
// HTML scanner (scan.go, the tokens of x/net/html's Tokenizer without its
// copies), the page's title, visible text, links, robots meta directives
// and canonical URL in one pass of it (HTML, in parse.go: where links are
// extracted), the X-Robots-Tag header (RobotsHeader), the decoding of a
// body to UTF-8 (ToUTF8), the URLs of a sitemap (Sitemap), the SimHash of
// a page's text (SimHash), and fields picked out of a page's DOM with CSS
// selectors (Field, Rule, Fields). It is pure: no I/O and no state beyond a
// pool of scratch buffers; every function is safe for concurrent use.
// Links are resolved and normalised by urlnorm; what to fetch and follow
// is the crawler's to decide.
package extract
