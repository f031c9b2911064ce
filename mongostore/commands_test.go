package mongostore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
	"corkboard/objectid"
)

// TestCommandCounts checks that the counts move by one command per store
// round trip, by name: an insert for a new session, a find for reading it.
func TestCommandCounts(t *testing.T) {
	uri := mongotest.URI(t)
	ctx := context.Background()
	counts := new(mongostore.CommandCounts)
	name := mongotest.NewDatabaseName(t)
	s, err := mongostore.Open(ctx, uri, name, mongostore.Options{NoTTLIndex: true, Commands: counts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Database().Drop(context.Background())
		s.Close()
	})
	now := time.Now().UTC()
	sess := auth.Session{ID: objectid.New(now), UserID: objectid.New(now), Roles: []string{"user"},
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}

	before := counts.Counts()
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	after := counts.Counts()
	for _, name := range []string{"insert", "find"} {
		if got := after[name] - before[name]; got != 1 {
			t.Errorf("%s commands counted for CreateSession then Session = %d, want 1 (before %v, after %v)", name, got, before, after)
		}
	}
	var fromJSON map[string]int64
	if err := json.Unmarshal([]byte(counts.String()), &fromJSON); err != nil || fromJSON["insert"] != after["insert"] {
		t.Errorf("String() = %s (%v), want a JSON object with insert: %d", counts.String(), err, after["insert"])
	}
}

// TestCommandCountsAdd checks the counting itself: known and other names,
// and no allocation for a command counted on the request paths.
func TestCommandCountsAdd(t *testing.T) {
	var c mongostore.CommandCounts
	c.Add("find")
	c.Add("find")
	c.Add("dropDatabase")
	if got := c.Counts(); len(got) != 2 || got["find"] != 2 || got["dropDatabase"] != 1 {
		t.Errorf("Counts() = %v, want find: 2, dropDatabase: 1", got)
	}
	if a := testing.AllocsPerRun(100, func() { c.Add("findAndModify") }); a != 0 {
		t.Errorf("Add(findAndModify) allocates %v times, want 0", a)
	}
}
