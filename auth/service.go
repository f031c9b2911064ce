package auth

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"corkboard/objectid"
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
	ReuseGrace time.Duration
}

// Service issues, refreshes and revokes sessions, and authenticates access
// tokens. Its methods take typed inputs and return sentinel errors
// (ErrRefreshReused, ErrSessionRevoked, ...); it knows nothing of HTTP.
// It is safe for concurrent use.
type Service struct {
	cfg      Config
	sessions SessionStore
	accounts AccountSource
	access   *TokenKey
	refresh  *TokenKey
	// deviceKey signs device tokens (device.go).
	deviceKey []byte
	now       func() time.Time
	log       *slog.Logger
}

// NewService returns a Service keeping sessions in sessions and reading
// accounts (for roles) from accounts. now is the clock; tests pass their own.
func NewService(cfg Config, sessions SessionStore, accounts AccountSource, now func() time.Time, log *slog.Logger) *Service {
	return &Service{
		cfg:       cfg,
		sessions:  sessions,
		accounts:  accounts,
		access:    NewTokenKey(cfg.AccessSecret, UseAccess),
		refresh:   NewTokenKey(cfg.RefreshSecret, UseRefresh),
		deviceKey: deviceKey(cfg.RefreshSecret),
		now:       now,
		log:       log,
	}
}

// Now returns the time on the service's clock, which is the one its
// sessions and tokens are dated by.
func (s *Service) Now() time.Time { return s.now() }

// Tokens are what a client gets when a session starts or is refreshed.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
	Session   Session
}

// maxUserAgent caps what is stored of a client's User-Agent.
const maxUserAgent = 256

// Client describes the device a session is started from, as the session
// list shows it to the user.
type Client struct {
	// IP is the client's address, as the HTTP layer decided it
	// (TRUST_PROXY).
	IP string
	// UserAgent is the client's User-Agent header, as sent.
	UserAgent string
}

// storedUserAgent returns ua as stored with a session: valid UTF-8 (headers
// may carry any bytes, and the stores keep JSON and BSON strings), at most
// maxUserAgent bytes, cut between characters.
func storedUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "\uFFFD")
	for len(ua) > maxUserAgent {
		_, size := utf8.DecodeLastRuneInString(ua)
		ua = ua[:len(ua)-size]
	}
	return ua
}

// SessionRequest says whom a new session is for.
type SessionRequest struct {
	UserID string
	Roles  []string
	// CredentialVersion is the user's credential version as read before
	// the password was checked (see Session.CredentialVersion).
	CredentialVersion uint64
	// Client is the device the session starts on.
	Client Client
}

// NewSession makes a session for req and its first tokens, without storing
// it: for a caller that stores it together with something else (a new
// account, in one atomic write).
func (s *Service) NewSession(req SessionRequest) (Session, Tokens) {
	now := s.now().UTC()
	sess := Session{
		ID:                objectid.New(now),
		UserID:            req.UserID,
		Generation:        1,
		Roles:             req.Roles,
		CreatedAt:         now,
		LastUsedAt:        now,
		ExpiresAt:         now.Add(s.cfg.RefreshTTL),
		UserAgent:         storedUserAgent(req.Client.UserAgent),
		IP:                req.Client.IP,
		CredentialVersion: req.CredentialVersion,
	}
	return sess, s.issue(sess, now)
}

