package auth_test

import (
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/auth/ratelimittest"
)

// TestMemoryLimiterContract runs the RateLimiter contract on the in-memory
// Limiter, which one process shares between its goroutines.
func TestMemoryLimiterContract(t *testing.T) {
	ratelimittest.TestRateLimiter(t, func(t *testing.T, max int, window time.Duration) (a, b auth.RateLimiter) {
		l := auth.MemoryLimiters("test", max, window)
		return l, l
	})
}
