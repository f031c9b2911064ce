package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strconv"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/blowfish"
)

// bcrypt in steps.
//
// bcrypt's cost is 2^cost rounds of Blowfish key expansion, about 60 ms at
// cost 10, which x/crypto/bcrypt runs in one call. A thread of normal
// priority that runs them can keep its core for up to a time slice of the
// kernel's (about a millisecond and a half on two CPUs) while a request's
// thread that wakes on that core waits: with every core busy with bcrypt
// during a burst of logins, that wait showed in the tail of every other
// request's latency (see the README's figures). Here the same
// rounds run through x/crypto/blowfish, the package x/crypto/bcrypt itself
// calls, with a yield of the thread between every yieldRounds of them, so
// that a waiting thread gets the core within a fraction of a millisecond.
// A yield with nothing else waiting returns at once; it adds about 0.6 %
// to a hash.
//
// The result is byte for byte x/crypto/bcrypt's (TestBcryptSteps holds it
// to that). Only hashes of the form x/crypto writes ($2a$, and $2b$ or $2y$
// from other implementations, 60 bytes) are checked here; any other form
// goes to bcrypt.CompareHashAndPassword whole, which accepts or refuses it
// as it always did.

// yieldRounds is how many rounds of key expansion run between two yields:
// about 0.25 ms of work.
const yieldRounds = 4

// bcryptEncoding is bcrypt's base64: its own alphabet, no padding.
var bcryptEncoding = base64.NewEncoding("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789").WithPadding(base64.NoPadding)

// bcryptHashLen is the length of a hash "$2a$10$" + 22 bytes of salt + 31
// of checksum.
const bcryptHashLen = 60

// compareSteps is bcrypt.CompareHashAndPassword with yield called between
// steps of the work.
func compareSteps(hash, password []byte, yield func()) error {
	cost, salt, sum, ok := splitHash(hash)
	if !ok {
		return bcrypt.CompareHashAndPassword(hash, password)
	}
	got, err := eksBlowfish(password, cost, salt, yield)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, sum) != 1 {
		return bcrypt.ErrMismatchedHashAndPassword
	}
	return nil
}

// generateSteps is bcrypt.GenerateFromPassword with yield called between
// steps of the work.
func generateSteps(password []byte, cost int, yield func()) ([]byte, error) {
	if len(password) > 72 {
		return nil, bcrypt.ErrPasswordTooLong
	}
	if cost < bcrypt.MinCost {
		cost = bcrypt.DefaultCost
	}
	if cost > bcrypt.MaxCost {
		return nil, bcrypt.InvalidCostError(cost)
	}
	var salt [16]byte
	rand.Read(salt[:]) // never returns an error: crypto/rand ends the program instead
	sum, err := eksBlowfish(password, cost, salt[:], yield)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, bcryptHashLen)
	out = append(out, "$2a$"...)
	if cost < 10 {
		out = append(out, '0')
	}
	out = strconv.AppendInt(out, int64(cost), 10)
	out = append(out, '$')
	out = bcryptEncoding.AppendEncode(out, salt[:])
	return append(out, sum...), nil
}

// splitHash takes a hash of the form "$2?$NN$" + salt + checksum apart:
// its cost, its salt decoded, and its checksum as written. ok is false for
// any other form.
func splitHash(h []byte) (cost int, salt, sum []byte, ok bool) {
	if len(h) != bcryptHashLen || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$' {
		return 0, nil, nil, false
	}
	if v := h[2]; v != 'a' && v != 'b' && v != 'y' {
		return 0, nil, nil, false
	}
	d1, d2 := h[4], h[5]
	if d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9' {
		return 0, nil, nil, false
	}
	cost = int(d1-'0')*10 + int(d2-'0')
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return 0, nil, nil, false
	}
	salt, err := bcryptEncoding.DecodeString(string(h[7:29]))
	if err != nil || len(salt) != 16 {
		return 0, nil, nil, false
	}
	return cost, salt, h[29:], true
}

// eksBlowfish is bcrypt's expensive key schedule and the encryption of its
// magic text, as x/crypto/bcrypt computes them, returning the checksum as
// a hash writes it (23 bytes of the 24 encrypted, in bcrypt's base64).
func eksBlowfish(password []byte, cost int, salt []byte, yield func()) ([]byte, error) {
	// The key is the password and its terminating NUL, as in C.
	key := make([]byte, 0, len(password)+1)
	key = append(append(key, password...), 0)
	c, err := blowfish.NewSaltedCipher(key, salt)
	if err != nil {
		return nil, err
	}
	rounds := uint64(1) << uint(cost) // 2^31 at cost 31 overflows an int on 32-bit machines
	for i := uint64(1); i <= rounds; i++ {
		blowfish.ExpandKey(key, c)
		blowfish.ExpandKey(salt, c)
		if i%yieldRounds == 0 && yield != nil {
			yield()
		}
	}
	text := []byte("OrpheanBeholderScryDoubt")
	for i := 0; i < len(text); i += 8 {
		for range 64 {
			c.Encrypt(text[i:i+8], text[i:i+8])
		}
	}
	return bcryptEncoding.AppendEncode(nil, text[:23]), nil
}
