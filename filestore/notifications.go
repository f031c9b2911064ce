package filestore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"corkboard/board"
)

// notificationKind is the name of notification records in changes and
// snapshots.
const notificationKind = "notification"

// notificationTable holds the notifications, by id, by recipient and by
// board.
type notificationTable struct {
	byID    map[string]board.Notification
	byUser  map[string]map[string]struct{} // recipient id → notification ids
	byBoard map[string]map[string]struct{} // board id → notification ids
}

func (t *notificationTable) kind() string { return notificationKind }

func (t *notificationTable) reset() {
	*t = notificationTable{
		byID:    make(map[string]board.Notification),
		byUser:  make(map[string]map[string]struct{}),
		byBoard: make(map[string]map[string]struct{}),
	}
}

func (t *notificationTable) decode(dec *json.Decoder) (any, string, error) {
	var n board.Notification
	err := dec.Decode(&n)
	return n, n.ID, err
}

// validate checks that the record is a notification stored under its own
// id, and holds it to Notification.Validate.
func (t *notificationTable) validate(id string, rec any) error {
	n, ok := rec.(board.Notification)
	switch {
	case !ok:
		return fmt.Errorf("notification change carries a %T", rec)
	case n.ID != id:
		return fmt.Errorf("notification change for id %q carries notification %q", id, n.ID)
	}
	return n.Validate()
}

func (t *notificationTable) put(rec any) {
	n := rec.(board.Notification)
	t.delete(n.ID)
	t.byID[n.ID] = n
	addToSet(t.byUser, n.UserID, n.ID)
	addToSet(t.byBoard, n.BoardID, n.ID)
}

func (t *notificationTable) delete(id string) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	removeFromSet(t.byUser, old.UserID, id)
	removeFromSet(t.byBoard, old.BoardID, id)
}

// check has nothing to find: only the id is unique.
func (t *notificationTable) check() error { return nil }

func (t *notificationTable) list() []change { return listOf(notificationKind, t.byID) }

// putNotification returns a change that stores n.
func putNotification(n board.Notification) change { return putChange(notificationKind, n.ID, n) }

// cleanNotification returns a copy of n that shares nothing with the
// caller, with its times in the form the files give back.
func cleanNotification(n board.Notification) board.Notification {
	n = copyNotification(n)
	n.CreatedAt, n.HandledAt = utc(n.CreatedAt), utc(n.HandledAt)
	return n
}

// copyNotification returns a copy of a stored notification that shares no
// pointer with the state.
func copyNotification(n board.Notification) board.Notification {
	if n.Accepted != nil {
		a := *n.Accepted
		n.Accepted = &a
	}
	return n
}

// CreateNotification implements board.Store.
func (s *Store) CreateNotification(ctx context.Context, n board.Notification) error {
	n = cleanNotification(n)
	if err := n.Validate(); err != nil {
		return fmt.Errorf("filestore: create notification: %w", err)
	}
	return s.update(ctx, func(st *state) ([]change, error) {
		if _, ok := st.notifications.byID[n.ID]; ok {
			return nil, fmt.Errorf("filestore: create notification: id %s is already used", n.ID)
		}
		return []change{putNotification(n)}, nil
	})
}

// NotificationByID implements board.Store.
func (s *Store) NotificationByID(ctx context.Context, id string) (board.Notification, error) {
	if err := s.readable(); err != nil {
		return board.Notification{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.st.notifications.byID[id]
	if !ok {
		return board.Notification{}, board.ErrNotificationNotFound
	}
	return copyNotification(n), nil
}

// Notifications implements board.Store, from the recipient index.
func (s *Store) Notifications(ctx context.Context, userID string) ([]board.Notification, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	list := make([]board.Notification, 0, len(s.st.notifications.byUser[userID]))
	for id := range s.st.notifications.byUser[userID] {
		list = append(list, copyNotification(s.st.notifications.byID[id]))
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b board.Notification) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(b.ID, a.ID))
	})
	return list, nil
}

// HandleNotification implements board.Store. The check and the change
// happen under one hold of the write lock: a true compare-and-swap.
func (s *Store) HandleNotification(ctx context.Context, id string, accepted bool, now time.Time) (board.Notification, error) {
	var handled board.Notification
	err := s.update(ctx, func(st *state) ([]change, error) {
		n, ok := st.notifications.byID[id]
		switch {
		case !ok:
			return nil, board.ErrNotificationNotFound
		case n.Handled:
			return nil, board.ErrAlreadyHandled
		}
		n.Handled, n.Accepted, n.HandledAt = true, &accepted, utc(now)
		handled = n
		return []change{putNotification(n)}, nil
	})
	if err != nil {
		return board.Notification{}, err
	}
	return copyNotification(handled), nil
}

// DeleteNotification implements board.Store.
func (s *Store) DeleteNotification(ctx context.Context, id string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		if _, ok := st.notifications.byID[id]; !ok {
			return nil, board.ErrNotificationNotFound
		}
		return []change{deleteChange(notificationKind, id)}, nil
	})
}

// DeleteNotificationsFor implements board.Store, in one batch.
func (s *Store) DeleteNotificationsFor(ctx context.Context, userID string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		return deleteAll(st.notifications.byUser[userID]), nil
	})
}

// DeleteBoardNotifications implements board.Store, in one batch.
func (s *Store) DeleteBoardNotifications(ctx context.Context, boardID string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		return deleteAll(st.notifications.byBoard[boardID]), nil
	})
}

// deleteAll returns a change that deletes each notification in ids.
func deleteAll(ids map[string]struct{}) []change {
	changes := make([]change, 0, len(ids))
	for id := range ids {
		changes = append(changes, deleteChange(notificationKind, id))
	}
	return changes
}

// EachNotification implements board.Store. Like EachUser, it calls fn on
// copies, without holding a lock.
func (s *Store) EachNotification(ctx context.Context, fn func(board.Notification) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	s.mu.RLock()
	list := make([]board.Notification, 0, len(s.st.notifications.byID))
	for _, n := range s.st.notifications.byID {
		list = append(list, copyNotification(n))
	}
	s.mu.RUnlock()
	return eachOf(ctx, list, fn)
}
