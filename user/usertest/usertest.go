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
		{"SetRoles", testSetRoles},
		{"NoAliasing", testNoAliasing},
		{"EachUser", testEachUser},
		{"EachUserStopsAtError", testEachUserStops},
		{"ConcurrentCreateSameUsername", testConcurrentSameUsername},
		{"ConcurrentCreateSameEmail", testConcurrentSameEmail},
	}
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
	field("PasswordHash", got.PasswordHash == want.PasswordHash, got.PasswordHash, want.PasswordHash)
	field("CreatedAt", got.CreatedAt.Equal(want.CreatedAt), got.CreatedAt, want.CreatedAt)
	field("UpdatedAt", got.UpdatedAt.Equal(want.UpdatedAt), got.UpdatedAt, want.UpdatedAt)
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
	if err := s.SetPassword(ctx, alice.ID, hash, later); err != nil {
		t.Fatalf("SetPassword(%q, %q, %v) = %v, want nil", alice.ID, hash, later, err)
	}
	alice.PasswordHash = hash
	alice.UpdatedAt = later
	checkStored(t, s, alice)
	checkStored(t, s, bob) // untouched

	id := objectid.New(now)
	err := s.SetPassword(ctx, id, hash, later)
	wantErr(t, fmt.Sprintf("SetPassword(%q) of an unknown user", id), err, user.ErrNotFound)
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
