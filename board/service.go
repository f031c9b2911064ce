package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"corkboard/auth"
	"corkboard/objectid"
	"corkboard/user"
)

// Users is what the board service reads of accounts: the name, colour and
// picture of each member for the board view, and whether an invitee
// exists. A user.Store is one.
type Users interface {
	// UserByID returns the user, or an error wrapping user.ErrNotFound.
	UserByID(ctx context.Context, id string) (user.User, error)
}

// Deps are what the board service works with.
type Deps struct {
	Store Store
	Users Users
	// Files keeps the bytes of backgrounds and attachments; the same
	// value keeps the user's pictures.
	Files user.FileStore
	// AfterStep, when set, is called with the name of each step of a
	// board's deletion once it is done ("board-delete:after-mark",
	// "board-delete:after-notifications", "board-delete:after-files"). It is a test hook: the crash
	// tests stop the process there. Nil in normal use.
	AfterStep func(step string)
}

// Service holds the rules of who may do what to a board: only members see
// a board, and anyone else is told there is none (ErrNotFound), so that a
// board's existence is never revealed; the owner alone deletes the board
// and removes others (ErrForbidden for a member), and an admin may delete
// any board. Its methods take typed inputs and return views and sentinel
// errors (this package's, and *ValidationError, *LimitError); it knows
// nothing of HTTP.
//
// Every change of a board is one Store.UpdateBoard with a pure edit, which
// checks membership again on the board it is given: a member removed a
// moment ago cannot slip a change in between a read and a write.
type Service struct {
	store Store
	users Users
	files user.FileStore
	now   func() time.Time
	log   *slog.Logger
	// afterStep is the test hook Deps.AfterStep, or nil.
	afterStep func(step string)
}

// NewService returns the board Service. now is the clock.
func NewService(deps Deps, now func() time.Time, log *slog.Logger) *Service {
	return &Service{store: deps.Store, users: deps.Users, files: deps.Files, now: now, log: log, afterStep: deps.AfterStep}
}

// Errors of the Service, besides the Store's (ErrNotFound,
// ErrNotificationNotFound, ErrAlreadyHandled, ErrBusy) and those of the
// board's methods.
var (
	// ErrForbidden: the caller is a member, but the action is the
	// owner's (or an admin's).
	ErrForbidden = errors.New("only the owner of the board may do this")
	// ErrUserNotFound: an invitation names a user who does not exist.
	ErrUserNotFound = errors.New("no such user")
	// ErrNotAnInvitation: accept or decline of a notification that is not
	// an invitation (an invite_response only informs).
	ErrNotAnInvitation = errors.New("this notification is not an invitation")
)

// memberBoard returns the board id as p sees it: ErrNotFound when there is
// no such board or p is not one of its members.
func (s *Service) memberBoard(ctx context.Context, p auth.Principal, id string) (Board, error) {
	if !objectid.Valid(id) {
		return Board{}, ErrNotFound
	}
	b, err := s.store.BoardByID(ctx, id)
	if err != nil {
		return Board{}, err
	}
	if !b.IsMember(p.UserID) {
		return Board{}, ErrNotFound
	}
	return b, nil
}

// update changes the board id for its member p: edit runs (perhaps more
// than once, see Store.UpdateBoard) on the stored board, after the check
// that p is a member of it, and the board's UpdatedAt becomes now. It
// fails with ErrNotFound for no such board or a non-member, or with
// edit's error.
func (s *Service) update(ctx context.Context, p auth.Principal, id string, edit func(*Board) error) (Board, error) {
	return s.change(ctx, p, id, true, edit)
}

// change is update, but leaves UpdatedAt alone unless touch: a favourite
// or a pending invitation is no change of the board its members see, and
// must not move it up their lists.
func (s *Service) change(ctx context.Context, p auth.Principal, id string, touch bool, edit func(*Board) error) (Board, error) {
	if !objectid.Valid(id) {
		return Board{}, ErrNotFound
	}
	now := s.now().UTC()
	return s.store.UpdateBoard(ctx, id, func(b *Board) error {
		if !b.IsMember(p.UserID) {
			return ErrNotFound
		}
		if err := edit(b); err != nil {
			return err
		}
		if touch {
			b.UpdatedAt = now
		}
		return nil
	})
}

