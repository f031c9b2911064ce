package user

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/web"
)

// Config is what the account routes need from the configuration.
type Config struct {
	// AdminEmails (normalized) hold the admin role from sign-up on.
	AdminEmails []string
	TrustProxy  bool
	// RateLimits turns the sign-up and login limits on (API.md §3).
	RateLimits bool
}

// Service serves the account routes.
type Service struct {
	cfg       Config
	store     Store
	auth      *auth.Service
	passwords *auth.Passwords
	now       func() time.Time
	log       *slog.Logger

	signupPerIP   *auth.Limiter // 20 sign-ups per client IP per hour
	loginPerIP    *auth.Limiter // 30 login requests per client IP per minute
	loginFailures *auth.Limiter // 10 failed logins per name tried per 15 minutes
}

// NewService returns the account routes' Service.
func NewService(cfg Config, store Store, authSvc *auth.Service, passwords *auth.Passwords, now func() time.Time, log *slog.Logger) *Service {
	s := &Service{cfg: cfg, store: store, auth: authSvc, passwords: passwords, now: now, log: log}
	if cfg.RateLimits {
		s.signupPerIP = auth.NewLimiter(20, time.Hour)
		s.loginPerIP = auth.NewLimiter(30, time.Minute)
		s.loginFailures = auth.NewLimiter(10, 15*time.Minute)
	}
	return s
}

// Accounts adapts a Store to auth.AccountSource, so the authentication
// middleware can read a user's roles without auth importing this package.
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

// rateLimited is the 429 problem for a limit that resets after d.
func rateLimited(d time.Duration) *web.Problem {
	return &web.Problem{
		Status:     http.StatusTooManyRequests,
		Code:       "rate_limited",
		Detail:     "Too many attempts; try again later.",
		RetryAfter: auth.RetryAfterSeconds(d),
	}
}

// allow records an event with limiter l (nil when limits are off).
func allow(l *auth.Limiter, key string, now time.Time) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.Allow(key, now); !ok {
		return rateLimited(wait)
	}
	return nil
}

var (
	errEmailTaken    = web.NewProblem(http.StatusConflict, "email_taken", "An account with this email already exists.")
	errUsernameTaken = web.NewProblem(http.StatusConflict, "username_taken", "This username is taken.")
	errBadLogin      = web.Unauthorized("invalid_credentials", "The login or password is wrong.", "")
	errNotFound      = web.NewProblem(http.StatusNotFound, "not_found", "There is no such user.")
)

// storeProblem maps the store's errors to problems; others pass through.
func storeProblem(err error) error {
	switch {
	case errors.Is(err, ErrEmailTaken):
		return errEmailTaken
	case errors.Is(err, ErrUsernameTaken):
		return errUsernameTaken
	case errors.Is(err, ErrNotFound):
		return errNotFound
	}
	return err
}

// signupRequest is the body of POST /api/auth/signup.
type signupRequest struct {
	Username           string `json:"username"`
	Email              string `json:"email"`
	Password           string `json:"password"`
	FullName           string `json:"fullName"`
	Color              string `json:"color"`
	ReturnRefreshToken bool   `json:"returnRefreshToken"`
	// Roles is declared only to refuse it by name: roles are never
	// self-assigned.
	Roles json.RawMessage `json:"roles"`
}

// validate normalizes the request and returns every bad field.
func (req *signupRequest) validate() map[string]string {
	errs := make(map[string]string)
	req.Email = NormalizeEmail(req.Email)
	if msg := checkEmail(req.Email); msg != "" {
		errs["email"] = msg
	}
	if msg := checkUsername(req.Username); msg != "" {
		errs["username"] = msg
	}
	if msg := checkPassword(req.Password); msg != "" {
		errs["password"] = msg
	}
	if msg := checkText(req.FullName, maxFullName); msg != "" {
		errs["fullName"] = msg
	}
	if msg := checkText(req.Color, maxColor); msg != "" {
		errs["color"] = msg
	}
	if req.Roles != nil {
		errs["roles"] = "cannot be chosen at sign-up"
	}
	return errs
}

