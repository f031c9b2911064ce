// Package usertest is the contract suite for user.Store. Every store runs
// it — the file store on a temporary directory, the MongoDB store on a fresh
// database — so that all stores keep the same promises: the ones written on
// the methods of user.Store.
package usertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// TestStore runs the user.Store contract as subtests. newStore must return a
// fresh, empty store for each subtest and arrange for its cleanup.
func TestStore(t *testing.T, newStore func(t *testing.T) user.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s user.Store)
	}{
		{"CreateAndReadBack", testCreateAndReadBack},
		{"EmailIsCaseInsensitive", testEmailCaseInsensitive},
		{"UsernameIsCaseInsensitive", testUsernameCaseInsensitive},
		{"DuplicateEmail", testDuplicateEmail},
		{"DuplicateUsername", testDuplicateUsername},
		{"DuplicateEmailAndUsername", testDuplicateBoth},
		{"NotFound", testNotFound},
		{"SetPassword", testSetPassword},
		{"ConcurrentSetPassword", testConcurrentSetPassword},
		{"RehashPassword", testRehashPassword},
		{"SetEmailVerified", testSetEmailVerified},
		{"SetProfile", testSetProfile},
		{"CreateAccount", testCreateAccount},
		{"ConcurrentCreateAccount", testConcurrentCreateAccount},
		{"SetRoles", testSetRoles},
		{"SetPicture", testSetPicture},
		{"ConcurrentSetPicture", testConcurrentSetPicture},
		{"NoAliasing", testNoAliasing},
		{"EachUser", testEachUser},
		{"EachUserStopsAtError", testEachUserStops},
		{"ConcurrentCreateSameUsername", testConcurrentSameUsername},
		{"ConcurrentCreateSameEmail", testConcurrentSameEmail},
		{"DeleteUser", testDeleteUser},
		{"DeleteUserLeftovers", testDeleteUserLeftovers},
		{"MarkDeleting", testMarkDeleting},
		{"MarkDeletingNotFound", testMarkDeletingNotFound},
		{"ConcurrentMarkDeleting", testConcurrentMarkDeleting},
	}
	tests = append(tests, listTests...) // list.go
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// baseTime is the suite's fixed clock.
func baseTime() time.Time {
	return time.Date(2025, time.March, 14, 9, 26, 53, 589_000_000, time.UTC)
}

// ms truncates t to the millisecond. Every time the suite stores goes
// through it, because MongoDB keeps times to the millisecond while the file
// store keeps nanoseconds: a store must give back a time Equal to the one it
// was given, and only whole milliseconds survive in every store.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// newUser returns a valid user named name, created at now.
func newUser(name string, now time.Time) user.User {
	return user.User{
		ID:           objectid.New(now),
		Username:     name,
		Email:        strings.ToLower(name) + "@example.com",
		FullName:     name + " Example",
		Color:        "#3366ff",
		Roles:        []string{"user"},
		PictureID:    objectid.New(now),
		PasswordHash: "$2a$10$" + strings.Repeat("N", 53),
		CreatedAt:    ms(now),
		UpdatedAt:    ms(now),
	}
}

// mustCreate stores u or stops the test.
func mustCreate(t *testing.T, s user.Store, u user.User) {
	t.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser(%s) = %v, want nil", describe(u), err)
	}
}

// describe names a user in failure messages.
func describe(u user.User) string {
	return fmt.Sprintf("{ID:%s Username:%q Email:%q}", u.ID, u.Username, u.Email)
}

// wantUser checks a lookup's answer: no error, and every field equal.
func wantUser(t *testing.T, call string, got user.User, err error, want user.User) {
	t.Helper()
	if err != nil {
		t.Errorf("%s = error %v, want user %s", call, err, describe(want))
		return
	}
	if d := diffUser(got, want); d != "" {
		t.Errorf("%s returned a different user:\n%s", call, d)
	}
}

