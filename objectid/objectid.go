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
func Valid(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
