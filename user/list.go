package user

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"corkboard/auth"
)

// The user list (GET /api/users) is ordered newest first: by CreatedAt,
// then by ID, both descending. Ids break ties, so the order is total and a
// page boundary is never ambiguous, even for users created in the same
// millisecond.
//
// Pages are keyset pages, never offsets: a cursor names the last user of
// the page before (its CreatedAt and ID), and the next page starts with the
// first user after that position. Users signing up meanwhile land before
// the position and do not shift the pages that follow, a user who is gone
// leaves no gap and no repeat, and a deep page costs the same as the first.

// List limits (API.md §4).
const (
	defaultListLimit = 20
	maxListLimit     = 100
)

// Position is a place in the user list: the CreatedAt and ID of a user.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// Before reports whether a user at p comes after one at q in the list, that
// is, whether p is older than q (by CreatedAt, then by ID).
func (p Position) Before(q Position) bool {
	if c := p.CreatedAt.Compare(q.CreatedAt); c != 0 {
		return c < 0
	}
	return p.ID < q.ID
}

// PositionOf returns u's place in the user list.
func PositionOf(u User) Position { return Position{CreatedAt: u.CreatedAt, ID: u.ID} }

// ListQuery is one page of the user list as a Store reads it.
type ListQuery struct {
	// Prefix, when not empty, keeps only the users whose lower-cased
	// username starts with it. It is lower-case and holds only characters
	// a username can hold (the Service checks), so a store may compare it
	// byte by byte with its lower-cased username keys.
	Prefix string
	// Limit is the most users to return. A Limit below 1 returns none.
	Limit int
	// After, when not nil, keeps only the users older than this position
	// (Position.Before): the page after the one that ended there. No user
	// need be at the position any more.
	After *Position
}

// PrefixEnd returns the least string greater than every string that starts
// with prefix, so that the users with the prefix are exactly those whose
// key k has prefix <= k < PrefixEnd(prefix): a range that an ordered index
// serves. For the username alphabet (ASCII, none of it 0x7f or above) it
// is prefix with its last byte incremented, which is still ASCII. It
// returns "" when there is no such bound (an empty prefix).
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ""
	}
	b[len(b)-1]++
	return string(b)
}

// ListInput is a request for one page of the user list: the query
// parameters as the client wrote them, so that every bad one is named in
// one answer. An empty field takes its default.
type ListInput struct {
	// Search is a username prefix, matched without regard to case.
	Search string
	// Limit is the page size, 1 to 100 in decimal digits; "" means 20.
	Limit string
	// Cursor is the NextCursor of the page before; "" means the first page.
	Cursor string
}

// Page is one page of the user list.
type Page struct {
	// Users are as the caller may see them (ViewFor): email and roles
	// only for the caller themself, or for everyone if the caller is an
	// admin.
	Users []View
	// NextCursor continues the list after this page; it is "" on the last
	// page.
	NextCursor string
}

// ListUsers returns one page of the user list, newest first. It fails
// with a *ValidationError naming limit or cursor when either is not one
// this server accepts. A search no username can match (longer than a
// username, or with a character a username cannot hold) is no error: it
// matches nobody, and no store is asked.
func (s *Service) ListUsers(ctx context.Context, p auth.Principal, in ListInput) (Page, error) {
	errs := make(map[string]string)
	limit := defaultListLimit
	if in.Limit != "" {
		n, ok := parseLimit(in.Limit)
		if !ok {
			errs["limit"] = "must be a whole number from 1 to 100"
		}
		limit = n
	}
	var after *Position
	if in.Cursor != "" {
		pos, err := DecodeCursor(in.Cursor)
		if err != nil {
			errs["cursor"] = "is not a cursor from this list; start again without one"
		}
		after = &pos
	}
	if err := invalid(errs); err != nil {
		return Page{}, err
	}
	page := Page{Users: []View{}}
	if !possiblePrefix(in.Search) {
		return page, nil
	}
	// One more than asked tells whether a next page exists without a
	// second query, and without a cursor that leads to an empty page.
	users, err := s.store.ListUsers(ctx, ListQuery{Prefix: strings.ToLower(in.Search), Limit: limit + 1, After: after})
	if err != nil {
		return Page{}, err
	}
	if len(users) > limit {
		users = users[:limit]
		page.NextCursor = EncodeCursor(PositionOf(users[limit-1]))
	}
	for _, u := range users {
		page.Users = append(page.Users, ViewFor(u, p.UserID, p.Roles))
	}
	return page, nil
}

// parseLimit reads a page size: 1 to 100, in decimal digits only (no sign,
// no spaces, at most three digits, so no huge number is ever parsed).
func parseLimit(s string) (int, bool) {
	if len(s) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, 1 <= n && n <= maxListLimit
}

// possiblePrefix reports whether some username could start with s: s is no
// longer than a username and holds only characters a username can.
func possiblePrefix(s string) bool {
	return len(s) <= maxUsername && usernameChars(s)
}

// Cursors are opaque to clients, but what they hold is simple: a version
// byte, then the position of the last user of a page (seconds and
// nanoseconds of CreatedAt, and the 12 bytes of the ID), in base64url
// without padding. The version lets the format change later while cursors
// already handed out are still told apart from garbage.
const (
	cursorVersion = 1
	cursorBytes   = 1 + 8 + 4 + 12
)

// cursorEncoding is strict: a cursor has exactly one spelling, so one
// tampered with in its unused bits is refused, not quietly read.
var cursorEncoding = base64.RawURLEncoding.Strict()

// ErrBadCursor: a cursor that this server did not make.
var ErrBadCursor = errors.New("malformed list cursor")

// EncodeCursor returns the cursor for the page after position p. p.ID must
// be an id (24 lowercase hex characters).
func EncodeCursor(p Position) string {
	var b [cursorBytes]byte
	b[0] = cursorVersion
	t := p.CreatedAt.UTC()
	binary.BigEndian.PutUint64(b[1:9], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[9:13], uint32(t.Nanosecond()))
	hex.Decode(b[13:], []byte(p.ID))
	return cursorEncoding.EncodeToString(b[:])
}

// DecodeCursor reads a cursor made by EncodeCursor, or fails with
// ErrBadCursor: a wrong length or version, a spelling EncodeCursor would
// not write, or a time outside the years 1 to 9999.
func DecodeCursor(s string) (Position, error) {
	if len(s) != cursorEncoding.EncodedLen(cursorBytes) {
		return Position{}, ErrBadCursor
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil || len(b) != cursorBytes || b[0] != cursorVersion {
		return Position{}, ErrBadCursor
	}
	sec := int64(binary.BigEndian.Uint64(b[1:9]))
	nsec := binary.BigEndian.Uint32(b[9:13])
	if nsec >= uint32(time.Second) {
		return Position{}, ErrBadCursor
	}
	// Seconds so large that time.Unix wraps around give years far
	// outside 1 to 9999 too, so this one check refuses them as well.
	t := time.Unix(sec, int64(nsec)).UTC()
	if !auth.StorableTime(t, false) {
		return Position{}, ErrBadCursor
	}
	return Position{CreatedAt: t, ID: hex.EncodeToString(b[13:])}, nil
}