// wantErr checks that err is want, with errors.Is.
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// diffUser lists the fields in which got and want differ, one per line;
// times are compared with Equal.
func diffUser(got, want user.User) string {
	var b strings.Builder
	field := func(name string, equal bool, g, w any) {
		if !equal {
			fmt.Fprintf(&b, "\t%s: got %v, want %v\n", name, g, w)
		}
	}
	field("ID", got.ID == want.ID, got.ID, want.ID)
	field("Username", got.Username == want.Username, got.Username, want.Username)
	field("Email", got.Email == want.Email, got.Email, want.Email)
	field("FullName", got.FullName == want.FullName, got.FullName, want.FullName)
	field("Color", got.Color == want.Color, got.Color, want.Color)
	field("Roles", slices.Equal(got.Roles, want.Roles), got.Roles, want.Roles)
	field("PictureID", got.PictureID == want.PictureID, got.PictureID, want.PictureID)
	field("EmailVerified", got.EmailVerified == want.EmailVerified, got.EmailVerified, want.EmailVerified)
	field("PasswordHash", got.PasswordHash == want.PasswordHash, got.PasswordHash, want.PasswordHash)
	field("CredentialVersion", got.CredentialVersion == want.CredentialVersion, got.CredentialVersion, want.CredentialVersion)
	field("CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt)
	field("UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt)
	field("DeletingAt", got.DeletingAt.Equal(want.DeletingAt), got.DeletingAt, want.DeletingAt)
	return b.String()
}

// checkStored reads u back by id, email and username and compares each
// answer with u.
func checkStored(t *testing.T, s user.Store, u user.User) {
	t.Helper()
	ctx := context.Background()
	got, err := s.UserByID(ctx, u.ID)
	wantUser(t, fmt.Sprintf("UserByID(%q)", u.ID), got, err, u)
	got, err = s.UserByEmail(ctx, u.Email)
	wantUser(t, fmt.Sprintf("UserByEmail(%q)", u.Email), got, err, u)
	got, err = s.UserByUsername(ctx, u.Username)
	wantUser(t, fmt.Sprintf("UserByUsername(%q)", u.Username), got, err, u)
}

func testCreateAndReadBack(t *testing.T, s user.Store) {
	now := baseTime()
	alice := newUser("alice", now)
	alice.Roles = []string{"user", "moderator"}
	alice.EmailVerified = true
	alice.CredentialVersion = 7
	bob := newUser("bob", now.Add(time.Second))
	bob.PictureID = "" // optional fields round-trip empty too
	bob.FullName = ""
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)
	checkStored(t, s, alice)
	checkStored(t, s, bob)
}

func testEmailCaseInsensitive(t *testing.T, s user.Store) {
	alice := newUser("alice", baseTime())
	mustCreate(t, s, alice)
	for _, email := range []string{"ALICE@EXAMPLE.COM", "Alice@Example.com", "aLiCe@eXaMpLe.CoM"} {
		got, err := s.UserByEmail(context.Background(), email)
		wantUser(t, fmt.Sprintf("UserByEmail(%q)", email), got, err, alice)
	}
}

func testUsernameCaseInsensitive(t *testing.T, s user.Store) {
	alice := newUser("Alice", baseTime())
	mustCreate(t, s, alice)
	// The stored username keeps the case it was given.
	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		got, err := s.UserByUsername(context.Background(), name)
		wantUser(t, fmt.Sprintf("UserByUsername(%q)", name), got, err, alice)
	}
}

func testDuplicateEmail(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("alice", now)
	mustCreate(t, s, alice)

	clash := newUser("alice2", now.Add(time.Second))
	clash.Email = "ALICE@Example.COM"
	err := s.CreateUser(ctx, clash)
	wantErr(t, fmt.Sprintf("CreateUser(%s) after %s", describe(clash), describe(alice)), err, user.ErrEmailTaken)

	// The refused user left no trace: not stored, username still free,
	// and the first user unchanged.
	_, err = s.UserByID(ctx, clash.ID)
	wantErr(t, fmt.Sprintf("UserByID(%q) of the refused user", clash.ID), err, user.ErrNotFound)
	checkStored(t, s, alice)
	free := newUser("alice2", now.Add(2*time.Second))
	if err := s.CreateUser(ctx, free); err != nil {
		t.Errorf("CreateUser(%s) with the refused user's username = %v, want nil", describe(free), err)
	}
}

