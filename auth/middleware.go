package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"corkboard/web"
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

// PrincipalFrom returns the caller that Authenticate put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// Access-token problems (API.md §1).
var (
	errMissingToken = web.Unauthorized("missing_token", "This route needs an access token: Authorization: Bearer <token>.", "")
	errTokenExpired = web.Unauthorized("token_expired", "The access token has expired; refresh it.", "access token expired")
	errTokenInvalid = web.Unauthorized("invalid_token", "The access token is invalid.", "access token invalid")
	errNoRole       = web.NewProblem(http.StatusForbidden, "insufficient_role", "Your roles do not allow this.")
)

// accessToken returns the token a request carries, from Authorization:
// Bearer or from X-Access-Token, or "".
func accessToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-Access-Token"))
}

// Authenticate lets a request through only with a valid access token whose
// session is still alive and whose account still exists; it puts the
// Principal in the request context. Both lookups are by primary key.
func (s *Service) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			web.Fail(w, r, s.log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func (s *Service) authenticate(r *http.Request) (Principal, error) {
	token := accessToken(r)
	if token == "" {
		return Principal{}, errMissingToken
	}
	now := s.now().UTC()
	claims, err := s.access.Verify(token, now)
	switch {
	case errors.Is(err, ErrTokenExpired):
		return Principal{}, errTokenExpired
	case err != nil:
		return Principal{}, errTokenInvalid
	}
	ctx := r.Context()
	sess, err := s.sessions.Session(ctx, claims.SessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return Principal{}, errSessionRevoked
	case err != nil:
		return Principal{}, err
	case sess.UserID != claims.Subject || !sess.Live(now):
		return Principal{}, errSessionRevoked
	}
	acct, err := s.accounts.Account(ctx, claims.Subject)
	switch {
	case errors.Is(err, ErrNoAccount):
		return Principal{}, errSessionRevoked
	case err != nil:
		return Principal{}, err
	}
	return Principal{UserID: claims.Subject, SessionID: sess.ID, Roles: acct.AccountRoles(), Account: acct}, nil
}

// RequireRole lets a request through only when the authenticated caller
// holds one of roles; others get 403 insufficient_role. It goes inside
// Authenticate.
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok || !HasRole(p.Roles, roles...) {
				web.WriteProblem(w, errNoRole)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
