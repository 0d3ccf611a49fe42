package extract

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseField(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Field // sel not compared
		bad  bool
	}{
		{spec: "title=h1", want: Field{Name: "title", Selector: "h1"}},
		{spec: " price = .product .price ", want: Field{Name: "price", Selector: ".product .price"}},
		{spec: "img=img.main@src", want: Field{Name: "img", Selector: "img.main", Attr: "src"}},
		{spec: "links[]=nav a@href", want: Field{Name: "links", Selector: "nav a", Attr: "href", All: true}},
		{spec: "tags[]=ul.tags > li", want: Field{Name: "tags", Selector: "ul.tags > li", All: true}},
		{spec: `date=meta[property="article:published_time"]@content`,
			want: Field{Name: "date", Selector: `meta[property="article:published_time"]`, Attr: "content"}},
		// An "@" inside an attribute value belongs to the selector.
		{spec: `mail=a[href^="mailto:x@"]`, want: Field{Name: "mail", Selector: `a[href^="mailto:x@"]`}},
		{spec: "links[]=a@abs:href", want: Field{Name: "links", Selector: "a", Attr: "abs:href", All: true}},
		{spec: "x=a@abs:", bad: true}, // abs: of nothing
		{spec: "a.b-c_d=p", want: Field{Name: "a.b-c_d", Selector: "p"}},
		{spec: "h1", bad: true},             // no "="
		{spec: "=h1", bad: true},            // no name
		{spec: "x=", bad: true},             // no selector
		{spec: "x=@href", bad: true},        // an attribute of nothing
		{spec: "x=div[", bad: true},         // does not parse
		{spec: "x=p:nth-child(", bad: true}, // does not parse
		{spec: "x y=p", bad: true},          // a name with a space
		{spec: "1x=p", bad: true},           // a name starting with a digit
		{spec: "x[]]=p", bad: true},         // a name with a bracket
		{spec: "x=a@href@title", bad: true}, // "a@href" does not parse
		{spec: "x=a:contains('q')", bad: false, want: Field{Name: "x", Selector: "a:contains('q')"}},
	} {
		got, err := ParseField(tc.spec)
		if tc.bad {
			if err == nil || !errors.Is(err, ErrBadField) {
				t.Errorf("ParseField(%q): got %+v, %v; want an ErrBadField", tc.spec, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseField(%q): %v", tc.spec, err)
			continue
		}
		got.sel = nil
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseField(%q): got %+v, want %+v", tc.spec, got, tc.want)
		}
		if again, err := ParseField(got.String()); err != nil || again.String() != got.String() {
			t.Errorf("ParseField(%q).String() = %q does not read back: %v", tc.spec, got.String(), err)
		}
	}
}

// TestParseFieldNamesSelector: the error of a selector that does not parse
// names the field and the selector, so that the usage error says which.
func TestParseFieldNamesSelector(t *testing.T) {
	_, err := ParseField("price=.price[data-x")
	if err == nil || !strings.Contains(err.Error(), `price: selector ".price[data-x"`) {
		t.Errorf("got %v, want an error naming price and its selector", err)
	}
}

func mustRules(t testing.TB, match string, specs ...string) Rule {
	t.Helper()
	var r Rule
	if match != "" {
		r.Match = regexp.MustCompile(match)
	}
	for _, s := range specs {
		f, err := ParseField(s)
		if err != nil {
			t.Fatal(err)
		}
		r.Fields = append(r.Fields, f)
	}
	return r
}

const productPage = `<!doctype html><html><head><title>Widget</title>
<meta property="og:image" content=" /img/w.png ">
<script>var price = "0.00";</script></head><body>
<h1 class="name">  The
	Widget  </h1>
<p class="price"><span>$</span>12.<b>99</b></p>
<ul class="tags"><li>blue</li><li> small </li><li></li></ul>
<a>no href</a><a href="/a">A</a><a href="/b">B</a>
<div id="x"><script>ignored()</script><style>p{}</style>seen<noscript>not</noscript></div>
</body></html>`

