package user_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// The rules of deleting an account, as plain Go calls on a real file store.

// deleter is a Service with the deletion's dependencies (the file store for
// pictures, the forgetters) and the rate limits on, over a fixture's store
// and sessions; the fixture's own Service signs users up.
func deleter(t *testing.T, f *fixture, forgetters ...user.Forgetter) *user.Service {
	t.Helper()
	passwords, err := auth.NewPasswords(4, 2, auth.MaxPasswordWait)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }
	deps := user.Deps{Store: f.store, Tokens: f.store, Sessions: f.sessions, Passwords: passwords,
		Mail: noMail{}, Files: f.store, Forgetters: forgetters}
	return user.NewService(user.Config{RateLimits: true}, deps, now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// noMail takes mail and drops it: deleting an account sends none.
type noMail struct{}

func (noMail) Enqueue(auth.Message) bool { return true }

// principal authenticates tok as the middleware would.
func (f *fixture) principal(t *testing.T, tok auth.Tokens) auth.Principal {
	t.Helper()
	p, err := f.sessions.Authenticate(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("Authenticate = %v", err)
	}
	return p
}

// admin signs up a user and makes them admin.
func (f *fixture) admin(t *testing.T, name string) (user.User, auth.Tokens) {
	t.Helper()
	u, tok := f.signup(t, name, name+"@example.com", "password1")
	u.Roles = []string{auth.RoleUser, auth.RoleAdmin}
	if err := f.store.SetRoles(context.Background(), u.ID, u.Roles, time.Now()); err != nil {
		t.Fatal(err)
	}
	return u, tok
}

// forgetter records the users it is told to forget and checks, each time,
// that it runs where the cascade promises: after the user was marked for
// deletion (gone to lookups, its record still there) and its sessions
// revoked, before the user record goes. It fails while fail is set.
type forgetter struct {
	t      *testing.T
	f      *fixture
	called []string
	fail   error
}

func (g *forgetter) ForgetUser(ctx context.Context, id string) error {
	g.called = append(g.called, id)
	if _, err := g.f.store.UserByID(ctx, id); !errors.Is(err, user.ErrNotFound) {
		g.t.Errorf("ForgetUser(%s): UserByID = %v, want ErrNotFound: the user must be marked for deletion first", id, err)
	}
	if !beingDeleted(ctx, g.t, g.f.store, id) {
		g.t.Errorf("ForgetUser(%s): the user record is not among UsersBeingDeleted; forgetters must run after the mark and before the record goes", id)
	}
	if live, err := g.f.store.ListSessions(ctx, id, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)); err != nil || len(live) > 0 {
		g.t.Errorf("ForgetUser(%s): %d live sessions (%v); the sessions must be revoked before forgetters run", id, len(live), err)
	}
	return g.fail
}

// beingDeleted reports whether id is among the store's UsersBeingDeleted.
func beingDeleted(ctx context.Context, t *testing.T, s user.Store, id string) bool {
	t.Helper()
	marked, err := s.UsersBeingDeleted(ctx)
	if err != nil {
		t.Fatalf("UsersBeingDeleted = %v", err)
	}
	for _, u := range marked {
		if u.ID == id {
			return true
		}
	}
	return false
}

