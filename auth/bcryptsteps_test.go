package auth

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestBcryptSteps holds bcrypt in steps to x/crypto/bcrypt: a hash from
// either is accepted by the other with the right password and refused
// with a wrong one, and any hash, well formed or not, gets the same
// answer from both.
func TestBcryptSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	same := func(hash, pw []byte) {
		t.Helper()
		want := bcrypt.CompareHashAndPassword(hash, pw)
		got := compareSteps(hash, pw, nil)
		if (got == nil) != (want == nil) || errors.Is(want, bcrypt.ErrMismatchedHashAndPassword) != errors.Is(got, bcrypt.ErrMismatchedHashAndPassword) {
			t.Errorf("hash %q, password %q: compareSteps %v, bcrypt %v", hash, pw, got, want)
		}
	}
	for _, n := range []int{0, 1, 7, 8, 55, 56, 57, 71, 72, 73, 100} {
		pw := make([]byte, n)
		for i := range pw {
			pw[i] = byte(rng.IntN(256)) // NULs and bytes over 127 too
		}
		cost := bcrypt.MinCost + n%2
		theirs, terr := bcrypt.GenerateFromPassword(pw, cost)
		ours, oerr := generateSteps(pw, cost, nil)
		if n > 72 {
			if !errors.Is(terr, bcrypt.ErrPasswordTooLong) || !errors.Is(oerr, bcrypt.ErrPasswordTooLong) {
				t.Errorf("a password of %d bytes: generateSteps %v, bcrypt %v", n, oerr, terr)
			}
			continue
		}
		if terr != nil || oerr != nil {
			t.Fatalf("a password of %d bytes: generateSteps %v, bcrypt %v", n, oerr, terr)
		}
		if c, err := bcrypt.Cost(ours); err != nil || c != cost || !bytes.HasPrefix(ours, []byte("$2a$0")) || len(ours) != len(theirs) {
			t.Errorf("generateSteps = %q (cost %d, %v), want the form of %q", ours, c, err, theirs)
		}
		for _, h := range [][]byte{theirs, ours} {
			if err := bcrypt.CompareHashAndPassword(h, pw); err != nil {
				t.Errorf("bcrypt refuses %q with its password: %v", h, err)
			}
			if err := compareSteps(h, pw, nil); err != nil {
				t.Errorf("compareSteps refuses %q with its password: %v", h, err)
			}
			wrong := append(bytes.Clone(pw), 'x')
			if n == 72 {
				wrong[0]++ // bcrypt reads only 72 bytes
			}
			if err := compareSteps(h, wrong, nil); !errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
				t.Errorf("compareSteps with a wrong password: %v", err)
			}
			same(h, pw)
			same(h, wrong)
			for _, variant := range variants(h) {
				same(variant, pw)
			}
		}
	}
	// Malformed hashes: each is refused before any work is done, by both
	// (a cost of 31 with a salt that is not base64, a cost over 31 or
	// under 4, a cost of one digit or with a sign, a salt or a length
	// that is wrong).
	good, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, h := range []string{
		"", "$", "$2a$", "$2a$04$", "$2a$31$" + strings.Repeat("!", 53),
		strings.Replace(string(good), "$04$", "$32$", 1), strings.Replace(string(good), "$04$", "$03$", 1),
		strings.Replace(string(good), "$04$", "$4$", 1), strings.Replace(string(good), "$04$", "$+4$", 1),
		"$2a$04$" + strings.Repeat("!", 53), "$2a$04$" + strings.Repeat("A", 52),
	} {
		same([]byte(h), []byte("pw"))
	}
}

// TestGenerateStepsCost checks generateSteps' cost as
// bcrypt.GenerateFromPassword has it: a cost under the minimum means the
// default, one over the maximum is refused before any work, and a cost of
// two digits is written as it is.
func TestGenerateStepsCost(t *testing.T) {
	if testing.Short() {
		t.Skip("two hashes at cost 10")
	}
	for _, cost := range []int{0, 3, 10} {
		h, err := generateSteps([]byte("pw"), cost, nil)
		if err != nil {
			t.Fatalf("cost %d: %v", cost, err)
		}
		if c, err := bcrypt.Cost(h); err != nil || c != 10 || !bytes.HasPrefix(h, []byte("$2a$10$")) || bcrypt.CompareHashAndPassword(h, []byte("pw")) != nil {
			t.Errorf("cost %d: %q (cost %d, %v)", cost, h, c, err)
		}
	}
	for _, cost := range []int{bcrypt.MaxCost + 1, 99} {
		_, err := generateSteps([]byte("pw"), cost, nil)
		_, want := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Errorf("cost %d: %v, want %v", cost, err, want)
		}
	}
}

// variants are h made otherwise: another minor version, none, another
// major one, a byte changed in the salt or the checksum, cut short, or
// with more after it.
func variants(h []byte) [][]byte {
	var out [][]byte
	with := func(i int, b byte) {
		v := bytes.Clone(h)
		v[i] = b
		out = append(out, v)
	}
	for _, minor := range []byte{'a', 'b', 'y', 'x', '$'} {
		with(2, minor)
	}
	with(1, '1')
	with(1, '3')
	with(10, h[10]^1)
	with(28, '.')
	with(28, 'e')
	with(40, h[40]^2)
	with(59, '.')
	with(59, 'u')
	out = append(out, h[:59], append(bytes.Clone(h), 'A'), append([]byte("$2$"), h[4:]...))
	return out
}

// TestBcryptStepsYield checks that a hash yields its thread between steps:
// 2^cost rounds make 2^cost/yieldRounds yields.
func TestBcryptStepsYield(t *testing.T) {
	var n int
	yield := func() { n++ }
	hash, err := generateSteps([]byte("password"), bcrypt.MinCost, yield)
	if err != nil {
		t.Fatal(err)
	}
	if want := (1 << bcrypt.MinCost) / yieldRounds; n != want {
		t.Errorf("generateSteps yielded %d times, want %d", n, want)
	}
	n = 0
	if err := compareSteps(hash, []byte("password"), yield); err != nil {
		t.Fatal(err)
	}
	if want := (1 << bcrypt.MinCost) / yieldRounds; n != want {
		t.Errorf("compareSteps yielded %d times, want %d", n, want)
	}
}

// BenchmarkBcryptSteps compares bcrypt in steps, yielding its thread, with
// x/crypto/bcrypt, at cost 10.
func BenchmarkBcryptSteps(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte("password"), 10)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("steps", func(b *testing.B) {
		for b.Loop() {
			if err := compareSteps(hash, []byte("password"), yieldThread); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			if err := bcrypt.CompareHashAndPassword(hash, []byte("password")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
