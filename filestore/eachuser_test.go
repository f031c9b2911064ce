package filestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
)

// TestEachUserInBatches lists more users than one batch while the callback
// writes to the store: every user stored all along is met exactly once,
// with its record as stored, a user created during the listing is met at
// most once, and the callback's writes do not wait for the listing (they
// would deadlock if the read lock were held while fn runs).
func TestEachUserInBatches(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{NoSync: true})
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	stored := make(map[string]user.User)
	for i := range 3*eachUserBatch + 17 {
		u := benchUser(fmt.Sprintf("each%04d", i), now)
		u.ID = objectid.New(now)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		stored[u.ID] = u
	}
	met := make(map[string]int)
	added := make(map[string]bool)
	calls := 0
	err := s.EachUser(ctx, func(u user.User) error {
		calls++
		met[u.ID]++
		if want, ok := stored[u.ID]; ok && (u.Username != want.Username || u.Email != want.Email) {
			t.Errorf("met %s as %q <%s>, stored as %q <%s>", u.ID, u.Username, u.Email, want.Username, want.Email)
		}
		if calls%50 == 1 { // a write from inside the listing, a few times a batch
			n := benchUser(fmt.Sprintf("new%04d", calls), now)
			n.ID = objectid.New(now)
			if err := s.CreateUser(ctx, n); err != nil {
				return err
			}
			added[n.ID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("EachUser = %v", err)
	}
	for id := range stored {
		if met[id] != 1 {
			t.Errorf("user %s met %d times, want 1", id, met[id])
		}
	}
	for id, n := range met {
		switch {
		case stored[id].ID == "" && !added[id]:
			t.Errorf("met %s, which was never stored", id)
		case n > 1:
			t.Errorf("user %s met %d times", id, n)
		}
	}
	if len(added) < 3*eachUserBatch/50 {
		t.Fatalf("only %d users created during the listing", len(added))
	}
}

// TestEachUserStopsOnReload: when the store goes back to its files between
// two batches, the listing stops with an error rather than read on in a
// map that is no longer the state's (a user changed there and rolled back
// would be listed as it never was kept).
func TestEachUserStopsOnReload(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for i := range 2 * eachUserBatch {
		u := benchUser(fmt.Sprintf("each%04d", i), now)
		u.ID = objectid.New(now)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	err := s.EachUser(ctx, func(user.User) error {
		if calls++; calls == 1 {
			s.syncMu.Lock()
			defer s.syncMu.Unlock()
			return s.reload(errors.New("a test's reload"))
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "reloaded") {
		t.Fatalf("EachUser across a reload = %v after %d calls, want the reload reported", err, calls)
	}
	if calls != eachUserBatch {
		t.Errorf("%d calls before the error, want one batch, %d", calls, eachUserBatch)
	}
	// The store is usable after, and lists everyone.
	n := 0
	if err := s.EachUser(ctx, func(user.User) error { n++; return nil }); err != nil || n != 2*eachUserBatch {
		t.Errorf("EachUser after = %d users, %v; want %d, nil", n, err, 2*eachUserBatch)
	}
}
