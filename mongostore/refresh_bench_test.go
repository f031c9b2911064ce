package mongostore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
)

// BenchmarkRefreshScale times the store's side of a refresh, the account
// read (UserByID, which checks the credential version) then RotateSession,
// on a store holding 100 users with a session each and on one holding
// 10,000, alternating between the two in every iteration. It reports both
// times and their ratio (x10k/100): a refresh should cost the same however
// many sessions and users are stored. The records are inserted directly,
// 1,000 per command: 10,000 sign-ups would take longer than the
// measurement.
func BenchmarkRefreshScale(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var stores [2]*mongostore.Store
	var ids, users [2][]bson.ObjectID
	for k, n := range shapeSizes {
		stores[k] = mongotest.Open(b)
		_, ids[k] = seedShapes(b, stores[k].Database(), "sessions", n, now)
		users[k] = seedUsers(b, stores[k].Database(), n, now)
	}
	gens := [2]map[bson.ObjectID]uint64{{}, {}}
	ctx := context.Background()
	var spent [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for k, s := range stores {
			j := (i * 7919) % len(ids[k])
			id := ids[k][j]
			gen := gens[k][id]
			start := time.Now()
			if _, err := s.UserByID(ctx, users[k][j].Hex()); err != nil {
				b.Fatalf("UserByID among %d users: %v", shapeSizes[k], err)
			}
			got, err := s.RotateSession(ctx, id.Hex(), gen, now, now.Add(time.Hour))
			if err != nil || got.Generation != gen+1 {
				b.Fatalf("RotateSession(%s, %d) among %d sessions = generation %d, %v; want %d", id.Hex(), gen, shapeSizes[k], got.Generation, err, gen+1)
			}
			spent[k] += time.Since(start)
			gens[k][id] = gen + 1
		}
	}
	reportSizes(b, spent)
}

// seedUsers inserts n users into the store's users collection, 1,000 per
// command, and returns their ids.
func seedUsers(b *testing.B, db *mongo.Database, n int, now time.Time) []bson.ObjectID {
	b.Helper()
	ids := make([]bson.ObjectID, n)
	for start := 0; start < n; start += 1000 {
		var docs []any
		for i := start; i < min(n, start+1000); i++ {
			ids[i] = bson.NewObjectID()
			name := fmt.Sprintf("user%d", i)
			docs = append(docs, bson.D{
				{Key: "_id", Value: ids[i]},
				{Key: "username", Value: name},
				{Key: "usernameKey", Value: name},
				{Key: "email", Value: name + "@example.com"},
				{Key: "fullName", Value: ""},
				{Key: "color", Value: ""},
				{Key: "roles", Value: bson.A{"user"}},
				{Key: "passwordHash", Value: "$2a$04$" + strings.Repeat("x", 53)},
				{Key: "createdAt", Value: now},
				{Key: "updatedAt", Value: now},
			})
		}
		if _, err := db.Collection("users").InsertMany(context.Background(), docs); err != nil {
			b.Fatalf("seeding users: %v", err)
		}
	}
	return ids
}
