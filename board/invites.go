package board

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"corkboard/auth"
	"corkboard/objectid"
)

// Invitations live in two records: the board's Invited list, which says
// who may join, and an invite notification to the invitee, which is how
// they answer. No store writes both at once (a board and a notification
// are two documents, and MongoDB here has no transactions), so every step
// is ordered to leave, if it stops half-way, only one kind of half-done
// state: a pending invitation on the board without an open notification.
// It is harmless (nobody can join through it) and repaired by the same
// request again, or by inviting the user again, which sends a new
// notification instead of answering already_invited. The reverse, a
// notification about a board that is gone, answers 404 to accept and
// decline and is deleted on sight (when listed or answered).
//
//   - Invite: the board first (Invited), then the notification.
//   - Accept and Decline: the notification's compare-and-swap first
//     (HandleNotification), which decides the answer when accept and
//     decline race; then the board (AcceptInvite or DropInvite, a
//     compare-and-swap on the board's version), which decides who gets the
//     success when the same answer is sent twice; then the inviter's
//     invite_response. A retry after a stop between the first two steps
//     finds the notification answered the same way and finishes the board
//     step; one after the board step answers already_handled. A stop
//     before the invite_response loses that message, and only it.
//   - Dismissing an open invitation: the notification first, then the
//     invitation on the board.

// Invite invites the user inviteeID to the board id, on behalf of p, a
// member, and returns the invite notification delivered to them. It fails
// with ErrNotFound (no such board, or p is not a member), a
// *ValidationError for an id that is not one, ErrInviteSelf,
// ErrUserNotFound, ErrAlreadyMember, ErrAlreadyInvited, or a *LimitError.
//
// Inviting a user whose invitation is pending but who has no open
// notification of it (a request that stopped half-way, or a notification
// they dismissed while it was being sent) sends the notification again.
func (s *Service) Invite(ctx context.Context, p auth.Principal, id, inviteeID string) (NotificationView, error) {
	if _, err := s.memberBoard(ctx, p, id); err != nil {
		return NotificationView{}, err
	}
	switch {
	case !objectid.Valid(inviteeID):
		return NotificationView{}, invalidField("userId", msgBadID)
	case inviteeID == p.UserID:
		return NotificationView{}, ErrInviteSelf
	}
	if err := s.userExists(ctx, inviteeID); err != nil {
		return NotificationView{}, err
	}
	b, err := s.change(ctx, p, id, false, func(b *Board) error { return b.Invite(p.UserID, inviteeID) })
	if errors.Is(err, ErrAlreadyInvited) {
		b, err = s.memberBoard(ctx, p, id)
		if err != nil {
			return NotificationView{}, err
		}
		open, err := s.openInvite(ctx, inviteeID, id)
		if err != nil {
			return NotificationView{}, err
		}
		if open {
			return NotificationView{}, ErrAlreadyInvited
		}
		// Pending, but nothing to answer it with: send it (again).
	} else if err != nil {
		return NotificationView{}, err
	}
	n, err := s.sendInvite(ctx, b, p.UserID, s.username(ctx, p), inviteeID)
	if err != nil {
		return NotificationView{}, err
	}
	return ViewOfNotification(n), nil
}

// superseded reports whether the invitation n was followed by another
// invitation of its recipient to the same board: one still open, or one
// made after it. Then n, answered already, is history, and must not act on
// the board's pending invitation, which is the newer one's.
func (s *Service) superseded(ctx context.Context, n Notification) (bool, error) {
	ns, err := s.store.Notifications(ctx, n.UserID)
	if err != nil {
		return false, err
	}
	for _, m := range ns {
		if m.ID != n.ID && m.Type == NotificationInvite && m.BoardID == n.BoardID &&
			(!m.Handled || m.CreatedAt.After(n.CreatedAt)) {
			return true, nil
		}
	}
	return false, nil
}

