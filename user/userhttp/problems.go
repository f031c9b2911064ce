package userhttp

import (
	"errors"
	"net/http"

	"corkboard/auth/authhttp"
	"corkboard/user"
	"corkboard/web"
)

// The answers a client gets for user's errors (API.md §3–4).
var (
	errEmailTaken    = web.NewProblem(http.StatusConflict, "email_taken", "An account with this email already exists.")
	errUsernameTaken = web.NewProblem(http.StatusConflict, "username_taken", "This username is taken.")
	errBadLogin      = web.Unauthorized("invalid_credentials", "The login or password is wrong.", "")
	errNotFound      = web.NewProblem(http.StatusNotFound, "not_found", "There is no such user.")
	errResetToken    = web.NewProblem(http.StatusBadRequest, "invalid_reset_token",
		"This password reset link is invalid, expired, already used or replaced by a newer one; ask for a new one.")
	errVerifyToken = web.NewProblem(http.StatusBadRequest, "invalid_verification_token",
		"This verification link is invalid, expired or already used; ask for a new one.")
	errAlreadyVerified = web.NewProblem(http.StatusConflict, "already_verified", "Your address is verified already.")
	errForbidden       = web.NewProblem(http.StatusForbidden, "forbidden", "You may not do this to that user.")
)

// Problem returns the problem a client gets for err: user's errors here,
// auth's through authhttp.Problem, and nil for anything else.
func Problem(err error) *web.Problem {
	var invalid *user.ValidationError
	switch {
	case errors.Is(err, user.ErrEmailTaken):
		return errEmailTaken
	case errors.Is(err, user.ErrUsernameTaken):
		return errUsernameTaken
	case errors.Is(err, user.ErrBadCredentials):
		return errBadLogin
	case errors.Is(err, user.ErrNotFound):
		return errNotFound
	case errors.Is(err, user.ErrInvalidResetToken):
		return errResetToken
	case errors.Is(err, user.ErrInvalidVerificationToken):
		return errVerifyToken
	case errors.Is(err, user.ErrAlreadyVerified):
		return errAlreadyVerified
	case errors.Is(err, user.ErrForbidden):
		return errForbidden
	case errors.As(err, &invalid):
		return web.Invalid(invalid.Fields)
	}
	return authhttp.Problem(err)
}