func testDuplicateUsername(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("Alice", now)
	mustCreate(t, s, alice)

	for i, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		clash := newUser(name, now.Add(time.Duration(i+1)*time.Second))
		clash.Email = fmt.Sprintf("other%d@example.com", i)
		err := s.CreateUser(ctx, clash)
		wantErr(t, fmt.Sprintf("CreateUser(%s) after %s", describe(clash), describe(alice)), err, user.ErrUsernameTaken)
		_, err = s.UserByID(ctx, clash.ID)
		wantErr(t, fmt.Sprintf("UserByID(%q) of the refused user", clash.ID), err, user.ErrNotFound)
		_, err = s.UserByEmail(ctx, clash.Email)
		wantErr(t, fmt.Sprintf("UserByEmail(%q) of the refused user", clash.Email), err, user.ErrNotFound)
	}
	checkStored(t, s, alice)
}

func testDuplicateBoth(t *testing.T, s user.Store) {
	now := baseTime()
	alice := newUser("alice", now)
	mustCreate(t, s, alice)
	clash := newUser("ALICE", now.Add(time.Second))
	clash.Email = "Alice@Example.com"
	err := s.CreateUser(context.Background(), clash)
	if !errors.Is(err, user.ErrEmailTaken) && !errors.Is(err, user.ErrUsernameTaken) {
		t.Errorf("CreateUser(%s) after %s = %v, want %v or %v",
			describe(clash), describe(alice), err, user.ErrEmailTaken, user.ErrUsernameTaken)
	}
	checkStored(t, s, alice)
}

func testNotFound(t *testing.T, s user.Store) {
	ctx := context.Background()
	check := func() {
		t.Helper()
		id := objectid.New(baseTime())
		_, err := s.UserByID(ctx, id)
		wantErr(t, fmt.Sprintf("UserByID(%q)", id), err, user.ErrNotFound)
		_, err = s.UserByID(ctx, "")
		wantErr(t, `UserByID("")`, err, user.ErrNotFound)
		_, err = s.UserByEmail(ctx, "nobody@example.com")
		wantErr(t, `UserByEmail("nobody@example.com")`, err, user.ErrNotFound)
		_, err = s.UserByUsername(ctx, "nobody")
		wantErr(t, `UserByUsername("nobody")`, err, user.ErrNotFound)
	}
	check() // empty store
	mustCreate(t, s, newUser("alice", baseTime()))
	check()
}

func testSetPassword(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUser("alice", now), newUser("bob", now)
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)

	later := ms(now.Add(time.Hour + 123*time.Millisecond))
	hash := "$2a$10$" + strings.Repeat("P", 53)
	if err := s.SetPassword(ctx, alice.ID, hash, 0, later); err != nil {
		t.Fatalf("SetPassword(%q, %q, version 0, %v) = %v, want nil", alice.ID, hash, later, err)
	}
	alice.PasswordHash = hash
	alice.CredentialVersion = 1
	alice.UpdatedAt = later
	checkStored(t, s, alice)
	checkStored(t, s, bob) // untouched

	// A second change from the version already replaced is refused.
	err := s.SetPassword(ctx, alice.ID, "$2a$10$"+strings.Repeat("Q", 53), 0, later.Add(time.Minute))
	wantErr(t, "SetPassword from a stale version", err, user.ErrPasswordChanged)
	checkStored(t, s, alice)
	if err := s.SetPassword(ctx, alice.ID, hash, 1, later); err != nil {
		t.Errorf("SetPassword from version 1 = %v, want nil", err)
	}
	alice.CredentialVersion = 2
	checkStored(t, s, alice)

	id := objectid.New(now)
	err = s.SetPassword(ctx, id, hash, 0, later)
	wantErr(t, fmt.Sprintf("SetPassword(%q) of an unknown user", id), err, user.ErrNotFound)
}

