package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"corkboard/auth"
	"corkboard/auth/ratelimittest"
	"corkboard/mongostore"
	"corkboard/mongostore/mongotest"
)

// TestRateLimiterContract runs the RateLimiter contract with its two views
// on two Stores, each with its own connection pool, on one database: what
// two corkboard processes would hold.
func TestRateLimiterContract(t *testing.T) {
	mongotest.URI(t)
	ratelimittest.TestRateLimiter(t, func(t *testing.T, max int, window time.Duration) (a, b auth.RateLimiter) {
		name := mongotest.NewDatabaseName(t)
		one, two := mongotest.OpenDatabase(t, name), mongotest.OpenDatabase(t, name)
		return one.RateLimiter("test", max, window), two.RateLimiter("test", max, window)
	})
}

// TestRateLimiterContractShapes runs the contract with each way of finding
// a window's first free slot, whatever the server: one find of every slot
// ({_id: {$in}}, as on MongoDB) and a binary search of lookups by _id (as on
// FerretDB 1.x). The second needs the update lock, which only FerretDB 1.x
// gets.
func TestRateLimiterContractShapes(t *testing.T) {
	mongotest.URI(t)
	for _, tc := range []struct {
		name   string
		idOnly bool
	}{{"in-list", false}, {"id-only", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ratelimittest.TestRateLimiter(t, func(t *testing.T, max int, window time.Duration) (a, b auth.RateLimiter) {
				name := mongotest.NewDatabaseName(t)
				one, two := mongotest.OpenDatabase(t, name), mongotest.OpenDatabase(t, name)
				if tc.idOnly && !mongostore.UpdatesSerialized(one) {
					t.Skip("the server is not FerretDB 1.x: id-only filters are not used on it")
				}
				mongostore.SetIDOnlyFilters(one, tc.idOnly)
				mongostore.SetIDOnlyFilters(two, tc.idOnly)
				return one.RateLimiter("test", max, window), two.RateLimiter("test", max, window)
			})
		})
	}
}

// TestRateLimitWindows checks where windows start (on multiples of their
// length, whatever the time of the first event), what a slot looks like,
// and that limits of different names count apart.
func TestRateLimitWindows(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	l := s.RateLimiter("login-ip", 1, time.Minute)
	if err := l.Take(ctx, "10.0.0.1", hour.Add(30*time.Second)); err != nil {
		t.Fatalf("first Take = %v", err)
	}
	var rl *auth.RateLimitError
	if err := l.Take(ctx, "10.0.0.1", hour.Add(40*time.Second)); !errors.As(err, &rl) || rl.RetryAfter != 20*time.Second {
		t.Errorf("second Take 40s past the hour = %v, want a refusal with retry after 20s (the window ends on the minute)", err)
	}
	if err := l.Take(ctx, "10.0.0.1", hour.Add(time.Minute)); err != nil {
		t.Errorf("Take in the next minute = %v, want allowed", err)
	}
	if err := s.RateLimiter("signup-ip", 1, time.Minute).Take(ctx, "10.0.0.1", hour.Add(30*time.Second)); err != nil {
		t.Errorf("Take on another limit's key = %v, want allowed", err)
	}

	window := hour.Add(30*time.Second).UnixMilli() / time.Minute.Milliseconds()
	var doc bson.M
	err := s.Database().Collection("ratelimits").FindOne(ctx, bson.D{{Key: "_id", Value: "login-ip|10.0.0.1|" + strconv.FormatInt(window, 10) + "|0"}}).Decode(&doc)
	if err != nil {
		t.Fatalf("reading the first slot: %v", err)
	}
	if doc["k"] != "login-ip|10.0.0.1" {
		t.Errorf("slot k = %v, want login-ip|10.0.0.1", doc["k"])
	}
	if exp, ok := doc["exp"].(bson.DateTime); !ok || !exp.Time().Equal(hour.Add(time.Minute+slotGrace)) {
		t.Errorf("slot exp = %v, want the window's end plus the grace, %v, as a date", doc["exp"], hour.Add(time.Minute+slotGrace))
	}
}

