package mongostore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"corkboard/auth"
)

// ratelimitsCollection holds the rate-limit counts that every instance on
// this database shares.
const ratelimitsCollection = "ratelimits"

// rateSlotDoc is one event counted against a limit: the slot-th of at most
// max in one window of one key. The count of a window is the number of its
// slots, so that counting is an insert with a unique _id, which every
// server does atomically, FerretDB 1.x included (its updates, $inc among
// them, are a read and a write apart, and would lose counts between
// processes).
type rateSlotDoc struct {
	// ID is "<limit>|<key>|<window>|<slot>", where window is the window's
	// number since the Unix epoch. Window and slot hold no "|", so read
	// from the right the _id names one key, window and slot.
	ID string `bson:"_id"`
	// Key is "<limit>|<key>", for Reset.
	Key string `bson:"k"`
	// Expires is when the window ends plus rateSlotGrace: the TTL index,
	// or the sweep, then removes the slot. Reads never need it gone: a
	// later window has other _ids.
	Expires time.Time `bson:"exp"`
}

// rateSlotGrace keeps a slot past its window's end before it may be
// removed. Instances count by their own clocks, and the sweep (on every
// instance) and the TTL monitor (on the database) delete by theirs: were a
// slot removed the moment one clock saw its window end, an instance whose
// clock is a little behind would still be counting in that window, find
// it empty, and grant a whole new allowance. Only the clean-up waits;
// Retry-After still comes from the window's end.
const rateSlotGrace = 10 * time.Minute

// rateLimiter is an auth.RateLimiter on the ratelimits collection, for one
// limit. It is a value over the Store: every limiter of the same name, in
// any process, shares the counts.
type rateLimiter struct {
	s      *Store
	name   string
	max    int
	window time.Duration
}

var _ auth.RateLimiter = rateLimiter{}

// RateLimiter returns the limit called name, allowing max events per key
// in each window, kept in MongoDB so that every instance on this database
// counts against the same limit; it is an auth.NewRateLimiter.
//
// Windows are fixed, as in the in-memory auth.Limiter, but they start on
// multiples of their length since the Unix epoch (a one-minute window at
// every whole minute) rather than at a key's first event, so that every
// instance agrees on the current window without asking the others.
//
// A Take costs one find of the window's slots and one insert (on FerretDB
// 1.x, about log2(max+1) lookups by _id and one insert: see firstFree);
// Undo costs the same with a delete, Reset one deleteMany. On a store error (the server is down) the limiter fails
// closed: Take returns the error, unavailable ones answered with 503.
func (s *Store) RateLimiter(name string, max int, window time.Duration) auth.RateLimiter {
	return rateLimiter{s: s, name: name, max: max, window: window}
}

// windowOf returns the number of the window holding now and when it ends.
func (l rateLimiter) windowOf(now time.Time) (n int64, end time.Time) {
	w := l.window.Milliseconds()
	if w <= 0 {
		w = 1
	}
	n = now.UnixMilli() / w
	return n, time.UnixMilli((n + 1) * w).UTC()
}

// slotID is the _id of slot in window n of key.
func (l rateLimiter) slotID(key string, n int64, slot int) string {
	return l.name + "|" + key + "|" + strconv.FormatInt(n, 10) + "|" + strconv.Itoa(slot)
}

// inListMax is the largest limit whose slots firstFree asks for in one find
// ({_id: {$in: [...]}}); a larger limit is searched slot by slot.
const inListMax = 64

