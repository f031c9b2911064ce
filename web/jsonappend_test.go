package web

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
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

// FuzzAppendJSON checks AppendJSONString against json.Marshal for any
// string (jsonappend's own fuzz target checks the times).
func FuzzAppendJSON(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkJSONString(t, s)
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