// TestSweepRateLimits checks that the sweep removes the slots of ended
// windows only.
func TestSweepRateLimits(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	minute, quarter := s.RateLimiter("a", 5, time.Minute), s.RateLimiter("b", 5, 15*time.Minute)
	for range 3 {
		if err := minute.Take(ctx, "k", hour); err != nil {
			t.Fatal(err)
		}
		if err := quarter.Take(ctx, "k", hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		at   time.Time
		want int
	}{
		{hour.Add(59 * time.Second), 0},
		{hour.Add(time.Minute), 0}, // ended, but another instance's clock may be behind
		{hour.Add(time.Minute + slotGrace), 3},
		{hour.Add(14*time.Minute + slotGrace), 0},
		{hour.Add(15*time.Minute + slotGrace), 3},
	} {
		if n, err := s.SweepRateLimits(ctx, tt.at); err != nil || n != tt.want {
			t.Errorf("SweepRateLimits(%v) = %d, %v; want %d, nil", tt.at, n, err, tt.want)
		}
	}
}

// TestRateLimiterFailsClosed checks that a limiter whose server is gone
// refuses with an unavailable error (a 503), never allows.
func TestRateLimiterFailsClosed(t *testing.T) {
	uri := mongotest.URI(t)
	ctx := context.Background()
	s, err := mongostore.Open(ctx, uri, mongotest.NewDatabaseName(t), mongostore.Options{NoTTLIndex: true, OpTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := s.RateLimiter("login-ip", 30, time.Minute)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for what, call := range map[string]func() error{
		"Take":  func() error { return l.Take(ctx, "k", time.Now()) },
		"Undo":  func() error { return l.Undo(ctx, "k", time.Now()) },
		"Reset": func() error { return l.Reset(ctx, "k") },
	} {
		err := call()
		var u interface{ Unavailable() bool }
		if !errors.As(err, &u) || !u.Unavailable() {
			t.Errorf("%s on a closed store = %v, want an unavailable error", what, err)
		}
	}
}

// BenchmarkRateLimitTake measures one Take on a limit of 30 (the per-IP
// login limit) that is half full, against the server in MONGO_URI, among
// other counted events: on FerretDB a lookup by _id still reads the
// collection's table, so the cost grows with the events of live windows
// (the sweep removes ended ones).
func BenchmarkRateLimitTake(b *testing.B) {
	for _, others := range []int{0, 1000, 10000} {
		b.Run(fmt.Sprintf("among %d", others), func(b *testing.B) {
			s := mongotest.Open(b)
			ctx := context.Background()
			now := time.Now()
			var docs []any
			for i := range others {
				docs = append(docs, bson.D{{Key: "_id", Value: "other|" + strconv.Itoa(i)}, {Key: "k", Value: "other"}, {Key: "exp", Value: now}})
			}
			if len(docs) > 0 {
				if _, err := s.Database().Collection("ratelimits").InsertMany(ctx, docs); err != nil {
					b.Fatal(err)
				}
			}
			l := s.RateLimiter("login-ip", 30, time.Minute)
			for i := 0; b.Loop(); i++ {
				// 15 events per key, so each Take searches a half-full window.
				if err := l.Take(ctx, "k"+strconv.Itoa(i/15), now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRateLimitSweepClockSkew: an instance whose clock runs ahead sweeps
// while another, a little behind, still counts in the window; the counts
// must survive, or the second instance would grant a whole new allowance.
func TestRateLimitSweepClockSkew(t *testing.T) {
	s := mongotest.Open(t)
	ctx := context.Background()
	end := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	l := s.RateLimiter("login-failures-name-ip", 10, 15*time.Minute)
	behind := end.Add(-time.Second) // the slow instance, in the window's last second
	for i := range 10 {
		if err := l.Take(ctx, "k", behind); err != nil {
			t.Fatalf("take %d: %v", i+1, err)
		}
	}
	// The instance 2 s ahead sweeps: for it the window ended a second ago.
	if _, err := s.SweepRateLimits(ctx, end.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var limited *auth.RateLimitError
	if err := l.Take(ctx, "k", behind.Add(500*time.Millisecond)); !errors.As(err, &limited) {
		t.Errorf("take after a sweep by a clock 2 s ahead = %v, want rate limited: the window's counts were swept", err)
	}
}

// slotGrace is how long past its window's end a slot is kept (the store's
// rateSlotGrace).
const slotGrace = 10 * time.Minute

// TestRateLimitUndoPastAGap: an Undo racing a Take can leave a gap below
// the highest slot (here slots 1, 2 and 3 with 0 gone). The next Undo must
// still take back an event, the highest, in both shapes of the slot
// search, so that a limit whose events are given back (a login that
// succeeded) does not refuse too soon.
func TestRateLimitUndoPastAGap(t *testing.T) {
	for _, idOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("idOnly=%v", idOnly), func(t *testing.T) {
			s := mongotest.Open(t)
			mongostore.SetIDOnlyFilters(s, idOnly)
			ctx := context.Background()
			now := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
			l := s.RateLimiter("login-name", 4, time.Minute)
			for i := range 4 {
				if err := l.Take(ctx, "ann", now); err != nil {
					t.Fatalf("Take %d = %v", i, err)
				}
			}
			window := strconv.FormatInt(now.UnixMilli()/time.Minute.Milliseconds(), 10)
			slot := func(i int) bson.D {
				return bson.D{{Key: "_id", Value: "login-name|ann|" + window + "|" + strconv.Itoa(i)}}
			}
			coll := s.Database().Collection("ratelimits")
			if _, err := coll.DeleteOne(ctx, slot(0)); err != nil {
				t.Fatal(err)
			}
			if err := l.Undo(ctx, "ann", now); err != nil {
				t.Fatalf("Undo = %v", err)
			}
			n, err := coll.CountDocuments(ctx, bson.D{{Key: "k", Value: "login-name|ann"}})
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d slots after an Undo of slots {1,2,3}, want 2", n)
			}
			if err := l.Take(ctx, "ann", now); err != nil {
				t.Errorf("Take after the Undo = %v, want allowed (two slots free)", err)
			}
		})
	}
}