// CreateInput is a new board.
type CreateInput struct {
	Title         string
	BackgroundURL string
	// Invite are the ids of users to invite at once.
	Invite []string
}

// Create makes a board owned by p, who is its first member, and invites
// the users in.Invite: the board is stored with them as pending
// invitations, then each gets an invite notification. It fails with a
// *ValidationError naming every bad field (an id that is not one, p
// themself or a user twice in invite is a bad "invite"), ErrUserNotFound
// when an invitee does not exist, or a *LimitError for too many
// invitations.
//
// A notification that cannot be stored after the board is (the store
// failing in between) is logged, not returned: the board exists, and a
// client that retried the creation would make a second one. The
// invitation is then pending without its notification, which inviting the
// user again repairs (see Invite).
func (s *Service) Create(ctx context.Context, p auth.Principal, in CreateInput) (Shown, error) {
	now := s.now().UTC()
	b, err := New(p.UserID, in.Title, in.BackgroundURL, now)
	fields := map[string]string{}
	var invalidErr *ValidationError
	switch {
	case errors.As(err, &invalidErr):
		maps.Copy(fields, invalidErr.Fields)
	case err != nil:
		return Shown{}, err
	}
	seen := map[string]bool{}
	for _, id := range in.Invite {
		switch {
		case !objectid.Valid(id):
			fields["invite"] = "must hold user ids (24 hex characters)"
		case id == p.UserID:
			fields["invite"] = "cannot hold yourself: the creator is a member already"
		case seen[id]:
			fields["invite"] = "must not hold a user twice"
		}
		seen[id] = true
	}
	if err := invalid(fields); err != nil {
		return Shown{}, err
	}
	if len(in.Invite) > MaxInvites {
		return Shown{}, &LimitError{"invitesPerBoard", MaxInvites}
	}
	for _, id := range in.Invite {
		if err := s.userExists(ctx, id); err != nil {
			return Shown{}, err
		}
		if err := b.Invite(p.UserID, id); err != nil {
			return Shown{}, err
		}
	}
	if err := s.store.CreateBoard(ctx, *b); err != nil {
		return Shown{}, fmt.Errorf("creating a board: %w", err)
	}
	// The caller's account may have begun its deletion since this request
	// was authenticated, and that cascade may have listed the caller's
	// boards before this one was stored: the board would outlive its
	// owner. The mark is set before the listing, so looking again now
	// tells: if the owner is gone, the board goes too.
	if err := s.userExists(ctx, p.UserID); err != nil {
		if errors.Is(err, ErrUserNotFound) {
			if derr := s.deleteBoard(context.WithoutCancel(ctx), *b); derr != nil {
				return Shown{}, fmt.Errorf("deleting a board whose owner is being deleted: %w", derr)
			}
		}
		return Shown{}, err
	}
	if len(in.Invite) > 0 {
		from := s.username(ctx, p)
		for _, id := range in.Invite {
			if _, err := s.sendInvite(ctx, *b, p.UserID, from, id); err != nil {
				s.log.LogAttrs(ctx, slog.LevelWarn, "storing an invitation failed; inviting again sends it",
					slog.String("board_id", b.ID), slog.String("user_id", id), slog.String("error", err.Error()))
			}
		}
	}
	return s.view(ctx, *b, p)
}

// Boards returns the summaries of p's boards, favourites first, then the
// most recently updated: one query, whatever the number of boards.
func (s *Service) Boards(ctx context.Context, p auth.Principal) ([]Summary, error) {
	return s.store.BoardSummaries(ctx, p.UserID)
}

// Board returns the board id, for a member.
func (s *Service) Board(ctx context.Context, p auth.Principal, id string) (Shown, error) {
	b, err := s.memberBoard(ctx, p, id)
	if err != nil {
		return Shown{}, err
	}
	return s.view(ctx, b, p)
}

// UpdateInput changes a board's title and background; a nil field stays
// as it is.
type UpdateInput struct {
	Title *string
	// BackgroundURL replaces the background, an uploaded one included,
	// with an http(s) address, or removes it when "".
	BackgroundURL *string
}

