package board

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The checks of a line and of a text take a one-pass way for printable
// ASCII. These are the checks as written before it, in four passes: the
// fast way must give the same answer for every string.

func checkLineFourPasses(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case s == "":
		return "is required"
	case chars(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	case strings.TrimSpace(s) == "":
		return "must not be blank"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must be one line, without control characters"
	}
	return ""
}

func checkTextFourPasses(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case chars(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' }) >= 0:
		return "must not hold control characters other than tab and newline"
	}
	return ""
}

// TestChecksFastWay compares the checks with their four-pass versions on
// chosen strings and on random strings of bytes that are mostly ASCII,
// with the edges: spaces, tabs, newlines, DEL, NUL, bytes past 0x7f,
// lengths at the limit.
func TestChecksFastWay(t *testing.T) {
	cases := []string{"", " ", "   ", "\t", "a", " a ", "a\tb", "a\nb", "a\rb", "a\x7fb", "a\x00", "\xff", "é", "\u00a0", "\u0085",
		strings.Repeat("x", 10), strings.Repeat("x", 11), strings.Repeat(" ", 11), "~", "}"}
	alphabet := []byte(" \t\n\r\x00\x1f\x7f\x80\xc3\xa9~!aZ0")
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := checkLine(s, 10), checkLineFourPasses(s, 10); got != want {
			t.Errorf("checkLine(%q) = %q, want %q", s, got, want)
		}
		if got, want := checkText(s, 10), checkTextFourPasses(s, 10); got != want {
			t.Errorf("checkText(%q) = %q, want %q", s, got, want)
		}
	}
}
