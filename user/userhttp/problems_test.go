package userhttp

import (
	"errors"
	"fmt"
	"testing"

	"corkboard/auth"
	"corkboard/user"
)

// TestProblem checks user's error table, and that auth's errors passed on
// by the account rules still get auth's answers.
func TestProblem(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{user.ErrEmailTaken, 409, "email_taken"},
		{fmt.Errorf("create: %w", user.ErrUsernameTaken), 409, "username_taken"},
		{user.ErrBadCredentials, 401, "invalid_credentials"},
		{user.ErrNotFound, 404, "not_found"},
		{&user.ValidationError{Fields: map[string]string{"email": "is required"}}, 422, "validation_failed"},
		{user.ErrInvalidResetToken, 400, "invalid_reset_token"},
		{user.ErrInvalidVerificationToken, 400, "invalid_verification_token"},
		{user.ErrAlreadyVerified, 409, "already_verified"},
		{user.ErrForbidden, 403, "forbidden"},
		{auth.ErrBusy, 503, "busy"},
		{&auth.RateLimitError{}, 429, "rate_limited"},
	}
	for _, tt := range tests {
		p := Problem(tt.err)
		if p == nil || p.Status != tt.status || p.Code != tt.code {
			t.Errorf("Problem(%v) = %+v, want %d %s", tt.err, p, tt.status, tt.code)
		}
	}
	p := Problem(&user.ValidationError{Fields: map[string]string{"email": "is required", "password": "is required"}})
	if len(p.Errors) != 2 || p.Errors["email"] == "" || p.Errors["password"] == "" {
		t.Errorf("Problem(ValidationError) errors = %v, want both fields named", p.Errors)
	}
	if p := Problem(errors.New("disk on fire")); p != nil {
		t.Errorf("Problem(an unknown error) = %+v, want nil (a logged 500)", p)
	}
}
