package user

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
)

// Config is what the account service needs from the configuration.
type Config struct {
	// AdminEmails (normalized) hold the admin role once the address is
	// verified, never before.
	AdminEmails []string
	// RateLimits turns the limits of API.md §3 on.
	RateLimits bool
	// ResetURL and VerifyURL are the pages the mailed links point at; the
	// token is added as ?token=. They come from configuration only, never
	// from a request.
	ResetURL, VerifyURL string
	// ResetTTL and VerifyTTL are how long a mailed token stays valid.
	ResetTTL, VerifyTTL time.Duration
}

// Deps are what the account service works with.
type Deps struct {
	Store     Store
	Tokens    auth.TokenStore
	Sessions  *auth.Service
	Passwords *auth.Passwords
	// Mail takes messages to deliver in the background (auth.MailQueue).
	Mail interface{ Enqueue(auth.Message) bool }
	// Files keeps the bytes of profile pictures.
	Files FileStore
	// Forgetters are told of every deleted user, before the user record
	// goes (see DeleteUser); boards will be one.
	Forgetters []Forgetter
	// Limiters makes the rate limiters of API.md §3 when Config.RateLimits
	// is on: a store's, when several instances share it, so that their
	// counts add up. Nil means in-memory limiters (auth.MemoryLimiters).
	Limiters auth.NewRateLimiter
	// AfterStep, when set, is called with the name of each step of the
	// deletion cascade once it is done ("user-delete:after-mark",
	// "user-delete:after-logout", "user-delete:after-forget",
	// "user-delete:after-picture"). It is a test hook: the crash tests
	// stop the process there. Nil in normal use.
	AfterStep func(step string)
}

// Service holds the account rules: sign-up, login, change of password and
// reading profiles. Its methods take typed inputs and return sentinel
// errors (ErrEmailTaken, ErrBadCredentials, *ValidationError, and auth's
// errors passed on); it knows nothing of HTTP.
type Service struct {
	cfg       Config
	store     Store
	tokens    auth.TokenStore
	sessions  *auth.Service
	passwords *auth.Passwords
	mail      interface{ Enqueue(auth.Message) bool }
	files     FileStore
	now       func() time.Time
	log       *slog.Logger

	// forgetters are told of deleted users (DeleteUser).
	forgetters []Forgetter
	// afterStep is the test hook Deps.AfterStep, or nil.
	afterStep func(step string)

	// background runs the work of a forgotten-password request after the
	// answer went out; slots bounds how much of it may be in flight.
	background sync.WaitGroup
	slots      chan struct{}

	// Limits of API.md §3; nil limiters when limits are off.
	failuresPerNameIP auth.RateLimiter // 10 failed logins per name tried and client address per 15 minutes
	failuresPerName   auth.RateLimiter // 100 per name from all addresses; past it, device cookies only
	changeFailures    auth.RateLimiter // 10 wrong current passwords per account per 15 minutes
	changePerUser     auth.RateLimiter // 10 password changes per account per 15 minutes, successes included
	changePerIP       auth.RateLimiter // 30 password changes per client address per 15 minutes, successes included
	resetFailures     auth.RateLimiter // 10 wrong reset tokens per client address per 15 minutes
	resendPerUser     auth.RateLimiter // 5 verification mails per account per hour
}

