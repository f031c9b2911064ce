package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/board"
)

// notificationDoc is a notification as stored in the notifications
// collection.
type notificationDoc struct {
	ID           bson.ObjectID `bson:"_id"`
	UserID       bson.ObjectID `bson:"userId"`
	Type         string        `bson:"type"`
	BoardID      bson.ObjectID `bson:"boardId"`
	BoardTitle   string        `bson:"boardTitle"`
	FromUserID   bson.ObjectID `bson:"fromUserId"`
	FromUsername string        `bson:"fromUsername"`
	// Accepted is absent on an invite still open.
	Accepted *bool `bson:"accepted,omitempty"`
	// Handled is the compare-and-swap key of HandleNotification.
	Handled bool `bson:"handled"`
	// HandledAt is absent while zero.
	HandledAt time.Time `bson:"handledAt,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
}

// toNotificationDoc converts n, which has passed Validate, for storage.
func toNotificationDoc(n board.Notification) (notificationDoc, error) {
	d := notificationDoc{
		Type: n.Type, BoardTitle: n.BoardTitle, FromUsername: n.FromUsername,
		Handled: n.Handled, HandledAt: n.HandledAt, CreatedAt: n.CreatedAt,
	}
	for _, f := range []struct {
		name string
		id   string
		to   *bson.ObjectID
	}{{"id", n.ID, &d.ID}, {"user id", n.UserID, &d.UserID}, {"board id", n.BoardID, &d.BoardID}, {"sender id", n.FromUserID, &d.FromUserID}} {
		oid, ok := parseID(f.id)
		if !ok {
			return notificationDoc{}, fmt.Errorf("notification %s: %s %q is not a 24-hex id", n.ID, f.name, f.id)
		}
		*f.to = oid
	}
	if n.Accepted != nil {
		a := *n.Accepted
		d.Accepted = &a
	}
	return d, nil
}

// toNotification converts a stored notification back, with its times in
// UTC.
func (d notificationDoc) toNotification() board.Notification {
	return board.Notification{
		ID:           d.ID.Hex(),
		UserID:       d.UserID.Hex(),
		Type:         d.Type,
		BoardID:      d.BoardID.Hex(),
		BoardTitle:   d.BoardTitle,
		FromUserID:   d.FromUserID.Hex(),
		FromUsername: d.FromUsername,
		Accepted:     d.Accepted,
		Handled:      d.Handled,
		HandledAt:    utc(d.HandledAt),
		CreatedAt:    utc(d.CreatedAt),
	}
}

// CreateNotification stores n, which must pass Validate, with one insert.
func (s *Store) CreateNotification(ctx context.Context, n board.Notification) error {
	const op = "create notification"
	if err := n.Validate(); err != nil {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	doc, err := toNotificationDoc(n)
	if err != nil {
		return fmt.Errorf("mongostore: %s: %w", op, err)
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.notifications.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: %s: id %s is already used: %w", op, n.ID, err)
		}
		return s.fail(op, err)
	}
	return nil
}

// NotificationByID returns the notification with the given id, or
// board.ErrNotificationNotFound.
func (s *Store) NotificationByID(ctx context.Context, id string) (board.Notification, error) {
	oid, ok := parseID(id)
	if !ok {
		return board.Notification{}, board.ErrNotificationNotFound
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	var d notificationDoc
	if err := s.notifications.FindOne(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return board.Notification{}, board.ErrNotificationNotFound
		}
		return board.Notification{}, s.fail("find notification", err)
	}
	return d.toNotification(), nil
}

// Notifications returns the user's notifications newest first, in one find
// on the index {userId, createdAt, _id}, which serves the sort too (read
// backwards).
func (s *Store) Notifications(ctx context.Context, userID string) ([]board.Notification, error) {
	const op = "list notifications"
	list := []board.Notification{}
	uid, ok := parseID(userID)
	if !ok {
		return list, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.notifications.Find(ctx, bson.D{{Key: "userId", Value: uid}},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, s.fail(op, err)
	}
	var docs []notificationDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.fail(op, err)
	}
	for _, d := range docs {
		list = append(list, d.toNotification())
	}
	return list, nil
}

// HandleNotification is a compare-and-swap in one findAndModify whose
// filter is {_id, handled: false}: of many concurrent calls exactly one
// matches. Only when it matches nothing does a second read tell
// board.ErrNotificationNotFound from board.ErrAlreadyHandled.
func (s *Store) HandleNotification(ctx context.Context, id string, accepted bool, now time.Time) (board.Notification, error) {
	const op = "handle notification"
	oid, ok := parseID(id)
	if !ok {
		return board.Notification{}, board.ErrNotificationNotFound
	}
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return board.Notification{}, err
	}
	defer done()
	var d notificationDoc
	err = s.notifications.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: oid}, {Key: "handled", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "handled", Value: true},
			{Key: "accepted", Value: accepted},
			{Key: "handledAt", Value: now},
		}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	switch {
	case err == nil:
		return d.toNotification(), nil
	case !errors.Is(err, mongo.ErrNoDocuments):
		return board.Notification{}, s.fail(op, err)
	}
	err = s.notifications.FindOne(ctx, bson.D{{Key: "_id", Value: oid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return board.Notification{}, board.ErrNotificationNotFound
	case err != nil:
		return board.Notification{}, s.fail(op, err)
	}
	return board.Notification{}, board.ErrAlreadyHandled
}

// DeleteNotification removes the notification with one delete by _id, or
// fails with board.ErrNotificationNotFound.
func (s *Store) DeleteNotification(ctx context.Context, id string) error {
	const op = "delete notification"
	oid, ok := parseID(id)
	if !ok {
		return board.ErrNotificationNotFound
	}
	n, err := s.deleteNotifications(ctx, op, bson.D{{Key: "_id", Value: oid}})
	if err == nil && n == 0 {
		return board.ErrNotificationNotFound
	}
	return err
}

// DeleteNotificationsFor removes the user's notifications with one
// deleteMany on the userId index. deleteMany is not atomic across
// documents, but a retry finishes what an interrupted one began.
func (s *Store) DeleteNotificationsFor(ctx context.Context, userID string) error {
	uid, ok := parseID(userID)
	if !ok {
		return nil
	}
	_, err := s.deleteNotifications(ctx, "delete notifications of a user", bson.D{{Key: "userId", Value: uid}})
	return err
}

// DeleteBoardNotifications removes the board's notifications with one
// deleteMany on the boardId index; like DeleteNotificationsFor, a retry
// finishes an interrupted one.
func (s *Store) DeleteBoardNotifications(ctx context.Context, boardID string) error {
	bid, ok := parseID(boardID)
	if !ok {
		return nil
	}
	_, err := s.deleteNotifications(ctx, "delete notifications of a board", bson.D{{Key: "boardId", Value: bid}})
	return err
}

// deleteNotifications deletes what filter matches and says how many. It
// takes the update turn on FerretDB 1.x, so that a delete cannot fall
// between the match and the write of a HandleNotification there.
func (s *Store) deleteNotifications(ctx context.Context, op string, filter bson.D) (int64, error) {
	ctx, done, err := s.beginUpdate(ctx, op)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := s.notifications.DeleteMany(ctx, filter)
	if err != nil {
		return 0, s.fail(op, err)
	}
	return res.DeletedCount, nil
}

// EachNotification calls fn for every stored notification, in no
// particular order, stopping at the first error fn returns (which it
// returns unwrapped).
func (s *Store) EachNotification(ctx context.Context, fn func(board.Notification) error) error {
	return each(ctx, s, s.notifications, "list notifications", func(d notificationDoc) error { return fn(d.toNotification()) })
}