// openInvite reports whether userID has an open invite notification about
// the board boardID.
func (s *Service) openInvite(ctx context.Context, userID, boardID string) (bool, error) {
	ns, err := s.store.Notifications(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, n := range ns {
		if n.Type == NotificationInvite && n.BoardID == boardID && !n.Handled {
			return true, nil
		}
	}
	return false, nil
}

// sendInvite stores the invite notification of inviteeID to b from the
// member fromID (named from). Its id is inviteNotificationID(b, inviteeID):
// concurrent requests inviting the same user to the same board all see the
// board at the version the first one's invitation made, so they all make
// the same id, and the store keeps one notification; the others find it
// taken and answer ErrAlreadyInvited.
func (s *Service) sendInvite(ctx context.Context, b Board, fromID, from, inviteeID string) (Notification, error) {
	now := s.now().UTC()
	n := Notification{
		ID:           inviteNotificationID(b, inviteeID),
		UserID:       inviteeID,
		Type:         NotificationInvite,
		BoardID:      b.ID,
		BoardTitle:   b.Title,
		FromUserID:   fromID,
		FromUsername: from,
		CreatedAt:    now,
	}
	if err := s.store.CreateNotification(ctx, n); err != nil {
		if _, gerr := s.store.NotificationByID(ctx, n.ID); gerr == nil {
			return Notification{}, ErrAlreadyInvited // sent by a concurrent request
		}
		return Notification{}, err
	}
	return n, nil
}

// inviteNotificationID is the id of the invite notification of inviteeID
// to b, at b's version: a hash of the three, in the shape of an id.
func inviteNotificationID(b Board, inviteeID string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "invite %s %s %d", b.ID, inviteeID, b.Version))
	return hex.EncodeToString(sum[:12])
}

// Notifications returns p's notifications, newest first. An open
// invitation to a board that is gone (its deletion stopped before its
// notifications went) is deleted here and left out: it could only answer
// 404.
func (s *Service) Notifications(ctx context.Context, p auth.Principal) ([]NotificationView, error) {
	ns, err := s.store.Notifications(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]NotificationView, 0, len(ns))
	exists := map[string]bool{}
	for _, n := range ns {
		if n.Type == NotificationInvite && !n.Handled {
			ok, seen := exists[n.BoardID]
			if !seen {
				_, err := s.store.BoardByID(ctx, n.BoardID)
				switch {
				case errors.Is(err, ErrNotFound):
				case err != nil:
					return nil, err
				default:
					ok = true
				}
				exists[n.BoardID] = ok
			}
			if !ok {
				s.dropStale(ctx, n)
				continue
			}
		}
		out = append(out, ViewOfNotification(n))
	}
	return out, nil
}

// ownInvitation returns the notification nid if p is its recipient (else
// ErrNotificationNotFound: someone else's notification is not revealed)
// and it is an invitation (else ErrNotAnInvitation), with the board it is
// about. When that board is gone, the notification is deleted and the
// error is ErrNotFound.
func (s *Service) ownInvitation(ctx context.Context, p auth.Principal, nid string) (Notification, Board, error) {
	n, err := s.ownNotification(ctx, p, nid)
	if err != nil {
		return Notification{}, Board{}, err
	}
	if n.Type != NotificationInvite {
		return Notification{}, Board{}, ErrNotAnInvitation
	}
	b, err := s.store.BoardByID(ctx, n.BoardID)
	if errors.Is(err, ErrNotFound) {
		s.dropStale(ctx, n)
	}
	if err != nil {
		return Notification{}, Board{}, err
	}
	return n, b, nil
}

// ownNotification returns the notification nid if p is its recipient, else
// ErrNotificationNotFound.
func (s *Service) ownNotification(ctx context.Context, p auth.Principal, nid string) (Notification, error) {
	if !objectid.Valid(nid) {
		return Notification{}, ErrNotificationNotFound
	}
	n, err := s.store.NotificationByID(ctx, nid)
	if err != nil {
		return Notification{}, err
	}
	if n.UserID != p.UserID {
		return Notification{}, ErrNotificationNotFound
	}
	return n, nil
}