// NewService returns the account Service.
func NewService(cfg Config, deps Deps, now func() time.Time, log *slog.Logger) *Service {
	s := &Service{
		cfg: cfg, store: deps.Store, tokens: deps.Tokens, sessions: deps.Sessions, passwords: deps.Passwords,
		mail: deps.Mail, files: deps.Files, now: now, log: log, slots: make(chan struct{}, 64),
		forgetters: slices.Clone(deps.Forgetters), afterStep: deps.AfterStep,
	}
	var off *auth.Limiter // a nil Limiter allows everything
	s.failuresPerNameIP, s.failuresPerName, s.changeFailures, s.changePerUser, s.changePerIP = off, off, off, off, off
	s.resetFailures, s.resendPerUser = off, off
	if cfg.RateLimits {
		limiter := deps.Limiters
		if limiter == nil {
			limiter = auth.MemoryLimiters
		}
		// The names keep each limit's counts apart in a shared store; they
		// are stored, so renaming one starts its counts afresh.
		s.resetFailures = limiter("reset-failures-ip", 10, 15*time.Minute)
		s.resendPerUser = limiter("resend-user", 5, time.Hour)
		s.failuresPerNameIP = limiter("login-failures-name-ip", 10, 15*time.Minute)
		s.failuresPerName = limiter("login-failures-name", 100, 15*time.Minute)
		s.changeFailures = limiter("change-failures-user", 10, 15*time.Minute)
		s.changePerUser = limiter("change-user", 10, 15*time.Minute)
		s.changePerIP = limiter("change-ip", 30, 15*time.Minute)
	}
	return s
}

// undo takes back one event of key counted against l at the time given (an
// attempt that was never made, or no failure after all). It runs even when
// the client has gone away. A failure is logged and leaves the event
// counted: a limit errs on the side of refusing.
func (s *Service) undo(ctx context.Context, l auth.RateLimiter, key string, at time.Time) {
	if err := l.Undo(context.WithoutCancel(ctx), key, at); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "taking back a rate-limited event failed; it stays counted",
			slog.String("error", err.Error()))
	}
}

// reset forgets key's events counted against l, like undo: a failure is
// logged and leaves them counted.
func (s *Service) reset(ctx context.Context, l auth.RateLimiter, key string) {
	if err := l.Reset(context.WithoutCancel(ctx), key); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "resetting a rate limit failed; its events stay counted",
			slog.String("error", err.Error()))
	}
}

// Accounts adapts a Store to auth.AccountSource, so that authentication
// (auth.Service.Authenticate) can read a user's roles without auth
// importing this package.
func Accounts(s Store) auth.AccountSource { return accounts{s} }

type accounts struct{ store Store }

func (a accounts) Account(ctx context.Context, id string) (auth.Account, error) {
	u, err := a.store.UserByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, auth.ErrNoAccount
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ErrBadCredentials: the login or the password is wrong. Unknown user and
// wrong password are the same error, in the same time.
var ErrBadCredentials = errors.New("wrong login or password")

// ValidationError names every bad field of an input, with why.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	return "invalid " + strings.Join(names, ", ")
}

// invalid returns a *ValidationError for fields, or nil when there are none.
func invalid(fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: fields}
}

// SignupInput is what a new account is made from.
type SignupInput struct {
	Username string
	Email    string
	Password string
	FullName string
	Color    string
	// RolesRequested is set when the client tried to choose roles, which
	// is refused: roles are never self-assigned.
	RolesRequested bool
	// Client is the device the first session starts on.
	Client auth.Client
	// PictureID is a picture the caller stored with StorePicture, or "".
	// Signup owns it from then on: a sign-up that fails deletes it.
	PictureID string
}

// validate normalizes in and returns every bad field.
func (in *SignupInput) validate() error {
	errs := make(map[string]string)
	in.Email = NormalizeEmail(in.Email)
	if msg := checkEmail(in.Email); msg != "" {
		errs["email"] = msg
	}
	if msg := checkUsername(in.Username); msg != "" {
		errs["username"] = msg
	}
	if msg := checkPassword(in.Password); msg != "" {
		errs["password"] = msg
	}
	if msg := checkText(in.FullName, maxFullName); msg != "" {
		errs["fullName"] = msg
	}
	if msg := checkText(in.Color, maxColor); msg != "" {
		errs["color"] = msg
	}
	if in.RolesRequested {
		errs["roles"] = "cannot be chosen at sign-up"
	}
	return invalid(errs)
}

