package store

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// checkPageJSON fails t unless AppendPageJSON writes what json.Marshal does.
func checkPageJSON(t *testing.T, p *Page) {
	t.Helper()
	want, wantErr := json.Marshal(p)
	got, err := AppendPageJSON([]byte("prefix"), p)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendPageJSON error %v, json.Marshal error %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendPageJSON wrote\n%s\njson.Marshal\n%s", got, want)
	}
}

// TestPageJSONFields sets every field of a Page and compares: a field added
// to Page and not to AppendPageJSON fails here.
func TestPageJSONFields(t *testing.T) {
	var p Page
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("a \"b\" <c> & d\\e\u2028\xff\x01\n" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(i + 1))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Float64:
			f.SetFloat(12.345)
		case reflect.Map:
			switch f.Type().Elem().Kind() {
			case reflect.Int:
				f.Set(reflect.ValueOf(map[string]int{"b": 2, "a<": 1, "Ä": -3}))
			case reflect.Interface:
				f.Set(reflect.ValueOf(map[string]any{"b": "x<y>", "a": []string{"1", "2&"}, "c": []string(nil),
					"d": []any{"e", 1.5}, "é": map[string]any{"z": true, "y": nil}}))
			default:
				f.Set(reflect.ValueOf(map[string]string{"B": "2", "A": "1<", "Ä": "\t"}))
			}
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint8 {
				f.SetBytes([]byte("body\x00\xff"))
			} else {
				f.Set(reflect.ValueOf([]string{"http://a/1", "http://a/2?x=<y>"}))
			}
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 23, 18, 4, 5, 123000000, time.UTC)))
		default:
			t.Fatalf("field %s of a kind the test does not fill: %s", v.Type().Field(i).Name, f.Kind())
		}
	}
	checkPageJSON(t, &p)
	checkPageJSON(t, &Page{})
	checkPageJSON(t, &Page{Links: []string{}, Headers: map[string]string{}, Body: []byte{}, Fields: map[string]any{}})
	checkPageJSON(t, &Page{Fields: map[string]any{"bad": func() {}}})
	for _, f := range []float64{0, 1e-7, 1e21, 123456789.125, -0.5, math.Inf(1), math.NaN(), 5e-324} {
		checkPageJSON(t, &Page{DurationMS: f})
	}
	for _, at := range []time.Time{time.Unix(1795000000, 1).UTC(), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))} {
		checkPageJSON(t, &Page{FetchedAt: at})
	}
}

func FuzzPageJSON(f *testing.F) {
	f.Add("http://a/", "text <b>&amp;</b>", "title\u2029", []byte("\x00\xff"), 1.5, int64(3), true)
	f.Add("\xed\xa0\x80", "\x7f\x1f", "", []byte(nil), 1e-7, int64(-1), false)
	f.Fuzz(func(t *testing.T, u, text, title string, body []byte, ms float64, n int64, flag bool) {
		checkPageJSON(t, &Page{URL: u, FinalURL: title, Status: int(n), ContentType: text, Title: title, Text: text,
			Links: []string{u, text}, Canonical: u, NoIndex: flag, NoFollow: !flag, Depth: int(n), FetchedAt: time.Unix(n%(1<<35), n).UTC(), DurationMS: ms,
			Size: n, Truncated: flag, Error: u, Skipped: !flag, Attempts: int(n), Body: body,
			Headers: map[string]string{u: text, title: u}, Fields: map[string]any{u: text, title: []string{text, u}}})
	})
}
