package auth

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// RateLimiter counts events per key in fixed windows and refuses those over
// its limit: at most max events per key in each window, and a refused event
// is not counted. The in-memory Limiter is one; a store shared by several
// instances provides another (mongostore), so that three instances behind a
// load balancer do not give an attacker three times the guesses.
//
// A limiter kept in a store can fail. It then fails closed: Take returns
// the store's error (an unavailable store's error says so by its
// Unavailable method, and becomes a 503), never a silent "allowed".
// The package ratelimittest holds the contract every implementation passes.
type RateLimiter interface {
	// Take records one event for key at now, or returns a
	// *RateLimitError when key is over the limit, or another error when
	// the count could not be read or written (then nothing is counted and
	// the caller must refuse the event).
	Take(ctx context.Context, key string, now time.Time) error
	// Undo takes back one event of key taken at now (an attempt counted
	// but never made). An error leaves the event counted, which errs on
	// the side of refusing.
	Undo(ctx context.Context, key string, now time.Time) error
	// Reset forgets key's events. An error leaves them counted.
	Reset(ctx context.Context, key string) error
}

// NewRateLimiter makes the RateLimiter allowing max events per key per
// window for the limit called name. Limits of one name share their counts
// wherever the limiter keeps them; different names never do.
type NewRateLimiter func(name string, max int, window time.Duration) RateLimiter

// MemoryLimiters is the NewRateLimiter of in-memory Limiters, for a process
// that is the only one serving its data (the file store).
func MemoryLimiters(name string, max int, window time.Duration) RateLimiter {
	return NewLimiter(max, window)
}

var _ RateLimiter = (*Limiter)(nil)

// Limiter counts events per key in fixed windows: at most Max events per key
// in each Window. It is in memory and per process, which is what a single
// binary on one VPS needs; a fleet would share a store instead.
type Limiter struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	windows map[string]*bucket
	sweepAt time.Time
}

type bucket struct {
	start time.Time
	count int
}

// NewLimiter returns a Limiter allowing max events per key per window.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, windows: make(map[string]*bucket)}
}

// current returns key's window at now, starting a fresh one when the old one
// has ended. Called with l.mu held.
func (l *Limiter) current(key string, now time.Time) *bucket {
	if now.After(l.sweepAt) {
		// Forget ended windows once per window length, so the map holds
		// only keys seen recently.
		for k, w := range l.windows {
			if !now.Before(w.start.Add(l.window)) {
				delete(l.windows, k)
			}
		}
		l.sweepAt = now.Add(l.window)
	}
	w := l.windows[key]
	if w == nil || !now.Before(w.start.Add(l.window)) {
		w = &bucket{start: now}
		l.windows[key] = w
	}
	return w
}

// Allow records one event for key and reports whether it is within the
// limit. When it is not, retryAfter says when the window ends.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.current(key, now)
	if w.count >= l.max {
		return false, w.start.Add(l.window).Sub(now)
	}
	w.count++
	return true, 0
}

// RateLimitError is a refusal by a Limiter: the caller may try again after
// RetryAfter.
type RateLimitError struct{ RetryAfter time.Duration }

func (e *RateLimitError) Error() string {
	return "rate limited; retry after " + strconv.Itoa(RetryAfterSeconds(e.RetryAfter)) + "s"
}

// Take records one event for key at now, like Allow, and returns a
// *RateLimitError when it is over the limit. A nil Limiter (limits turned
// off) allows everything. It never fails otherwise.
func (l *Limiter) Take(_ context.Context, key string, now time.Time) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.Allow(key, now); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// Undo takes back one event of key in its current window: for an attempt
// that was counted but then never made (refused as busy, say). The window is
// the one key holds, so now is not needed. Undoing on a nil Limiter does
// nothing.
func (l *Limiter) Undo(_ context.Context, key string, _ time.Time) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.windows[key]; w != nil && w.count > 0 {
		w.count--
	}
	return nil
}

// Reset forgets key's events. Resetting a nil Limiter does nothing.
func (l *Limiter) Reset(_ context.Context, key string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
	return nil
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1, for the
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