// testConcurrentSetPassword: of many changes racing from one credential
// version, exactly one wins, and the winner's hash is the one stored.
func testConcurrentSetPassword(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice := newUser("alice", baseTime())
	mustCreate(t, s, alice)
	const n = 16
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.SetPassword(ctx, alice.ID, fmt.Sprintf("$2a$10$%053d", i), 0, baseTime())
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("SetPassword calls %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, user.ErrPasswordChanged):
			t.Errorf("racing SetPassword %d = %v, want nil or ErrPasswordChanged", i, err)
		}
	}
	got, err := s.UserByID(ctx, alice.ID)
	if winner < 0 || err != nil || got.CredentialVersion != 1 || got.PasswordHash != fmt.Sprintf("$2a$10$%053d", winner) {
		t.Errorf("after the race: winner %d, stored version %d hash %q (%v); want one winner, version 1, its hash",
			winner, got.CredentialVersion, got.PasswordHash, err)
	}
}

func testRehashPassword(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice := newUser("alice", baseTime())
	mustCreate(t, s, alice)
	rehashed := "$2a$12$" + strings.Repeat("R", 53)
	if err := s.RehashPassword(ctx, alice.ID, alice.PasswordHash, rehashed); err != nil {
		t.Fatalf("RehashPassword = %v", err)
	}
	old := alice.PasswordHash
	alice.PasswordHash = rehashed // version and UpdatedAt stay
	checkStored(t, s, alice)
	// From a hash that is no longer current: nothing happens.
	if err := s.RehashPassword(ctx, alice.ID, old, "$2a$12$"+strings.Repeat("S", 53)); err != nil {
		t.Errorf("RehashPassword from a stale hash = %v, want nil", err)
	}
	checkStored(t, s, alice)
	id := objectid.New(baseTime())
	wantErr(t, "RehashPassword of an unknown user", s.RehashPassword(ctx, id, old, rehashed), user.ErrNotFound)
}

func testSetProfile(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice, bob := newUser("alice", baseTime()), newUser("bob", baseTime())
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)
	later := ms(baseTime().Add(time.Hour))
	if err := s.SetProfile(ctx, alice.ID, "Alicia", "Alicia L.", "#000000", later); err != nil {
		t.Fatalf("SetProfile = %v", err)
	}
	oldName := alice.Username
	alice.Username, alice.FullName, alice.Color, alice.UpdatedAt = "Alicia", "Alicia L.", "#000000", later
	checkStored(t, s, alice) // by the new username too
	if _, err := s.UserByUsername(ctx, oldName); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByUsername(old name) = %v, want ErrNotFound: the name is free again", err)
	}
	wantErr(t, "SetProfile to bob's username in another case", s.SetProfile(ctx, alice.ID, "BOB", "", "", later), user.ErrUsernameTaken)
	checkStored(t, s, alice) // unchanged by the refused call
	if err := s.SetProfile(ctx, alice.ID, "ALICIA", "Alicia L.", "#000000", later); err != nil {
		t.Errorf("SetProfile to her own username in another case = %v, want nil", err)
	}
	newBob := newUser(oldName, baseTime()) // the freed name can be taken
	newBob.Email = "other@example.com"
	mustCreate(t, s, newBob)
	wantErr(t, "SetProfile of an unknown user", s.SetProfile(ctx, objectid.New(baseTime()), "zed", "", "", later), user.ErrNotFound)
}

func testSetEmailVerified(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice := newUser("alice", baseTime())
	mustCreate(t, s, alice)
	later := ms(baseTime().Add(time.Hour))
	if err := s.SetEmailVerified(ctx, alice.ID, later); err != nil {
		t.Fatalf("SetEmailVerified = %v", err)
	}
	alice.EmailVerified, alice.UpdatedAt = true, later
	checkStored(t, s, alice)
	if err := s.SetEmailVerified(ctx, alice.ID, later.Add(time.Hour)); err != nil {
		t.Errorf("SetEmailVerified again = %v, want nil", err)
	}
	checkStored(t, s, alice) // the first time is kept
	wantErr(t, "SetEmailVerified of an unknown user", s.SetEmailVerified(ctx, objectid.New(baseTime()), later), user.ErrNotFound)
}

// newSession returns a first session for u.
func newSession(u user.User) auth.Session {
	now := u.CreatedAt
	return auth.Session{
		ID: objectid.New(now), UserID: u.ID, Generation: 1, Roles: []string{"user"},
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour),
	}
}

