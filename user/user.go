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
)

// User is a stored account. It is the storage record, not a response body:
// handlers answer with a View, which never carries the password hash.
type User struct {
	ID string `json:"id"`
	// Username is kept as the user typed it; uniqueness ignores case.
	Username string `json:"username"`
	// Email is stored trimmed and lower-cased.
	Email        string    `json:"email"`
	FullName     string    `json:"fullName"`
	Color        string    `json:"color"`
	Roles        []string  `json:"roles"`
	PictureID    string    `json:"pictureId,omitempty"`
	PasswordHash string    `json:"passwordHash"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// AccountRoles implements auth.Account.
func (u User) AccountRoles() []string { return u.Roles }

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// Errors returned by a Store.
var (
	ErrNotFound      = errors.New("user not found")
	ErrEmailTaken    = errors.New("email already registered")
	ErrUsernameTaken = errors.New("username already taken")
)

// Store keeps users. Every method takes the context first.
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

	// SetPassword replaces the user's password hash and sets UpdatedAt to
	// now, or fails with ErrNotFound.
	SetPassword(ctx context.Context, id, hash string, now time.Time) error

	// SetRoles replaces the user's roles and sets UpdatedAt to now, or
	// fails with ErrNotFound.
	SetRoles(ctx context.Context, id string, roles []string, now time.Time) error

	// EachUser calls fn for every stored user, in no particular order,
	// stopping at the first error fn returns. It is for export.
	EachUser(ctx context.Context, fn func(User) error) error
}
