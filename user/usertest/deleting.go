package usertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
)

// The contract of user.Store.MarkDeleting and UsersBeingDeleted: a marked
// user is gone to every lookup and change, keeps its email and username
// taken, and is listed as being deleted until DeleteUser removes it.

// beingDeleted returns the ids UsersBeingDeleted lists, with their users.
func beingDeleted(t *testing.T, s user.Store) map[string]user.User {
	t.Helper()
	marked, err := s.UsersBeingDeleted(context.Background())
	if err != nil {
		t.Fatalf("UsersBeingDeleted = %v", err)
	}
	m := make(map[string]user.User, len(marked))
	for _, u := range marked {
		m[u.ID] = u
	}
	return m
}

// testMarkDeleting: the mark hides the user from every method but the two
// that finish a deletion, keeps the first mark's time, and goes with the
// record.
func testMarkDeleting(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice, bob := newUser("alice", now), newUser("bob", now.Add(time.Second))
	mustCreate(t, s, alice)
	mustCreate(t, s, bob)
	aliceHas := give(t, s, alice.ID, now)

	at := ms(now.Add(time.Hour))
	marked, err := s.MarkDeleting(ctx, alice.ID, at)
	want := alice
	want.DeletingAt = at
	wantUser(t, "MarkDeleting(alice)", marked, err, want)
	if got := beingDeleted(t, s); len(got) != 1 || got[alice.ID].ID == "" {
		t.Fatalf("UsersBeingDeleted after marking alice = %v, want alice alone", got)
	} else {
		wantUser(t, "UsersBeingDeleted()[alice]", got[alice.ID], nil, want)
	}
	// A second mark keeps the first one's time.
	again, err := s.MarkDeleting(ctx, alice.ID, at.Add(time.Hour))
	wantUser(t, "MarkDeleting(alice) a second time", again, err, want)

	for call, lookup := range map[string]func() (user.User, error){
		"UserByID":       func() (user.User, error) { return s.UserByID(ctx, alice.ID) },
		"UserByEmail":    func() (user.User, error) { return s.UserByEmail(ctx, alice.Email) },
		"UserByUsername": func() (user.User, error) { return s.UserByUsername(ctx, strings.ToUpper(alice.Username)) },
	} {
		if got, err := lookup(); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s(a user being deleted) = %s, %v; want ErrNotFound", call, describe(got), err)
		}
	}
	for call, err := range map[string]error{
		"SetPassword":      s.SetPassword(ctx, alice.ID, "$2a$10$"+strings.Repeat("P", 53), 0, at),
		"RehashPassword":   s.RehashPassword(ctx, alice.ID, alice.PasswordHash, "$2a$12$"+strings.Repeat("R", 53)),
		"SetProfile":       s.SetProfile(ctx, alice.ID, "alicia", "Alicia", "#000000", at),
		"SetEmailVerified": s.SetEmailVerified(ctx, alice.ID, at),
		"SetRoles":         s.SetRoles(ctx, alice.ID, []string{"user", "admin"}, at),
		"SetPicture":       second(s.SetPicture(ctx, alice.ID, objectid.New(at), at)),
	} {
		wantErr(t, call+"(a user being deleted)", err, user.ErrNotFound)
	}
	wantList(t, s, user.ListQuery{Limit: 10}, []user.User{bob})
	wantList(t, s, user.ListQuery{Prefix: "ali", Limit: 10}, nil)
	var each []string
	if err := s.EachUser(ctx, func(u user.User) error { each = append(each, u.ID); return nil }); err != nil {
		t.Fatalf("EachUser = %v", err)
	}
	if len(each) != 1 || each[0] != bob.ID {
		t.Errorf("EachUser with alice being deleted lists %v, want only bob %s", each, bob.ID)
	}

	// The email and the username stay taken until the record goes.
	clash := newUser("carol", now.Add(2*time.Second))
	clash.Email = alice.Email
	wantErr(t, "CreateUser(the email of a user being deleted)", s.CreateUser(ctx, clash), user.ErrEmailTaken)
	clash = newUser("ALICE", now.Add(3*time.Second))
	clash.Email = "someone@example.com"
	wantErr(t, "CreateUser(the username of a user being deleted)", s.CreateUser(ctx, clash), user.ErrUsernameTaken)
	wantErr(t, "SetProfile(bob, the username of a user being deleted)", s.SetProfile(ctx, bob.ID, "Alice", "", "", at), user.ErrUsernameTaken)

	// Nothing of the above changed the marked record.
	got := beingDeleted(t, s)
	wantUser(t, "UsersBeingDeleted()[alice] after the refused changes", got[alice.ID], nil, want)

	gone, err := s.DeleteUser(ctx, alice.ID)
	wantUser(t, "DeleteUser(a user being deleted)", gone, err, want)
	checkHoldings(t, s, "the deleted user", aliceHas, now, true)
	if got := beingDeleted(t, s); len(got) != 0 {
		t.Errorf("UsersBeingDeleted after DeleteUser = %v, want none", got)
	}
	free := newUser("alice", now.Add(4*time.Second))
	if err := s.CreateUser(ctx, free); err != nil {
		t.Errorf("CreateUser with the deleted user's email and username = %v, want nil", err)
	}
	checkStored(t, s, free)
	checkStored(t, s, bob)
}

// testMarkDeletingNotFound: no record, no mark; an empty store has no
// deletions.
func testMarkDeletingNotFound(t *testing.T, s user.Store) {
	ctx := context.Background()
	if got := beingDeleted(t, s); len(got) != 0 {
		t.Errorf("UsersBeingDeleted on an empty store = %v, want none", got)
	}
	for _, id := range []string{objectid.New(baseTime()), "", "nope", strings.ToUpper(objectid.New(baseTime()))} {
		wantErr(t, fmt.Sprintf("MarkDeleting(%q)", id), second(s.MarkDeleting(ctx, id, baseTime())), user.ErrNotFound)
	}
	if got := beingDeleted(t, s); len(got) != 0 {
		t.Errorf("UsersBeingDeleted after marking nobody = %v, want none", got)
	}
}

// testConcurrentMarkDeleting: of many marks at once (two instances
// beginning the same deletion), one time wins and every caller is told it.
func testConcurrentMarkDeleting(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("alice", now)
	mustCreate(t, s, alice)
	const n = 8
	got := make([]user.User, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.MarkDeleting(ctx, alice.ID, ms(now.Add(time.Duration(i+1)*time.Second)))
		})
	}
	wg.Wait()
	first := beingDeleted(t, s)[alice.ID]
	if first.DeletingAt.IsZero() {
		t.Fatalf("UsersBeingDeleted after %d concurrent marks: alice missing or unmarked", n)
	}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("MarkDeleting %d of %d = %v, want nil", i+1, n, errs[i])
		} else if !got[i].DeletingAt.Equal(first.DeletingAt) {
			t.Errorf("MarkDeleting %d of %d says marked at %v; the store keeps %v", i+1, n, got[i].DeletingAt, first.DeletingAt)
		}
	}
}
