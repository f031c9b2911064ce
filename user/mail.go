package user

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
)

// The mail flows: address verification and password recovery. Each mails
// a one-time token (auth.NewOneTimeToken: random, stored only as a hash,
// single use, superseded by a newer one) as a link built from
// configuration, never from a request's headers.

// Errors of the mail flows.
var (
	// ErrInvalidResetToken: the reset token is malformed, unknown, expired,
	// used or superseded.
	ErrInvalidResetToken = errors.New("invalid reset token")
	// ErrInvalidVerificationToken: likewise, for a verification token.
	ErrInvalidVerificationToken = errors.New("invalid verification token")
	// ErrAlreadyVerified: the address is verified already.
	ErrAlreadyVerified = errors.New("email already verified")
)

// link returns base with ?token= added.
func link(base, token string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base // configuration checked it at start
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// sendVerification mails u a new verification link, superseding any older
// one. A failure is logged, not returned: the account exists either way,
// and the user can ask for another mail.
//
// An address listed in ADMIN_EMAILS is verified another way: its mail is a
// password reset link. Whoever signed up with the address may not own it;
// if the owner merely clicked a verification link, the one who signed up,
// who knows the password, would become admin. A reset proves the mailbox
// and replaces the password, revoking every session, so only the owner
// of the mailbox ends up holding the admin account.
func (s *Service) sendVerification(ctx context.Context, u User) {
	var err error
	if slices.Contains(s.cfg.AdminEmails, u.Email) {
		err = s.mailToken(ctx, u, auth.PurposeReset, s.cfg.VerifyTTL, s.cfg.ResetURL, auth.ConfirmAdminMail)
	} else {
		err = s.mailToken(ctx, u, auth.PurposeVerify, s.cfg.VerifyTTL, s.cfg.VerifyURL, auth.VerifyEmailMail)
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "storing a verification token failed; the user may ask for another mail",
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
}

// mailToken stores a new one-time token of purpose for u, valid ttl and
// superseding the last one, and mails u the link base?token=… in the
// message that mail builds.
func (s *Service) mailToken(ctx context.Context, u User, purpose string, ttl time.Duration, base string,
	mail func(to, username, link string, ttl time.Duration) auth.Message) error {
	token, rec := auth.NewOneTimeToken(u.ID, purpose, s.now().UTC(), ttl)
	if err := s.tokens.PutToken(ctx, rec); err != nil {
		return err
	}
	s.send(ctx, mail(u.Email, u.Username, link(base, token), ttl))
	return nil
}

// send hands m to the mail queue, logging (without its link) when the queue
// is full.
func (s *Service) send(ctx context.Context, m auth.Message) {
	if !s.mail.Enqueue(m) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "mail queue full; message dropped",
			slog.String("to", m.To), slog.String("subject", m.Subject))
	}
}

// VerifyEmail marks an address verified with the token mailed to it, and
// returns the user, who holds the admin role now if the address is listed
// in ADMIN_EMAILS. It fails with ErrInvalidVerificationToken.
func (s *Service) VerifyEmail(ctx context.Context, token string) (User, error) {
	if !auth.WellFormedOneTimeToken(token) {
		return User{}, ErrInvalidVerificationToken
	}
	now := s.now().UTC()
	rec, err := s.tokens.TakeToken(ctx, auth.OneTimeTokenID(token), auth.PurposeVerify, now)
	switch {
	case errors.Is(err, auth.ErrTokenNotFound):
		return User{}, ErrInvalidVerificationToken
	case err != nil:
		return User{}, err
	}
	// An address listed in ADMIN_EMAILS after this link was mailed is not
	// verified by a click (EnsureAdmins would make the account admin at the
	// next start): it gets the admin confirmation mail instead.
	if u, err := s.store.UserByID(ctx, rec.UserID); err == nil && slices.Contains(s.cfg.AdminEmails, u.Email) {
		s.sendVerification(ctx, u)
		return User{}, ErrInvalidVerificationToken
	}
	if err := s.store.SetEmailVerified(ctx, rec.UserID, now); errors.Is(err, ErrNotFound) {
		return User{}, ErrInvalidVerificationToken // the account was deleted since
	} else if err != nil {
		return User{}, err
	}
	// No admin role here, even for a listed address (listed addresses are
	// mailed a reset link instead; see sendVerification): only a reset
	// proves that the one who holds the password also holds the mailbox.
	return s.store.UserByID(ctx, rec.UserID)
}

