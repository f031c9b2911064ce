package web

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// jsonStrings are strings on both sides of AppendJSONString's fast path.
var jsonStrings = []string{"", "abc", "0123456789abcdef01234567", "eyJhbGciOiJIUzI1NiJ9.e30.x-_", " ~", `"`, `\`, "<", ">", "&",
	"\x00", "\x1f", "\x7f", "\n\r\t\b\f", "é", "\xff", "\u2028\u2029", "\xed\xa0\x80", "a<b>&c\"d\\e"}

// TestAppendJSONString checks AppendJSONString and AppendJSONStrings
// against json.Marshal.
func TestAppendJSONString(t *testing.T) {
	for _, s := range jsonStrings {
		checkJSONString(t, s)
	}
	for _, ss := range [][]string{nil, {}, {"a"}, {"a", "<b>", ""}} {
		want, _ := json.Marshal(ss)
		if got := AppendJSONStrings([]byte("x"), ss); string(got) != "x"+string(want) {
			t.Errorf("AppendJSONStrings(%q) = %s, want x%s", ss, got, want)
		}
	}
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	want, _ := json.Marshal(s)
	if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
		t.Fatalf("AppendJSONString(%q) = %s, want x%s", s, got, want)
	}
}

// TestAppendJSONTime checks AppendJSONTime against time.Time's
// MarshalJSON, including the times it must leave to it.
func TestAppendJSONTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 29, 20, 14, 34, 123456789, time.UTC),
		time.Date(2026, 11, 29, 20, 14, 34, 0, time.UTC),
		time.Date(2026, 11, 29, 20, 14, 34, 100, time.FixedZone("x", -(9*3600+30*60))),
		time.Now(), {}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("s", 30)),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("d", 24*3600)),
	} {
		checkJSONTime(t, tm)
	}
}

func checkJSONTime(t *testing.T, tm time.Time) {
	t.Helper()
	want, err := tm.MarshalJSON()
	got, ok := AppendJSONTime([]byte("x"), tm)
	switch {
	case ok && (err != nil || string(got) != "x"+string(want)):
		t.Fatalf("AppendJSONTime(%v) = %s; MarshalJSON gives %s, %v", tm, got, want, err)
	case !ok && err == nil && tm.Year() >= 0 && tm.Year() <= 9999 && func() bool { _, off := tm.Zone(); return off%60 == 0 && off > -24*3600 && off < 24*3600 }():
		t.Fatalf("AppendJSONTime(%v) declined a time MarshalJSON writes", tm)
	}
}

// FuzzAppendJSON checks AppendJSONString against json.Marshal and
// AppendJSONTime against MarshalJSON, for any string and any time.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s, int64(1764447274123456789), int32(0))
	}
	f.Add("", int64(-62167219200000000), int32(-1))
	f.Fuzz(func(t *testing.T, s string, unixNano int64, zone int32) {
		checkJSONString(t, s)
		checkJSONTime(t, time.Unix(0, unixNano).In(time.FixedZone("z", int(zone))))
		checkJSONTime(t, time.Unix(unixNano, 0).In(time.FixedZone("z", int(zone))))
	})
}

// appendOnly is a JSONAppender that writes a fixed text or declines.
type appendOnly struct {
	Text string `json:"text"`
	ok   bool
}

func (a appendOnly) AppendJSON(b []byte) ([]byte, bool) {
	return append(b, `{"text":"hand"}`...), a.ok
}

// TestWriteJSONAppender checks that WriteJSON writes a JSONAppender's
// bytes with json.Encoder's newline, and encodes with encoding/json a
// value whose AppendJSON declines, with nothing of the declined bytes.
func TestWriteJSONAppender(t *testing.T) {
	for _, tc := range []struct {
		v    appendOnly
		want string
	}{{appendOnly{"x", true}, "{\"text\":\"hand\"}\n"}, {appendOnly{"x", false}, "{\"text\":\"x\"}\n"}} {
		rec := httptest.NewRecorder()
		WriteJSON(rec, 201, tc.v)
		if rec.Code != 201 || rec.Body.String() != tc.want || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("WriteJSON(%+v) = %d %q %q, want 201 %q", tc.v, rec.Code, rec.Header().Get("Content-Type"), rec.Body, tc.want)
		}
	}
	var buf bytes.Buffer
	if writeAppended(&buf, appendOnly{}) || buf.Len() != 0 {
		t.Errorf("writeAppended of a declining value wrote %q", buf.String())
	}
}
