package mongostore_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
)

// BenchmarkRotateSessionScale times the store's side of a refresh, RotateSession
// then the Session read the next request's authentication makes, on a store
// holding 100 sessions and on one holding 10,000, alternating between the
// two in every iteration. It reports both times and their ratio
// (x10k/100): a refresh should cost the same however many sessions are
// stored. The sessions are inserted directly, 1,000 per command, since
// 10,000 CreateSession calls would take longer than the measurement.
func BenchmarkRotateSessionScale(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var stores [2]*mongostore.Store
	var ids [2][]bson.ObjectID
	for k, n := range shapeSizes {
		stores[k] = mongotest.Open(b)
		_, ids[k] = seedShapes(b, stores[k].Database(), "sessions", n, now)
	}
	gens := [2]map[bson.ObjectID]uint64{{}, {}}
	ctx := context.Background()
	var spent [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for k, s := range stores {
			id := ids[k][(i*7919)%len(ids[k])]
			gen := gens[k][id]
			start := time.Now()
			got, err := s.RotateSession(ctx, id.Hex(), gen, now, now.Add(time.Hour))
			if err != nil || got.Generation != gen+1 {
				b.Fatalf("RotateSession(%s, %d) among %d sessions = generation %d, %v; want %d", id.Hex(), gen, shapeSizes[k], got.Generation, err, gen+1)
			}
			if _, err := s.Session(ctx, id.Hex()); err != nil {
				b.Fatalf("Session(%s) among %d sessions: %v", id.Hex(), shapeSizes[k], err)
			}
			spent[k] += time.Since(start)
			gens[k][id] = gen + 1
		}
	}
	reportSizes(b, spent)
}