// TestDeleteUserRules: who may delete whom, with what, and what is gone
// after.
func TestDeleteUserRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	g := &forgetter{t: t, f: f}
	svc := deleter(t, f, g)
	alice, aliceTok := f.signup(t, "alice", "alice@example.com", "password1")
	other, err := f.users.Login(ctx, user.LoginInput{Username: "alice", Password: "password1"})
	if err != nil {
		t.Fatal(err)
	}
	bob, bobTok := f.signup(t, "bob", "bob@example.com", "password1")
	root, rootTok := f.admin(t, "root")
	pAlice, pRoot := f.principal(t, aliceTok), f.principal(t, rootTok)
	_, resetRec := auth.NewOneTimeToken(alice.ID, auth.PurposeReset, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), time.Hour)
	if err := f.store.PutToken(ctx, resetRec); err != nil {
		t.Fatal(err)
	}

	refused := []struct {
		name string
		p    auth.Principal
		id   string
		in   user.DeleteInput
		want error
	}{
		{"someone else's account, with their password", pAlice, bob.ID, user.DeleteInput{CurrentPassword: "password1"}, user.ErrForbidden},
		{"a missing id, not an admin", pAlice, objectid.New(time.Now()), user.DeleteInput{}, user.ErrForbidden},
		{"own account without a password", pAlice, alice.ID, user.DeleteInput{}, user.ErrBadCredentials},
		{"own account with a wrong password", pAlice, alice.ID, user.DeleteInput{CurrentPassword: "password2"}, user.ErrBadCredentials},
		{"an admin's own account without a password", pRoot, root.ID, user.DeleteInput{}, user.ErrBadCredentials},
		{"a missing id, as an admin", pRoot, objectid.New(time.Now()), user.DeleteInput{}, user.ErrNotFound},
		{"a malformed id, as an admin", pRoot, "nope", user.DeleteInput{}, user.ErrNotFound},
		{"an id in upper case, as an admin", pRoot, strings.ToUpper(bob.ID), user.DeleteInput{}, user.ErrNotFound},
	}
	for _, tc := range refused {
		if err := svc.DeleteUser(ctx, tc.p, tc.id, tc.in); !errors.Is(err, tc.want) {
			t.Errorf("DeleteUser(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	// Nothing changed: everyone's sessions still work.
	for name, tok := range map[string]auth.Tokens{"alice": aliceTok, "alice's other session": other.Tokens, "bob": bobTok, "root": rootTok} {
		if _, err := f.sessions.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Errorf("after refused deletions, %s's access token: %v, want it to work", name, err)
		}
	}
	if len(g.called) != 0 {
		t.Errorf("refused deletions called the forgetter for %v", g.called)
	}

	if err := svc.DeleteUser(ctx, pAlice, alice.ID, user.DeleteInput{CurrentPassword: "password1"}); err != nil {
		t.Fatalf("DeleteUser(own account, right password) = %v, want nil", err)
	}
	if fmt.Sprint(g.called) != fmt.Sprint([]string{alice.ID}) {
		t.Errorf("forgetter called for %v, want alice %s once", g.called, alice.ID)
	}
	for name, tok := range map[string]auth.Tokens{"the calling session": aliceTok, "the other session": other.Tokens} {
		if _, err := f.sessions.Authenticate(ctx, tok.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("access token of %s of the deleted account: %v, want ErrSessionRevoked", name, err)
		}
		if _, err := f.sessions.Refresh(ctx, tok.RefreshToken); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("refresh token of %s of the deleted account: %v, want ErrSessionRevoked", name, err)
		}
	}
	if _, err := f.users.Login(ctx, user.LoginInput{Email: "alice@example.com", Password: "password1"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("Login(deleted account) = %v, want ErrBadCredentials", err)
	}
	if _, err := f.store.TakeToken(ctx, resetRec.ID, auth.PurposeReset, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("the deleted account's reset token: %v, want ErrTokenNotFound", err)
	}
	if err := svc.DeleteUser(ctx, pRoot, alice.ID, user.DeleteInput{}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("an admin deleting the deleted account = %v, want ErrNotFound", err)
	}
	again, _ := f.signup(t, "alice", "alice@example.com", "password1")
	if again.ID == alice.ID {
		t.Errorf("a new sign-up with the deleted account's email got its id %s", again.ID)
	}
	if _, err := f.sessions.Refresh(ctx, other.Tokens.RefreshToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("an old refresh token after the email signed up again: %v, want ErrSessionRevoked", err)
	}
	if f.sessions.ValidDevice(other.Device, again.ID, 0) {
		t.Error("the deleted account's device token passes for the new account with its email")
	}

	// An admin deletes someone else, without a password.
	if err := svc.DeleteUser(ctx, pRoot, bob.ID, user.DeleteInput{}); err != nil {
		t.Fatalf("DeleteUser(bob, by an admin) = %v, want nil", err)
	}
	if _, err := f.sessions.Authenticate(ctx, bobTok.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("bob's access token after an admin deleted him: %v, want ErrSessionRevoked", err)
	}
	// An admin deleting themself is self: with the password.
	if err := svc.DeleteUser(ctx, pRoot, root.ID, user.DeleteInput{CurrentPassword: "password1"}); err != nil {
		t.Errorf("DeleteUser(an admin's own account, right password) = %v, want nil", err)
	}
}

// TestDeleteUserPicture: the picture's bytes go with the account; an
// account whose picture is missing already is deleted all the same.
func TestDeleteUserPicture(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	svc := deleter(t, f)
	_, rootTok := f.admin(t, "root")
	pRoot := f.principal(t, rootTok)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i, stored := range []bool{true, false} {
		carol := user.User{
			ID: objectid.New(now), Username: fmt.Sprintf("carol%d", i), Email: fmt.Sprintf("carol%d@example.com", i),
			Roles: []string{auth.RoleUser}, PictureID: objectid.New(now),
			PasswordHash: "$2a$04$" + strings.Repeat("x", 53), CreatedAt: now, UpdatedAt: now,
		}
		if err := f.store.CreateUser(ctx, carol); err != nil {
			t.Fatal(err)
		}
		if stored {
			if _, err := f.store.PutFile(ctx, user.PictureBucket, carol.PictureID, bytes.NewReader([]byte("picture bytes"))); err != nil {
				t.Fatal(err)
			}
		}
		if err := svc.DeleteUser(ctx, pRoot, carol.ID, user.DeleteInput{}); err != nil {
			t.Fatalf("DeleteUser(a user whose picture is stored: %v) = %v, want nil", stored, err)
		}
		if _, err := f.store.OpenFile(ctx, user.PictureBucket, carol.PictureID); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenFile(the deleted user's picture) = %v, want fs.ErrNotExist", err)
		}
		if _, err := f.store.UserByID(ctx, carol.ID); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("UserByID(deleted) = %v, want ErrNotFound", err)
		}
	}
}