// readSignup reads the sign-up form. It is the one place that knows the
// body's encoding, so a multipart form (with a picture) slots in here.
func readSignup(w http.ResponseWriter, r *http.Request) (signupRequest, error) {
	var req signupRequest
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		return req, web.NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Sign-up takes a JSON body; multipart sign-up with a picture is not available yet.")
	}
	err := web.DecodeJSON(w, r, &req)
	return req, err
}

// authResponse is the body of a successful sign-up or login.
type authResponse struct {
	User View `json:"user"`
	auth.TokenBody
}

// HandleSignup serves POST /api/auth/signup.
func (s *Service) HandleSignup() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.signup(w, r); err != nil {
			web.Fail(w, r, s.log, err)
		}
	})
}

func (s *Service) signup(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := s.now().UTC()
	if err := allow(s.signupPerIP, web.ClientIP(r, s.cfg.TrustProxy), now); err != nil {
		return err
	}
	req, err := readSignup(w, r)
	if err != nil {
		return err
	}
	if errs := req.validate(); len(errs) > 0 {
		return web.Invalid(errs)
	}
	// Cheap checks first, so an obvious duplicate costs no bcrypt. The
	// store's unique indexes decide in the end.
	if _, err := s.store.UserByEmail(ctx, req.Email); !errors.Is(err, ErrNotFound) {
		return storeProblem(foundMeans(err, ErrEmailTaken))
	}
	if _, err := s.store.UserByUsername(ctx, req.Username); !errors.Is(err, ErrNotFound) {
		return storeProblem(foundMeans(err, ErrUsernameTaken))
	}
	hash, err := s.passwords.Hash(ctx, req.Password)
	if err != nil {
		return err
	}
	roles := []string{auth.RoleUser}
	if slices.Contains(s.cfg.AdminEmails, req.Email) {
		roles = append(roles, auth.RoleAdmin)
	}
	u := User{
		ID:           objectid.New(now),
		Username:     req.Username,
		Email:        req.Email,
		FullName:     req.FullName,
		Color:        req.Color,
		Roles:        roles,
		PasswordHash: hash,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return storeProblem(err)
	}
	t, err := s.auth.StartSession(ctx, r, u.ID, u.Roles)
	if err != nil {
		return err
	}
	s.auth.SetRefreshCookie(w, t)
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusCreated, authResponse{User: ViewFor(u, u.ID, u.Roles), TokenBody: t.Body(req.ReturnRefreshToken)})
	return nil
}

// foundMeans returns err when it is a real failure, else taken: a lookup that
// found someone means the name is taken.
func foundMeans(err, taken error) error {
	if err != nil {
		return err
	}
	return taken
}

// loginRequest is the body of POST /api/auth/login: an email or a
// username, and the password.
type loginRequest struct {
	Email              string `json:"email"`
	Username           string `json:"username"`
	Password           string `json:"password"`
	ReturnRefreshToken bool   `json:"returnRefreshToken"`
}

// HandleLogin serves POST /api/auth/login.
func (s *Service) HandleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.login(w, r); err != nil {
			web.Fail(w, r, s.log, err)
		}
	})
}

func (s *Service) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := s.now().UTC()
	if err := allow(s.loginPerIP, web.ClientIP(r, s.cfg.TrustProxy), now); err != nil {
		return err
	}
	var req loginRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	errs := make(map[string]string)
	switch {
	case req.Email == "" && req.Username == "":
		errs["email"] = "an email or a username is required"
	case req.Email != "" && req.Username != "":
		errs["username"] = "send an email or a username, not both"
	}
	if req.Password == "" {
		errs["password"] = "is required"
	}
	if len(errs) > 0 {
		return web.Invalid(errs)
	}

	var u User
	var err error
	if req.Email != "" {
		u, err = s.store.UserByEmail(ctx, NormalizeEmail(req.Email))
	} else {
		u, err = s.store.UserByUsername(ctx, req.Username)
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// Failures count per name tried (the email or the username, as
	// normalized), never per account: a limit shared by an account's email
	// and username would tell whoever hits it that the two belong together.
	key := "email:" + NormalizeEmail(req.Email)
	if req.Username != "" {
		key = "username:" + strings.ToLower(req.Username)
	}
	// An unknown user is checked against a dummy hash (u.PasswordHash is
	// ""), so both failures take the same time and give the same answer.
	if err := s.verifyPassword(ctx, key, u.PasswordHash, req.Password, now); err != nil {
		return err
	}
	t, err := s.auth.StartSession(ctx, r, u.ID, u.Roles)
	if err != nil {
		return err
	}
	s.auth.SetRefreshCookie(w, t)
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, authResponse{User: ViewFor(u, u.ID, u.Roles), TokenBody: t.Body(req.ReturnRefreshToken)})
	return nil
}

