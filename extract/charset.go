package extract

import (
	"bytes"
	"io"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// ToUTF8 decodes an HTML body to UTF-8 using, in order, its byte order
// mark, the Content-Type charset, a <meta> charset in its first 1024 bytes;
// without any, valid UTF-8 stays as it is and the rest is read as
// windows-1252, as browsers do.
func ToUTF8(body []byte, contentType string) ([]byte, error) {
	enc, name, certain := charset.DetermineEncoding(body, contentType)
	if name == "utf-8" || (!certain && name == "windows-1252" && utf8.Valid(body)) {
		return bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), nil
	}
	return io.ReadAll(enc.NewDecoder().Reader(bytes.NewReader(body)))
}
