// Package ratelimittest is the contract suite for auth.RateLimiter. The
// in-memory limiter runs it, and so does the MongoDB one with its two views
// on one count opened through two separate connections, as two instances
// of corkboard would hold them: whatever keeps the counts, N concurrent
// takes on one key from both give exactly min(N, max) successes.
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"corkboard/auth"
)

// Open returns two views a and b on one fresh, shared count: limiters for
// one limit name allowing max events per key per window. A single-process
// limiter may return itself twice.
type Open func(t *testing.T, max int, window time.Duration) (a, b auth.RateLimiter)

// t0 is a time on a whole hour, so that it starts a window of every length
// the suite uses, whether windows start at the first event (the in-memory
// limiter) or on multiples of their length (the MongoDB one).
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// TestRateLimiter runs the auth.RateLimiter contract as subtests.
func TestRateLimiter(t *testing.T, open Open) {
	tests := []struct {
		name string
		run  func(t *testing.T, open Open)
	}{
		{"LimitPerWindow", testLimitPerWindow},
		{"RefusalsAreNotCounted", testRefusalsAreNotCounted},
		{"Undo", testUndo},
		{"Reset", testReset},
		{"KeysApart", testKeysApart},
		{"ConcurrentTakes", testConcurrentTakes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open) })
	}
}

// take calls l.Take and fails the test on an error that is no refusal. It
// reports whether the event was allowed and, when not, the wait.
func take(t *testing.T, l auth.RateLimiter, key string, now time.Time) (ok bool, retryAfter time.Duration) {
	t.Helper()
	err := l.Take(context.Background(), key, now)
	var rl *auth.RateLimitError
	switch {
	case err == nil:
		return true, 0
	case errors.As(err, &rl):
		return false, rl.RetryAfter
	default:
		t.Fatalf("Take(%q, %v) = %v, want nil or a *auth.RateLimitError", key, now, err)
		return false, 0
	}
}

// wantTakes takes n events for key at now, alternating between the views,
// and fails unless exactly the first allowed of them are allowed.
func wantTakes(t *testing.T, views [2]auth.RateLimiter, key string, now time.Time, n, allowed int) {
	t.Helper()
	for i := range n {
		ok, wait := take(t, views[i%2], key, now)
		if ok != (i < allowed) {
			t.Fatalf("Take #%d of %q at %v: allowed=%v (retry after %v), want allowed=%v", i+1, key, now, ok, wait, i < allowed)
		}
	}
}

func testLimitPerWindow(t *testing.T, open Open) {
	a, b := open(t, 3, time.Minute)
	views := [2]auth.RateLimiter{a, b}
	for i := range 3 {
		if ok, wait := take(t, views[i%2], "k", t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("Take #%d refused (retry after %v), want allowed", i+1, wait)
		}
	}
	if ok, wait := take(t, b, "k", t0.Add(20*time.Second)); ok || wait != 40*time.Second {
		t.Errorf("4th Take 20s into the window: allowed=%v, retry after %v; want refused, retry after 40s", ok, wait)
	}
	if ok, wait := take(t, a, "k", t0.Add(time.Minute-time.Millisecond)); ok || wait != time.Millisecond {
		t.Errorf("Take 1ms before the window ends: allowed=%v, retry after %v; want refused, retry after 1ms", ok, wait)
	}
	wantTakes(t, views, "other", t0, 3, 3)
	// The next window starts afresh, with the whole limit.
	wantTakes(t, views, "k", t0.Add(time.Minute), 4, 3)
}

func testRefusalsAreNotCounted(t *testing.T, open Open) {
	a, b := open(t, 2, time.Minute)
	views := [2]auth.RateLimiter{a, b}
	wantTakes(t, views, "k", t0, 5, 2)
	// Had the three refusals counted, one Undo would not free a place.
	if err := a.Undo(context.Background(), "k", t0); err != nil {
		t.Fatalf("Undo = %v", err)
	}
	wantTakes(t, views, "k", t0.Add(time.Second), 2, 1)
}

func testUndo(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t, 1, time.Minute)
	views := [2]auth.RateLimiter{a, b}
	wantTakes(t, views, "k", t0, 1, 1)
	if err := b.Undo(ctx, "k", t0); err != nil { // the attempt was never made
		t.Fatalf("Undo = %v", err)
	}
	wantTakes(t, views, "k", t0.Add(time.Second), 2, 1)
	// An Undo with nothing counted takes nothing from a later window.
	if err := a.Undo(ctx, "unused", t0); err != nil {
		t.Fatalf("Undo of a key never taken = %v", err)
	}
	wantTakes(t, views, "unused", t0, 2, 1)
}

func testReset(t *testing.T, open Open) {
	ctx := context.Background()
	a, b := open(t, 2, time.Minute)
	views := [2]auth.RateLimiter{a, b}
	wantTakes(t, views, "k", t0, 3, 2)
	wantTakes(t, views, "kept", t0, 3, 2)
	if err := b.Reset(ctx, "k"); err != nil {
		t.Fatalf("Reset = %v", err)
	}
	wantTakes(t, views, "k", t0.Add(time.Second), 3, 2)
	// Reset forgets only its own key.
	wantTakes(t, views, "kept", t0.Add(time.Second), 1, 0)
}

func testKeysApart(t *testing.T, open Open) {
	a, b := open(t, 1, time.Minute)
	views := [2]auth.RateLimiter{a, b}
	// Keys that a careless encoding of key, window and count would run
	// together.
	for _, key := range []string{"x", "x|1", "x|1|0", "x|0", "", "email:a@b|127.0.0.1", "email:a@b|127.0.0.1|0"} {
		wantTakes(t, views, key, t0, 2, 1)
	}
}

func testConcurrentTakes(t *testing.T, open Open) {
	const limit = 8
	for _, n := range []int{limit / 2, limit, 3 * limit} {
		t.Run(fmt.Sprintf("%d takes", n), func(t *testing.T) {
			a, b := open(t, limit, time.Minute)
			views := [2]auth.RateLimiter{a, b}
			var (
				wg               sync.WaitGroup
				mu               sync.Mutex
				allowed, refused int
				errs             []error
			)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					err := views[i%2].Take(context.Background(), "k", t0.Add(time.Duration(i)*time.Millisecond))
					mu.Lock()
					defer mu.Unlock()
					var rl *auth.RateLimitError
					switch {
					case err == nil:
						allowed++
					case errors.As(err, &rl):
						refused++
					default:
						errs = append(errs, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("concurrent Take failed: %v", errs)
			}
			if want := min(n, limit); allowed != want || refused != n-want {
				t.Errorf("%d concurrent Takes with limit %d: %d allowed, %d refused; want %d allowed, %d refused",
					n, limit, allowed, refused, want, n-want)
			}
		})
	}
}