// testCreateAccount: the user and the first session are stored both or
// neither.
func testCreateAccount(t *testing.T, s user.Store) {
	ctx := context.Background()
	alice := newUser("alice", baseTime())
	first := newSession(alice)
	if err := s.CreateAccount(ctx, alice, first); err != nil {
		t.Fatalf("CreateAccount(alice) = %v", err)
	}
	checkStored(t, s, alice)

	// The session cannot be stored (its id is taken): no user either.
	bob := newUser("bob", baseTime())
	err := s.CreateAccount(ctx, bob, first)
	wantErr(t, "CreateAccount(bob, a session id already used)", err, auth.ErrSessionExists)
	if _, err := s.UserByID(ctx, bob.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("bob after his CreateAccount failed: %v, want ErrNotFound", err)
	}
	if _, err := s.UserByEmail(ctx, bob.Email); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("bob's email after his CreateAccount failed: %v, want ErrNotFound", err)
	}

	// The user cannot be stored (its email is taken): no session either,
	// so its id is still free.
	clash := newUser("carol", baseTime())
	clash.Email = alice.Email
	spare := newSession(clash)
	wantErr(t, "CreateAccount(a taken email)", s.CreateAccount(ctx, clash, spare), user.ErrEmailTaken)
	carol := newUser("carol", baseTime())
	spare.UserID = carol.ID
	if err := s.CreateAccount(ctx, carol, spare); err != nil {
		t.Errorf("CreateAccount with the session id a refused sign-up had = %v, want nil", err)
	}
	if err := s.CreateAccount(ctx, bob, newSession(bob)); err != nil {
		t.Errorf("CreateAccount(bob) again = %v, want nil", err)
	}
}

// testConcurrentCreateAccount: of sign-ups racing for one username, one
// wins, and the losers leave neither a user nor a session behind.
func testConcurrentCreateAccount(t *testing.T, s user.Store) {
	ctx := context.Background()
	const n = 8
	users := make([]user.User, n)
	sessions := make([]auth.Session, n)
	for i := range users {
		users[i] = newUser("dora", baseTime())
		users[i].Email = fmt.Sprintf("dora%d@example.com", i)
		sessions[i] = newSession(users[i])
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateAccount(ctx, users[i], sessions[i])
		})
	}
	close(start)
	wg.Wait()
	checkOneWinner(t, s, users, errs, user.ErrUsernameTaken)
	// Every loser's session id is still free: reuse it for a new account.
	for i, err := range errs {
		if err == nil {
			continue
		}
		u := newUser(fmt.Sprintf("loser%d", i), baseTime())
		sess := sessions[i]
		sess.UserID = u.ID
		if err := s.CreateAccount(ctx, u, sess); err != nil {
			t.Errorf("CreateAccount with a losing sign-up's session id = %v, want nil: the loser left its session", err)
		}
	}
}

func testSetRoles(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUser("alice", now), newUser("bob", now)
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)

	later := ms(now.Add(2 * time.Hour))
	for _, roles := range [][]string{{"user", "admin"}, {"moderator"}, {"user"}} {
		if err := s.SetRoles(ctx, alice.ID, roles, later); err != nil {
			t.Fatalf("SetRoles(%q, %q) = %v, want nil", alice.ID, roles, err)
		}
		alice.Roles = slices.Clone(roles)
		alice.UpdatedAt = later
		checkStored(t, s, alice)
		later = later.Add(time.Minute)
	}
	checkStored(t, s, bob) // untouched

	id := objectid.New(now)
	err := s.SetRoles(ctx, id, []string{"admin"}, later)
	wantErr(t, fmt.Sprintf("SetRoles(%q) of an unknown user", id), err, user.ErrNotFound)
}

