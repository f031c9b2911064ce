package board

import (
	"context"
	"errors"
	"fmt"

	"corkboard/user"
)

var _ user.Forgetter = (*Service)(nil)

// deleteBoard deletes b and everything that hangs off it, in this order:
//
//  1. the board record, with its lists, cards, members, invitations and
//     favourites (one write): from here on every board route answers 404;
//  2. the notifications about it (invitations and their responses);
//  3. the bytes of its background and attachments.
//
// The board goes first because it is what every other record is checked
// against: should the cascade stop after step 1, an invitation left
// behind answers 404 to accept and decline and is deleted on sight (see
// Notifications), and files left behind are pointed at by nothing (the
// file store's start-up sweep removes them). The reverse order could leave
// a live board whose invitations had vanished, or whose attachments answer
// with missing bytes. A board already gone (two deletions at once) is not
// an error here: the rest of the cascade still runs.
func (s *Service) deleteBoard(ctx context.Context, b Board) error {
	if err := s.store.DeleteBoard(ctx, b.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("deleting board %s: %w", b.ID, err)
	}
	s.step("board-delete:after-record")
	if err := s.store.DeleteBoardNotifications(ctx, b.ID); err != nil {
		return fmt.Errorf("deleting the notifications of board %s: %w", b.ID, err)
	}
	s.step("board-delete:after-notifications")
	for _, f := range b.Files() {
		s.discardFile(ctx, f.Bucket, f.ID)
	}
	return nil
}

// ForgetUser implements user.Forgetter: the user id is being deleted.
// Their boards and their place on others' go, in this order:
//
//  1. every board they own is deleted with its cascade (deleteBoard);
//  2. they are taken off every other board they are a member of (with
//     their favourite) or invited to;
//  3. their notifications are deleted.
//
// Each step is safe to run again, and a board already changed is skipped,
// so a deletion that stopped part-way and is retried finishes the job. It
// is called after the user's sessions are revoked, so the user can no
// longer add to what it removes; others still can (a member accepting an
// invitation the user sent sends them a response), which is why the
// notifications go last.
func (s *Service) ForgetUser(ctx context.Context, id string) error {
	ids, err := s.store.BoardIDsFor(ctx, id)
	if err != nil {
		return fmt.Errorf("forgetting user %s: listing their boards: %w", id, err)
	}
	for _, bid := range ids {
		b, err := s.store.BoardByID(ctx, bid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("forgetting user %s: %w", id, err)
		}
		if b.IsOwner(id) {
			if err := s.deleteBoard(ctx, b); err != nil {
				return fmt.Errorf("forgetting user %s: %w", id, err)
			}
			continue
		}
		now := s.now().UTC()
		_, err = s.store.UpdateBoard(ctx, bid, func(b *Board) error {
			if b.IsOwner(id) {
				return nil // cannot happen: owners do not change
			}
			if b.IsMember(id) {
				if err := b.RemoveMember(id); err != nil {
					return err
				}
				b.UpdatedAt = now
			}
			if b.IsInvited(id) {
				return b.DropInvite(id)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("forgetting user %s on board %s: %w", id, bid, err)
		}
	}
	if err := s.store.DeleteNotificationsFor(ctx, id); err != nil {
		return fmt.Errorf("forgetting user %s: deleting their notifications: %w", id, err)
	}
	return nil
}

// step calls the test hook Deps.AfterStep, if any, after the named step of
// a cascade.
func (s *Service) step(name string) {
	if s.afterStep != nil {
		s.afterStep(name)
	}
}
