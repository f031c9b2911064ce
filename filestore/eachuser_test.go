package filestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
)

// storeEachUsers stores n users named prefix0000… in s and returns them.
func storeEachUsers(t *testing.T, s *Store, prefix string, n int) []user.User {
	t.Helper()
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	users := make([]user.User, n)
	for i := range users {
		u := benchUser(fmt.Sprintf("%s%04d", prefix, i), now)
		u.ID = objectid.New(now)
		if err := s.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		users[i] = u
	}
	return users
}

// TestEachUserInBatches lists users in many batches, eight times over,
// while the callback writes to the store between batches: it updates
// users stored all along (an update puts a user into the table's map anew)
// and deletes others (which leaves the map's slots to be reused), and now
// and then creates one. Every user stored all along must be met exactly
// once, no user twice, and nothing that was never stored. The callback's
// writes do not wait for the listing: they would deadlock if it held the
// lock while fn runs.
func TestEachUserInBatches(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, t.TempDir(), Options{NoSync: true})
			now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
			var kept, doomed []string
			stored := make(map[string]bool)
			for i, u := range storeEachUsers(t, s, "each", 6000) {
				if i%3 == 0 {
					doomed = append(doomed, u.ID)
				} else {
					kept = append(kept, u.ID)
				}
				stored[u.ID] = true
			}
			r := rand.New(rand.NewPCG(seed, 2))
			updates, deletes := 0, 0
			for round := range 8 {
				met := make(map[string]int)
				calls := 0
				err := s.EachUser(ctx, func(u user.User) error {
					calls++
					met[u.ID]++
					if calls%eachUserBatch != 0 {
						return nil
					}
					for range 40 {
						if err := s.SetRoles(ctx, kept[r.IntN(len(kept))], []string{"user", "moderator"}, now); err != nil {
							return err
						}
						updates++
						if len(doomed) > 0 {
							if _, err := s.DeleteUser(ctx, doomed[len(doomed)-1]); err != nil {
								return err
							}
							doomed = doomed[:len(doomed)-1]
							deletes++
						}
					}
					n := storeEachUsers(t, s, fmt.Sprintf("new%d_%d_", round, calls), 1)[0]
					stored[n.ID] = true
					return nil
				})
				if err != nil {
					t.Fatalf("round %d: EachUser = %v", round, err)
				}
				for _, id := range kept {
					if met[id] != 1 {
						t.Errorf("round %d: user %s, stored all along, met %d times, want 1", round, id, met[id])
					}
				}
				for id, n := range met {
					switch {
					case !stored[id]:
						t.Errorf("round %d: met %s, which was never stored", round, id)
					case n > 1:
						t.Errorf("round %d: user %s met %d times", round, id, n)
					}
				}
			}
			if updates < 2000 || deletes < 2000 {
				t.Fatalf("only %d updates and %d deletes during the listings", updates, deletes)
			}
		})
	}
}

// TestEachUserAcrossReload: when the store goes back to its files between
// two batches (see reload), the listing goes on in the reloaded state and
// still meets every user once, also one whose deletion the reload undid
// after the ids were taken; when reads break between two batches (see
// breakReads), it stops with the store's error.
func TestEachUserAcrossReload(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	users := storeEachUsers(t, s, "each", 3*eachUserBatch)
	met := make(map[string]int)
	err := s.EachUser(ctx, func(u user.User) error {
		if met[u.ID]++; len(met) == 1 {
			s.syncMu.Lock()
			defer s.syncMu.Unlock()
			return s.reload(errors.New("a test's reload"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("EachUser across a reload = %v", err)
	}
	if s.gen.Load() == 0 {
		t.Fatal("the reload did not happen")
	}
	for _, u := range users {
		if met[u.ID] != 1 {
			t.Errorf("user %s met %d times across the reload, want 1", u.ID, met[u.ID])
		}
	}

	// A deletion that is in memory when the ids are taken, and undone by
	// the reload (the disk never took it): its user is stored all along,
	// and must be met, whether the reload comes after the first call or
	// after the last (once every id taken has been listed).
	for i, at := range []int{1, len(users) - 1} {
		victim := users[i]
		s.syncMu.Lock() // no round can make the deletion durable
		deleted := make(chan error, 1)
		go func() { _, err := s.DeleteUser(ctx, victim.ID); deleted <- err }()
		for {
			if _, err := s.UserByID(ctx, victim.ID); errors.Is(err, user.ErrNotFound) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		clear(met)
		calls := 0
		err = s.EachUser(ctx, func(u user.User) error {
			met[u.ID]++
			if calls++; calls == at {
				return s.reload(errors.New("a test's refused write"))
			}
			return nil
		})
		s.syncMu.Unlock()
		if derr := <-deleted; derr == nil {
			t.Fatal("the deletion succeeded: the reload did not undo it")
		}
		if err != nil {
			t.Fatalf("EachUser across the undoing of a deletion = %v", err)
		}
		for _, u := range users {
			if met[u.ID] != 1 {
				t.Errorf("reload after call %d: user %s met %d times across the undoing of a deletion, want 1", at, u.ID, met[u.ID])
			}
		}
	}

	calls := 0
	err = s.EachUser(ctx, func(user.User) error {
		if calls++; calls == 1 { // as rollback does when the files cannot be read back
			s.fail(errors.New("a test's broken reads"))
			s.breakReads()
		}
		return nil
	})
	if err == nil || s.readable() == nil || err.Error() != s.readable().Error() {
		t.Fatalf("EachUser with reads broken after its first batch = %v, want %v", err, s.readable())
	}
	if calls != eachUserBatch {
		t.Errorf("%d calls before the error, want one batch, %d", calls, eachUserBatch)
	}
}
