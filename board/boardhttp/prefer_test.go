package boardhttp

import (
	"net/http"
	"strings"
	"testing"
)

// TestPrefersMinimal checks which Prefer headers ask for return=minimal:
// RFC 7240's grammar (lists, several lines, parameters, quoted values,
// case-insensitive names), only the first return preference, and nothing
// for a value that merely contains the words.
func TestPrefersMinimal(t *testing.T) {
	cases := []struct {
		lines []string
		want  bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"return=minimal"}, true},
		{[]string{"RETURN=Minimal"}, true},
		{[]string{"respond-async, return=minimal"}, true},
		{[]string{"respond-async,return=minimal;foo=bar,wait=5"}, true},
		{[]string{` return = "minimal" `}, true},
		{[]string{"wait=10", "return=minimal"}, true},
		{[]string{"return=representation"}, false},
		{[]string{"return=representation, return=minimal"}, false},
		{[]string{"return=minimal, return=representation"}, true},
		{[]string{"return=representation", "return=minimal"}, false},
		{[]string{"return"}, false},
		{[]string{"return=minimalist"}, false},
		{[]string{"return-minimal"}, false},
		{[]string{"minimal"}, false},
		{[]string{`foo="a, return=minimal"`}, false},
		{[]string{`foo="a\", return=minimal"`}, false},
		{[]string{`foo="a\\", return=minimal`}, true},
		{[]string{"foo; return=minimal"}, false},
		{[]string{"; return=minimal"}, false},
		{[]string{`"return=minimal"`}, false},
		{[]string{`return="minimal`}, false},
		{[]string{`return=minimal\`}, false},
		{[]string{strings.Repeat(`;,="\`, 2000)}, false},
	}
	for _, c := range cases {
		r, err := http.NewRequest("PATCH", "/", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.lines {
			r.Header.Add("Prefer", l)
		}
		if got := prefersMinimal(r); got != c.want {
			t.Errorf("Prefer %q: prefersMinimal %v, want %v", c.lines, got, c.want)
		}
	}
}