// Signup creates an account and its first session. It fails with a
// *ValidationError, ErrEmailTaken or ErrUsernameTaken.
func (s *Service) Signup(ctx context.Context, in SignupInput) (_ User, _ auth.Tokens, err error) {
	defer func() {
		if err != nil {
			s.DiscardPicture(ctx, in.PictureID)
		}
	}()
	if err := in.validate(); err != nil {
		return User{}, auth.Tokens{}, err
	}
	// Cheap checks first, so an obvious duplicate costs no bcrypt. The
	// store's unique indexes decide in the end.
	if _, err := s.store.UserByEmail(ctx, in.Email); !errors.Is(err, ErrNotFound) {
		return User{}, auth.Tokens{}, foundMeans(err, ErrEmailTaken)
	}
	if _, err := s.store.UserByUsername(ctx, in.Username); !errors.Is(err, ErrNotFound) {
		return User{}, auth.Tokens{}, foundMeans(err, ErrUsernameTaken)
	}
	hash, err := s.passwords.Hash(ctx, in.Client.IP, in.Password)
	if err != nil {
		return User{}, auth.Tokens{}, err
	}
	now := s.now().UTC()
	// Never admin at sign-up, even for an ADMIN_EMAILS address: whoever
	// signs up first with it must first prove the address is theirs.
	roles := []string{auth.RoleUser}
	u := User{
		ID:           objectid.New(now),
		Username:     in.Username,
		Email:        in.Email,
		FullName:     in.FullName,
		Color:        in.Color,
		Roles:        roles,
		PictureID:    in.PictureID,
		PasswordHash: hash,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	// The account and its first session are one write: a sign-up that
	// answers an error leaves no account behind to block the next try.
	sess, t := s.sessions.NewSession(auth.SessionRequest{UserID: u.ID, Roles: u.Roles, Client: in.Client})
	if err := s.store.CreateAccount(ctx, u, sess); err != nil {
		return User{}, auth.Tokens{}, err
	}
	s.sendVerification(ctx, u)
	return u, t, nil
}

// foundMeans returns err when it is a real failure, else taken: a lookup that
// found someone means the name is taken.
func foundMeans(err, taken error) error {
	if err != nil {
		return err
	}
	return taken
}

// LoginInput is a login attempt: an email or a username, and a password.
type LoginInput struct {
	Email    string
	Username string
	Password string
	// Devices are the device tokens the browser holds (see
	// auth.IssueDevice), from earlier successful logins.
	Devices []string
	// Client is the device the session starts on.
	Client auth.Client
}

// Login is a successful login: the user, the tokens of the new session,
// and a new device token for the browser to keep.
type Login struct {
	User   User
	Tokens auth.Tokens
	Device string
}

// Login checks a password and starts a session. It fails with a
// *ValidationError for a malformed input, ErrBadCredentials for an unknown
// user or a wrong password (alike in answer and in time), a
// *auth.RateLimitError past the failed-login limits, or auth.ErrBusy.
//
// Failures count per name tried and client address, so a stranger who
// guesses from one address locks out only that address, never the owner.
// A spread attack from many addresses meets a second, higher ceiling per
// name; past it, only a browser holding a device token of the account (a
// device cookie from an earlier successful login) may still try.
func (s *Service) Login(ctx context.Context, in LoginInput) (Login, error) {
	errs := make(map[string]string)
	switch {
	case in.Email == "" && in.Username == "":
		errs["email"] = "an email or a username is required"
	case in.Email != "" && in.Username != "":
		errs["username"] = "send an email or a username, not both"
	}
	if in.Password == "" {
		errs["password"] = "is required"
	}
	if err := invalid(errs); err != nil {
		return Login{}, err
	}
	// A name no account can have is wrong at once: it never becomes a
	// limiter key (a stranger could fill memory with megabyte names), and
	// answering it fast tells nothing about any account.
	if len(in.Email) > maxEmail+8 || len(in.Username) > maxUsername {
		return Login{}, ErrBadCredentials
	}

	var u User
	var err error
	if in.Email != "" {
		u, err = s.store.UserByEmail(ctx, NormalizeEmail(in.Email))
	} else {
		u, err = s.store.UserByUsername(ctx, in.Username)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Login{}, err
	}
	// Failures count per name tried (the email or the username, as
	// normalized), never per account: a limit shared by an account's email
	// and username would tell whoever hits it that the two belong together.
	name := "email:" + NormalizeEmail(in.Email)
	if in.Username != "" {
		name = "username:" + strings.ToLower(in.Username)
	}
	perNameIP := name + "|" + in.Client.IP
	now := s.now().UTC()
	// Both counts are taken before bcrypt runs, atomically with the check,
	// so a burst of concurrent guesses cannot slip past a limit while
	// earlier ones are still hashing.
	if err := s.failuresPerNameIP.Take(ctx, perNameIP, now); err != nil {
		return Login{}, err
	}
	// Past the per-name ceiling a device cookie still gets in; a store
	// that cannot count does not let anyone in.
	// A device holder let in past the ceiling was not counted, so nothing
	// of theirs may be taken back from the name's count either: that would
	// free a guess for whoever is spreading them.
	nameErr := s.failuresPerName.Take(ctx, name, now)
	if nameErr != nil && (!errors.As(nameErr, new(*auth.RateLimitError)) || !s.holdsDevice(in.Devices, u)) {
		s.undo(ctx, s.failuresPerNameIP, perNameIP, now)
		return Login{}, nameErr
	}
	nameCounted := nameErr == nil
	// An unknown user is checked against a dummy hash (u.PasswordHash is
	// ""), so both failures take the same time and give the same answer.
	ok, err := s.passwords.Check(ctx, in.Client.IP, u.PasswordHash, in.Password)
	switch {
	case err != nil:
		// Refused as busy, or abandoned: no attempt was made.
		s.undo(ctx, s.failuresPerNameIP, perNameIP, now)
		if nameCounted {
			s.undo(ctx, s.failuresPerName, name, now)
		}
		return Login{}, err
	case !ok:
		return Login{}, ErrBadCredentials
	}
	// A right password is no failure: it clears this address's count and
	// takes back its own count against the name.
	s.reset(ctx, s.failuresPerNameIP, perNameIP)
	if nameCounted {
		s.undo(ctx, s.failuresPerName, name, now)
	}
	s.rehash(ctx, u, in.Client.IP, in.Password)
	// The session records the credential version read before the check:
	// if the password changed while bcrypt ran, it is dead from the start.
	t, err := s.sessions.StartSession(ctx, auth.SessionRequest{
		UserID: u.ID, Roles: u.Roles, CredentialVersion: u.CredentialVersion, Client: in.Client,
	})
	if err != nil {
		return Login{}, err
	}
	return Login{User: u, Tokens: t, Device: s.sessions.IssueDevice(u.ID, u.CredentialVersion)}, nil
}

// holdsDevice reports whether one of devices is a device token of u,
// issued under its current password.
func (s *Service) holdsDevice(devices []string, u User) bool {
	for _, d := range devices {
		if s.sessions.ValidDevice(d, u.ID, u.CredentialVersion) {
			return true
		}
	}
	return false
}

// checkPassword checks password against hash for the change of password:
// failures count against the account's own limit, which a right password
// clears; an attempt that never ran (busy, abandoned) is not counted.
func (s *Service) checkPassword(ctx context.Context, userID, ip, hash, password string) error {
	now := s.now().UTC()
	if err := s.changeFailures.Take(ctx, userID, now); err != nil {
		return err
	}
	ok, err := s.passwords.Check(ctx, ip, hash, password)
	switch {
	case err != nil:
		s.undo(ctx, s.changeFailures, userID, now)
		return err
	case !ok:
		return ErrBadCredentials
	}
	s.reset(ctx, s.changeFailures, userID)
	return nil
}

// rehash stores a new hash of password, which just matched u's hash, when
// that hash was made at another bcrypt cost than the configured one (the
// operator changed BCRYPT_COST). It is best effort: a failure is logged and
// the login goes on, and the next login tries again.
func (s *Service) rehash(ctx context.Context, u User, ip, password string) {
	if !s.passwords.NeedsRehash(u.PasswordHash) {
		return
	}
	hash, err := s.passwords.Hash(ctx, ip, password)
	if err == nil {
		err = s.store.RehashPassword(ctx, u.ID, u.PasswordHash, hash)
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "rehashing a password at the configured cost failed; the next login tries again",
			slog.String("user_id", u.ID), slog.String("error", err.Error()))
	}
}

