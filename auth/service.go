package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"corkboard/objectid"
	"corkboard/web"
)

// Config is what the session service needs from the configuration.
type Config struct {
	AccessSecret  []byte
	RefreshSecret []byte
	AccessTTL     time.Duration
	RefreshTTL    time.Duration
	// ReuseGrace is how long after a rotation the token it retired is still
	// answered (with the session's current successor) instead of being
	// treated as reuse: two browser tabs refreshing at once.
	ReuseGrace     time.Duration
	CookieSecure   bool
	CookieSameSite http.SameSite
	// Origins are the allowed browser origins (CORS_ORIGINS); the refresh
	// and logout routes refuse requests from any other Origin.
	Origins    []string
	TrustProxy bool
}

// Service issues, refreshes and revokes sessions, and authenticates
// requests. It is safe for concurrent use.
type Service struct {
	cfg      Config
	sessions SessionStore
	accounts AccountSource
	access   *TokenKey
	refresh  *TokenKey
	now      func() time.Time
	log      *slog.Logger
}

// NewService returns a Service keeping sessions in sessions and reading
// accounts (for roles) from accounts. now is the clock; tests pass their own.
func NewService(cfg Config, sessions SessionStore, accounts AccountSource, now func() time.Time, log *slog.Logger) *Service {
	return &Service{
		cfg:      cfg,
		sessions: sessions,
		accounts: accounts,
		access:   NewTokenKey(cfg.AccessSecret, UseAccess),
		refresh:  NewTokenKey(cfg.RefreshSecret, UseRefresh),
		now:      now,
		log:      log,
	}
}

// Tokens are what a client gets when a session starts or is refreshed.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
	Session   Session
}