// Update changes the title and the background URL of the board id, for a
// member, in one write; both change or neither. An uploaded background it
// replaces is deleted after the write.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in UpdateInput) (Shown, error) {
	if in.Title == nil && in.BackgroundURL == nil {
		return s.Board(ctx, p, id)
	}
	var replaced string
	b, err := s.update(ctx, p, id, func(b *Board) error {
		replaced = ""
		var errs []error
		if in.Title != nil {
			errs = append(errs, b.SetTitle(*in.Title))
		}
		if in.BackgroundURL != nil {
			old, err := b.SetBackgroundURL(*in.BackgroundURL)
			replaced = old
			errs = append(errs, err)
		}
		return firstError(errs...)
	})
	if err != nil {
		return Shown{}, err
	}
	s.discardFile(ctx, BackgroundBucket, replaced)
	return s.view(ctx, b, p)
}

// SetFavourite marks the board id a favourite of p, a member, or unmarks
// it; it returns the flag as stored. It is a set, not a toggle: a request
// sent twice leaves the same state. It does not change the board's
// UpdatedAt.
func (s *Service) SetFavourite(ctx context.Context, p auth.Principal, id string, favourite bool) (bool, error) {
	b, err := s.change(ctx, p, id, false, func(b *Board) error { return b.SetFavourite(p.UserID, favourite) })
	if err != nil {
		return false, err
	}
	return b.IsFavourite(p.UserID), nil
}

// Members returns the members of the board id, the owner first, for a
// member.
func (s *Service) Members(ctx context.Context, p auth.Principal, id string) ([]MemberView, error) {
	b, err := s.memberBoard(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.members(ctx, b)
}

// RemoveMember takes userID off the board id. The owner may remove any
// member but themself (ErrOwnerCannotLeave); any other member may remove
// only themself, which is leaving (ErrForbidden for anyone else). A
// caller who is not a member gets ErrNotFound, and so does a userID who is
// not a member (ErrNotMember).
func (s *Service) RemoveMember(ctx context.Context, p auth.Principal, id, userID string) error {
	_, err := s.update(ctx, p, id, func(b *Board) error {
		if userID != p.UserID && !b.IsOwner(p.UserID) {
			return ErrForbidden
		}
		return b.RemoveMember(userID)
	})
	return err
}

// Delete deletes the board id with its lists, cards, invitations,
// favourites, notifications and files (see deleteBoard). The owner may, and
// an admin may delete any board; another member gets ErrForbidden, anyone
// else ErrNotFound.
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	if !objectid.Valid(id) {
		return ErrNotFound
	}
	b, err := s.store.BoardByID(ctx, id)
	if err != nil {
		return err
	}
	admin := auth.HasRole(p.Roles, auth.RoleAdmin)
	switch {
	case !b.IsMember(p.UserID) && !admin:
		return ErrNotFound
	case !b.IsOwner(p.UserID) && !admin:
		return ErrForbidden
	}
	if err := s.deleteBoard(context.WithoutCancel(ctx), b); err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "board deleted", slog.String("board_id", id), slog.String("by", p.UserID))
	return nil
}

// userExists returns nil when the user id exists, ErrUserNotFound when
// not.
func (s *Service) userExists(ctx context.Context, id string) error {
	_, err := s.users.UserByID(ctx, id)
	if errors.Is(err, user.ErrNotFound) {
		return ErrUserNotFound
	}
	return err
}

// username returns the caller's username, as authentication read it, or
// from the store.
func (s *Service) username(ctx context.Context, p auth.Principal) string {
	if u, ok := p.Account.(user.User); ok && u.ID == p.UserID {
		return u.Username
	}
	u, err := s.users.UserByID(ctx, p.UserID)
	if err != nil {
		return "someone"
	}
	return u.Username
}

// firstError returns the error of a change made of several checks, in the
// order a client wants them answered: a missing list, card or attachment
// first, then every bad field together in one *ValidationError, then
// anything else (a *LimitError). nil errors are skipped.
func firstError(errs ...error) error {
	fields := map[string]string{}
	var other error
	for _, err := range errs {
		var v *ValidationError
		switch {
		case err == nil:
		case errors.Is(err, ErrListNotFound), errors.Is(err, ErrCardNotFound), errors.Is(err, ErrAttachmentNotFound):
			return err
		case errors.As(err, &v):
			maps.Copy(fields, v.Fields)
		case other == nil:
			other = err
		}
	}
	if err := invalid(fields); err != nil {
		return err
	}
	return other
}
