package extract

import (
	"bytes"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// scanner splits an HTML document held in memory into the tokens that
// x/net/html's Tokenizer gives for it (FuzzScanner checks that the types,
// raw texts and texts agree), for the tokens HTML reads: text, tags,
// and what it skips (comments, doctypes).
//
// Why not the Tokenizer itself: it copies the document into its own buffer
// a byte at a time, and copies and lower-cases the key of every attribute
// of every tag (to drop repeated ones), which HTML never asks for: on an
// ordinary page most of extraction's time and allocations. The scanner
// finds tokens with bytes.IndexByte in
// the document as it is, reads tags by the same rules as rawHref
// (walkTag), and copies nothing unless a text needs decoding.
type scanner struct {
	b          []byte
	pos        int            // where the next token starts
	start      int            // where the current token starts
	tt         html.TokenType // the current token's type
	rawTag     atom.Atom      // element whose raw text comes next, or 0
	dataStart  int            // a text token's text: b[dataStart:dataEnd]
	dataEnd    int
	textIsRaw  bool // the text is not unescaped (script, style …)
	convertNUL bool // NUL bytes in the text become U+FFFD (raw text)
}

func newScanner(b []byte) *scanner { return &scanner{b: b} }

// raw returns the current token's text as it is in the document.
func (s *scanner) raw() []byte { return s.b[s.start:s.pos] }

// next scans the next token and returns its type: html.ErrorToken at the
// end of the document, or where the Tokenizer would report an error (a
// tag that the document ends in).
func (s *scanner) next() html.TokenType {
	s.start = s.pos
	if s.rawTag != 0 {
		tag := s.rawTag
		s.rawTag = 0
		var end int
		switch tag {
		case atom.Plaintext:
			end, s.textIsRaw = len(s.b), true
		case atom.Script:
			end, s.textIsRaw = scriptEnd(s.b, s.pos), true
		default:
			end = rawTextEnd(s.b, s.pos, tag.String())
			s.textIsRaw = tag != atom.Textarea && tag != atom.Title
		}
		if end > s.pos {
			s.convertNUL = true
			return s.text(end)
		}
	}
	s.textIsRaw, s.convertNUL = false, false
	b := s.b
	for i := s.pos; ; {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 || i+j+1 >= len(b) {
			return s.text(len(b)) // no tag before the end
		}
		i += j
		c := b[i+1]
		if !isLetter(c) && c != '/' && c != '!' && c != '?' {
			i++ // a '<' that starts nothing is text
			continue
		}
		if i > s.pos {
			return s.text(i) // the text before the tag first
		}
		switch {
		case isLetter(c):
			return s.startTag(i)
		case c == '/':
			return s.endTag(i)
		case c == '!':
			return s.markupDeclaration(i)
		default: // "<?": a bogus comment up to '>'
			return s.token(html.CommentToken, closeAngle(b, i+1))
		}
	}
}

// text makes the document up to end a text token; if there is none, the
// document has ended.
func (s *scanner) text(end int) html.TokenType {
	if end == s.pos {
		s.tt = html.ErrorToken
		return s.tt
	}
	s.dataStart, s.dataEnd = s.pos, end
	return s.token(html.TextToken, end)
}

func (s *scanner) token(tt html.TokenType, end int) html.TokenType {
	s.tt, s.pos = tt, end
	return tt
}

// startTag reads the start tag at i ("<a…").
func (s *scanner) startTag(i int) html.TokenType {
	end, ok := walkTag(s.b, i+2, nil)
	if !ok {
		return s.token(html.ErrorToken, len(s.b))
	}
	switch a := tagAtom(s.b[i:end]); a {
	case atom.Iframe, atom.Noembed, atom.Noframes, atom.Noscript, atom.Plaintext, atom.Script, atom.Style,
		atom.Textarea, atom.Title, atom.Xmp:
		s.rawTag = a // even when self-closing, as the Tokenizer does
	}
	if s.b[end-2] == '/' && s.selfClosing(i, end) {
		return s.token(html.SelfClosingTagToken, end)
	}
	return s.token(html.StartTagToken, end)
}

// selfClosing reports whether the start tag b[i:end], whose last character
// before '>' is '/', is self-closing as the Tokenizer judges it: unless that
// '/' ends the value of the last attribute it keeps (the first of each
// name, ignoring case, and not an empty one), as in <p a=/>.
func (s *scanner) selfClosing(i, end int) bool {
	tag := s.b[i:end]
	var keys [][]byte
	last := -1 // where the last kept attribute's value ends, in tag
	walkTag(tag, 2, func(ks, ke, vs, ve int) bool {
		k := tag[ks:ke]
		if len(k) == 0 {
			return true
		}
		for _, seen := range keys {
			if asciiEqualFold(seen, k) {
				return true
			}
		}
		keys = append(keys, k)
		last = ve
		return true
	})
	return last < 0 || len(tag)-2 != last-1
}

// endTag reads what starts with "</" at i: an end tag, "</>" (an empty
// comment, as the Tokenizer makes it), or a bogus comment up to '>'.
func (s *scanner) endTag(i int) html.TokenType {
	b := s.b
	switch {
	case i+2 >= len(b):
		return s.text(len(b)) // "</" at the end is text
	case b[i+2] == '>':
		return s.token(html.CommentToken, i+3)
	case isLetter(b[i+2]):
		end, ok := walkTag(b, i+3, nil)
		if !ok {
			return s.token(html.ErrorToken, len(b))
		}
		return s.token(html.EndTagToken, end)
	}
	return s.token(html.CommentToken, closeAngle(b, i+2))
}

// markupDeclaration reads what starts with "<!" at i: a comment, a doctype,
// or a bogus comment up to '>'.
func (s *scanner) markupDeclaration(i int) html.TokenType {
	b := s.b
	switch {
	case i+4 > len(b):
		return s.token(html.CommentToken, len(b)) // the document ends within "<!--"
	case b[i+2] == '-' && b[i+3] == '-':
		return s.token(html.CommentToken, commentEnd(b, i+4))
	case i+9 <= len(b) && asciiEqualFold(b[i+2:i+9], []byte("doctype")):
		return s.token(html.DoctypeToken, closeAngle(b, i+9))
	}
	return s.token(html.CommentToken, closeAngle(b, i+2))
}

// scriptEnd returns where the content of a script that starts at p ends:
// at the "</script" (followed by white space, '/' or '>') that is not
// inside a double-escaped section ("<!--<script>…</script>-->"), or at the
// end of b. It follows the script data states of the WHATWG tokenizer, as
// the Tokenizer does.
func scriptEnd(b []byte, p int) int {
	const (
		data = iota
		escaped
		escapedDash
		escapedDashDash
		double
		doubleDash
		doubleDashDash
	)
	state := data
	for p < len(b) {
		c := b[p]
		p++
		switch state {
		case data:
			if c != '<' {
				continue
			}
			if p >= len(b) {
				return len(b)
			}
			switch b[p] {
			case '/':
				end, ended := scriptEndTag(b, p+1)
				if ended {
					return end
				}
				p = end
			case '!': // "<!--" starts an escaped section
				switch {
				case p+1 >= len(b) || b[p+1] == '-' && p+2 >= len(b):
					return len(b)
				case b[p+1] == '-' && b[p+2] == '-':
					p, state = p+3, escapedDashDash
				default:
					p++ // read again from the character after '!'
				}
			}
		case escaped, escapedDash, escapedDashDash:
			switch {
			case c == '-':
				state = min(state+1, escapedDashDash)
			case c == '>' && state == escapedDashDash:
				state = data
			case c == '<':
				if p >= len(b) {
					return len(b)
				}
				switch c := b[p]; {
				case c == '/':
					end, ended := scriptEndTag(b, p+1)
					if ended {
						return end
					}
					p, state = end, escaped
				case isLetter(c): // "<script" starts a double-escaped section
					next, match, eof := rawEndTag(b, p, "script")
					switch {
					case eof:
						return len(b)
					case match:
						p, state = next+1, double
					default:
						p, state = next, escaped
					}
				default:
					state = data
				}
			default:
				state = escaped
			}
		default: // double, doubleDash, doubleDashDash
			switch {
			case c == '-':
				state = min(state+1, doubleDashDash)
			case c == '>' && state == doubleDashDash:
				state = data
			case c == '<':
				state = double
				if p < len(b) && b[p] == '/' {
					next, match, eof := rawEndTag(b, p+1, "script")
					switch {
					case eof:
						return len(b)
					case match: // "</script>" ends the double escape
						p, state = next+1, escaped
					default:
						p = next
					}
				} else if p >= len(b) {
					return len(b)
				}
			default:
				state = double
			}
		}
	}
	return len(b)
}

// scriptEndTag reads what follows "</" at p in a script: if it is the
// script's end tag, it returns where the script's content ends (at the
// '<') and true; if b ends first, the end of b and true; otherwise where to
// read again and false.
func scriptEndTag(b []byte, p int) (int, bool) {
	next, match, eof := rawEndTag(b, p, "script")
	switch {
	case eof:
		return len(b), true
	case match:
		return p - len("</"), true
	}
	return next, false
}

// rawEndTag reads name, matched ignoring case, from p (just after "</")
// and then white space, '/' or '>': match reports whether they are there,
// and next is where the character that ended the name is (the one that
// did not match, or the one after the name), to be read again. eof reports
// that b ended first.
func rawEndTag(b []byte, p int, name string) (next int, match, eof bool) {
	for n := 0; n < len(name); n++ {
		if p >= len(b) {
			return p, false, true
		}
		if c := b[p]; c != name[n] && c != name[n]-('a'-'A') {
			return p, false, false
		}
		p++
	}
	if p >= len(b) {
		return p, false, true
	}
	switch b[p] {
	case ' ', '\n', '\r', '\t', '\f', '/', '>':
		return p, true, false
	}
	return p, false, false
}

// textOf returns the text of the current text token as the Tokenizer's
// Text does: "\r\n" and "\r" made "\n", NUL made U+FFFD in raw text, and
// character references decoded unless the text is raw. It is a slice of
// the document unless some of that applies.
func (s *scanner) textOf() []byte {
	d := s.b[s.dataStart:s.dataEnd]
	cr := bytes.IndexByte(d, '\r') >= 0
	nul := s.convertNUL && bytes.IndexByte(d, 0) >= 0
	amp := !s.textIsRaw && bytes.IndexByte(d, '&') >= 0
	if !cr && !nul && !amp {
		return d
	}
	if cr {
		d = bytes.ReplaceAll(bytes.ReplaceAll(d, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
	}
	if nul {
		d = bytes.ReplaceAll(d, []byte{0}, []byte("\uFFFD"))
	}
	if amp {
		d = []byte(html.UnescapeString(string(d)))
	}
	return d
}

// rawTextEnd returns where the raw text (or RCDATA) of element name that
// starts at p ends: at the "</name" followed by white space, '/' or '>',
// matched ignoring case, or at the end of b.
func rawTextEnd(b []byte, p int, name string) int {
	for {
		j := bytes.IndexByte(b[p:], '<')
		if j < 0 {
			return len(b)
		}
		i := p + j
		if i+1 >= len(b) {
			return len(b)
		}
		if b[i+1] != '/' {
			p = i + 1
			continue
		}
		next, match, eof := rawEndTag(b, i+2, name)
		switch {
		case eof:
			return len(b)
		case match:
			return i
		}
		p = next // read again from the character that ended the name
	}
}

// commentEnd returns where the comment whose text starts at p ends: after
// "-->" or "--!>", or at once for "<!-->" and "<!--->", or at the end of b.
func commentEnd(b []byte, p int) int {
	dashes, beginning := 0, true
	for p < len(b) {
		c := b[p]
		p++
		switch c {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return p
			}
		case '!':
			if dashes >= 2 {
				if p >= len(b) {
					return p
				}
				c = b[p]
				p++
				switch c {
				case '>':
					return p
				case '-':
					dashes, beginning = 1, false
					continue
				}
			}
		}
		dashes, beginning = 0, false
	}
	return p
}

// closeAngle returns the index just after the first '>' at or after p, or
// the end of b.
func closeAngle(b []byte, p int) int {
	if i := bytes.IndexByte(b[p:], '>'); i >= 0 {
		return p + i + 1
	}
	return len(b)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// asciiEqualFold reports whether a and b are equal, ignoring the case of
// ASCII letters only (as the Tokenizer lower-cases names).
func asciiEqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
