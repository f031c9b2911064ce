package user

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
)

// Forgetter is a part of corkboard that keeps records about users (boards,
// memberships, invitations, notifications) and must let go of a deleted
// user. Package user declares it and never imports its implementations:
// the packages that keep such records implement it, and main wires them in
// Deps.Forgetters, the same inversion as auth.AccountSource between auth and
// user.
type Forgetter interface {
	// ForgetUser removes (or detaches) everything that refers to the user
	// with the given id. It is called after the user is marked for
	// deletion (gone to every lookup, the record still there) and their
	// sessions were revoked, and before the record goes; an error stops
	// the cascade there, and it is run again from the mark (at the next
	// start or sweep, see FinishDeletions), perhaps by two instances at
	// once. So ForgetUser must be safe to call again, and concurrently,
	// for a user it has partly or wholly forgotten already: then it
	// finishes the job and returns nil.
	ForgetUser(ctx context.Context, id string) error
}

// DeleteInput is a request to delete an account.
type DeleteInput struct {
	// CurrentPassword is required when the caller deletes their own
	// account (an admin deleting themself included), and ignored when an
	// admin deletes someone else's.
	CurrentPassword string
	// Client is the device asking, for the per-address limit and fair
	// bcrypt admission.
	Client auth.Client
}

// DeleteUser deletes the account id: the user themself, who must give the
// current password (a stolen access token alone cannot delete an account),
// or an admin, who needs none to delete someone else. It fails with
// ErrForbidden (someone else's account, not an admin), ErrNotFound (no
// such user, or an id that is not an id), ErrBadCredentials (the caller's
// own account, with a wrong or missing password), a *auth.RateLimitError or
// auth.ErrBusy.
//
// The password check counts against the limits of ChangePassword, and
// shares its budget of wrong passwords per account: one budget for every
// route that checks the current password, or a thief holding an access
// token would get one round of guesses per route.
//
// Once allowed, the deletion is a cascade, in this order:
//
//  1. the user record is marked (Store.MarkDeleting, one atomic write):
//     this is the commit point. From here on the account is gone to every
//     lookup: its tokens answer 401 session_revoked, its profile 404, it
//     is off the list of users and out of the member views, it cannot log
//     in; its email and username stay taken until step 5;
//  2. every session of the user is revoked;
//  3. each Forgetter lets go of the user (their boards, memberships, ...),
//     while the user record still exists;
//  4. the profile picture's bytes are deleted (the picture can no longer
//     change: SetPicture finds no user);
//  5. the user record goes, with its sessions and one-time tokens (in the
//     file store one journal batch; in MongoDB the user document, then the
//     sessions and tokens): the email and username are free again.
//
// Every step after the mark is safe to repeat, for a user it has partly or
// wholly handled already. So a cascade that stops part-way (an error, or
// the process killed) is finished from the mark: by FinishDeletions, which
// the server runs at start and in its periodic sweep, or at once by an
// admin who deletes the account again. Two of them finishing the same
// deletion at once (two instances on one MongoDB) do the same steps twice,
// harmlessly. The cascade runs to its end whatever becomes of the client's
// request, and the answer is given only once it has.
func (s *Service) DeleteUser(ctx context.Context, p auth.Principal, id string, in DeleteInput) error {
	if p.UserID != id {
		return s.deleteOther(ctx, p, id)
	}
	u, err := Me(p)
	if err != nil {
		return err
	}
	if in.CurrentPassword == "" {
		return ErrBadCredentials // costs no bcrypt, so it is not counted
	}
	now := s.now().UTC()
	if err := s.changePerUser.Take(ctx, u.ID, now); err != nil {
		return err
	}
	if err := s.changePerIP.Take(ctx, in.Client.IP, now); err != nil {
		return err
	}
	if err := s.checkPassword(ctx, u.ID, in.Client.IP, u.PasswordHash, in.CurrentPassword); err != nil {
		return err
	}
	// The password was checked against the account as authentication read
	// it. Should it have changed since (the owner changing it to lock a
	// thief out), the password checked is no longer the account's.
	cur, err := s.store.UserByID(ctx, u.ID)
	switch {
	case err != nil:
		return err
	case cur.CredentialVersion != u.CredentialVersion:
		return ErrBadCredentials
	}
	return s.deleteAccount(context.WithoutCancel(ctx), p, cur)
}

