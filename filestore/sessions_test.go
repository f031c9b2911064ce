package filestore

import (
	"context"
	"testing"
	"time"
)

// TestSweepAfterBound checks that the earliest expiry the session table
// keeps never hides an expired session from a sweep: a sweep that finds
// nothing raises the bound, and what comes after it — a new session that
// expires sooner, a store reopened from its journal, or from a snapshot —
// must still be swept when its time comes.
func TestSweepAfterBound(t *testing.T) {
	ctx := context.Background()
	now := testTime()
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	u := testUser("alice", now)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	sweep := func(at time.Time, want int) {
		t.Helper()
		n, err := s.DeleteExpiredSessions(ctx, at)
		if err != nil || n != want {
			t.Fatalf("DeleteExpiredSessions(%v) = %d, %v; want %d", at, n, err, want)
		}
	}
	create := func(ttl time.Duration) {
		t.Helper()
		sess := testSession(u.ID, now)
		sess.ExpiresAt = now.Add(ttl)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
	}
	sweep(now, 0) // an empty store
	create(10 * time.Hour)
	create(20 * time.Hour)
	sweep(now, 0) // reads both: the bound is now 10 h
	sweep(now.Add(5*time.Hour), 0)
	create(time.Hour) // sooner than the bound
	sweep(now.Add(2*time.Hour), 1)
	sweep(now.Add(2*time.Hour), 0)
	sweep(now.Add(10*time.Hour), 1)

	// Reopened, from the journal and then from a snapshot, the bound is
	// the loaded sessions' own.
	create(3 * time.Hour)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	sweep(now.Add(3*time.Hour), 1)
	create(4 * time.Hour)
	forceCompaction(s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	// The load sets the bound, so that the sweep at start reads nothing.
	s.mu.RLock()
	soonest := s.st.sessions.soonest
	s.mu.RUnlock()
	if want := now.Add(4 * time.Hour); !soonest.Equal(want) {
		t.Errorf("after loading a snapshot the earliest expiry is %v, want %v", soonest, want)
	}
	sweep(now.Add(4*time.Hour), 1)
	sweep(now.Add(20*time.Hour), 1)
	closeStore(t, s)
}
