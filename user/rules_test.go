package user_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/filestore"
	"corkboard/user"
)

// The account rules, as plain Go calls on a Service over a real file
// store: no HTTP. The HTTP tests check how these errors are answered.

type fixture struct {
	users    *user.Service
	sessions *auth.Service
	store    *filestore.Store
}

func newFixture(t *testing.T, cfg user.Config) *fixture {
	t.Helper()
	st, err := filestore.Open(t.TempDir(), filestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions := auth.NewService(auth.Config{
		AccessSecret:  []byte("rules-access-secret-0123456789abcdef"),
		RefreshSecret: []byte("rules-refresh-secret-0123456789abcdef"),
		AccessTTL:     15 * time.Minute,
		RefreshTTL:    time.Hour,
	}, st, user.Accounts(st), now, log)
	passwords, err := auth.NewPasswords(4, 2, auth.MaxPasswordWait)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := auth.NewOutbox(t.TempDir(), "corkboard <no-reply@example.com>", log)
	if err != nil {
		t.Fatal(err)
	}
	mail := auth.NewMailQueue(outbox, log)
	t.Cleanup(func() { mail.Close(context.Background()) })
	cfg.ResetURL, cfg.VerifyURL = "http://localhost:8080/reset-password", "http://localhost:8080/verify-email"
	cfg.ResetTTL, cfg.VerifyTTL = 15*time.Minute, 24*time.Hour
	deps := user.Deps{Store: st, Tokens: st, Sessions: sessions, Passwords: passwords, Mail: mail}
	return &fixture{users: user.NewService(cfg, deps, now, log), sessions: sessions, store: st}
}

func (f *fixture) signup(t *testing.T, name, email, password string) (user.User, auth.Tokens) {
	t.Helper()
	u, tok, err := f.users.Signup(context.Background(), user.SignupInput{Username: name, Email: email, Password: password})
	if err != nil {
		t.Fatalf("Signup(%s) = %v", name, err)
	}
	return u, tok
}

func TestSignupRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{AdminEmails: []string{"root@example.com"}})

	_, _, err := f.users.Signup(ctx, user.SignupInput{Username: "x", Email: "not an email", Password: "short", RolesRequested: true})
	var invalid *user.ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("Signup(bad fields) = %v, want a *ValidationError", err)
	}
	for _, field := range []string{"username", "email", "password", "roles"} {
		if invalid.Fields[field] == "" {
			t.Errorf("Signup(bad fields) names %v, not %q", invalid.Fields, field)
		}
	}

	u, tok := f.signup(t, "alice", " Alice@Example.COM ", "password1")
	if u.Email != "alice@example.com" || !u.HasRole(auth.RoleUser) || u.HasRole(auth.RoleAdmin) {
		t.Errorf("Signup(alice) = %+v, want email normalized and only the user role", u)
	}
	if _, err := f.sessions.Authenticate(ctx, tok.AccessToken); err != nil {
		t.Errorf("the sign-up's access token does not authenticate: %v", err)
	}
	_, _, err = f.users.Signup(ctx, user.SignupInput{Username: "alice2", Email: "ALICE@example.com", Password: "password1"})
	if !errors.Is(err, user.ErrEmailTaken) {
		t.Errorf("Signup(same email) = %v, want ErrEmailTaken", err)
	}
	_, _, err = f.users.Signup(ctx, user.SignupInput{Username: "ALICE", Email: "other@example.com", Password: "password1"})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Errorf("Signup(same username) = %v, want ErrUsernameTaken", err)
	}
	root, _ := f.signup(t, "root", "root@example.com", "password1")
	if root.HasRole(auth.RoleAdmin) {
		t.Errorf("Signup(an ADMIN_EMAILS address) roles = %v, want no admin before the address is verified", root.Roles)
	}
	// At start-up, only a verified listed address gets the role.
	if err := user.EnsureAdmins(ctx, f.store, f.store, []string{"root@example.com"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.UserByID(ctx, root.ID); u.HasRole(auth.RoleAdmin) {
		t.Error("EnsureAdmins gave the admin role to an unverified address")
	}
	if err := f.store.SetEmailVerified(ctx, root.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := user.EnsureAdmins(ctx, f.store, f.store, []string{"root@example.com"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.store.UserByID(ctx, root.ID); !u.HasRole(auth.RoleAdmin) {
		t.Error("EnsureAdmins did not give the admin role to a verified listed address")
	}
}

func TestLoginRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{RateLimits: true})
	f.signup(t, "alice", "alice@example.com", "password1")

	for _, in := range []user.LoginInput{
		{Password: "password1"},
		{Email: "alice@example.com", Username: "alice", Password: "password1"},
		{Email: "alice@example.com"},
	} {
		var invalid *user.ValidationError
		if _, err := f.users.Login(ctx, in); !errors.As(err, &invalid) {
			t.Errorf("Login(%+v) = %v, want a *ValidationError", in, err)
		}
	}
	if _, err := f.users.Login(ctx, user.LoginInput{Username: "ALICE", Password: "password1"}); err != nil {
		t.Errorf("Login(username in another case) = %v, want success", err)
	}
	for _, in := range []user.LoginInput{
		{Email: "alice@example.com", Password: "wrong-password"},
		{Email: "nobody@example.com", Password: "password1"},
	} {
		if _, err := f.users.Login(ctx, in); !errors.Is(err, user.ErrBadCredentials) {
			t.Errorf("Login(%+v) = %v, want ErrBadCredentials", in, err)
		}
	}

	// Ten failures per name tried, then the limit, even for the right
	// password.
	for range 9 {
		f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "wrong-password"})
	}
	_, err := f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "password1"})
	var limited *auth.RateLimitError
	if !errors.As(err, &limited) || limited.RetryAfter <= 0 {
		t.Errorf("Login after ten failures = %v, want a *RateLimitError with a wait", err)
	}
}

func TestChangePasswordRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	_, t1 := f.signup(t, "alice", "alice@example.com", "password1")
	l2, err := f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	t2 := l2.Tokens
	p, err := f.sessions.Authenticate(ctx, t1.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	var invalid *user.ValidationError
	if _, err := f.users.ChangePassword(ctx, p, user.ChangePasswordInput{Current: "", New: "short"}); !errors.As(err, &invalid) || len(invalid.Fields) != 2 {
		t.Errorf("ChangePassword(empty, short) = %v, want a *ValidationError naming both fields", err)
	}
	if _, err := f.users.ChangePassword(ctx, p, user.ChangePasswordInput{Current: "wrong-password", New: "password2"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("ChangePassword(wrong current) = %v, want ErrBadCredentials", err)
	}
	changed, err := f.users.ChangePassword(ctx, p, user.ChangePasswordInput{Current: "password1", New: "password2"})
	if err != nil {
		t.Fatalf("ChangePassword = %v", err)
	}
	fresh := changed.Tokens
	if f.sessions.ValidDevice(l2.Device, l2.User.ID, 1) || !f.sessions.ValidDevice(changed.Device, l2.User.ID, 1) {
		t.Error("after a change of password, the old device token still passes, or the new one does not")
	}
	// Every older session is dead, the calling one included; the fresh
	// one works.
	for name, tok := range map[string]auth.Tokens{"the other session": t2, "the calling session": t1} {
		if _, err := f.sessions.Authenticate(ctx, tok.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("%s after a change of password: %v, want ErrSessionRevoked", name, err)
		}
		if _, err := f.sessions.Refresh(ctx, tok.RefreshToken); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("refresh of %s after a change of password: %v, want ErrSessionRevoked", name, err)
		}
	}
	if _, err := f.sessions.Authenticate(ctx, fresh.AccessToken); err != nil {
		t.Errorf("the fresh session after a change of password: %v, want it to work", err)
	}
	// The same change again, from the principal read before it: the
	// version it knew is gone.
	if _, err := f.users.ChangePassword(ctx, p, user.ChangePasswordInput{Current: "password1", New: "password3"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("a second change from the old password = %v, want ErrBadCredentials", err)
	}
	if _, err := f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "password1"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("Login(old password) = %v, want ErrBadCredentials", err)
	}
	if _, err := f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "password2"}); err != nil {
		t.Errorf("Login(new password) = %v", err)
	}
}

// TestLoginDuringPasswordChange: a session made under the credential
// version read before a change of password is dead at once, for access
// and refresh alike, even though nothing revoked it.
func TestLoginDuringPasswordChange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	alice, _ := f.signup(t, "alice", "alice@example.com", "password1")
	// The login checked the password at version 0 ...
	stale, err := f.sessions.StartSession(ctx, auth.SessionRequest{UserID: alice.ID, Roles: alice.Roles, CredentialVersion: 0})
	if err != nil {
		t.Fatal(err)
	}
	// ... while the password changed to version 1.
	if err := f.store.SetPassword(ctx, alice.ID, "$2a$04$"+strings.Repeat("x", 53), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.Authenticate(ctx, stale.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("Authenticate(stale session) = %v, want ErrSessionRevoked", err)
	}
	if _, err := f.sessions.Refresh(ctx, stale.RefreshToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("Refresh(stale session) = %v, want ErrSessionRevoked", err)
	}
}

