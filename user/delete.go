package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	// with the given id. It is called while the user record still exists
	// and after the user's sessions were revoked; an error stops the
	// deletion before the record goes, and the deletion may be retried
	// from the start. So ForgetUser must be safe to call again, for a user
	// it has partly or wholly forgotten already: then it finishes the job
	// and returns nil.
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
//  1. every session of the user is revoked: their access and refresh
//     tokens die at once, so nothing the user does from now on reaches the
//     later steps;
//  2. each Forgetter lets go of the user (their boards, memberships, ...),
//     while the user record still exists;
//  3. the user record goes, with its sessions and one-time tokens (in the
//     file store one journal batch; in MongoDB the user document, then the
//     sessions and tokens): the email and username are free again;
//  4. the profile picture's bytes are deleted.
//
// The order is what makes a failure part-way harmless. Until step 3 the
// account exists, with nothing of it usable but the password: a retry
// (after logging in again) runs the whole cascade again, which is why a
// Forgetter must be safe to call twice, and no record anywhere points at a
// user that is gone. Step 3 is the commit point; after it, a failure leaves
// only what nobody can reach: dead sessions and tokens in MongoDB (removed
// by the sweeps, or at once by an admin's retry, which gets 404), or a
// picture file no user points at (DiscardPicture logs its failure; the
// file store's start-up sweep removes such files). The cascade runs to
// its end whatever becomes of the client's request: a client that goes away
// must not stop it half-way.
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
		// Nothing to delete, but perhaps something left behind: a deletion
		// that stopped inside the store's step (MongoDB has no
		// transactions) left sessions or tokens, which the store's
		// DeleteUser removes even without their user.
		if _, err := s.store.DeleteUser(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
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
	if err := s.sessions.LogoutAll(ctx, u.ID); err != nil {
		return fmt.Errorf("deleting user %s: revoking the sessions: %w", u.ID, err)
	}
	for _, f := range s.forgetters {
		if err := f.ForgetUser(ctx, u.ID); err != nil {
			return fmt.Errorf("deleting user %s: %w", u.ID, err)
		}
	}
	// The picture to delete is the one the record held when it went, read
	// in the same atomic step: one set while the forgetters ran (a slow
	// upload) must not outlive the account.
	gone, err := s.store.DeleteUser(ctx, u.ID)
	if err != nil {
		return err // ErrNotFound: a concurrent deletion got there first
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "account deleted", slog.String("user_id", u.ID), slog.String("by", p.UserID))
	s.DiscardPicture(ctx, gone.PictureID)
	return nil
}
