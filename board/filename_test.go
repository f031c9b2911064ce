package board

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeFileName(t *testing.T) {
	long := strings.Repeat("ä", 200) + ".pdf" // 404 bytes
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\Report 2026.pdf`, "Report 2026.pdf"},
		{"dir/", "file"},
		{"", "file"},
		{"..", "file"},
		{" . ", "file"},
		{"   ", "file"},
		{"a\"b'c`d.png", "abcd.png"},
		{"line\r\nX-Injected: 1.pdf", "lineX-Injected: 1.pdf"},
		{"nul\x00byte.pdf", "nulbyte.pdf"},
		{"evil\u202Egpj.exe", "evilgpj.exe"},
		{"sep\u2028arated.pdf", "separated.pdf"},
		{"bad\xffutf8.pdf", "badutf8.pdf"},
		{"  spaced  .pdf  ", "spaced  .pdf"},
		{"résumé.pdf", "résumé.pdf"},
		{"\x1b[31mred.pdf", "[31mred.pdf"},
		{long, strings.Repeat("ä", 125) + ".pdf"},
		{strings.Repeat("x", 300), strings.Repeat("x", 255)},
		{strings.Repeat("x", 300) + "." + strings.Repeat("y", 40), strings.Repeat("x", 255)},
	}
	for _, tc := range tests {
		got := SanitizeFileName(tc.in)
		if got != tc.want {
			t.Errorf("SanitizeFileName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if len(got) > maxFileNameBytes || !utf8.ValidString(got) {
			t.Errorf("SanitizeFileName(%q) = %q: %d bytes or invalid UTF-8", tc.in, got, len(got))
		}
		if fields := checkAttachment(Attachment{ID: "0123456789abcdef01234567", Name: got, ContentType: "application/pdf"}); len(fields) != 0 {
			t.Errorf("SanitizeFileName(%q) = %q, which an attachment refuses: %v", tc.in, got, fields)
		}
	}
}

func FuzzSanitizeFileName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "\u202E", strings.Repeat("é", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SanitizeFileName(in)
		if fields := checkAttachment(Attachment{ID: "0123456789abcdef01234567", Name: got, ContentType: "application/pdf"}); len(fields) != 0 {
			t.Errorf("SanitizeFileName(%q) = %q, which an attachment refuses: %v", in, got, fields)
		}
		if strings.ContainsAny(got, "/\\\"") || len(got) > maxFileNameBytes {
			t.Errorf("SanitizeFileName(%q) = %q", in, got)
		}
	})
}