// verifyPassword checks password against hash under the failed-login
// limit of key. The attempt is counted before bcrypt runs, atomically with
// the check, so a burst of concurrent guesses cannot slip past the limit
// while earlier ones are still hashing; a right password clears the count.
func (s *Service) verifyPassword(ctx context.Context, key, hash, password string, now time.Time) error {
	if err := allow(s.loginFailures, key, now); err != nil {
		return err
	}
	ok, err := s.passwords.Check(ctx, hash, password)
	switch {
	case err != nil:
		return err
	case !ok:
		return errBadLogin
	}
	if s.loginFailures != nil {
		s.loginFailures.Reset(key)
	}
	return nil
}

// HandleMe serves GET /api/users/me. The authentication middleware already
// loaded the user, so this costs no lookup of its own.
func (s *Service) HandleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		u, ok := p.Account.(User)
		if !ok {
			web.Fail(w, r, s.log, errors.New("principal account is not a user.User"))
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]View{"user": ViewFor(u, u.ID, u.Roles)})
	})
}

// HandleGet serves GET /api/users/{id}.
func (s *Service) HandleGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		id := r.PathValue("id")
		if !objectid.Valid(id) {
			web.WriteProblem(w, errNotFound)
			return
		}
		u, err := s.store.UserByID(r.Context(), id)
		if err != nil {
			web.Fail(w, r, s.log, storeProblem(err))
			return
		}
		web.WriteJSON(w, http.StatusOK, map[string]View{"user": ViewFor(u, p.UserID, p.Roles)})
	})
}

// changePasswordRequest is the body of POST /api/auth/change-password.
type changePasswordRequest struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// HandleChangePassword serves POST /api/auth/change-password: with the
// current password, set a new one and end every other session, so a thief
// holding an old refresh token is out.
func (s *Service) HandleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.changePassword(w, r); err != nil {
			web.Fail(w, r, s.log, err)
		}
	})
}

func (s *Service) changePassword(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p, _ := auth.PrincipalFrom(ctx)
	var req changePasswordRequest
	if err := web.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	errs := make(map[string]string)
	if req.CurrentPassword == "" {
		errs["currentPassword"] = "is required"
	}
	if msg := checkPassword(req.NewPassword); msg != "" {
		errs["newPassword"] = msg
	}
	if len(errs) > 0 {
		return web.Invalid(errs)
	}
	u, ok := p.Account.(User)
	if !ok {
		return errors.New("principal account is not a user.User")
	}
	// A stolen access token must not become a way to guess the password:
	// failures count against the same per-account limit as logins.
	now := s.now().UTC()
	if err := s.verifyPassword(ctx, "account:"+u.ID, u.PasswordHash, req.CurrentPassword, now); err != nil {
		return err
	}
	hash, err := s.passwords.Hash(ctx, req.NewPassword)
	if err != nil {
		return err
	}
	if err := s.store.SetPassword(ctx, u.ID, hash, now); err != nil {
		return storeProblem(err)
	}
	if _, err := s.auth.RevokeOtherSessions(ctx, u.ID, p.SessionID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// EnsureAdmins gives the admin role to every existing user whose email is
// in emails (ADMIN_EMAILS), at start-up. Users who sign up later get it at
// sign-up. It never takes the role away.
func EnsureAdmins(ctx context.Context, users Store, sessions auth.SessionStore, emails []string, now time.Time) error {
	for _, email := range emails {
		u, err := users.UserByEmail(ctx, email)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.HasRole(auth.RoleAdmin) {
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
