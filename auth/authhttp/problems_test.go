package authhttp

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"corkboard/auth"
)

// TestProblem checks auth's error table: each error, also when wrapped,
// gets the status and code API.md gives it.
func TestProblem(t *testing.T) {
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{auth.ErrMissingToken, 401, "missing_token"},
		{fmt.Errorf("verify: %w", auth.ErrTokenExpired), 401, "token_expired"},
		{fmt.Errorf("verify: %w", auth.ErrTokenInvalid), 401, "invalid_token"},
		{auth.ErrSessionRevoked, 401, "session_revoked"},
		{auth.ErrRefreshMissing, 401, "refresh_token_missing"},
		{auth.ErrRefreshInvalid, 401, "invalid_refresh_token"},
		{auth.ErrRefreshReused, 401, "refresh_token_reused"},
		{auth.ErrInsufficientRole, 403, "insufficient_role"},
		{auth.ErrNoSuchSession, 404, "not_found"},
		{fmt.Errorf("hash: %w", auth.ErrBusy), 503, "busy"},
		{&auth.RateLimitError{RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited"},
	}
	for _, tt := range tests {
		p := Problem(tt.err)
		if p == nil || p.Status != tt.status || p.Code != tt.code {
			t.Errorf("Problem(%v) = %+v, want %d %s", tt.err, p, tt.status, tt.code)
		}
	}
	if p := Problem(&auth.RateLimitError{RetryAfter: 1500 * time.Millisecond}); p == nil || p.RetryAfter != 2 {
		t.Errorf("Problem(rate limited for 1.5 s) = %+v, want Retry-After 2", p)
	}
	if p := Problem(auth.ErrBusy); p == nil || p.RetryAfter != 1 {
		t.Errorf("Problem(ErrBusy) = %+v, want Retry-After 1", p)
	}
	if p := Problem(errors.New("disk on fire")); p != nil {
		t.Errorf("Problem(an unknown error) = %+v, want nil (a logged 500)", p)
	}
}