func TestExtractFields(t *testing.T) {
	const u = "http://shop.example/product/1"
	for _, tc := range []struct {
		name  string
		rules []Rule
		body  string
		want  map[string]any
	}{
		{"text folded", []Rule{mustRules(t, "", "name=h1")}, productPage, map[string]any{"name": "The Widget"}},
		{"text joined across elements", []Rule{mustRules(t, "", "price=.price")}, productPage, map[string]any{"price": "$12.99"}},
		{"attribute trimmed", []Rule{mustRules(t, "", "img=meta[property='og:image']@content")}, productPage,
			map[string]any{"img": "/img/w.png"}},
		{"first match with the attribute", []Rule{mustRules(t, "", "first=a@href")}, productPage, map[string]any{"first": "/a"}},
		{"array", []Rule{mustRules(t, "", "tags[]=ul.tags li", "hrefs[]=a@href")}, productPage,
			map[string]any{"tags": []string{"blue", "small", ""}, "hrefs": []string{"/a", "/b"}}},
		{"no match: no field", []Rule{mustRules(t, "", "sku=.sku", "skus[]=.sku", "alt=h1@alt", "name=h1")}, productPage,
			map[string]any{"name": "The Widget"}},
		{"nothing matches: nil", []Rule{mustRules(t, "", "sku=.sku")}, productPage, nil},
		{"scripts, styles and noscript left out", []Rule{mustRules(t, "", "x=#x")}, productPage, map[string]any{"x": "seen"}},
		{"a script selected itself", []Rule{mustRules(t, "", "ld=script[type='application/ld+json']")},
			`<script type="application/ld+json">{"@type": "Product",
  "name": "W"}</script>`, map[string]any{"ld": `{"@type": "Product", "name": "W"}`}},
		{"abs: resolved and normalised, non-http left out", []Rule{mustRules(t, "", "links[]=a@abs:href", "img=img@abs:src")},
			`<a href="../b?utm_source=x#f">b</a><a href="mailto:x@y">m</a><a href="#top">t</a><a>none</a><a href=" HTTP://Other.example:80/ ">o</a><img src=/i.png>`,
			map[string]any{"links": []string{"http://shop.example/b", "http://other.example/"}, "img": "http://shop.example/i.png"}},
		{"abs: honours <base href>", []Rule{mustRules(t, "", "l=a@abs:href")},
			`<head><base href="http://cdn.example/x/"></head><a href="y">y</a>`, map[string]any{"l": "http://cdn.example/x/y"}},
		{"rule not for this URL", []Rule{mustRules(t, `/category/`, "name=h1")}, productPage, nil},
		{"rules by URL", []Rule{mustRules(t, `/category/`, "name=title"), mustRules(t, `/product/`, "name=h1")},
			productPage, map[string]any{"name": "The Widget"}},
		{"the first rule with a value wins", []Rule{mustRules(t, "", "name=.none", "title=title"), mustRules(t, "", "name=h1", "title=h1")},
			productPage, map[string]any{"name": "The Widget", "title": "Widget"}},
		{"broken HTML", []Rule{mustRules(t, "", "name=h1", "cells[]=td", "b=b")},
			`<h1>Unclosed <b>bold<table><tr><td>1<td>2</tr><p>after`,
			// As a browser reads it: "after" is moved out of the table.
			map[string]any{"name": "Unclosed boldafter12", "cells": []string{"1", "2"}, "b": "boldafter12"}},
		{"not HTML at all", []Rule{mustRules(t, "", "body=body", "p=p")}, "\x00\xff plain text",
			map[string]any{"body": "ÿ plain text"}}, // windows-1252, as browsers read it
	} {
		got, err := Fields(tc.rules, []byte(tc.body), "text/html", u)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

// TestExtractFieldsCharset: a body is decoded with its charset before
// selectors see it, as the crawl does.
func TestExtractFieldsCharset(t *testing.T) {
	got, err := Fields([]Rule{mustRules(t, "", "h=h1")}, []byte("<h1>caf\xe9</h1>"), "text/html; charset=iso-8859-1", "http://a/")
	if err != nil || got["h"] != "café" {
		t.Errorf("got %#v, %v; want h café", got, err)
	}
}

// TestExtractFieldsCaps: an array field keeps MaxFieldValues values, about
// MaxFieldTotal bytes, and a value at most MaxFieldBytes, cut at a rune
// boundary.
func TestExtractFieldsCaps(t *testing.T) {
	body := "<ul>" + strings.Repeat("<li>x</li>", 3*MaxFieldValues) + "</ul><p>" + strings.Repeat("é", MaxFieldBytes) + "</p>" +
		`<a title="` + strings.Repeat("a", 2*MaxFieldBytes) + `">`
	got, err := Fields([]Rule{mustRules(t, "", "li[]=li", "p=p", "title=a@title")}, []byte(body), "text/html", "http://a/")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got["li"].([]string)); n != MaxFieldValues {
		t.Errorf("got %d values, want %d", n, MaxFieldValues)
	}
	p := got["p"].(string)
	if len(p) != MaxFieldBytes || !utf8.ValidString(p) {
		t.Errorf("got a text of %d bytes (valid UTF-8: %v), want %d", len(p), utf8.ValidString(p), MaxFieldBytes)
	}
	if n := len(got["title"].(string)); n != MaxFieldBytes {
		t.Errorf("got an attribute of %d bytes, want %d", n, MaxFieldBytes)
	}
	// Every element's text: the values stop once they reach MaxFieldTotal.
	body = "<div>" + strings.Repeat("<p>"+strings.Repeat("x", MaxFieldBytes)+"</p>", 100) + "</div>"
	got, err = Fields([]Rule{mustRules(t, "", "all[]=*")}, []byte(body), "text/html", "http://a/")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, v := range got["all"].([]string) {
		total += len(v)
	}
	if total < MaxFieldTotal || total >= MaxFieldTotal+MaxFieldBytes {
		t.Errorf("got %d bytes of values, want %d and less than one more value", total, MaxFieldTotal)
	}
}

// TestDeepPage: a page nested 500 deep yields its fields; one nested
// 100,000 deep, which x/net/html (goquery's parser) refuses past 512, is an
// error (crawler's TestDeepPageDOM: the crawl stores its record without
// fields).
func TestDeepPage(t *testing.T) {
	rules := []Rule{mustRules(t, "", "d=.deep", "all[]=span")}
	for _, tc := range []struct {
		depth int
		want  map[string]any
	}{
		{500, map[string]any{"d": "here", "all": []string{"here"}}},
		{100000, nil},
	} {
		body := []byte(strings.Repeat("<div>", tc.depth) + "<span class=deep>here</span>" + strings.Repeat("</div>", tc.depth))
		got, err := Fields(rules, body, "text/html", "http://a/")
		if !reflect.DeepEqual(got, tc.want) || (err != nil) != (tc.want == nil) {
			t.Errorf("depth %d: got %v, %v; want %v", tc.depth, got, err, tc.want)
		}
	}
}

// FuzzExtractFields checks what any page gives: values within the caps, text folded (no white space at the ends, none doubled), and
// the same fields from the same body twice.
func FuzzExtractFields(f *testing.F) {
	f.Add(productPage)
	f.Add("<p> a \n b </p><p>\t</p><a href=' x '>")
	f.Add("<table><td>1<td>2<p>\xff")
	rules := []Rule{mustRules(f, "", "p=p", "ps[]=p", "td[]=td", "href[]=a@href", "all[]=*")}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := Fields(rules, []byte(body), "text/html; charset=utf-8", "http://a/")
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Fields(rules, []byte(body), "text/html; charset=utf-8", "http://a/")
		if !reflect.DeepEqual(got, again) {
			t.Fatalf("two extractions differ: %v and %v", got, again)
		}
		check := func(name, v string) {
			if len(v) > MaxFieldBytes {
				t.Errorf("%s: %d bytes, over %d", name, len(v), MaxFieldBytes)
			}
			if name != "href" && (strings.Trim(v, htmlSpace) != v || strings.Contains(v, "  ")) && len(v) < MaxFieldBytes {
				t.Errorf("%s: %q is not folded", name, v)
			}
		}
		for name, v := range got {
			switch v := v.(type) {
			case string:
				check(name, v)
			case []string:
				if len(v) > MaxFieldValues {
					t.Errorf("%s: %d values, over %d", name, len(v), MaxFieldValues)
				}
				total := 0
				for _, s := range v {
					check(name, s)
					if total >= MaxFieldTotal {
						t.Errorf("%s: a value past %d bytes", name, MaxFieldTotal)
					}
					total += len(s)
				}
			}
		}
		if _, err := json.Marshal(got); err != nil {
			t.Error(err)
		}
	})
}