// answer records p's answer to the invitation n: the compare-and-swap on
// the notification, unless a request before this one made it already. It
// fails with ErrAlreadyHandled when the invitation was answered the other
// way.
func (s *Service) answer(ctx context.Context, n Notification, accepted bool) error {
	if n.Handled {
		// Answered before this request: only a retry of a request that
		// stopped before its board step may go on, and only while this
		// is the user's latest invitation to the board. An old answered
		// invitation must not act on a newer one (accept a re-invitation
		// through the first, or drop it through a decline).
		superseded, err := s.superseded(ctx, n)
		if err != nil {
			return err
		}
		if superseded {
			return ErrAlreadyHandled
		}
	}
	if !n.Handled {
		id := n.ID
		var err error
		n, err = s.store.HandleNotification(ctx, id, accepted, s.now().UTC())
		if errors.Is(err, ErrAlreadyHandled) {
			// Answered by a concurrent request: the same answer lets this
			// one go on to the board step, which decides between them.
			n, err = s.store.NotificationByID(ctx, id)
		}
		if err != nil {
			return err
		}
	}
	if n.Accepted == nil || *n.Accepted != accepted {
		return ErrAlreadyHandled
	}
	return nil
}

// Accept accepts the invitation nid for p, its recipient: p joins the
// board, and the inviter gets an invite_response with accepted true. It
// returns the board. It fails with ErrNotificationNotFound (no such
// notification, or not p's), ErrNotAnInvitation, ErrNotFound (the board is
// gone; the notification is deleted), ErrAlreadyHandled (accepted or
// declined already), or a *LimitError when the board is full (the
// invitation stays open, to be accepted later). See the order of the steps
// above.
func (s *Service) Accept(ctx context.Context, p auth.Principal, nid string) (Shown, error) {
	n, b, err := s.ownInvitation(ctx, p, nid)
	if err != nil {
		return Shown{}, err
	}
	if !n.Handled && b.IsInvited(p.UserID) && len(b.Members) >= MaxMembers {
		// Checked before the answer is recorded, so that a full board
		// leaves the invitation open rather than answered and unjoined.
		return Shown{}, &LimitError{"membersPerBoard", MaxMembers}
	}
	// The rest runs to its end whatever becomes of the request: a client
	// that goes away must not leave the answer recorded and the join
	// undone.
	ctx = context.WithoutCancel(ctx)
	if err := s.answer(ctx, n, true); err != nil {
		return Shown{}, err
	}
	now := s.now().UTC()
	b, err = s.store.UpdateBoard(ctx, n.BoardID, func(b *Board) error {
		if err := b.AcceptInvite(p.UserID); err != nil {
			return err
		}
		b.UpdatedAt = now
		return nil
	})
	switch {
	case errors.Is(err, ErrNotInvited):
		return Shown{}, ErrAlreadyHandled // joined by the first of two accepts
	case errors.Is(err, ErrNotFound):
		s.dropStale(ctx, n)
		return Shown{}, err
	case err != nil:
		return Shown{}, err
	}
	s.respond(ctx, p, n, b, true)
	return s.view(ctx, b, p)
}

// Decline declines the invitation nid for p, its recipient: the invitation
// is dropped from the board and the inviter gets an invite_response with
// accepted false. Its errors are those of Accept, without the limit.
func (s *Service) Decline(ctx context.Context, p auth.Principal, nid string) error {
	n, _, err := s.ownInvitation(ctx, p, nid)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.answer(ctx, n, false); err != nil {
		return err
	}
	b, err := s.store.UpdateBoard(ctx, n.BoardID, func(b *Board) error { return b.DropInvite(p.UserID) })
	switch {
	case errors.Is(err, ErrNotInvited):
		return ErrAlreadyHandled
	case errors.Is(err, ErrNotFound):
		s.dropStale(ctx, n)
		return err
	case err != nil:
		return err
	}
	s.respond(ctx, p, n, b, false)
	return nil
}

