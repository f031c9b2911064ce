package board

import (
	"context"
	"errors"
	"fmt"
	"time"

	"corkboard/objectid"
)

// Errors returned by a Store.
var (
	// ErrNotFound: there is no board with that id (or the id is not an id
	// at all, which no store can hold).
	ErrNotFound = errors.New("board not found")
	// ErrNotificationNotFound: there is no notification with that id.
	ErrNotificationNotFound = errors.New("notification not found")
	// ErrAlreadyHandled: HandleNotification found the notification
	// answered already: an invitation is accepted or declined once.
	ErrAlreadyHandled = errors.New("notification already handled")
	// ErrBusy: UpdateBoard found the board changed by other writers on
	// every one of its attempts and gave up rather than retry for ever.
	// Nothing was written; the same request a moment later will succeed.
	ErrBusy = errors.New("the board kept changing during the update; try again")
)

// The types of notification.
const (
	// NotificationInvite tells its recipient that FromUserID invited them
	// to the board; they accept or decline it once.
	NotificationInvite = "invite"
	// NotificationInviteResponse tells the inviter whether the invitee
	// (FromUserID) accepted.
	NotificationInviteResponse = "invite_response"
)

// Notification is a stored message to one user about a board. It is the
// storage record; handlers answer with a view without UserID and Handled.
// The board's title and the sender's name are copied in when it is made,
// so that the list of notifications needs no other read, and still says
// what it was about once the board is renamed.
type Notification struct {
	ID string `json:"id"`
	// UserID is the recipient.
	UserID       string `json:"userId"`
	Type         string `json:"type"`
	BoardID      string `json:"boardId"`
	BoardTitle   string `json:"boardTitle"`
	FromUserID   string `json:"fromUserId"`
	FromUsername string `json:"fromUsername"`
	// Accepted is the answer: always set on an invite_response, and on an
	// invite once it is handled; nil on an invite still open.
	Accepted *bool `json:"accepted"`
	// Handled is set once, by HandleNotification, which refuses to set it
	// twice: two clicks on "accept" join the board once.
	Handled bool `json:"handled"`
	// HandledAt is when HandleNotification set Handled; zero before.
	HandledAt time.Time `json:"handledAt,omitzero"`
	CreatedAt time.Time `json:"createdAt"`
}

// Validate reports whether n is a well-formed stored notification: the
// check a record read from a file or an import must pass before a store
// keeps it.
func (n Notification) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("notification %q: %s", n.ID, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct{ name, id string }{
		{"id", n.ID}, {"userId", n.UserID}, {"boardId", n.BoardID}, {"fromUserId", n.FromUserID},
	} {
		if !objectid.Valid(f.id) {
			return bad("%s: %s", f.name, msgBadID)
		}
	}
	if msg := checkLine(n.BoardTitle, MaxTitle); msg != "" {
		return bad("boardTitle %s", msg)
	}
	// A user name is checked by package user when it is chosen; here it
	// is only a copy, so any one line of reasonable length will do.
	if msg := checkLine(n.FromUsername, 100); msg != "" {
		return bad("fromUsername %s", msg)
	}
	switch n.Type {
	case NotificationInvite:
		if n.Handled != (n.Accepted != nil) {
			return bad("an invite has an answer (accepted) exactly when it is handled")
		}
	case NotificationInviteResponse:
		if n.Accepted == nil {
			return bad("an invite_response must say whether the invitation was accepted")
		}
	default:
		return bad("type %q is not %q or %q", n.Type, NotificationInvite, NotificationInviteResponse)
	}
	if n.Handled != !n.HandledAt.IsZero() {
		return bad("handledAt is set exactly when handled is true")
	}
	if !storableTime(n.CreatedAt, false) || !storableTime(n.HandledAt, true) {
		return bad("times must be within years 1-9999 UTC (handledAt may be unset)")
	}
	return nil
}

