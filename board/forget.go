package board

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"corkboard/user"
)

var _ user.Forgetter = (*Service)(nil)

// deleteBoard deletes b and everything that hangs off it, in this order:
//
//  1. the board is marked (Store.MarkBoardDeleting, one write): this is
//     the commit point. From here on every board route answers 404, the
//     board is off every list, and it can no longer change, so the files
//     the marked board points at are all it will ever point at;
//  2. the notifications about it (invitations and their responses) go;
//  3. the bytes of its background and attachments go;
//  4. the board record goes, with its lists, cards, members, invitations
//     and favourites.
//
// The mark comes first because the board is what every other record is
// checked against: an invitation still there answers 404 to accept and
// decline and is deleted on sight (see Notifications), and no member can
// reach an attachment whose bytes are going. And the record, which names
// the files, goes last, so that a cascade that stops part-way (an error, or
// the process killed) is finished from the mark, files included, by
// FinishDeletions at the next start or sweep. Every step after the mark is
// safe to repeat; a board already gone (two deletions at once) is not an
// error here.
func (s *Service) deleteBoard(ctx context.Context, b Board) error {
	marked, err := s.store.MarkBoardDeleting(ctx, b.ID, s.now().UTC())
	switch {
	case errors.Is(err, ErrNotFound):
		return nil // deleted meanwhile, by another run of the cascade
	case err != nil:
		return fmt.Errorf("deleting board %s: %w", b.ID, err)
	}
	s.step("board-delete:after-mark")
	return s.finishBoardDeletion(ctx, marked)
}

// finishBoardDeletion runs the steps of deleteBoard after the mark on b,
// a board as MarkBoardDeleting returned it.
func (s *Service) finishBoardDeletion(ctx context.Context, b Board) error {
	if err := s.store.DeleteBoardNotifications(ctx, b.ID); err != nil {
		return fmt.Errorf("deleting the notifications of board %s: %w", b.ID, err)
	}
	s.step("board-delete:after-notifications")
	for _, f := range b.Files() {
		s.discardFile(ctx, f.Bucket, f.ID)
	}
	s.step("board-delete:after-files")
	if err := s.store.DeleteBoard(ctx, b.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("deleting board %s: %w", b.ID, err)
	}
	return nil
}

// FinishDeletions finishes every board deletion whose cascade began
// (Store.MarkBoardDeleting) before the time given and has not ended: one
// that a crash, a failing store or a stopped instance interrupted. The
// server runs it at start, for every such deletion, and in its periodic
// sweep for those marked a while ago. It returns how many it finished; it
// goes on past a deletion that fails again, and returns the first error
// after trying them all.
func (s *Service) FinishDeletions(ctx context.Context, before time.Time) (int, error) {
	boards, err := s.store.BoardsBeingDeleted(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing the boards being deleted: %w", err)
	}
	n := 0
	var first error
	for _, b := range boards {
		if ctx.Err() != nil {
			break // stopping: the next start or sweep finishes the rest
		}
		if !b.DeletingAt.Before(before) {
			continue
		}
		if err := s.finishBoardDeletion(context.WithoutCancel(ctx), b); err != nil {
			first = cmp.Or(first, err)
			continue
		}
		n++
		s.log.LogAttrs(ctx, slog.LevelInfo, "interrupted board deletion finished",
			slog.String("board_id", b.ID), slog.Time("begun", b.DeletingAt))
	}
	return n, first
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
