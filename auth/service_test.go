package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUserAgent(t *testing.T) {
	long := strings.Repeat("a", maxUserAgent-1) + "é" // é straddles the cap
	tests := []struct{ in, want string }{
		{"curl/8.0", "curl/8.0"},
		{"bad \xe2\x82 bytes", "bad \uFFFD bytes"},
		{long, strings.Repeat("a", maxUserAgent-1)},
	}
	for _, tt := range tests {
		if got := storedUserAgent(tt.in); got != tt.want || len(got) > maxUserAgent || !utf8.ValidString(got) {
			t.Errorf("storedUserAgent(%.20q…) = %.20q… (%d bytes), want %.20q… (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
		}
	}
}