// DeleteNotification dismisses the notification nid of p, its recipient.
// An open invitation dismissed is dropped from the board too, without a
// word to the inviter: it can no longer be answered, and the user may be
// invited again.
func (s *Service) DeleteNotification(ctx context.Context, p auth.Principal, nid string) error {
	n, err := s.ownNotification(ctx, p, nid)
	if err != nil {
		return err
	}
	if err := s.store.DeleteNotification(ctx, nid); err != nil {
		return err
	}
	if n.Type != NotificationInvite || n.Handled {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	_, err = s.store.UpdateBoard(ctx, n.BoardID, func(b *Board) error { return b.DropInvite(p.UserID) })
	if err != nil && !errors.Is(err, ErrNotInvited) && !errors.Is(err, ErrNotFound) {
		// The notification is gone; the invitation left pending is
		// harmless, and inviting again sends a new one.
		s.log.LogAttrs(ctx, slog.LevelWarn, "dropping a dismissed invitation from its board failed",
			slog.String("board_id", n.BoardID), slog.String("user_id", p.UserID), slog.String("error", err.Error()))
	}
	return nil
}

// respond tells the inviter of n that p accepted (or declined) it. It is
// the last step of an answer, after the answer is recorded and the board
// changed, so it fails the request no more: a failure is logged, and the
// message is lost. An inviter whose account is gone gets none.
func (s *Service) respond(ctx context.Context, p auth.Principal, n Notification, b Board, accepted bool) {
	if err := s.userExists(ctx, n.FromUserID); err != nil {
		return
	}
	now := s.now().UTC()
	r := Notification{
		ID:           objectid.New(now),
		UserID:       n.FromUserID,
		Type:         NotificationInviteResponse,
		BoardID:      b.ID,
		BoardTitle:   b.Title,
		FromUserID:   p.UserID,
		FromUsername: s.username(ctx, p),
		Accepted:     &accepted,
		CreatedAt:    now,
	}
	if err := s.store.CreateNotification(ctx, r); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "storing an invite_response failed",
			slog.String("board_id", b.ID), slog.String("user_id", n.FromUserID), slog.String("error", err.Error()))
	}
}

// dropStale deletes the notification n about a board that is gone: the
// board's deletion stopped before its notifications went. Best effort: the
// next sight of it tries again.
func (s *Service) dropStale(ctx context.Context, n Notification) {
	err := s.store.DeleteNotification(context.WithoutCancel(ctx), n.ID)
	if err != nil && !errors.Is(err, ErrNotificationNotFound) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "deleting a notification about a deleted board failed",
			slog.String("notification_id", n.ID), slog.String("error", err.Error()))
	}
}

// SweepNotifications deletes the notifications about boards that are gone:
// a board deletion that stopped after the board went and before its
// notifications did leaves them behind, and a second DELETE of the board
// finds nothing to finish. Open invitations are also dropped when their
// recipient lists them; this finishes the job for the rest. It returns how
// many boards' notifications it deleted. Each board is looked up once.
func (s *Service) SweepNotifications(ctx context.Context) (int, error) {
	boards := make(map[string]bool)
	err := s.store.EachNotification(ctx, func(n Notification) error {
		boards[n.BoardID] = true
		return nil
	})
	if err != nil {
		return 0, err
	}
	swept := 0
	for id := range boards {
		_, err := s.store.BoardByID(ctx, id)
		if !errors.Is(err, ErrNotFound) {
			if err != nil {
				return swept, err
			}
			continue
		}
		if err := s.store.DeleteBoardNotifications(ctx, id); err != nil {
			return swept, err
		}
		swept++
	}
	return swept, nil
}
