package jsonappend

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// checkPlain compares Plain with encoding/json in both HTML modes: what it
// appends must be encoding/json's bytes, and it must take every string
// of printable ASCII that encoding/json writes as it is, quoted.
func checkPlain(t *testing.T, s string) {
	t.Helper()
	for _, html := range []bool{true, false} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		w := bytes.TrimSuffix(want.Bytes(), []byte("\n"))
		got, ok := Plain([]byte("x"), s, html)
		switch {
		case ok && string(got) != "x"+string(w):
			t.Fatalf("Plain(%q, html %v) = %s; encoding/json gives x%s", s, html, got, w)
		case !ok && string(got) != "x":
			t.Fatalf("Plain(%q, html %v) declined but appended %s", s, html, got)
		case !ok && string(w) == `"`+s+`"` && printableASCII(s):
			t.Fatalf("Plain(%q, html %v) declined a string encoding/json writes as it is", s, html)
		}
	}
}

// printableASCII reports whether s is all bytes 0x20 to 0x7e: Plain may
// leave DEL (0x7f), which encoding/json writes as it is, to encoding/json.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func TestPlain(t *testing.T) {
	for _, s := range []string{"", "abc", "0123456789abcdef01234567", "a b", `a"b`, `a\b`, "a<b", "a>b", "a&b",
		"a\nb", "\x00", "\x7f", "é", "\u2028", "\xff", "~ ! # $ % ' ( ) * + , - . / : ; = ? @ [ ] ^ _ ` { | }"} {
		checkPlain(t, s)
	}
}

// checkTime compares Time with time.Time's MarshalJSON, including the
// times it must leave to it.
func checkTime(t *testing.T, tm time.Time) {
	t.Helper()
	want, err := tm.MarshalJSON()
	got, ok := Time([]byte("x"), tm)
	_, off := tm.Zone()
	switch {
	case ok && (err != nil || string(got) != "x"+string(want)):
		t.Fatalf("Time(%v) = %s; MarshalJSON gives %s, %v", tm, got, want, err)
	case !ok && string(got) != "x":
		t.Fatalf("Time(%v) declined but appended %s", tm, got)
	case !ok && err == nil && tm.Year() >= 0 && tm.Year() <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600:
		t.Fatalf("Time(%v) declined a time MarshalJSON writes", tm)
	}
}

func TestTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 29, 20, 14, 34, 123456789, time.UTC),
		time.Date(2026, 11, 29, 20, 14, 34, 0, time.UTC),
		time.Date(2026, 11, 29, 20, 14, 34, 100, time.FixedZone("x", -(9*3600+30*60))),
		time.Now(), {}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("s", 30)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("d", 24*3600)),
	} {
		checkTime(t, tm)
	}
}

// FuzzAppend checks Plain and Time against encoding/json for any string
// and any time.
func FuzzAppend(f *testing.F) {
	f.Add("abc", int64(1764447274123456789), int32(0))
	f.Add("a<b&\"\\\n\u2028\xff", int64(-62167219200000000), int32(-1))
	f.Fuzz(func(t *testing.T, s string, unixNano int64, zone int32) {
		checkPlain(t, s)
		checkTime(t, time.Unix(0, unixNano).In(time.FixedZone("z", int(zone))))
		checkTime(t, time.Unix(unixNano, 0).In(time.FixedZone("z", int(zone))))
	})
}