// storableTime reports whether t can be kept by both stores (JSON's RFC
// 3339 holds years 0-9999, and corkboard uses 1-9999); the zero time is
// allowed only when optional.
func storableTime(t time.Time, optional bool) bool {
	if t.IsZero() {
		return optional
	}
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// Store keeps boards and notifications. Every method takes the context
// first.
//
// A board is one record: its lists, cards, attachments, members,
// invitations and favourites travel together, and every change is one
// write of the whole board, checked against its Version. Their slices are
// never nil, empty when there is nothing, and their times are in UTC.
//
// Boards a store hands out (BoardByID, UpdateBoard, MarkBoardDeleting,
// BoardsBeingDeleted, EachBoard) are lent: a store may return the very
// board it holds, sharing its slices (the file store does, so that a read
// of a board of 500 cards copies nothing), and the caller must treat it as
// read-only: never write to an element of its slices (a Board value is a
// copy of the struct, so setting its own fields is harmless, but
// b.Lists[0].Name = "x" would change the stored board under every other
// reader). A caller that wants to change a board it was lent changes a
// Clone of it. A store never changes a board it has lent: a write stores a
// new value, which may share with the old one the slices the write did not
// change. Boards passed in (CreateBoard) are copied; the caller keeps its
// own. Notifications are copies.
//
// A board marked for deletion (MarkBoardDeleting) is gone to every method
// but MarkBoardDeleting, BoardsBeingDeleted and DeleteBoard: BoardByID and
// UpdateBoard answer ErrNotFound, and BoardSummaries, BoardIDsFor and
// EachBoard leave it out, as they would once the record is gone.
type Store interface {
	// CreateBoard stores a new board as it is, Version included (a new
	// board has Version 0; an import keeps its own). The board must pass
	// Validate, or nothing is stored and the error says why. An id that is
	// already used is an error too: ids are random, so that is a bug.
	CreateBoard(ctx context.Context, b Board) error

	// BoardByID returns the board with the given id, or ErrNotFound (also
	// for an id that is not an id at all).
	BoardByID(ctx context.Context, id string) (Board, error)

	// UpdateBoard changes the board with the given id in one atomic
	// write: it runs edit on a copy of the board and stores the result
	// with Version one higher, provided no other write came in between.
	// It returns the board as stored, lent (see Store).
	//
	// If edit returns an error, nothing is written and UpdateBoard returns
	// that error unwrapped, so that callers can return board errors such
	// as ErrCardNotFound straight from edit. A result that fails Validate,
	// or whose ID edit changed, is not written either (an error that wraps
	// no sentinel: it is a bug in edit). edit need not touch Version, which
	// the store sets, and must set UpdatedAt itself if it should change.
	//
	// edit may run more than once: a store that finds the board changed
	// by another writer since it read it runs edit again on the new
	// board. So edit must not have effects outside the board it is given,
	// and must not call the store (a store may hold a lock while it
	// runs). The board edit is given is a copy of its own, which the
	// store may go on to store as it is: edit must not keep it, or
	// anything in its slices, after it returns. The copy may be shallow
	// (Board.EditCopy): its own struct, Lists slice and member slices,
	// but its lists' card slices, and their cards' attachments, may be
	// the stored board's. edit changes cards through Board's methods,
	// which copy what they change, or gives a list a card slice (and a
	// card an attachment slice) of its own before it writes into it. After a bounded number of such conflicts UpdateBoard gives
	// up with an error that wraps ErrBusy. ErrNotFound when there is no
	// such board, in which case edit is not called.
	UpdateBoard(ctx context.Context, id string, edit func(*Board) error) (Board, error)

	// DeleteBoard removes the board, or fails with ErrNotFound. Its
	// notifications stay until DeleteBoardNotifications; its files until
	// the caller deletes them (Board.Files).
	DeleteBoard(ctx context.Context, id string) error

	// MarkBoardDeleting records, in one atomic write, that the board's
	// deletion has begun: it sets DeletingAt to now, unless it is set
	// already, and Version one higher (so that an UpdateBoard that read
	// the board before cannot write over the mark), and returns the board
	// as marked (with the first mark's time). From then on the board is
	// gone to every other method but BoardsBeingDeleted and DeleteBoard
	// (see Store). ErrNotFound when there is no such board record, marked
	// or not.
	MarkBoardDeleting(ctx context.Context, id string, now time.Time) (Board, error)

	// BoardsBeingDeleted returns every board marked by MarkBoardDeleting
	// whose record is still there, in no particular order: the deletions
	// a crash interrupted, or that are running now.
	BoardsBeingDeleted(ctx context.Context) ([]Board, error)

	// BoardSummaries returns the summary, as userID sees it, of every
	// board userID is a member of, in the order of SortSummaries:
	// favourites first, then the most recently updated. It is one query
	// on an index of members, whatever the number of boards stored, and
	// never reads the boards' lists. No boards is an empty slice.
	BoardSummaries(ctx context.Context, userID string) ([]Summary, error)

	// BoardIDsFor returns the ids of every board on which userID is a
	// member or has a pending invitation (and so every board they may
	// have as a favourite, which only members have), in no particular
	// order: what the deletion of a user must visit.
	BoardIDsFor(ctx context.Context, userID string) ([]string, error)

	// EachBoard calls fn for every stored board, in no particular order,
	// stopping at the first error fn returns, which it returns unwrapped.
	// It is for export; fn may use the store.
	EachBoard(ctx context.Context, fn func(Board) error) error

	// CreateNotification stores a new notification. It must pass
	// Validate, or nothing is stored and the error says why; an id that is
	// already used is an error too.
	CreateNotification(ctx context.Context, n Notification) error

	// NotificationByID returns the notification with the given id, or
	// ErrNotificationNotFound (also for an id that is not an id at all).
	NotificationByID(ctx context.Context, id string) (Notification, error)

	// Notifications returns userID's notifications, newest first
	// (CreatedAt descending, then id descending, so that the order is the
	// same on every request). None is an empty slice.
	Notifications(ctx context.Context, userID string) ([]Notification, error)

	// HandleNotification is a compare-and-swap from Handled false to
	// true: it sets Handled, Accepted to accepted and HandledAt to now,
	// atomically, and returns the notification as stored. Of many
	// concurrent calls on one notification exactly one succeeds; the
	// others, and every later call, fail with ErrAlreadyHandled and change
	// nothing. ErrNotificationNotFound when there is no such notification.
	// It does not look at the notification's type: which ones may be
	// answered is the caller's rule.
	HandleNotification(ctx context.Context, id string, accepted bool, now time.Time) (Notification, error)

	// DeleteNotification removes the notification, or fails with
	// ErrNotificationNotFound.
	DeleteNotification(ctx context.Context, id string) error

	// DeleteNotificationsFor removes every notification whose recipient
	// is userID (none is not an error): the user is being deleted.
	DeleteNotificationsFor(ctx context.Context, userID string) error

	// DeleteBoardNotifications removes every notification about the board
	// boardID, whoever their recipient (none is not an error): the board
	// is being deleted, and an invitation to it can no longer be answered.
	DeleteBoardNotifications(ctx context.Context, boardID string) error

	// EachNotification calls fn for every stored notification, in no
	// particular order, stopping at the first error fn returns, which it
	// returns unwrapped. It is for export; fn may use the store.
	EachNotification(ctx context.Context, fn func(Notification) error) error
}