func TestUserLookup(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	alice, _ := f.signup(t, "alice", "alice@example.com", "password1")
	if got, err := f.users.User(ctx, alice.ID); err != nil || got.ID != alice.ID {
		t.Errorf("User(alice) = %+v, %v", got, err)
	}
	for _, id := range []string{"nope", "%00", "0123456789abcdef01234567"} {
		if _, err := f.users.User(ctx, id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("User(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

// TestStrangerCannotLockOutOwner: failures count per name and address, so a
// stranger's wrong passwords lock out only the stranger's address; a spread
// attack from many addresses meets a ceiling per name, past which only a
// browser holding the account's device token may still try.
func TestStrangerCannotLockOutOwner(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{RateLimits: true})
	alice, _ := f.signup(t, "alice", "alice@example.com", "password1")
	f.signup(t, "bob", "bob@example.com", "password1")
	from := func(ip, password string, devices ...string) (user.Login, error) {
		return f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: password, Devices: devices,
			Client: auth.Client{IP: ip}})
	}
	limited := func(err error) bool { var l *auth.RateLimitError; return errors.As(err, &l) }

	// The owner's laptop logs in once and keeps its device token.
	laptop, err := from("192.0.2.1", "password1")
	if err != nil || !f.sessions.ValidDevice(laptop.Device, alice.ID, 0) {
		t.Fatalf("first login = %v, device %q; want a device token of alice", err, laptop.Device)
	}

	// A stranger at one address: ten wrong passwords, then refused...
	for i := range 10 {
		if _, err := from("198.51.100.7", "wrong-password"); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("stranger's guess %d = %v, want ErrBadCredentials", i+1, err)
		}
	}
	if _, err := from("198.51.100.7", "password1"); !limited(err) {
		t.Errorf("stranger's 11th try = %v, want rate limited", err)
	}
	// ...while the owner, elsewhere and without any device token, logs in.
	if _, err := from("203.0.113.5", "password1"); err != nil {
		t.Errorf("owner's login from another address during the stranger's lockout = %v, want success", err)
	}

	// A spread attack: 9 guesses from each of many addresses, until the
	// ceiling of 100 per name is reached.
	for i := 0; ; i++ {
		_, err := from(fmt.Sprintf("10.0.%d.%d", i/9/250, i/9%250), "wrong-password")
		if limited(err) {
			if i < 90 {
				t.Fatalf("spread attack limited after %d guesses, want about 100", i)
			}
			break
		}
		if i > 200 {
			t.Fatal("200 spread guesses and no limit")
		}
	}
	if _, err := from("203.0.113.99", "password1"); !limited(err) {
		t.Errorf("login past the per-name ceiling without a device token = %v, want rate limited", err)
	}
	bobs, _ := f.users.Login(ctx, user.LoginInput{Email: "bob@example.com", Password: "password1", Client: auth.Client{IP: "192.0.2.1"}})
	if _, err := from("203.0.113.99", "password1", bobs.Device, "garbage"); !limited(err) {
		t.Errorf("login past the ceiling with another account's device token = %v, want rate limited", err)
	}
	for i := range 3 {
		if _, err := from("203.0.113.100", "password1", "garbage", laptop.Device); err != nil {
			t.Errorf("login %d past the ceiling with alice's device token = %v, want success", i+1, err)
		}
		// The owner's logins were never counted against the name, so
		// they give the spread attack no guess back.
		if _, err := from(fmt.Sprintf("10.9.0.%d", i), "wrong-password"); !limited(err) {
			t.Errorf("spread guess after the owner's login %d = %v, want rate limited", i+1, err)
		}
	}
}

// TestLoginOverLongName: a name no account can have is refused without
// becoming a limiter key, so megabyte names cannot fill memory.
func TestLoginOverLongName(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{RateLimits: true})
	for _, in := range []user.LoginInput{
		{Email: strings.Repeat("a", 1<<20) + "@example.com", Password: "password1"},
		{Username: strings.Repeat("b", 33), Password: "password1"},
	} {
		for range 12 { // past the failure limit, were it counted
			if _, err := f.users.Login(ctx, in); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("Login(over-long name) = %v, want ErrBadCredentials", err)
			}
		}
	}
}

// TestVerifyListedAddressRefused: a verification link mailed before an
// address was listed in ADMIN_EMAILS does not verify it once listed (the
// next start would make whoever signed up admin); the account gets the
// admin confirmation mail instead.
func TestVerifyListedAddressRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{AdminEmails: []string{"boss@example.com"}})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	boss := user.User{ID: "6b03aa00aa00aa00aa00aa01", Username: "boss", Email: "boss@example.com", Roles: []string{"user"},
		PasswordHash: "$2a$04$" + strings.Repeat("b", 53), CreatedAt: now, UpdatedAt: now}
	if err := f.store.CreateUser(ctx, boss); err != nil {
		t.Fatal(err)
	}
	token, rec := auth.NewOneTimeToken(boss.ID, auth.PurposeVerify, now, time.Hour)
	if err := f.store.PutToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := f.users.VerifyEmail(ctx, token); !errors.Is(err, user.ErrInvalidVerificationToken) {
		t.Errorf("VerifyEmail of a listed address = %v, want ErrInvalidVerificationToken", err)
	}
	if u, _ := f.store.UserByID(ctx, boss.ID); u.EmailVerified || u.HasRole(auth.RoleAdmin) {
		t.Errorf("after a refused click: verified %v, roles %v; want neither", u.EmailVerified, u.Roles)
	}
}
