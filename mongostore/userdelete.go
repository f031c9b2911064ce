package mongostore

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"corkboard/user"
)

// DeleteUser implements user.Store without a transaction: it deletes the
// user document, then every session and every one-time token of the user
// (deleteMany on userId, which the sessions' userId index and the tokens'
// (userId, purpose) index serve). The user goes first: from then on no
// login can start a session for it and no reset mail can store a token, so
// the two deleteMany calls catch everything but a write already on its way,
// which is dead anyway (authentication and refresh need the user). Should
// the sequence stop after the first step, the leftovers are dead records
// that nothing reads (exports leave sessions without a user out) and that
// the sweeps remove when they expire; calling DeleteUser again removes them
// at once, which is why the deleteMany calls run even when the user is
// already gone. The steps run to the end whatever becomes of the caller's
// request, under the store's operation timeout.
//
// The user document goes with findAndModify (remove), which hands back the
// document as it was deleted: the caller learns the picture the account
// held at the very end.
func (s *Store) DeleteUser(ctx context.Context, id string) (user.User, error) {
	oid, ok := parseID(id)
	if !ok {
		return user.User{}, user.ErrNotFound
	}
	ctx, done, err := s.beginUpdate(context.WithoutCancel(ctx), "delete user")
	if err != nil {
		return user.User{}, err
	}
	defer done()
	var gone userDoc
	err = s.users.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: oid}}).Decode(&gone)
	found := err == nil
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return user.User{}, s.fail("delete user", err)
	}
	if _, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "userId", Value: oid}}); err != nil {
		return user.User{}, s.fail("delete user: sessions", err)
	}
	if _, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "userId", Value: oid}}); err != nil {
		return user.User{}, s.fail("delete user: tokens", err)
	}
	if !found {
		return user.User{}, user.ErrNotFound
	}
	return gone.toUser(), nil
}