// grantAdmin gives the admin role to a user whose address, listed in
// ADMIN_EMAILS, was just proved by a password reset, and returns the user.
func (s *Service) grantAdmin(ctx context.Context, id string) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return User{}, err
	}
	if !slices.Contains(s.cfg.AdminEmails, u.Email) || u.HasRole(auth.RoleAdmin) {
		return u, nil
	}
	u.Roles = append(slices.Clone(u.Roles), auth.RoleAdmin)
	if err := s.store.SetRoles(ctx, u.ID, u.Roles, s.now().UTC()); err != nil {
		return User{}, err
	}
	if err := s.sessions.SetRoles(ctx, u.ID, u.Roles); err != nil {
		return User{}, err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "admin role granted to a verified ADMIN_EMAILS address", slog.String("user_id", u.ID))
	return u, nil
}

// ResendVerification mails the caller a new verification link. It fails
// with ErrAlreadyVerified, or a *auth.RateLimitError past 5 an hour.
func (s *Service) ResendVerification(ctx context.Context, p auth.Principal) error {
	u, err := s.store.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	if u.EmailVerified {
		return ErrAlreadyVerified
	}
	if err := s.resendPerUser.Take(ctx, u.ID, s.now().UTC()); err != nil {
		return err
	}
	s.sendVerification(ctx, u)
	return nil
}

// RequestPasswordReset starts the forgotten-password flow for email and
// returns at once, before anything is looked up: the caller answers alike,
// in body and in time, whether or not an account has that address. In the
// background, an account with that address gets a new reset token
// (superseding any older one) and a mail with the link. It fails only with
// a *ValidationError for a malformed address.
func (s *Service) RequestPasswordReset(email string) error {
	email = NormalizeEmail(email)
	if msg := checkEmail(email); msg != "" {
		return &ValidationError{Fields: map[string]string{"email": msg}}
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.log.Warn("too many password reset requests in flight; one was dropped")
		return nil
	}
	s.background.Add(1)
	go func() {
		defer func() { <-s.slots; s.background.Done() }()
		s.sendReset(context.Background(), email)
	}()
	return nil
}

// sendReset is the background half of RequestPasswordReset.
func (s *Service) sendReset(ctx context.Context, email string) {
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return
	}
	if err == nil {
		err = s.mailToken(ctx, u, auth.PurposeReset, s.cfg.ResetTTL, s.cfg.ResetURL, auth.PasswordResetMail)
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "a password reset request failed", slog.String("error", err.Error()))
	}
}

// Wait waits until the background work of password reset requests is done,
// or ctx ends: at shutdown, before the store closes.
func (s *Service) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.background.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ResetInput is a new password chosen with a mailed reset token.
type ResetInput struct {
	Token           string
	Password        string
	PasswordConfirm string
	// Client is who asks, for the limit on wrong tokens and fair bcrypt
	// admission.
	Client auth.Client
}

