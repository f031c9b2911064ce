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

// validPlain is Valid as its comment states it, one byte at a time.
func validPlain(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// TestValidEveryByte puts every byte value at every place of a valid id,
// and of an id whose other bytes are all at the edges of the hex ranges,
// and compares Valid with the plain definition.
func TestValidEveryByte(t *testing.T) {
	for _, base := range []string{"507f1f77bcf86cd799439011", "09af09af09af09af09af09af", "000000000000000000000000", "ffffffffffffffffffffffff"} {
		for i := range len(base) {
			for c := range 256 {
				b := []byte(base)
				b[i] = byte(c)
				if got, want := Valid(string(b)), validPlain(string(b)); got != want {
					t.Fatalf("Valid(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"507f1f77bcf86cd799439011", "507F1F77BCF86CD799439011", "507f1f77bcf86cd79943901g", "\x80\xff/:@`gGAF09af09af09af09a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Valid(s), validPlain(s); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	ids := []string{New(time.Now()), New(time.Now()), "507f1f77bcf86cd79943901g"}
	n := 0
	for b.Loop() {
		for _, id := range ids {
			if Valid(id) {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("no id was valid")
	}
}

func TestSame(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	ids := []string{"", "a", "b", "ab", "ba", "aa", New(now), New(now), New(now)}
	// Strings that differ only before their last byte, or only in it.
	x := New(now)
	ids = append(ids, x, "f"+x[1:], x[:23]+"g", x[:12]+"z"+x[13:], x+"0")
	for _, a := range ids {
		for _, b := range ids {
			// A copy of b's bytes, so that equal strings are not the
			// same memory either.
			c := string([]byte(b))
			if got, want := Same(a, c), a == b; got != want {
				t.Errorf("Same(%q, %q) = %v, want %v", a, c, got, want)
			}
		}
	}
}

// BenchmarkFindAmong500 looks for one id among 500 made in the same
// second, as a card move looks for its card on the driver's board: with ==
// and with Same.
func BenchmarkFindAmong500(b *testing.B) {
	now := time.Now()
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = New(now)
	}
	want := string([]byte(ids[len(ids)-1]))
	b.Run("==", func(b *testing.B) {
		for b.Loop() {
			for i, id := range ids {
				if id == want {
					sinkIndex = i
				}
			}
		}
	})
	b.Run("Same", func(b *testing.B) {
		for b.Loop() {
			for i, id := range ids {
				if Same(id, want) {
					sinkIndex = i
				}
			}
		}
	})
}

var sinkIndex int