// firstFree returns the lowest slot in 0..max of window n of key that does
// not exist (max means the window is full), and one past the highest slot
// that does (0 when none does): Take fills the first, Undo deletes below
// the second. They differ when an Undo racing a Take left a gap.
//
// On MongoDB it is one find of every slot's _id at once ({_id: {$in}}, one
// index lookup per slot, one round trip), which sees every gap an Undo left.
// On FerretDB 1.x, which hands SQLite only a filter that is exactly
// {_id: <value>} and decodes the whole collection for any other (see
// Store.idOnlyFilters), and for limits over inListMax, it is a binary search
// of lookups by _id, about log2(max+1) round trips: slots are taken from the
// bottom up, so the ones that exist are (but for a concurrent Undo) 0 up to
// some count.
func (l rateLimiter) firstFree(ctx context.Context, key string, n int64) (free, top int, err error) {
	if l.s.idOnlyFilters || l.max > inListMax {
		free, err := l.searchFree(ctx, key, n)
		return free, free, err
	}
	ids := make(bson.A, l.max)
	for i := range ids {
		ids[i] = l.slotID(key, n, i)
	}
	cur, err := l.s.ratelimits.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, 0, err
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &found); err != nil {
		return 0, 0, err
	}
	taken := make([]bool, l.max)
	for _, f := range found {
		for i, id := range ids {
			if id == f.ID {
				taken[i] = true
				break
			}
		}
	}
	free = l.max
	for i, t := range taken {
		if t {
			top = i + 1
		} else if free == l.max {
			free = i
		}
	}
	return free, top, nil
}

// searchFree is firstFree by binary search, one lookup by _id per probe.
func (l rateLimiter) searchFree(ctx context.Context, key string, n int64) (int, error) {
	lo, hi := 0, l.max
	for lo < hi {
		mid := (lo + hi) / 2
		err := l.s.ratelimits.FindOne(ctx, bson.D{{Key: "_id", Value: l.slotID(key, n, mid)}},
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case err == nil:
			lo = mid + 1
		case errors.Is(err, mongo.ErrNoDocuments):
			hi = mid
		default:
			return 0, err
		}
	}
	return lo, nil
}

// Take counts one event by inserting the first free slot of key's current
// window. Of two takers that found the same free slot, the unique _id lets
// one insert it; the other tries the next slot up. Over the limit when
// every slot up to max-1 is taken: nothing is written.
func (l rateLimiter) Take(ctx context.Context, key string, now time.Time) error {
	ctx, cancel := l.s.opContext(ctx)
	defer cancel()
	n, end := l.windowOf(now)
	slot, _, err := l.firstFree(ctx, key, n)
	if err != nil {
		return l.s.fail("rate limit "+l.name+": take", err)
	}
	for ; slot < l.max; slot++ {
		_, err := l.s.ratelimits.InsertOne(ctx, rateSlotDoc{ID: l.slotID(key, n, slot), Key: l.name + "|" + key, Expires: end.Add(rateSlotGrace)})
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return l.s.fail("rate limit "+l.name+": take", err)
		}
	}
	return &auth.RateLimitError{RetryAfter: end.Sub(now)}
}

// Undo deletes the highest slot of the window holding now. When a
// concurrent Undo deleted it first, it tries the one below, so two Undos
// take back two events.
func (l rateLimiter) Undo(ctx context.Context, key string, now time.Time) error {
	ctx, cancel := l.s.opContext(ctx)
	defer cancel()
	n, _ := l.windowOf(now)
	_, top, err := l.firstFree(ctx, key, n)
	if err != nil {
		return l.s.fail("rate limit "+l.name+": undo", err)
	}
	for slot := top - 1; slot >= 0; slot-- {
		res, err := l.s.ratelimits.DeleteOne(ctx, bson.D{{Key: "_id", Value: l.slotID(key, n, slot)}})
		if err != nil {
			return l.s.fail("rate limit "+l.name+": undo", err)
		}
		if res.DeletedCount > 0 {
			return nil
		}
	}
	return nil
}

// Reset deletes every slot of key, in every window.
func (l rateLimiter) Reset(ctx context.Context, key string) error {
	ctx, cancel := l.s.opContext(ctx)
	defer cancel()
	if _, err := l.s.ratelimits.DeleteMany(ctx, bson.D{{Key: "k", Value: l.name + "|" + key}}); err != nil {
		return l.s.fail("rate limit "+l.name+": reset", err)
	}
	return nil
}

// SweepRateLimits deletes the slots of windows that ended by now, for
// servers without TTL indexes (FerretDB) and for the TTL monitor's lag.
// It is idempotent, so every instance may run it.
func (s *Store) SweepRateLimits(ctx context.Context, now time.Time) (int, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	res, err := s.ratelimits.DeleteMany(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: now}}}})
	if err != nil {
		return 0, s.fail("sweep rate limits", err)
	}
	return int(res.DeletedCount), nil
}
