package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"corkboard/board"
)

// TestFinishDeletionsTwiceAtOnce: two sweeps finishing the same interrupted
// deletions at once (two instances on one MongoDB, or a start and a sweep)
// both succeed, and leave the user, their boards and memberships, and a
// board being deleted all gone, with the email free.
func TestFinishDeletionsTwiceAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		ctx := context.Background()
		alice, bob := env.newClient(), env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		b := bob.signup("bob", "bob@example.com", "password1")
		for i := range 3 {
			alice.createBoard(fmt.Sprintf("Alice's %d", i), b.User.ID)
		}
		bobs := bob.createBoard("Bob's", a.User.ID)
		doomed := bob.createBoard("Doomed")
		// A crash right after the marks: nothing else of either cascade ran.
		st := env.app.store
		if _, err := st.MarkDeleting(ctx, a.User.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := st.MarkBoardDeleting(ctx, doomed.ID, time.Now()); err != nil {
			t.Fatal(err)
		}

		later := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 2 {
			wg.Go(func() { _, err := env.app.userSvc.FinishDeletions(ctx, later); errs <- err })
			wg.Go(func() { _, err := env.app.boardSvc.FinishDeletions(ctx, later); errs <- err })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("FinishDeletions run twice at once = %v, want nil", err)
			}
		}

		if users, err := st.UsersBeingDeleted(ctx); err != nil || len(users) != 0 {
			t.Errorf("UsersBeingDeleted after the sweeps = %v, %v; want none", users, err)
		}
		if boards, err := st.BoardsBeingDeleted(ctx); err != nil || len(boards) != 0 {
			t.Errorf("BoardsBeingDeleted after the sweeps = %v, %v; want none", boards, err)
		}
		if ids, err := st.BoardIDsFor(ctx, a.User.ID); err != nil || len(ids) != 0 {
			t.Errorf("BoardIDsFor(alice) after the sweeps = %v, %v; want none", ids, err)
		}
		if s := bob.summaries(); len(s) != 1 || s[0].ID != bobs.ID {
			t.Errorf("bob's boards after the sweeps: %+v; want only his own %s", s, bobs.ID)
		}
		if got, err := st.BoardByID(ctx, bobs.ID); err != nil || got.IsInvited(a.User.ID) || got.IsMember(a.User.ID) {
			t.Errorf("bob's board after the sweeps: %v; alice still invited or a member", err)
		}
		env.newClient().signup("alice", "alice@example.com", "password2")
	})
}

// TestBoardCreatedDuringOwnersDeletion: a board created by a request that
// was authenticated before its owner's deletion began, and stored after the
// cascade listed the owner's boards, does not outlive its owner.
func TestBoardCreatedDuringOwnersDeletion(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		env := startEnv(t, o, func(c *config) { c.rateLimits = false })
		ctx := context.Background()
		alice := env.newClient()
		a := alice.signup("alice", "alice@example.com", "password1")
		p, err := env.app.sessionSvc.Authenticate(ctx, a.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		// The deletion begins (its mark), and the cascade has listed
		// alice's boards: none yet.
		if _, err := env.app.store.MarkDeleting(ctx, a.User.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		_, err = env.app.boardSvc.Create(ctx, p, board.CreateInput{Title: "Late"})
		if !errors.Is(err, board.ErrUserNotFound) {
			t.Errorf("creating a board for an owner being deleted = %v, want ErrUserNotFound", err)
		}
		if ids, err := env.app.store.BoardIDsFor(ctx, a.User.ID); err != nil || len(ids) != 0 {
			t.Errorf("boards of alice after her deletion began = %v, %v; want none", ids, err)
		}
	})
}
