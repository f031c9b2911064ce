package auth

import (
	"context"
	"errors"
	"fmt"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    string
	SessionID string
	// Roles are read from the stored account on every request, never from
	// the token, so a demotion takes effect at once.
	Roles []string
	// Account is what the AccountSource returned, so handlers that need the
	// whole user (GET /api/users/me) do not look it up a second time.
	Account Account
}

type principalKey struct{}

// PrincipalFrom returns the caller that authentication put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Authenticate returns the caller behind an access token: the token must
// verify, its session must be alive, and its account must still exist with
// the password the session was made under. Both lookups are by primary key. It fails with ErrMissingToken for an empty
// token, an error wrapping ErrTokenExpired or ErrTokenInvalid for a token
// that does not verify, and ErrSessionRevoked when the session or account
// is gone.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrMissingToken
	}
	now := s.now().UTC()
	claims, err := s.access.Verify(token, now)
	if err != nil {
		if !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenInvalid) {
			err = fmt.Errorf("%w: %v", ErrTokenInvalid, err) // never a 500 for a bad token
		}
		return Principal{}, err
	}
	sess, err := s.sessions.Session(ctx, claims.SessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return Principal{}, ErrSessionRevoked
	case err != nil:
		return Principal{}, err
	case sess.UserID != claims.Subject || !sess.Live(now):
		return Principal{}, ErrSessionRevoked
	}
	acct, err := s.accounts.Account(ctx, claims.Subject)
	switch {
	case errors.Is(err, ErrNoAccount):
		return Principal{}, ErrSessionRevoked
	case err != nil:
		return Principal{}, err
	case sess.CredentialVersion < acct.AccountCredentialVersion():
		// The password changed since this session was made.
		return Principal{}, ErrSessionRevoked
	}
	return Principal{UserID: claims.Subject, SessionID: sess.ID, Roles: acct.AccountRoles(), Account: acct}, nil
}

// Authorize reports whether p holds one of roles: nil if so, else
// ErrInsufficientRole.
func Authorize(p Principal, roles ...string) error {
	if !HasRole(p.Roles, roles...) {
		return ErrInsufficientRole
	}
	return nil
}
