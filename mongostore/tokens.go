package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/auth"
)

// tokenDoc is a one-time token as stored in the tokens collection. Its _id
// is an ObjectID of the store's own, because a replace that supersedes a
// token must keep the document's _id; the token's hash is a field with a
// unique index, and (userId, purpose) has a unique index too: one token per
// user and purpose.
type tokenDoc struct {
	ID        bson.ObjectID `bson:"_id,omitempty"`
	Hash      string        `bson:"hash"`
	UserID    bson.ObjectID `bson:"userId"`
	Purpose   string        `bson:"purpose"`
	CreatedAt time.Time     `bson:"createdAt"`
	ExpiresAt time.Time     `bson:"expiresAt"`
}

func (d tokenDoc) toToken() auth.OneTimeToken {
	return auth.OneTimeToken{ID: d.Hash, UserID: d.UserID.Hex(), Purpose: d.Purpose, CreatedAt: utc(d.CreatedAt), ExpiresAt: utc(d.ExpiresAt)}
}

// PutToken implements auth.TokenStore: one replaceOne with upsert on
// (userId, purpose), so a newer token supersedes the older in one atomic
// single-document write.
func (s *Store) PutToken(ctx context.Context, t auth.OneTimeToken) error {
	uid, ok := parseID(t.UserID)
	if !ok {
		return fmt.Errorf("mongostore: put token: user id %q is not a 24-hex id", t.UserID)
	}
	ctx, done, err := s.beginUpdate(ctx, "put token")
	if err != nil {
		return err
	}
	defer done()
	doc := tokenDoc{Hash: t.ID, UserID: uid, Purpose: t.Purpose, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
	_, err = s.tokens.ReplaceOne(ctx, bson.D{{Key: "userId", Value: uid}, {Key: "purpose", Value: t.Purpose}}, doc,
		options.Replace().SetUpsert(true))
	if err != nil {
		return s.fail("put token", err)
	}
	return nil
}

// TakeToken implements auth.TokenStore: one findOneAndDelete whose filter
// holds the purpose and the expiry, so of two concurrent takes exactly one
// finds the document.
func (s *Store) TakeToken(ctx context.Context, id, purpose string, now time.Time) (auth.OneTimeToken, error) {
	ctx, done, err := s.beginUpdate(ctx, "take token")
	if err != nil {
		return auth.OneTimeToken{}, err
	}
	defer done()
	var d tokenDoc
	err = s.tokens.FindOneAndDelete(ctx, bson.D{
		{Key: "hash", Value: id},
		{Key: "purpose", Value: purpose},
		{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
	}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return auth.OneTimeToken{}, auth.ErrTokenNotFound
	case err != nil:
		return auth.OneTimeToken{}, s.fail("take token", err)
	}
	return d.toToken(), nil
}

// DeleteExpiredTokens implements auth.TokenStore.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error) {
	ctx, done, err := s.beginUpdate(ctx, "delete expired tokens")
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := s.tokens.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, s.fail("delete expired tokens", err)
	}
	return int(res.DeletedCount), nil
}
