package usertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// The contract of user.Store.DeleteUser. It removes the user's sessions and
// one-time tokens too, so these tests need a store that also keeps those:
// every corkboard store is one value implementing all three interfaces.

// sessionsAndTokens returns s as the session and token store it also is,
// or stops the test.
func sessionsAndTokens(t *testing.T, s user.Store) (auth.SessionStore, auth.TokenStore) {
	t.Helper()
	sessions, ok := s.(auth.SessionStore)
	if !ok {
		t.Fatalf("%T is not an auth.SessionStore: DeleteUser must remove the user's sessions, so the store keeping users keeps them", s)
	}
	tokens, ok := s.(auth.TokenStore)
	if !ok {
		t.Fatalf("%T is not an auth.TokenStore: DeleteUser must remove the user's one-time tokens, so the store keeping users keeps them", s)
	}
	return sessions, tokens
}

// holdings are the records stored for one user besides the user: two
// sessions and a token of each purpose.
type holdings struct {
	sessions []auth.Session
	tokens   []auth.OneTimeToken
}

// give stores sessions and tokens for the user id (who need not exist).
func give(t *testing.T, s user.Store, id string, now time.Time) holdings {
	t.Helper()
	ctx := context.Background()
	sessions, tokens := sessionsAndTokens(t, s)
	var h holdings
	for i := range 2 {
		sess := newSession(user.User{ID: id, CreatedAt: now.Add(time.Duration(i) * time.Second)})
		if err := sessions.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession(%s of user %s) = %v", sess.ID, id, err)
		}
		h.sessions = append(h.sessions, sess)
	}
	for _, purpose := range []string{auth.PurposeReset, auth.PurposeVerify} {
		_, rec := auth.NewOneTimeToken(id, purpose, ms(now), time.Hour)
		if err := tokens.PutToken(ctx, rec); err != nil {
			t.Fatalf("PutToken(%s token of user %s) = %v", purpose, id, err)
		}
		h.tokens = append(h.tokens, rec)
	}
	return h
}

// checkHoldings checks that every session and token of h is stored (gone
// false) or that none is (gone true). Tokens are checked with TakeToken,
// which deletes them: call it last for records that must stay.
func checkHoldings(t *testing.T, s user.Store, whose string, h holdings, now time.Time, gone bool) {
	t.Helper()
	ctx := context.Background()
	sessions, tokens := sessionsAndTokens(t, s)
	for _, sess := range h.sessions {
		_, err := sessions.Session(ctx, sess.ID)
		switch {
		case gone && !errors.Is(err, auth.ErrSessionNotFound):
			t.Errorf("Session(%s), a session of %s, = %v; want ErrSessionNotFound", sess.ID, whose, err)
		case !gone && err != nil:
			t.Errorf("Session(%s), a session of %s, = %v; want it kept", sess.ID, whose, err)
		}
	}
	for _, tok := range h.tokens {
		_, err := tokens.TakeToken(ctx, tok.ID, tok.Purpose, now)
		switch {
		case gone && !errors.Is(err, auth.ErrTokenNotFound):
			t.Errorf("TakeToken(the %s token of %s) = %v; want ErrTokenNotFound", tok.Purpose, whose, err)
		case !gone && err != nil:
			t.Errorf("TakeToken(the %s token of %s) = %v; want it kept", tok.Purpose, whose, err)
		}
	}
}

// testDeleteUser: the user is gone by every key, with its sessions and
// tokens; the email and username are free for a new account; other users
// keep everything; a second delete is ErrNotFound.
func testDeleteUser(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUser("Alice", now), newUser("bob", now)
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)
	aliceHas, bobHas := give(t, s, alice.ID, now), give(t, s, bob.ID, now)

	gone, err := s.DeleteUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("DeleteUser(alice) = %v, want nil", err)
	}
	// It hands back the record as it was deleted, picture included.
	wantUser(t, "DeleteUser(alice)", gone, nil, alice)
	for call, lookup := range map[string]func() (user.User, error){
		fmt.Sprintf("UserByID(%q)", alice.ID):             func() (user.User, error) { return s.UserByID(ctx, alice.ID) },
		fmt.Sprintf("UserByEmail(%q)", alice.Email):       func() (user.User, error) { return s.UserByEmail(ctx, alice.Email) },
		fmt.Sprintf("UserByUsername(%q)", alice.Username): func() (user.User, error) { return s.UserByUsername(ctx, alice.Username) },
	} {
		if got, err := lookup(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s after DeleteUser = %s, %v; want ErrNotFound", call, describe(got), err)
		}
	}
	checkHoldings(t, s, "the deleted user", aliceHas, now, true)
	wantErr(t, "DeleteUser(alice) a second time", second(s.DeleteUser(ctx, alice.ID)), user.ErrNotFound)

	var left []string
	if err := s.EachUser(ctx, func(u user.User) error { left = append(left, u.ID); return nil }); err != nil {
		t.Fatalf("EachUser = %v", err)
	}
	if len(left) != 1 || left[0] != bob.ID {
		t.Errorf("EachUser after deleting alice lists %v, want only bob %s", left, bob.ID)
	}
	checkStored(t, s, bob)

	// The email and the username (here in another case) are free again,
	// for an account with a new id.
	again := newUser("ALICE", now.Add(time.Minute))
	if again.Email != alice.Email || again.ID == alice.ID {
		t.Fatalf("the new account %s should have the email of %s and another id", describe(again), describe(alice))
	}
	if err := s.CreateAccount(ctx, again, newSession(again)); err != nil {
		t.Fatalf("CreateAccount with the deleted user's email and username = %v, want nil", err)
	}
	checkStored(t, s, again)

	checkHoldings(t, s, "bob, who was not deleted", bobHas, now, false)
}

// testDeleteUserLeftovers: sessions and tokens stored under an id that
// has no user (what a deletion that stopped part-way leaves in a store
// without transactions) are removed by DeleteUser, which still says
// ErrNotFound.
func testDeleteUserLeftovers(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	ghost := objectid.New(now)
	held := give(t, s, ghost, now)
	wantErr(t, "DeleteUser(an id with sessions and tokens but no user)", second(s.DeleteUser(ctx, ghost)), user.ErrNotFound)
	checkHoldings(t, s, "an id without a user", held, now, true)

	for _, id := range []string{"", "nope", strings.ToUpper(objectid.New(now)), "%00"} {
		wantErr(t, fmt.Sprintf("DeleteUser(%q)", id), second(s.DeleteUser(ctx, id)), user.ErrNotFound)
	}
}

// second returns the error of a call that returns a value and an error.
func second[T any](_ T, err error) error { return err }
