package objectid

import (
	"testing"
	"time"
)

func TestNewIsValidAndUnique(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	seen := make(map[string]bool)
	for i := 0; i < 1000; i++ {
		id := New(now)
		if !Valid(id) {
			t.Fatalf("New(%v) = %q, not a valid id", now, id)
		}
		if seen[id] {
			t.Fatalf("New returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestNewSortsByTime(t *testing.T) {
	a := New(time.Unix(1_700_000_000, 0))
	b := New(time.Unix(1_700_000_001, 0))
	if a[:8] >= b[:8] {
		t.Errorf("time prefix of %q is not before %q", a, b)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"507f1f77bcf86cd799439011", true},
		{"507F1F77BCF86CD799439011", false},
		{"507f1f77bcf86cd79943901", false},
		{"507f1f77bcf86cd7994390111", false},
		{"507f1f77bcf86cd79943901g", false},
		{"", false},
		{"../../../../etc/passwd000", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.in); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
