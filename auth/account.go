package auth

import (
	"context"
	"errors"
	"slices"
)

// Account is what authentication needs to know about the user behind a
// token. The user package's User satisfies it; auth never imports user.
type Account interface {
	// AccountRoles returns the user's current roles.
	AccountRoles() []string
	// AccountCredentialVersion returns how many times the password has
	// changed: a session made under an older version is dead.
	AccountCredentialVersion() uint64
}

// ErrNoAccount is returned by an AccountSource when the user does not exist.
var ErrNoAccount = errors.New("no such account")

// AccountSource looks up accounts by user id.
type AccountSource interface {
	// Account returns the account with the given id, or ErrNoAccount.
	Account(ctx context.Context, id string) (Account, error)
}

// Roles a user may hold.
const (
	RoleUser      = "user"
	RoleModerator = "moderator"
	RoleAdmin     = "admin"
)

// KnownRole reports whether r is one of the roles corkboard knows.
func KnownRole(r string) bool {
	return r == RoleUser || r == RoleModerator || r == RoleAdmin
}

// HasRole reports whether roles contains any of want.
func HasRole(roles []string, want ...string) bool {
	for _, w := range want {
		if slices.Contains(roles, w) {
			return true
		}
	}
	return false
}