// TokenBody is the JSON shape of Tokens in a response. RefreshToken is
// filled only for clients that asked for it in the body.
type TokenBody struct {
	AccessToken  string `json:"accessToken"`
	TokenType    string `json:"tokenType"`
	ExpiresIn    int    `json:"expiresIn"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// Body returns the response body for t, with the refresh token only when
// withRefresh is set.
func (t Tokens) Body(withRefresh bool) TokenBody {
	b := TokenBody{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: t.ExpiresIn}
	if withRefresh {
		b.RefreshToken = t.RefreshToken
	}
	return b
}

// maxUserAgent caps what is stored of a client's User-Agent.
const maxUserAgent = 256

// userAgent returns the request's User-Agent as stored with a session:
// valid UTF-8 (headers may carry any bytes, and the stores keep JSON and
// BSON strings), at most maxUserAgent bytes, cut between characters.
func userAgent(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "\uFFFD")
	for len(ua) > maxUserAgent {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

// StartSession creates a session for the user who just signed up or logged
// in, and returns its first tokens.
func (s *Service) StartSession(ctx context.Context, r *http.Request, userID string, roles []string) (Tokens, error) {
	now := s.now().UTC()
	ua := userAgent(r)
	sess := Session{
		ID:         objectid.New(now),
		UserID:     userID,
		Generation: 1,
		Roles:      roles,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.cfg.RefreshTTL),
		UserAgent:  ua,
		IP:         web.ClientIP(r, s.cfg.TrustProxy),
	}
	if err := s.sessions.CreateSession(ctx, sess); err != nil {
		return Tokens{}, err
	}
	return s.issue(sess, now), nil
}

// issue signs an access token and the refresh token of sess's current
// generation.
func (s *Service) issue(sess Session, now time.Time) Tokens {
	access := s.access.Sign(Claims{
		Subject:   sess.UserID,
		SessionID: sess.ID,
		Roles:     sess.Roles,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(s.cfg.AccessTTL).Unix(),
	})
	refresh := s.refresh.Sign(Claims{
		Subject:    sess.UserID,
		SessionID:  sess.ID,
		Generation: sess.Generation,
		IssuedAt:   now.Unix(),
		ExpiresAt:  sess.ExpiresAt.Unix(),
	})
	return Tokens{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    int(s.cfg.AccessTTL / time.Second),
		Session:      sess,
	}
}

// Refresh problems (API.md §3).
var (
	errRefreshMissing = web.Unauthorized("refresh_token_missing", "No refresh token was sent.", "")
	errRefreshInvalid = web.Unauthorized("invalid_refresh_token", "The refresh token is invalid or expired.", "refresh token invalid")
	errRefreshReused  = web.Unauthorized("refresh_token_reused", "This refresh token was already used; every session of the account has been ended.", "refresh token reused")
	errSessionRevoked = web.Unauthorized("session_revoked", "The session has ended; log in again.", "session revoked")
)

// Refresh exchanges a refresh token for new tokens. The normal case is one
// compare-and-swap on (session, generation). When that loses, the session
// says why: revoked (no grace, ever), expired, rotated by a concurrent
// request moments ago (the grace window: answer with the current successor,
// do not fork), or rotated long ago (reuse: end every session of the user).
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	now := s.now().UTC()
	claims, err := s.refresh.Verify(token, now)
	if err != nil {
		return Tokens{}, errRefreshInvalid
	}
	sess, err := s.sessions.RotateSession(ctx, claims.SessionID, claims.Generation, now, now.Add(s.cfg.RefreshTTL))
	switch {
	case err == nil:
		if sess.UserID != claims.Subject {
			return Tokens{}, errRefreshInvalid // cannot happen with our own tokens
		}
		return s.issue(sess, now), nil
	case errors.Is(err, ErrSessionNotFound):
		return Tokens{}, errSessionRevoked
	case !errors.Is(err, ErrSessionConflict):
		return Tokens{}, err
	}

	sess, err = s.sessions.Session(ctx, claims.SessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return Tokens{}, errSessionRevoked
	case err != nil:
		return Tokens{}, err
	case sess.UserID != claims.Subject:
		return Tokens{}, errRefreshInvalid
	case !sess.RevokedAt.IsZero():
		return Tokens{}, errSessionRevoked
	case !now.Before(sess.ExpiresAt):
		return Tokens{}, errRefreshInvalid
	case sess.Generation == claims.Generation+1 && s.cfg.ReuseGrace > 0 && now.Sub(sess.RotatedAt) <= s.cfg.ReuseGrace:
		return s.issue(sess, now), nil
	case sess.Generation > claims.Generation:
		n, err := s.sessions.RevokeUserSessions(ctx, sess.UserID, "", now)
		if err != nil {
			return Tokens{}, err
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "refresh token reuse detected; all sessions revoked",
			slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID),
			slog.Int("revoked", n), slog.String("request_id", web.RequestID(ctx)))
		return Tokens{}, errRefreshReused
	default:
		return Tokens{}, errRefreshInvalid
	}
}

// RevokeOtherSessions ends every session of the user but keep (after a
// password change, say), returning how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, userID, keep string) (int, error) {
	return s.sessions.RevokeUserSessions(ctx, userID, keep, s.now().UTC())
}

// SweepExpired deletes the sessions that have expired and returns how many.
// Expired sessions are refused at read time anyway; the sweep keeps the
// store from growing without bound.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	return s.sessions.DeleteExpiredSessions(ctx, s.now().UTC())
}

// SweepEvery runs SweepExpired now and then every interval until ctx is done.
func (s *Service) SweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.SweepExpired(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("sweeping expired sessions failed", "error", err)
		case n > 0:
			s.log.Info("swept expired sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RefreshCookieName is the cookie that carries the refresh token.
const RefreshCookieName = "refresh_token"

// SetRefreshCookie puts the refresh token of t in the refresh cookie, which
// lives as long as the session does.
func (s *Service) SetRefreshCookie(w http.ResponseWriter, t Tokens) {
	maxAge := int(t.Session.ExpiresAt.Sub(s.now()).Round(time.Second) / time.Second)
	http.SetCookie(w, s.refreshCookie(t.RefreshToken, max(maxAge, 1)))
}

// ClearRefreshCookie tells the browser to drop the refresh cookie.
func (s *Service) ClearRefreshCookie(w http.ResponseWriter) {
	c := s.refreshCookie("", 0)
	c.MaxAge = -1 // net/http writes Max-Age=0 for a negative MaxAge
	http.SetCookie(w, c)
}

func (s *Service) refreshCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     RefreshCookieName,
		Value:    value,
		Path:     "/api/auth",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.cfg.CookieSecure,
		SameSite: s.cfg.CookieSameSite,
	}
}
