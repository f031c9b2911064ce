package auth

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// RateLimiter counts events per key and refuses those over its limit. The
// in-memory Limiter is one; a store may provide another, so that several
// instances behind a load balancer share their counts.
type RateLimiter interface {
	// Take records one event for key at now, or returns a
	// *RateLimitError when key is over the limit.
	Take(key string, now time.Time) error
	// Undo takes back one event of key (an attempt counted but never made).
	Undo(key string)
	// Reset forgets key's events.
	Reset(key string)
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
// off) allows everything.
func (l *Limiter) Take(key string, now time.Time) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.Allow(key, now); !ok {
		return &RateLimitError{RetryAfter: wait}
	}
	return nil
}

// Undo takes back one event of key in its current window: for an attempt
// that was counted but then never made (refused as busy, say). Undoing on a
// nil Limiter does nothing.
func (l *Limiter) Undo(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.windows[key]; w != nil && w.count > 0 {
		w.count--
	}
}

// Reset forgets key's events. Resetting a nil Limiter does nothing.
func (l *Limiter) Reset(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.windows, key)
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1, for the
// Retry-After header.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
