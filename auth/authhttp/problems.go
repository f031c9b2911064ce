package authhttp

import (
	"errors"
	"net/http"

	"corkboard/auth"
	"corkboard/web"
)

// The answers a client gets for auth's errors (API.md §1–3).
var (
	errMissingToken   = web.Unauthorized("missing_token", "This route needs an access token: Authorization: Bearer <token>.", "")
	errTokenExpired   = web.Unauthorized("token_expired", "The access token has expired; refresh it.", "access token expired")
	errTokenInvalid   = web.Unauthorized("invalid_token", "The access token is invalid.", "access token invalid")
	errSessionRevoked = web.Unauthorized("session_revoked", "The session has ended; log in again.", "session revoked")
	errRefreshMissing = web.Unauthorized("refresh_token_missing", "No refresh token was sent.", "")
	errRefreshInvalid = web.Unauthorized("invalid_refresh_token", "The refresh token is invalid or expired.", "refresh token invalid")
	errRefreshReused  = web.Unauthorized("refresh_token_reused", "This refresh token was already used; its session has been ended. Log in again.", "refresh token reused")
	errNoRole         = web.NewProblem(http.StatusForbidden, "insufficient_role", "Your roles do not allow this.")
	errNoSuchSession  = web.NewProblem(http.StatusNotFound, "not_found", "You have no live session with this id.")
	errOrigin         = web.NewProblem(http.StatusForbidden, "origin_not_allowed", "Requests from this origin may not use the refresh cookie.")
	errBusy           = &web.Problem{Status: http.StatusServiceUnavailable, Code: "busy", Detail: "The server is busy; try again in a moment.", RetryAfter: 1}
)

// Problem returns the problem a client gets for err when err is one of
// package auth's errors, and nil otherwise. It is auth's one error table;
// the handlers of other packages fall back to it for the auth errors their
// calls pass on.
func Problem(err error) *web.Problem {
	var limited *auth.RateLimitError
	switch {
	case errors.Is(err, auth.ErrMissingToken):
		return errMissingToken
	case errors.Is(err, auth.ErrTokenExpired):
		return errTokenExpired
	case errors.Is(err, auth.ErrTokenInvalid):
		return errTokenInvalid
	case errors.Is(err, auth.ErrSessionRevoked):
		return errSessionRevoked
	case errors.Is(err, auth.ErrRefreshMissing):
		return errRefreshMissing
	case errors.Is(err, auth.ErrRefreshInvalid):
		return errRefreshInvalid
	case errors.Is(err, auth.ErrRefreshReused):
		return errRefreshReused
	case errors.Is(err, auth.ErrInsufficientRole):
		return errNoRole
	case errors.Is(err, auth.ErrNoSuchSession):
		return errNoSuchSession
	case errors.Is(err, auth.ErrBusy):
		return errBusy
	case errors.As(err, &limited):
		return &web.Problem{
			Status:     http.StatusTooManyRequests,
			Code:       "rate_limited",
			Detail:     "Too many attempts; try again later.",
			RetryAfter: auth.RetryAfterSeconds(limited.RetryAfter),
		}
	}
	return nil
}
