package mongostore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/mongostore/mongotest"
)

// shapeSizes are the collection sizes every shape is timed at: the ratio of
// the second to the first is what "stays flat" means.
var shapeSizes = [2]int{100, 10_000}

// seedShapes fills a fresh collection with n session-like documents and
// returns it with their ids. The documents are inserted 1,000 at a time.
func seedShapes(b *testing.B, db *mongo.Database, name string, n int, now time.Time) (*mongo.Collection, []bson.ObjectID) {
	b.Helper()
	ctx := context.Background()
	coll := db.Collection(name)
	ids := make([]bson.ObjectID, n)
	for start := 0; start < n; start += 1000 {
		var docs []any
		for i := start; i < min(n, start+1000); i++ {
			ids[i] = bson.NewObjectID()
			docs = append(docs, bson.D{
				{Key: "_id", Value: ids[i]},
				{Key: "userId", Value: bson.NewObjectID()},
				{Key: "generation", Value: int64(0)},
				{Key: "roles", Value: bson.A{"user"}},
				{Key: "createdAt", Value: now},
				{Key: "lastUsedAt", Value: now},
				{Key: "expiresAt", Value: now.Add(time.Hour)},
				{Key: "userAgent", Value: "bench"},
				{Key: "ip", Value: "127.0.0.1"},
			})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatalf("seeding %s: %v", name, err)
		}
	}
	return coll, ids
}

// BenchmarkShapes times the query and update shapes a session store could
// use, each against a collection of 100 and one of 10,000 documents,
// alternating between the two in every iteration so that both see the same
// machine load. It reports the time of one operation at each size and their
// ratio (x10k/100): near 1 is flat. On MongoDB every shape here is an _id
// index lookup and stays flat; on FerretDB 1.x only a filter that is exactly
// {_id: <ObjectID or string>} is pushed down to SQLite, and every other
// filter decodes and tests every document of the collection in FerretDB.
func BenchmarkShapes(b *testing.B) {
	s := mongotest.Open(b)
	db := s.Database()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var colls [2]*mongo.Collection
	var ids [2][]bson.ObjectID
	for i, n := range shapeSizes {
		colls[i], ids[i] = seedShapes(b, db, fmt.Sprintf("shapes%d", n), n, now)
	}
	// gens tracks each document's generation, so that the compare-and-swap
	// shapes always match, as a refresh that wins does.
	gens := [2]map[bson.ObjectID]int64{{}, {}}
	for _, tc := range []struct {
		name string
		op   func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error
		// bumps says the op moved the generation up by one.
		bumps bool
	}{
		{"findOne_id", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, _ int64) error {
			return c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
		}, false},
		{"findOne_id_generation", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			return c.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "generation", Value: gen}}).Err()
		}, false},
		{"findOneAndUpdate_id", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			return c.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: gen + 1}, {Key: "lastUsedAt", Value: now}}}},
				options.FindOneAndUpdate().SetReturnDocument(options.After)).Err()
		}, true},
		{"findOneAndUpdate_cas", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			return c.FindOneAndUpdate(ctx, bson.D{
				{Key: "_id", Value: id},
				{Key: "generation", Value: gen},
				{Key: "revokedAt", Value: nil},
				{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: now}}},
			}, bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: gen + 1}, {Key: "lastUsedAt", Value: now}}}},
				options.FindOneAndUpdate().SetReturnDocument(options.After)).Err()
		}, true},
		{"updateOne_id", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: gen + 1}, {Key: "lastUsedAt", Value: now}}}})
			return err
		}, true},
		{"updateOne_id_generation", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			res, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "generation", Value: gen}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: gen + 1}, {Key: "lastUsedAt", Value: now}}}})
			if err == nil && res.MatchedCount != 1 {
				err = fmt.Errorf("matched %d", res.MatchedCount)
			}
			return err
		}, true},
		{"findOne_then_updateOne_id", func(ctx context.Context, c *mongo.Collection, id bson.ObjectID, gen int64) error {
			if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err(); err != nil {
				return err
			}
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "generation", Value: gen + 1}, {Key: "lastUsedAt", Value: now}}}})
			return err
		}, true},
		{"insertOne_deleteOne_id", func(ctx context.Context, c *mongo.Collection, _ bson.ObjectID, _ int64) error {
			id := bson.NewObjectID()
			if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "expiresAt", Value: now}}); err != nil {
				return err
			}
			_, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
			return err
		}, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			var spent [2]time.Duration
			for i := 0; b.Loop(); i++ {
				for k := range colls {
					// A stride coprime with both sizes visits every part of the
					// collection: FerretDB's SQLite scans stop at the first match,
					// so always taking the first documents inserted would hide
					// a scan.
					id := ids[k][(i*7919)%len(ids[k])]
					gen := gens[k][id]
					start := time.Now()
					if err := tc.op(ctx, colls[k], id, gen); err != nil {
						b.Fatalf("%s on %d documents: %v", tc.name, shapeSizes[k], err)
					}
					spent[k] += time.Since(start)
					if tc.bumps {
						gens[k][id] = gen + 1
					}
				}
			}
			reportSizes(b, spent)
		})
	}
}

// reportSizes reports the mean time of one operation at each of shapeSizes
// and the ratio of the larger to the smaller.
func reportSizes(b *testing.B, spent [2]time.Duration) {
	b.Helper()
	n := float64(b.N)
	small, large := spent[0].Seconds()*1e3/n, spent[1].Seconds()*1e3/n
	b.ReportMetric(small, fmt.Sprintf("ms@%d", shapeSizes[0]))
	b.ReportMetric(large, fmt.Sprintf("ms@%d", shapeSizes[1]))
	b.ReportMetric(large/small, "x10k/100")
}
