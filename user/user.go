// Package user owns accounts: the User record, its validation, the Store
// interface that keeps users, and the account rules (sign-up, login, change
// of password, profiles) as a Service of plain Go calls that knows nothing
// of HTTP; package userhttp serves them. It builds on package auth for
// passwords, tokens and sessions.
package user

import (
	"context"
	"errors"
	"slices"
	"time"

	"corkboard/auth"
)

// User is a stored account. It is the storage record, not a response body:
// handlers answer with a View, which never carries the password hash.
type User struct {
	ID string `json:"id"`
	// Username is kept as the user typed it; uniqueness ignores case.
	Username string `json:"username"`
	// Email is stored trimmed and lower-cased.
	Email string `json:"email"`
	// EmailVerified is set once the user proved the address is theirs
	// (the verification link, or a password reset through it).
	EmailVerified bool     `json:"emailVerified,omitempty"`
	FullName      string   `json:"fullName"`
	Color         string   `json:"color"`
	Roles         []string `json:"roles"`
	PictureID     string   `json:"pictureId,omitempty"`
	PasswordHash  string   `json:"passwordHash"`
	// CredentialVersion counts changes of password. Every change bumps it
	// with a compare-and-swap, and a session made under an older version
	// is dead (auth.Session.CredentialVersion).
	CredentialVersion uint64    `json:"credentialVersion,omitempty"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
	// DeletingAt is set, once, when the account's deletion begins
	// (Store.MarkDeleting), and the record goes at the end of the cascade
	// (Store.DeleteUser). In between the user is gone to every lookup: a
	// crash part-way leaves this mark, from which the next start or sweep
	// finishes the deletion (Service.FinishDeletions).
	DeletingAt time.Time `json:"deletingAt,omitzero"`
}

// AccountRoles implements auth.Account.
func (u User) AccountRoles() []string { return u.Roles }

// AccountCredentialVersion implements auth.Account.
func (u User) AccountCredentialVersion() uint64 { return u.CredentialVersion }

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Errors returned by a Store.
var (
	ErrNotFound      = errors.New("user not found")
	ErrEmailTaken    = errors.New("email already registered")
	ErrUsernameTaken = errors.New("username already taken")
	// ErrPasswordChanged: SetPassword found another credential version
	// than the one the caller checked: the password changed meanwhile.
	ErrPasswordChanged = errors.New("password changed since it was checked")
)

// Store keeps users. Every method takes the context first.
//
// A user marked for deletion (MarkDeleting) is gone to every method but
// MarkDeleting, UsersBeingDeleted and DeleteUser: the lookups, the list and
// EachUser do not find it, and the changes fail with ErrNotFound, as they
// would once the record is gone. Its email and username stay taken until
// then (CreateUser, CreateAccount and SetProfile still clash with them):
// the cascade may still be removing what the old account held.
type Store interface {
	// CreateUser stores a new user. It fails with ErrEmailTaken if another
	// user has the same email, or ErrUsernameTaken if another user has the
	// same username, both compared case-insensitively. (When both clash,
	// either error may be returned.)
	CreateUser(ctx context.Context, u User) error

	// UserByID returns the user with the given id, or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)

	// UserByEmail returns the user with the given email, compared
	// case-insensitively, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)

	// UserByUsername returns the user with the given username, compared
	// case-insensitively, or ErrNotFound.
	UserByUsername(ctx context.Context, username string) (User, error)

	// CreateAccount stores a new user and its first session, atomically:
	// both or neither. It fails like CreateUser, or with
	// auth.ErrSessionExists if the session's id is taken; the user is
	// then not stored either.
	CreateAccount(ctx context.Context, u User, first auth.Session) error

	// SetPassword is a compare-and-swap on the credential version: if the
	// user's CredentialVersion is version, it replaces the password hash,
	// sets CredentialVersion to version+1 and UpdatedAt to now, atomically.
	// Otherwise it changes nothing and fails with ErrPasswordChanged, or
	// ErrNotFound when there is no such user.
	SetPassword(ctx context.Context, id, hash string, version uint64, now time.Time) error

	// RehashPassword replaces the user's password hash old by new (the same
	// password, hashed at another bcrypt cost), leaving CredentialVersion
	// and UpdatedAt as they are. If the hash is no longer old (the password
	// changed meanwhile) it changes nothing and returns nil; ErrNotFound
	// when there is no such user.
	RehashPassword(ctx context.Context, id, old, new string) error

	// SetProfile replaces the user's username, full name and color and sets
	// UpdatedAt to now. It fails with ErrUsernameTaken if another user has
	// the username (compared case-insensitively), or ErrNotFound.
	SetProfile(ctx context.Context, id, username, fullName, color string, now time.Time) error

	// SetEmailVerified marks the user's address verified and sets
	// UpdatedAt to now (if it was not verified yet), or fails with
	// ErrNotFound.
	SetEmailVerified(ctx context.Context, id string, now time.Time) error

	// SetRoles replaces the user's roles and sets UpdatedAt to now, or
	// fails with ErrNotFound.
	SetRoles(ctx context.Context, id string, roles []string, now time.Time) error

	// SetPicture sets the user's PictureID to pictureID ("" for none) and
	// UpdatedAt to now, atomically, and returns the PictureID it replaced
	// ("" if there was none), so that the caller can delete those bytes.
	// It fails with ErrNotFound when there is no such user.
	SetPicture(ctx context.Context, id, pictureID string, now time.Time) (old string, err error)

	// DeleteUser removes the user with the given id, together with every
	// session (auth.SessionStore) and one-time token (auth.TokenStore) of
	// theirs: the email and username are free again, and nothing the
	// account held can be used. It fails with ErrNotFound when there is no
	// such user; sessions and tokens left under that id are removed all the
	// same, so that calling it again after a failure part-way finishes the
	// job. It returns the user as it was when it went, read in the same
	// atomic step, so that the caller deletes the picture the record held
	// at the end, not one it read earlier (a picture set in between would
	// outlive the account). Stored files are not its business otherwise
	// (see Service.DeleteUser).
	DeleteUser(ctx context.Context, id string) (User, error)

	// MarkDeleting records, in one atomic write, that the user's deletion
	// has begun: it sets DeletingAt to now, unless it is set already, and
	// returns the user as marked (with the first mark's time). From then on
	// the user is gone to every other method but UsersBeingDeleted and
	// DeleteUser (see Store). It fails with ErrNotFound when there is no
	// such user record, marked or not.
	MarkDeleting(ctx context.Context, id string, now time.Time) (User, error)

	// UsersBeingDeleted returns every user marked by MarkDeleting whose
	// record is still there, in no particular order: the deletions a
	// crash interrupted, or that are running now.
	UsersBeingDeleted(ctx context.Context) ([]User, error)

	// ListUsers returns up to q.Limit users newest first, by CreatedAt
	// and then by ID, both descending: those whose lower-cased username
	// starts with q.Prefix, and that are older than q.After when it is
	// set (see ListQuery). An empty store, or no match, is an empty list
	// and no error. It should cost about the same however many users the
	// store holds, however deep the page: stores keep an index for it.
	ListUsers(ctx context.Context, q ListQuery) ([]User, error)

	// EachUser calls fn for every stored user, in no particular order,
	// stopping at the first error fn returns. It is for export.
	EachUser(ctx context.Context, fn func(User) error) error
}