// StartSession creates and stores a session for the user who just logged
// in, and returns its first tokens.
func (s *Service) StartSession(ctx context.Context, req SessionRequest) (Tokens, error) {
	sess, t := s.NewSession(req)
	if err := s.sessions.CreateSession(ctx, sess); err != nil {
		return Tokens{}, err
	}
	return t, nil
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

// Refresh exchanges a refresh token for new tokens. The normal case is one
// compare-and-swap on (session, generation). When that loses, the session
// says why: revoked (ErrSessionRevoked; no grace, ever), expired
// (ErrRefreshInvalid), rotated by a concurrent request moments ago (the
// grace window: answer with the current successor, do not fork), or rotated
// long ago (ErrRefreshReused: the token was stolen or replayed, so end that
// session).
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	if token == "" {
		return Tokens{}, ErrRefreshMissing
	}
	now := s.now().UTC()
	claims, err := s.refresh.Verify(token, now)
	if err != nil {
		return Tokens{}, ErrRefreshInvalid
	}
	// The account is read before anything changes: should the read fail,
	// the token is not retired by a rotation the client never hears of.
	acct, err := s.accounts.Account(ctx, claims.Subject)
	switch {
	case errors.Is(err, ErrNoAccount):
		return Tokens{}, ErrSessionRevoked
	case err != nil:
		return Tokens{}, err
	}
	sess, err := s.sessions.RotateSession(ctx, claims.SessionID, claims.Generation, now, now.Add(s.cfg.RefreshTTL))
	switch {
	case err == nil:
		if sess.UserID != claims.Subject {
			return Tokens{}, ErrRefreshInvalid // cannot happen with our own tokens
		}
		if err := s.checkCurrent(ctx, sess, acct, now); err != nil {
			return Tokens{}, err
		}
		return s.issue(sess, now), nil
	case errors.Is(err, ErrSessionNotFound):
		return Tokens{}, ErrSessionRevoked
	case !errors.Is(err, ErrSessionConflict):
		return Tokens{}, err
	}

	sess, err = s.sessions.Session(ctx, claims.SessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return Tokens{}, ErrSessionRevoked
	case err != nil:
		return Tokens{}, err
	case sess.UserID != claims.Subject:
		return Tokens{}, ErrRefreshInvalid
	case !sess.RevokedAt.IsZero():
		return Tokens{}, ErrSessionRevoked
	case !now.Before(sess.ExpiresAt):
		return Tokens{}, ErrRefreshInvalid
	case sess.Generation == claims.Generation+1 && s.cfg.ReuseGrace > 0 && now.Sub(sess.RotatedAt) <= s.cfg.ReuseGrace:
		if err := s.checkCurrent(ctx, sess, acct, now); err != nil {
			return Tokens{}, err
		}
		return s.issue(sess, now), nil
	case sess.Generation > claims.Generation:
		// Reuse ends this session: its whole chain of refresh tokens and
		// every access token issued under it (RFC 9700 §4.14.2). The
		// user's other sessions stay: a token stolen from this one gives
		// no way into them, and ending them would only log the user out
		// of every device on one false alarm (a phone that lost a refresh
		// answer and retried after the grace window).
		if err := s.sessions.RevokeSession(ctx, sess.ID, now); err != nil && !errors.Is(err, ErrSessionNotFound) {
			return Tokens{}, err
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "refresh token reuse detected; session revoked",
			slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID))
		return Tokens{}, ErrRefreshReused
	default:
		return Tokens{}, ErrRefreshInvalid
	}
}

// checkCurrent makes sure the password of acct, sess's account, has not
// changed since the session was made; a session made under an older
// credential version is revoked and ErrSessionRevoked returned. It is what
// makes a password change lock out a login that was still checking the old
// password while it changed.
func (s *Service) checkCurrent(ctx context.Context, sess Session, acct Account, now time.Time) error {
	if sess.CredentialVersion >= acct.AccountCredentialVersion() {
		return nil
	}
	if err := s.sessions.RevokeSession(ctx, sess.ID, now); err != nil && !errors.Is(err, ErrSessionNotFound) {
		return err
	}
	return ErrSessionRevoked
}

// Logout ends the session a refresh token names. A token that does not
// verify, or whose session is gone, has nothing left to end: logging out is
// never an error for the client.
func (s *Service) Logout(ctx context.Context, token string) error {
	now := s.now().UTC()
	claims, err := s.refresh.Verify(token, now)
	if err != nil {
		return nil
	}
	sess, err := s.sessions.Session(ctx, claims.SessionID)
	if errors.Is(err, ErrSessionNotFound) || err == nil && sess.UserID != claims.Subject {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.sessions.RevokeSession(ctx, sess.ID, now)
	if errors.Is(err, ErrSessionNotFound) {
		return nil
	}
	return err
}

// LogoutAll ends every session of the user.
func (s *Service) LogoutAll(ctx context.Context, userID string) error {
	_, err := s.sessions.RevokeUserSessions(ctx, userID, "", s.now().UTC())
	return err
}

// Sessions returns the caller's live sessions, newest first. A session made
// under an older password is dead even if nothing revoked it (a login that
// raced a change of password): it is left out.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]Session, error) {
	list, err := s.sessions.ListSessions(ctx, p.UserID, s.now().UTC())
	if err != nil || p.Account == nil {
		return list, err
	}
	version := p.Account.AccountCredentialVersion()
	return slices.DeleteFunc(list, func(sess Session) bool { return sess.CredentialVersion < version }), nil
}

// RevokeSession ends one of the user's own live sessions (a lost phone,
// say). Someone else's session, one already ended, or an id that is not
// an id at all is ErrNoSuchSession: the caller learns nothing about
// sessions that are not theirs.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	if !objectid.Valid(sessionID) {
		return ErrNoSuchSession
	}
	now := s.now().UTC()
	sess, err := s.sessions.Session(ctx, sessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return ErrNoSuchSession
	case err != nil:
		return err
	case sess.UserID != userID || !sess.Live(now):
		return ErrNoSuchSession
	}
	err = s.sessions.RevokeSession(ctx, sessionID, now)
	if errors.Is(err, ErrSessionNotFound) {
		return nil // swept in between: ended all the same
	}
	return err
}

// SetRoles copies a user's new roles into the snapshot every session of
// theirs keeps for the access tokens' roles claim (authorization always
// reads the stored user).
func (s *Service) SetRoles(ctx context.Context, userID string, roles []string) error {
	return s.sessions.SetSessionRoles(ctx, userID, roles)
}

// SweepExpired deletes the sessions that have expired and returns how many.
// Expired sessions are refused at read time anyway; the sweep keeps the
// store from growing without bound.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	return s.sessions.DeleteExpiredSessions(ctx, s.now().UTC())
}
