package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"corkboard/objectid"
)

// Session is one login on one device: the record behind a refresh token.
// The store never holds the refresh token itself; a refresh token names the
// session and its generation, and is valid only while that generation is the
// session's current one. Rotation bumps the generation, which retires every
// token issued before.
type Session struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// Generation counts rotations. The refresh token for generation g is
	// live while Generation == g; the one for g-1 is "just retired".
	Generation uint64 `json:"generation"`
	// Roles is the user's roles when the session was created or last
	// updated by SetSessionRoles, copied into each access token's roles
	// claim so that a refresh needs no user lookup. Authorization never
	// trusts it: the middleware reads roles from the user on every request.
	Roles     []string  `json:"roles"`
	CreatedAt time.Time `json:"createdAt"`
	// RotatedAt is when Generation last changed (zero before the first
	// rotation). It drives the grace window and is never touched by
	// revocation, which has its own RevokedAt.
	RotatedAt  time.Time `json:"rotatedAt,omitzero"`
	LastUsedAt time.Time `json:"lastUsedAt"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// RevokedAt is when the session was ended (logout, revoke, reuse,
	// password change); zero while it is alive.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	UserAgent string    `json:"userAgent"`
	IP        string    `json:"ip"`
	// CredentialVersion is the user's credential version when the session
	// was made. Once the user's is higher (the password changed, even
	// while this session's login was still checking the old one), the
	// session is dead for refresh and access tokens alike.
	CredentialVersion uint64 `json:"credentialVersion,omitempty"`
}

// Live reports whether the session can still be used at now: not revoked and
// not expired.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// Validate reports whether s is a well-formed stored session: the checks a
// record from outside (an import) must pass before it is stored.
func (s Session) Validate() error {
	bad := func(field, msg string) error { return fmt.Errorf("session %q: %s %s", s.ID, field, msg) }
	switch {
	case !objectid.Valid(s.ID):
		return bad("id", "is not a 24-hex id")
	case !objectid.Valid(s.UserID):
		return bad("userId", "is not a 24-hex id")
	case s.Generation < 1 || s.Generation > math.MaxInt64:
		return bad("generation", "is outside 1 to 2^63-1")
	case !StorableTime(s.CreatedAt, false) || !StorableTime(s.LastUsedAt, false) || !StorableTime(s.ExpiresAt, false) ||
		!StorableTime(s.RotatedAt, true) || !StorableTime(s.RevokedAt, true):
		return bad("times", "must be within years 1-9999 UTC (rotatedAt and revokedAt may be unset)")
	}
	for _, r := range s.Roles {
		if !KnownRole(r) {
			return bad("roles", "holds unknown role "+strconv.Quote(r))
		}
	}
	return nil
}

// StorableTime reports whether t can be kept by both stores (RFC 3339 in
// JSON holds years 0-9999 only, and corkboard uses 1-9999); the zero time
// is allowed only when optional.
func StorableTime(t time.Time, optional bool) bool {
	if t.IsZero() {
		return optional
	}
	// Two comparisons, not the year: a snapshot load checks five times
	// of each of a million sessions.
	return !t.Before(firstStorable) && t.Before(pastStorable)
}

// firstStorable and pastStorable bound the storable times: from the first
// instant of year 1 UTC up to, not including, the first of year 10000.
var (
	firstStorable = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	pastStorable  = time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// Errors returned by a SessionStore.
var (
	// ErrSessionNotFound: there is no session with that id (or it was swept).
	ErrSessionNotFound = errors.New("session not found")
	// ErrSessionExists: CreateSession was given an id already in use.
	ErrSessionExists = errors.New("session already exists")
	// ErrSessionConflict: a compare-and-swap lost, because the session was
	// revoked, had expired, or its generation was not the expected one.
	ErrSessionConflict = errors.New("session changed")
)

// SessionStore keeps sessions. Every method takes the context first; times
// come from the caller's clock, never from the store's.
type SessionStore interface {
	// CreateSession stores a new session. It fails with ErrSessionExists
	// if the id is taken.
	CreateSession(ctx context.Context, s Session) error

	// Session returns the session with the given id, whether live, revoked
	// or expired-but-not-yet-swept, or ErrSessionNotFound.
	Session(ctx context.Context, id string) (Session, error)

	// RotateSession is the compare-and-swap at the heart of refresh: if the
	// session exists, is not revoked, has not expired at now, and its
	// Generation is gen, it sets Generation to gen+1, RotatedAt and
	// LastUsedAt to now and ExpiresAt to expires, atomically, and returns
	// the updated session. Otherwise it changes nothing and fails with
	// ErrSessionConflict, or ErrSessionNotFound when there is no session.
	RotateSession(ctx context.Context, id string, gen uint64, now, expires time.Time) (Session, error)

	// RevokeSession sets RevokedAt to now if the session is not already
	// revoked (the first revocation time is kept). It fails with
	// ErrSessionNotFound when there is no such session.
	RevokeSession(ctx context.Context, id string, now time.Time) error

	// RevokeUserSessions revokes every unrevoked session of the user except
	// the one whose id is except (which may be ""), and returns how many it
	// revoked. A user with no sessions is not an error.
	RevokeUserSessions(ctx context.Context, userID, except string, now time.Time) (int, error)

	// ListSessions returns the user's live sessions at now (not revoked,
	// not expired), newest first (CreatedAt descending, then id descending).
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)

	// SetSessionRoles replaces the Roles snapshot of every session of the user.
	SetSessionRoles(ctx context.Context, userID string, roles []string) error

	// DeleteExpiredSessions removes every session whose ExpiresAt is not
	// after now, revoked or not, and returns how many it removed.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// EachSession calls fn for every stored session, in no particular
	// order, stopping at the first error fn returns. It is for export.
	EachSession(ctx context.Context, fn func(Session) error) error
}