// ResetPassword sets a new password with a reset token, once. The password
// is set through the credential version (every session and access token
// of the account dies at once), the failed-login counts of the account are
// cleared, the address is marked verified (the mail proved it) and a
// confirmation mail goes out. It fails with a *ValidationError (the token
// stays usable), ErrInvalidResetToken, or a *auth.RateLimitError after 10
// wrong tokens from one address in 15 minutes.
func (s *Service) ResetPassword(ctx context.Context, in ResetInput) (Login, error) {
	errs := make(map[string]string)
	if msg := checkPassword(in.Password); msg != "" {
		errs["password"] = msg
	} else if in.PasswordConfirm != in.Password {
		errs["passwordConfirm"] = "does not match the password"
	}
	if err := invalid(errs); err != nil {
		return Login{}, err
	}
	now := s.now().UTC()
	if err := s.resetFailures.Take(ctx, in.Client.IP, now); err != nil {
		return Login{}, err
	}
	if !auth.WellFormedOneTimeToken(in.Token) {
		return Login{}, ErrInvalidResetToken
	}
	hash, err := s.passwords.Hash(ctx, in.Client.IP, in.Password)
	if err != nil {
		s.undo(ctx, s.resetFailures, in.Client.IP, now)
		return Login{}, err
	}
	rec, err := s.tokens.TakeToken(ctx, auth.OneTimeTokenID(in.Token), auth.PurposeReset, now)
	switch {
	case errors.Is(err, auth.ErrTokenNotFound):
		return Login{}, ErrInvalidResetToken
	case err != nil:
		s.undo(ctx, s.resetFailures, in.Client.IP, now)
		return Login{}, err
	}
	s.undo(ctx, s.resetFailures, in.Client.IP, now) // a right token is no failure
	u, err := s.setPassword(ctx, rec.UserID, hash, now)
	if err != nil && !errors.Is(err, ErrNotFound) {
		// The link must not be spent by a failure that was not the
		// client's: put the token back (its hash and expiry unchanged).
		if perr := s.tokens.PutToken(context.WithoutCancel(ctx), rec); perr != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "a reset failed and its token could not be put back; the user must ask again",
				slog.String("user_id", rec.UserID), slog.String("error", perr.Error()))
		}
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return Login{}, ErrInvalidResetToken // the account was deleted since
	case errors.Is(err, ErrPasswordChanged):
		return Login{}, auth.ErrBusy // changed again and again meanwhile: try again
	case err != nil:
		return Login{}, err
	}
	// The password is changed, and every session with it (their credential
	// version is older). What follows completes the picture; a failure is
	// logged, not answered: the client's reset did happen.
	s.send(ctx, auth.PasswordChangedMail(u.Email, u.Username))
	for _, name := range []string{"email:" + u.Email, "username:" + strings.ToLower(u.Username)} {
		s.reset(ctx, s.failuresPerName, name)
		s.reset(ctx, s.failuresPerNameIP, name+"|"+in.Client.IP)
	}
	s.reset(ctx, s.changeFailures, u.ID)
	for what, step := range map[string]func() error{
		"marking the address verified": func() error { return s.store.SetEmailVerified(ctx, u.ID, now) },
		"revoking the sessions":        func() error { return s.sessions.LogoutAll(ctx, u.ID) },
	} {
		if err := step(); err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "after a password reset, "+what+" failed",
				slog.String("user_id", u.ID), slog.String("error", err.Error()))
		}
	}
	if _, err := s.grantAdmin(ctx, u.ID); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "after a password reset, granting the admin role failed; it is granted at the next start if the address was marked verified, else after another reset",
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
	// The reset proved the mailbox and set the password: this browser may
	// keep trying past the per-name ceiling, as after a login. (The old
	// device cookies died with the old password.)
	return Login{User: u, Device: s.sessions.IssueDevice(u.ID, u.CredentialVersion+1)}, nil
}

// setPassword sets hash as the user's password through the credential
// version, retrying when a concurrent change got in between the read and
// the compare-and-swap.
func (s *Service) setPassword(ctx context.Context, id, hash string, now time.Time) (User, error) {
	for attempt := 0; ; attempt++ {
		u, err := s.store.UserByID(ctx, id)
		if err != nil {
			return User{}, err
		}
		err = s.store.SetPassword(ctx, id, hash, u.CredentialVersion, now)
		if err == nil || !errors.Is(err, ErrPasswordChanged) || attempt == 3 {
			return u, err
		}
	}
}

// SweepTokens deletes the expired one-time tokens and returns how many.
func (s *Service) SweepTokens(ctx context.Context) (int, error) {
	return s.tokens.DeleteExpiredTokens(ctx, s.now().UTC())
}
