package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"corkboard/objectid"
)

// Purposes of one-time tokens.
const (
	PurposeReset  = "reset"  // a forgotten password
	PurposeVerify = "verify" // proof that an address belongs to its user
)

// OneTimeToken is the stored side of a token mailed to a user: a link that
// resets a password or verifies an address, once. The store keeps only the
// token's SHA-256 (ID), never the token: someone who reads the database
// cannot use what they read. A user has at most one token per purpose;
// a newer one supersedes the older.
type OneTimeToken struct {
	// ID is hex(SHA-256(token)).
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Purpose   string    `json:"purpose"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// oneTimeTokenBytes is the randomness of a token: 256 bits, twice the
// 128 the contract asks for.
const oneTimeTokenBytes = 32

// MaxOneTimeTokenLen caps what is accepted as a token before hashing it.
const MaxOneTimeTokenLen = 128

// NewOneTimeToken returns a fresh random token, to be mailed, and its
// record for the store, which holds only its hash.
func NewOneTimeToken(userID, purpose string, now time.Time, ttl time.Duration) (token string, rec OneTimeToken) {
	var b [oneTimeTokenBytes]byte
	rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, OneTimeToken{ID: OneTimeTokenID(token), UserID: userID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// OneTimeTokenID returns the id under which token's record is stored.
func OneTimeTokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormedOneTimeToken reports whether token could be one NewOneTimeToken
// made: garbage is refused before any lookup.
func WellFormedOneTimeToken(token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(oneTimeTokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && isBase64URL(token)
}

// Validate reports whether t is a well-formed stored token.
func (t OneTimeToken) Validate() error {
	bad := func(field, msg string) error { return fmt.Errorf("token %.8s…: %s %s", t.ID, field, msg) }
	switch {
	case len(t.ID) != 2*sha256.Size || !isLowerHex(t.ID):
		return bad("id", "is not a SHA-256 in hex")
	case !objectid.Valid(t.UserID):
		return bad("userId", "is not a 24-hex id")
	case t.Purpose != PurposeReset && t.Purpose != PurposeVerify:
		return bad("purpose", "is neither reset nor verify")
	case !StorableTime(t.CreatedAt, false) || !StorableTime(t.ExpiresAt, false):
		return bad("times", "must be within years 1-9999 UTC")
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ErrTokenNotFound: there is no live token with that id and purpose (it
// never existed, expired, was used or was superseded).
var ErrTokenNotFound = errors.New("one-time token not found")

// TokenStore keeps one-time tokens. Times come from the caller's clock.
type TokenStore interface {
	// PutToken stores t, deleting any other token of the same user and
	// purpose in the same atomic step: a newer token supersedes.
	PutToken(ctx context.Context, t OneTimeToken) error

	// TakeToken deletes and returns the token with that id if it has that
	// purpose and has not expired at now, atomically: of two concurrent
	// takes of one token, exactly one gets it. Otherwise it fails with
	// ErrTokenNotFound.
	TakeToken(ctx context.Context, id, purpose string, now time.Time) (OneTimeToken, error)

	// DeleteExpiredTokens removes every token whose ExpiresAt is not after
	// now, and returns how many.
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error)
}
