package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/user"
)

// ageIndex serves the user list: users by (createdAt, _id), newest first,
// the order of user.Store.ListUsers. A page is one range scan of it from
// the cursor, however deep the page.
const ageIndex = "createdAt_-1__id_-1"

// ListUsers implements user.Store with one find, sorted newest first:
//
//	{usernameKey: {$gte: prefix, $lt: end},
//	 $or: [{createdAt: {$lt: c}}, {createdAt: c, _id: {$lt: id}}]}
//
// The prefix is a range on usernameKey (the lower-cased username the unique
// index holds), never a $regex: nothing a client types is read as a
// pattern, and a range is what an index serves. end is the least key past
// every key with the prefix (user.PrefixEnd). The $or is the keyset
// condition: strictly after the cursor's (createdAt, _id) in the newest-
// first order.
//
// MongoDB chooses between two plans for a search: walk ageIndex newest
// first and filter by the key, or scan the prefix's range of the
// usernameKey index and keep the newest `limit` in a bounded sort. Its
// planner tries both and keeps the one that finishes first, as the file
// store decides by the size of the range.
func (s *Store) ListUsers(ctx context.Context, q user.ListQuery) ([]user.User, error) {
	if q.Limit < 1 {
		return nil, nil
	}
	filter := bson.D{notBeingDeleted}
	if q.Prefix != "" {
		r := bson.D{{Key: "$gte", Value: q.Prefix}}
		if end := user.PrefixEnd(q.Prefix); end != "" {
			r = append(r, bson.E{Key: "$lt", Value: end})
		}
		filter = append(filter, bson.E{Key: "usernameKey", Value: r})
	}
	if q.After != nil {
		oid, ok := parseID(q.After.ID)
		if !ok {
			// user.DecodeCursor makes only valid ids; anything else is a
			// caller's bug.
			return nil, fmt.Errorf("mongostore: list users: position id %q is not a 24-hex id", q.After.ID)
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: q.After.CreatedAt}}}},
			bson.D{{Key: "createdAt", Value: q.After.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: oid}}}},
		}})
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit))
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cur, err := s.users.Find(ctx, filter, opts)
	if err != nil {
		return nil, s.fail("list users", err)
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, s.fail("list users", err)
	}
	users := make([]user.User, len(docs))
	for i, d := range docs {
		users[i] = d.toUser()
	}
	return users, nil
}
