// Package objectid makes and checks the identifiers corkboard gives to every
// record: 24 lowercase hex characters, the shape of a MongoDB ObjectID, so that
// data can move between the file store and MongoDB unchanged.
package objectid

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// New returns a fresh identifier: four bytes of Unix seconds (so identifiers
// sort roughly by creation time, as ObjectIDs do) followed by eight random
// bytes (so they cannot be guessed).
func New(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	rand.Read(b[4:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// Valid reports whether s has the shape of an identifier made by New:
// exactly 24 lowercase hexadecimal characters.
//
// Every stored record's id and the ids it points at are checked when a
// snapshot loads (two million at a million sessions), so the 24 bytes are
// checked eight at a time, as three words (see hexWord).
func Valid(s string) bool {
	if len(s) != 24 {
		return false
	}
	return hexWord(word(s[0:8]))&hexWord(word(s[8:16]))&hexWord(word(s[16:24])) == highBits
}

// Same reports whether a and b are the same string. It looks at their
// last byte first: identifiers made by New are random past their first
// eight characters, so a scan for one identifier among many (a card among
// a board's) rejects nearly all the others without calling the runtime to
// compare their bytes.
func Same(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || a[len(a)-1] == b[len(a)-1]) && a == b
}

// highBits has the top bit of each of a word's eight bytes set.
const highBits = 0x8080808080808080

// word returns the eight bytes of s as a little-endian word (the compiler
// makes it one load).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// hexWord sets the top bit of each byte of w that is 0-9 or a-f, and
// clears the others. For a byte b below 0x80, b + (0x80-lo) has its top bit
// set exactly when b >= lo, and b + (0x7f-hi) exactly when b > hi; neither
// sum passes 0xff, so no carry reaches the next byte. A byte of 0x80 or
// more is never a hex digit, and is cleared before any sum.
func hexWord(w uint64) uint64 {
	const (
		ones = 0x0101010101010101
		low  = 0x7f7f7f7f7f7f7f7f
	)
	ascii := ^w & highBits // bytes below 0x80
	w &= low
	digit := (w + ones*(0x80-'0')) &^ (w + ones*(0x7f-'9'))
	letter := (w + ones*(0x80-'a')) &^ (w + ones*(0x7f-'f'))
	return (digit | letter) & ascii
}