// Me returns the caller's own account, which authentication has already
// loaded: it costs no lookup.
func Me(p auth.Principal) (User, error) {
	u, ok := p.Account.(User)
	if !ok {
		return User{}, errors.New("principal account is not a user.User")
	}
	return u, nil
}

// User returns the user with the given id, or ErrNotFound (also for an id
// that is not an id at all).
func (s *Service) User(ctx context.Context, id string) (User, error) {
	if !objectid.Valid(id) {
		return User{}, ErrNotFound
	}
	return s.store.UserByID(ctx, id)
}

// ChangePasswordInput is a change of the caller's password.
type ChangePasswordInput struct {
	Current string
	New     string
	// Client is the device asking, for the per-address limit and fair
	// bcrypt admission.
	Client auth.Client
}

// ChangePassword sets a new password for the caller, who must know the
// current one, and moves them to a fresh session: the new password's
// credential version is set with a compare-and-swap on the one checked, and
// every older session, the calling one included, is revoked. Of two
// concurrent changes that both knew the old password, one wins and the
// other gets ErrBadCredentials; a thief who knew the old password keeps
// nothing, not even the session the change was made from.
//
// Every attempt counts against the per-account and per-address limits,
// successes included: each one costs two bcrypt computations. It fails with
// a *ValidationError, ErrBadCredentials, a *auth.RateLimitError or
// auth.ErrBusy.
func (s *Service) ChangePassword(ctx context.Context, p auth.Principal, in ChangePasswordInput) (Login, error) {
	errs := make(map[string]string)
	if in.Current == "" {
		errs["currentPassword"] = "is required"
	}
	if msg := checkPassword(in.New); msg != "" {
		errs["newPassword"] = msg
	}
	if err := invalid(errs); err != nil {
		return Login{}, err
	}
	u, err := Me(p)
	if err != nil {
		return Login{}, err
	}
	now := s.now().UTC()
	if err := s.changePerUser.Take(ctx, u.ID, now); err != nil {
		return Login{}, err
	}
	if err := s.changePerIP.Take(ctx, in.Client.IP, now); err != nil {
		return Login{}, err
	}
	// A stolen access token must not become a way to guess the password:
	// failures count against a limit of their own, per account.
	if err := s.checkPassword(ctx, u.ID, in.Client.IP, u.PasswordHash, in.Current); err != nil {
		return Login{}, err
	}
	hash, err := s.passwords.Hash(ctx, in.Client.IP, in.New)
	if err != nil {
		return Login{}, err
	}
	switch err := s.store.SetPassword(ctx, u.ID, hash, u.CredentialVersion, now); {
	case errors.Is(err, ErrPasswordChanged):
		return Login{}, ErrBadCredentials // the password checked is no longer the current one
	case err != nil:
		return Login{}, err
	}
	// Sessions of the old version are dead already (Authenticate and
	// Refresh compare versions); revoking them also takes them off the
	// session list.
	if err := s.sessions.LogoutAll(ctx, u.ID); err != nil {
		return Login{}, err
	}
	t, err := s.sessions.StartSession(ctx, auth.SessionRequest{
		UserID: u.ID, Roles: u.Roles, CredentialVersion: u.CredentialVersion + 1, Client: in.Client,
	})
	if err != nil {
		return Login{}, err
	}
	// The device cookies of the old password died with it; this device
	// proved the new one.
	return Login{User: u, Tokens: t, Device: s.sessions.IssueDevice(u.ID, u.CredentialVersion+1)}, nil
}