// TestDeleteUserRetry: a forgetter that fails stops the cascade after its
// mark: the account is gone to every lookup (no login, no profile), its
// email still taken, and FinishDeletions (the start-up and periodic sweep)
// finishes the job, after which the email is free.
func TestDeleteUserRetry(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	boom := errors.New("boards unavailable")
	g := &forgetter{t: t, f: f, fail: boom}
	svc := deleter(t, f, g)
	alice, tok := f.signup(t, "alice", "alice@example.com", "password1")
	err := svc.DeleteUser(ctx, f.principal(t, tok), alice.ID, user.DeleteInput{CurrentPassword: "password1"})
	if !errors.Is(err, boom) {
		t.Fatalf("DeleteUser with a failing forgetter = %v, want it to wrap %v", err, boom)
	}
	if _, err := f.store.UserByID(ctx, alice.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("after a failed deletion, UserByID = %v, want ErrNotFound (the account is being deleted)", err)
	}
	if _, err := f.sessions.Authenticate(ctx, tok.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("after a failed deletion, the session: %v, want ErrSessionRevoked", err)
	}
	if _, err := f.users.Login(ctx, user.LoginInput{Username: "alice", Password: "password1"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("Login after a failed deletion = %v, want ErrBadCredentials", err)
	}
	if _, _, err := f.users.Signup(ctx, user.SignupInput{Username: "alice2", Email: "alice@example.com", Password: "password1"}); !errors.Is(err, user.ErrEmailTaken) {
		t.Errorf("Signup with the email of an account being deleted = %v, want ErrEmailTaken", err)
	}
	if !beingDeleted(ctx, t, f.store, alice.ID) {
		t.Fatalf("after a failed deletion, alice is not among UsersBeingDeleted")
	}

	g.fail = nil
	mark := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) // deleter's clock
	if n, err := svc.FinishDeletions(ctx, mark); n != 0 || err != nil {
		t.Errorf("FinishDeletions(marked before the mark) = %d, %v; want 0, nil (a deletion that young is left to its request)", n, err)
	}
	if n, err := svc.FinishDeletions(ctx, mark.Add(time.Second)); n != 1 || err != nil {
		t.Fatalf("FinishDeletions = %d, %v; want 1, nil", n, err)
	}
	if len(g.called) != 2 {
		t.Errorf("forgetter called %d times, want 2 (the failure and the sweep)", len(g.called))
	}
	if beingDeleted(ctx, t, f.store, alice.ID) {
		t.Errorf("after the sweep, alice is still among UsersBeingDeleted")
	}
	if _, _, err := f.users.Signup(ctx, user.SignupInput{Username: "alice", Email: "alice@example.com", Password: "password1"}); err != nil {
		t.Errorf("Signup with the email and name of the deleted account = %v, want nil", err)
	}
	if n, err := svc.FinishDeletions(ctx, mark.Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("FinishDeletions with nothing left = %d, %v; want 0, nil", n, err)
	}
}

// TestDeleteUserAdminFinishes: an admin who deletes an account whose
// deletion stopped part-way finishes it at once, and is told it was gone.
func TestDeleteUserAdminFinishes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	boom := errors.New("boards unavailable")
	g := &forgetter{t: t, f: f, fail: boom}
	svc := deleter(t, f, g)
	_, rootTok := f.admin(t, "root")
	pRoot := f.principal(t, rootTok)
	alice, _ := f.signup(t, "alice", "alice@example.com", "password1")
	if err := svc.DeleteUser(ctx, pRoot, alice.ID, user.DeleteInput{}); !errors.Is(err, boom) {
		t.Fatalf("DeleteUser with a failing forgetter = %v, want it to wrap %v", err, boom)
	}
	g.fail = nil
	if err := svc.DeleteUser(ctx, pRoot, alice.ID, user.DeleteInput{}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DeleteUser of an account being deleted = %v, want ErrNotFound", err)
	}
	if len(g.called) != 2 || beingDeleted(ctx, t, f.store, alice.ID) {
		t.Errorf("after the admin's retry: forgetter called %d times (want 2), still being deleted: %v (want false)",
			len(g.called), beingDeleted(ctx, t, f.store, alice.ID))
	}
}