// deleteOther is DeleteUser of someone else's account, which only an admin
// may do.
func (s *Service) deleteOther(ctx context.Context, p auth.Principal, id string) error {
	if err := MayEdit(p, id); err != nil {
		return err
	}
	u, err := s.User(ctx, id)
	if errors.Is(err, ErrNotFound) && objectid.Valid(id) {
		// Nothing to delete, but perhaps something left behind: a
		// deletion whose cascade stopped after its mark (finished here
		// rather than at the next sweep), or one that stopped inside the
		// store's last step (MongoDB has no transactions) and left
		// sessions or tokens, which the store's DeleteUser removes even
		// without their user. Either way the account was gone already.
		ctx := context.WithoutCancel(ctx)
		marked, err := s.store.MarkDeleting(ctx, id, s.now().UTC())
		switch {
		case err == nil:
			if err := s.finishDeletion(ctx, marked); err != nil {
				return err
			}
		case !errors.Is(err, ErrNotFound):
			return err
		default:
			if _, err := s.store.DeleteUser(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return s.deleteAccount(context.WithoutCancel(ctx), p, u)
}

// deleteAccount runs the cascade of DeleteUser on u, whom p may delete.
func (s *Service) deleteAccount(ctx context.Context, p auth.Principal, u User) error {
	marked, err := s.store.MarkDeleting(ctx, u.ID, s.now().UTC())
	if err != nil {
		return err // ErrNotFound: a concurrent deletion got there first
	}
	s.step("user-delete:after-mark")
	if err := s.finishDeletion(ctx, marked); err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "account deleted", slog.String("user_id", u.ID), slog.String("by", p.UserID))
	return nil
}

// finishDeletion runs the steps of the cascade after the mark (see
// DeleteUser) on u, a user marked for deletion as MarkDeleting returned it.
// Every step is safe to repeat, so it may run on a deletion that is partly
// or wholly done, and twice at once.
func (s *Service) finishDeletion(ctx context.Context, u User) error {
	if err := s.sessions.LogoutAll(ctx, u.ID); err != nil {
		return fmt.Errorf("deleting user %s: revoking the sessions: %w", u.ID, err)
	}
	s.step("user-delete:after-logout")
	for _, f := range s.forgetters {
		if err := f.ForgetUser(ctx, u.ID); err != nil {
			return fmt.Errorf("deleting user %s: %w", u.ID, err)
		}
	}
	s.step("user-delete:after-forget")
	// The marked record's picture is its last: SetPicture finds no user
	// once the mark is set.
	s.DiscardPicture(ctx, u.PictureID)
	s.step("user-delete:after-picture")
	gone, err := s.store.DeleteUser(ctx, u.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil // another run of the cascade removed the record first
	case err != nil:
		return err
	}
	if gone.PictureID != u.PictureID {
		s.DiscardPicture(ctx, gone.PictureID)
	}
	return nil
}

// FinishDeletions finishes every account deletion whose cascade began
// (Store.MarkDeleting) before the time given and has not ended: one that a
// crash, a failing store or a stopped instance interrupted. The server runs
// it at start, for every such deletion, and in its periodic sweep for
// those marked a while ago (a younger one is most likely still running in
// a request). It returns how many it finished; it goes on past a deletion
// that fails again, and returns the first error after trying them all.
func (s *Service) FinishDeletions(ctx context.Context, before time.Time) (int, error) {
	users, err := s.store.UsersBeingDeleted(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing the users being deleted: %w", err)
	}
	n := 0
	var first error
	for _, u := range users {
		if ctx.Err() != nil {
			break // stopping: the next start or sweep finishes the rest
		}
		if !u.DeletingAt.Before(before) {
			continue
		}
		if err := s.finishDeletion(context.WithoutCancel(ctx), u); err != nil {
			first = cmp.Or(first, err)
			continue
		}
		n++
		s.log.LogAttrs(ctx, slog.LevelInfo, "interrupted account deletion finished",
			slog.String("user_id", u.ID), slog.Time("begun", u.DeletingAt))
	}
	return n, first
}

// step calls the test hook Deps.AfterStep, if any, after the named step of
// a cascade.
func (s *Service) step(name string) {
	if s.afterStep != nil {
		s.afterStep(name)
	}
}
