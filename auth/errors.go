package auth

import "errors"

// Errors of the session service. Each says what went wrong in the terms of
// the session model; the HTTP layer (authhttp) keeps the one table that turns
// them into problem responses.
var (
	// ErrMissingToken: a route that needs an access token got none.
	ErrMissingToken = errors.New("no access token")
	// ErrRefreshMissing: refresh was called with no refresh token.
	ErrRefreshMissing = errors.New("no refresh token")
	// ErrRefreshInvalid: the refresh token does not verify, has expired, or
	// names a session it does not belong to.
	ErrRefreshInvalid = errors.New("refresh token invalid or expired")
	// ErrRefreshReused: a retired refresh token came back after the grace
	// window, so the session it belongs to was revoked (the user's other
	// sessions stay).
	ErrRefreshReused = errors.New("refresh token reused")
	// ErrSessionRevoked: the token's session was ended (logout, revoke,
	// reuse, a password change) or its account is gone.
	ErrSessionRevoked = errors.New("session revoked")
	// ErrNoSuchSession: the caller has no live session with that id.
	ErrNoSuchSession = errors.New("no such session")
	// ErrInsufficientRole: the caller is authenticated but holds none of
	// the roles the route needs.
	ErrInsufficientRole = errors.New("insufficient role")
)