// TestDeleteUserLeftovers: an admin's delete of an id without a user removes
// the sessions left under it (a deletion that stopped inside a store
// without transactions) and answers ErrNotFound.
func TestDeleteUserLeftovers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	svc := deleter(t, f)
	_, rootTok := f.admin(t, "root")
	ghost := objectid.New(time.Now())
	left, err := f.sessions.StartSession(ctx, auth.SessionRequest{UserID: ghost, Roles: []string{auth.RoleUser}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteUser(ctx, f.principal(t, rootTok), ghost, user.DeleteInput{}); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DeleteUser(an id without a user) = %v, want ErrNotFound", err)
	}
	if _, err := f.store.Session(ctx, left.Session.ID); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("a session left under an id without a user: %v, want it removed", err)
	}
}

// TestDeleteUserPasswordChanged: the password is checked against the
// account as authentication read it; if it changed since, the deletion is
// refused.
func TestDeleteUserPasswordChanged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	svc := deleter(t, f)
	alice, tok := f.signup(t, "alice", "alice@example.com", "password1")
	p := f.principal(t, tok)
	if err := f.store.SetPassword(ctx, alice.ID, "$2a$04$"+strings.Repeat("x", 53), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteUser(ctx, p, alice.ID, user.DeleteInput{CurrentPassword: "password1"}); !errors.Is(err, user.ErrBadCredentials) {
		t.Errorf("DeleteUser with the password the account had at authentication = %v, want ErrBadCredentials", err)
	}
	if _, err := f.store.UserByID(ctx, alice.ID); err != nil {
		t.Errorf("after the refused deletion, the user: %v, want it kept", err)
	}
}

// TestDeleteUserLimits: wrong passwords share change-password's budget per
// account, and attempts count against its limits.
func TestDeleteUserLimits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	svc := deleter(t, f)
	alice, tok := f.signup(t, "alice", "alice@example.com", "password1")
	p := f.principal(t, tok)
	client := auth.Client{IP: "192.0.2.7"}
	for i := range 10 {
		err := svc.DeleteUser(ctx, p, alice.ID, user.DeleteInput{CurrentPassword: "wrong-password", Client: client})
		if !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("wrong password %d = %v, want ErrBadCredentials", i+1, err)
		}
	}
	var limited *auth.RateLimitError
	if err := svc.DeleteUser(ctx, p, alice.ID, user.DeleteInput{CurrentPassword: "password1", Client: client}); !errors.As(err, &limited) {
		t.Errorf("the right password after 10 wrong ones = %v, want a *auth.RateLimitError", err)
	}
	in := user.ChangePasswordInput{Current: "password1", New: "password2", Client: client}
	if _, err := svc.ChangePassword(ctx, p, in); !errors.As(err, &limited) {
		t.Errorf("ChangePassword after 10 wrong passwords at deletion = %v, want a *auth.RateLimitError", err)
	}
	if _, err := f.store.UserByID(ctx, alice.ID); err != nil {
		t.Errorf("after the limit, the user: %v, want it kept", err)
	}
}

// uploadDuring is a forgetter that, while the deletion runs, finishes a
// slow picture upload of the user being deleted, as an admin: the picture
// is stored, then set, after the deletion began.
type uploadDuring struct {
	t       *testing.T
	f       *fixture
	svc     *user.Service
	admin   auth.Principal
	picture string
}

func (u *uploadDuring) ForgetUser(ctx context.Context, id string) error {
	u.picture = objectid.New(time.Now())
	if _, err := u.f.store.PutFile(ctx, user.PictureBucket, u.picture, bytes.NewReader([]byte("late picture"))); err != nil {
		u.t.Fatal(err)
	}
	if _, err := u.svc.SetPicture(ctx, u.admin, id, u.picture); !errors.Is(err, user.ErrNotFound) {
		u.t.Errorf("SetPicture of a user being deleted = %v, want ErrNotFound", err)
	}
	return nil
}

// TestDeleteUserPictureSetDuring: a picture that lands while the account is
// being deleted goes with it; it must not stay served at a public URL.
func TestDeleteUserPictureSetDuring(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, user.Config{})
	late := &uploadDuring{t: t, f: f}
	svc := deleter(t, f, late)
	_, rootTok := f.admin(t, "root")
	late.svc, late.admin = svc, f.principal(t, rootTok)
	alice, _ := f.signup(t, "alice", "alice@example.com", "password1")
	if err := svc.DeleteUser(ctx, f.principal(t, rootTok), alice.ID, user.DeleteInput{}); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}
	if _, err := f.store.OpenFile(ctx, user.PictureBucket, late.picture); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFile(the picture set during the deletion) = %v, want fs.ErrNotExist", err)
	}
}