// EnsureAdmins gives the admin role, at start-up, to every existing user
// whose email is in emails (ADMIN_EMAILS) and verified. Users who verify
// later get it then. It never takes the role away, and never gives it to an
// unverified address: whoever signed up first with it may not own it.
func EnsureAdmins(ctx context.Context, users Store, sessions auth.SessionStore, emails []string, now time.Time) error {
	for _, email := range emails {
		u, err := users.UserByEmail(ctx, email)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.HasRole(auth.RoleAdmin) || !u.EmailVerified {
			continue
		}
		roles := append(slices.Clone(u.Roles), auth.RoleAdmin)
		if err := users.SetRoles(ctx, u.ID, roles, now); err != nil {
			return err
		}
		if err := sessions.SetSessionRoles(ctx, u.ID, roles); err != nil {
			return err
		}
	}
	return nil
}

// ErrForbidden: the caller is authenticated but may not do this to that
// user.
var ErrForbidden = errors.New("forbidden")

// SetRoles replaces a user's roles; only an admin may, and the roles must
// be ones corkboard knows (every user keeps "user"). The change takes
// effect on the user's next request, whatever token they hold: roles are
// read from the store on every request. It fails with ErrForbidden,
// ErrNotFound or a *ValidationError.
func (s *Service) SetRoles(ctx context.Context, p auth.Principal, id string, roles []string) (User, error) {
	if !objectid.Valid(id) {
		return User{}, ErrNotFound
	}
	if err := auth.Authorize(p, auth.RoleAdmin); err != nil {
		return User{}, ErrForbidden
	}
	clean := []string{auth.RoleUser}
	for _, r := range roles {
		switch {
		case !auth.KnownRole(r):
			return User{}, &ValidationError{Fields: map[string]string{"roles": "must hold only user, moderator or admin"}}
		case !slices.Contains(clean, r):
			clean = append(clean, r)
		}
	}
	if err := s.store.SetRoles(ctx, id, clean, s.now().UTC()); err != nil {
		return User{}, err
	}
	if err := s.sessions.SetRoles(ctx, id, clean); err != nil {
		return User{}, err
	}
	return s.store.UserByID(ctx, id)
}

