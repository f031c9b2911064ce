package auth_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/filestore"
	"corkboard/objectid"
)

// The session rules, as plain Go calls on a Service over a real file
// store: no HTTP. The HTTP tests check how these errors are answered.

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// roles is an account holding some roles.
type roles []string

func (r roles) AccountRoles() []string           { return r }
func (r roles) AccountCredentialVersion() uint64 { return 0 }

// accountMap is an AccountSource over a map, guarded for concurrent use.
type accountMap struct {
	mu sync.Mutex
	m  map[string]auth.Account
}

func (a *accountMap) Account(_ context.Context, id string) (auth.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if acct, ok := a.m[id]; ok {
		return acct, nil
	}
	return nil, auth.ErrNoAccount
}

type fixture struct {
	svc      *auth.Service
	store    *filestore.Store
	clock    *testClock
	accounts *accountMap
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := filestore.Open(t.TempDir(), filestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	accts := &accountMap{m: make(map[string]auth.Account)}
	svc := auth.NewService(auth.Config{
		AccessSecret:  []byte("rules-access-secret-0123456789abcdef"),
		RefreshSecret: []byte("rules-refresh-secret-0123456789abcdef"),
		AccessTTL:     15 * time.Minute,
		RefreshTTL:    7 * 24 * time.Hour,
		ReuseGrace:    10 * time.Second,
	}, st, accts, clk.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &fixture{svc: svc, store: st, clock: clk, accounts: accts}
}

// user adds an account and returns its id.
func (f *fixture) user(rs ...string) string {
	id := objectid.New(f.clock.Now())
	f.accounts.mu.Lock()
	f.accounts.m[id] = roles(rs)
	f.accounts.mu.Unlock()
	return id
}

func (f *fixture) start(t *testing.T, userID string) auth.Tokens {
	t.Helper()
	tok, err := f.svc.StartSession(context.Background(), auth.SessionRequest{
		UserID: userID, Roles: []string{auth.RoleUser}, Client: auth.Client{IP: "192.0.2.1", UserAgent: "test"},
	})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	return tok
}

func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

func TestRefreshRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.user(auth.RoleUser)
	first := f.start(t, alice)
	other := f.start(t, alice) // a second device

	_, err := f.svc.Refresh(ctx, "")
	wantErr(t, `Refresh("")`, err, auth.ErrRefreshMissing)
	_, err = f.svc.Refresh(ctx, "a.b.c")
	wantErr(t, "Refresh(garbage)", err, auth.ErrRefreshInvalid)
	_, err = f.svc.Refresh(ctx, first.AccessToken)
	wantErr(t, "Refresh(an access token)", err, auth.ErrRefreshInvalid)

	second, err := f.svc.Refresh(ctx, first.RefreshToken)
	if err != nil || second.RefreshToken == first.RefreshToken || second.Session.Generation != 2 {
		t.Fatalf("Refresh(first) = generation %d, %v; want a new token of generation 2", second.Session.Generation, err)
	}

	// Within the grace window the retired token gets the same successor,
	// not a fork.
	f.clock.Advance(5 * time.Second)
	again, err := f.svc.Refresh(ctx, first.RefreshToken)
	if err != nil || again.Session.Generation != 2 {
		t.Fatalf("Refresh(first) in the grace window = generation %d, %v; want generation 2", again.Session.Generation, err)
	}

	// After it, the retired token is reuse.
	f.clock.Advance(6 * time.Second)
	_, err = f.svc.Refresh(ctx, first.RefreshToken)
	wantErr(t, "Refresh(first) after the grace window", err, auth.ErrRefreshReused)
	_, err = f.svc.Refresh(ctx, second.RefreshToken)
	wantErr(t, "Refresh(second) after reuse", err, auth.ErrSessionRevoked)
	_, err = f.svc.Authenticate(ctx, second.AccessToken)
	wantErr(t, "Authenticate(second's access token) after reuse", err, auth.ErrSessionRevoked)
	// Only the stolen session ends: the other device carries on.
	if _, err := f.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Errorf("Refresh(other device) after reuse = %v, want success", err)
	}

	// A revoked session never gets a grace answer.
	bob := f.user(auth.RoleUser)
	b1 := f.start(t, bob)
	if _, err := f.svc.Refresh(ctx, b1.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, b1.RefreshToken); err != nil {
		t.Fatalf("Logout = %v", err)
	}
	_, err = f.svc.Refresh(ctx, b1.RefreshToken)
	wantErr(t, "Refresh(retired token of a logged-out session) within grace", err, auth.ErrSessionRevoked)

	// An expired session is invalid.
	carol := f.user(auth.RoleUser)
	c1 := f.start(t, carol)
	f.clock.Advance(7*24*time.Hour + time.Second)
	_, err = f.svc.Refresh(ctx, c1.RefreshToken)
	wantErr(t, "Refresh(expired)", err, auth.ErrRefreshInvalid)
}

func TestAuthenticateRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice := f.user(auth.RoleUser, auth.RoleModerator)
	tok := f.start(t, alice)

	p, err := f.svc.Authenticate(ctx, tok.AccessToken)
	if err != nil || p.UserID != alice || p.SessionID != tok.Session.ID {
		t.Fatalf("Authenticate = %+v, %v; want alice's session", p, err)
	}
	if err := auth.Authorize(p, auth.RoleModerator, auth.RoleAdmin); err != nil {
		t.Errorf("Authorize(moderator, mod or admin) = %v, want nil", err)
	}
	wantErr(t, "Authorize(moderator, admin)", auth.Authorize(p, auth.RoleAdmin), auth.ErrInsufficientRole)

	_, err = f.svc.Authenticate(ctx, "")
	wantErr(t, `Authenticate("")`, err, auth.ErrMissingToken)
	_, err = f.svc.Authenticate(ctx, tok.RefreshToken)
	wantErr(t, "Authenticate(a refresh token)", err, auth.ErrTokenInvalid)

	// Roles come from the account, not from the token.
	f.accounts.mu.Lock()
	f.accounts.m[alice] = roles{auth.RoleUser}
	f.accounts.mu.Unlock()
	p, err = f.svc.Authenticate(ctx, tok.AccessToken)
	if err != nil || auth.Authorize(p, auth.RoleModerator) == nil {
		t.Errorf("after a demotion Authenticate = %+v, %v; want a caller without the moderator role", p, err)
	}

	// A deleted account ends its sessions' access.
	f.accounts.mu.Lock()
	delete(f.accounts.m, alice)
	f.accounts.mu.Unlock()
	_, err = f.svc.Authenticate(ctx, tok.AccessToken)
	wantErr(t, "Authenticate after the account is gone", err, auth.ErrSessionRevoked)

	bob := f.user(auth.RoleUser)
	b := f.start(t, bob)
	f.clock.Advance(15*time.Minute + time.Second)
	_, err = f.svc.Authenticate(ctx, b.AccessToken)
	wantErr(t, "Authenticate(expired access token)", err, auth.ErrTokenExpired)
}

func TestSessionRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	alice, bob := f.user(auth.RoleUser), f.user(auth.RoleUser)
	a1, a2 := f.start(t, alice), f.start(t, alice)
	b1 := f.start(t, bob)

	list, err := f.svc.Sessions(ctx, auth.Principal{UserID: alice})
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions(alice) = %d sessions, %v; want 2", len(list), err)
	}

	// Nobody ends someone else's session, and an id that is not an id is
	// just not found.
	wantErr(t, "RevokeSession(alice, bob's session)", f.svc.RevokeSession(ctx, alice, b1.Session.ID), auth.ErrNoSuchSession)
	wantErr(t, "RevokeSession(alice, \"%00\")", f.svc.RevokeSession(ctx, alice, "%00"), auth.ErrNoSuchSession)
	if _, err := f.svc.Authenticate(ctx, b1.AccessToken); err != nil {
		t.Errorf("bob's session after alice tried to end it: %v", err)
	}

	if err := f.svc.RevokeSession(ctx, alice, a2.Session.ID); err != nil {
		t.Fatalf("RevokeSession(alice, her second session) = %v", err)
	}
	_, err = f.svc.Authenticate(ctx, a2.AccessToken)
	wantErr(t, "Authenticate(revoked session)", err, auth.ErrSessionRevoked)
	wantErr(t, "RevokeSession again", f.svc.RevokeSession(ctx, alice, a2.Session.ID), auth.ErrNoSuchSession)

	// Logging out with a token that is not one is no error.
	if err := f.svc.Logout(ctx, "garbage"); err != nil {
		t.Errorf("Logout(garbage) = %v, want nil", err)
	}

	if err := f.svc.LogoutAll(ctx, alice); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(ctx, a1.AccessToken)
	wantErr(t, "Authenticate after LogoutAll", err, auth.ErrSessionRevoked)
	if _, err := f.svc.Authenticate(ctx, b1.AccessToken); err != nil {
		t.Errorf("bob's session after alice's LogoutAll: %v", err)
	}
}