// testNoAliasing checks that a store copies slices in and out: a caller that
// changes a slice it passed or received must not change the stored user.
func testNoAliasing(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("alice", now)
	alice.Roles = []string{"user", "moderator"}
	want := alice
	want.Roles = slices.Clone(alice.Roles)

	mustCreate(t, s, alice)
	alice.Roles[0] = "admin" // the slice given to CreateUser
	checkStored(t, s, want)

	got, err := s.UserByID(ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID(%q) = %v", want.ID, err)
	}
	got.Roles[0] = "admin" // a slice received from the store
	got.Roles = append(got.Roles[:1], "admin")
	checkStored(t, s, want)

	roles := []string{"user"}
	later := ms(now.Add(time.Minute))
	if err := s.SetRoles(ctx, want.ID, roles, later); err != nil {
		t.Fatalf("SetRoles(%q, %q) = %v", want.ID, roles, err)
	}
	roles[0] = "admin" // the slice given to SetRoles
	want.Roles, want.UpdatedAt = []string{"user"}, later
	checkStored(t, s, want)

	err = s.EachUser(ctx, func(u user.User) error {
		u.Roles[0] = "admin" // a slice received from EachUser
		return nil
	})
	if err != nil {
		t.Fatalf("EachUser = %v", err)
	}
	checkStored(t, s, want)
}

func testEachUser(t *testing.T, s user.Store) {
	ctx := context.Background()
	calls := 0
	if err := s.EachUser(ctx, func(user.User) error { calls++; return nil }); err != nil || calls != 0 {
		t.Errorf("EachUser on an empty store = %v after %d calls, want nil after 0", err, calls)
	}

	want := make(map[string]user.User)
	for i := range 5 {
		u := newUser(fmt.Sprintf("user%d", i), baseTime().Add(time.Duration(i)*time.Second))
		mustCreate(t, s, u)
		want[u.ID] = u
	}
	seen := make(map[string]int)
	err := s.EachUser(ctx, func(u user.User) error {
		seen[u.ID]++
		if w, ok := want[u.ID]; !ok {
			t.Errorf("EachUser visited unknown user %s", describe(u))
		} else if d := diffUser(u, w); d != "" {
			t.Errorf("EachUser visited %s with different fields:\n%s", describe(u), d)
		}
		return nil
	})
	if err != nil {
		t.Errorf("EachUser = %v, want nil", err)
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("EachUser visited user %s %d times, want 1", id, seen[id])
		}
	}
}

func testEachUserStops(t *testing.T, s user.Store) {
	for i := range 5 {
		mustCreate(t, s, newUser(fmt.Sprintf("user%d", i), baseTime()))
	}
	errStop := errors.New("stop here")
	calls := 0
	err := s.EachUser(context.Background(), func(user.User) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 2 {
		t.Errorf("EachUser with fn failing at call 2 = %v after %d calls, want %v after 2", err, calls, errStop)
	}
}

// raceCreate creates the users concurrently, all released at once, and
// returns each call's error.
func raceCreate(s user.Store, users []user.User) []error {
	errs := make([]error, len(users))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateUser(context.Background(), u)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner checks that exactly one of the racing creations succeeded,
// that every other failed with want, and that the winner is stored.
func checkOneWinner(t *testing.T, s user.Store, users []user.User, errs []error, want error) {
	t.Helper()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			checkStored(t, s, users[i])
		case !errors.Is(err, want):
			t.Errorf("concurrent CreateUser(%s) = %v, want nil or %v", describe(users[i]), err, want)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d concurrent CreateUser calls succeeded, want exactly 1", winners, len(users))
	}
}

func testConcurrentSameUsername(t *testing.T, s user.Store) {
	users := make([]user.User, 20)
	for i := range users {
		users[i] = newUser("racer", baseTime())
		users[i].Email = fmt.Sprintf("racer%d@example.com", i)
		if i%2 == 1 {
			users[i].Username = "RACER" // case variants clash too
		}
	}
	checkOneWinner(t, s, users, raceCreate(s, users), user.ErrUsernameTaken)
}

func testConcurrentSameEmail(t *testing.T, s user.Store) {
	users := make([]user.User, 20)
	for i := range users {
		users[i] = newUser(fmt.Sprintf("racer%d", i), baseTime())
		users[i].Email = "racer@example.com"
	}
	checkOneWinner(t, s, users, raceCreate(s, users), user.ErrEmailTaken)
}