// ProfileInput is a change of profile; a nil field stays as it is.
type ProfileInput struct {
	Username *string
	FullName *string
	Color    *string
}

// UpdateProfile changes a user's username, full name or color: the user
// themself, or an admin. It fails with ErrForbidden, ErrNotFound, a
// *ValidationError or ErrUsernameTaken.
func (s *Service) UpdateProfile(ctx context.Context, p auth.Principal, id string, in ProfileInput) (User, error) {
	if err := MayEdit(p, id); err != nil {
		return User{}, err
	}
	u, err := s.User(ctx, id)
	if err != nil {
		return User{}, err
	}
	errs := make(map[string]string)
	if in.Username != nil {
		if msg := checkUsername(*in.Username); msg != "" {
			errs["username"] = msg
		}
		u.Username = *in.Username
	}
	if in.FullName != nil {
		if msg := checkText(*in.FullName, maxFullName); msg != "" {
			errs["fullName"] = msg
		}
		u.FullName = *in.FullName
	}
	if in.Color != nil {
		if msg := checkText(*in.Color, maxColor); msg != "" {
			errs["color"] = msg
		}
		u.Color = *in.Color
	}
	if err := invalid(errs); err != nil {
		return User{}, err
	}
	if err := s.store.SetProfile(ctx, id, u.Username, u.FullName, u.Color, s.now().UTC()); err != nil {
		return User{}, err
	}
	return s.store.UserByID(ctx, id)
}
