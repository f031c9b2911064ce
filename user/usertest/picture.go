package usertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"corkboard/objectid"
	"corkboard/user"
)

// testSetPicture checks that SetPicture replaces the picture id, hands back
// the one it replaced, and clears it with "".
func testSetPicture(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("alice", now)
	alice.PictureID = ""
	mustCreate(t, s, alice)
	later := now.Add(time.Minute)

	steps := []struct{ set, wantOld string }{
		{objectid.New(now), ""},
		{objectid.New(now), ""}, // wantOld filled in below: the first step's id
		{"", ""},                // the second step's id
		{"", ""},
	}
	steps[1].wantOld = steps[0].set
	steps[2].wantOld = steps[1].set
	for i, st := range steps {
		old, err := s.SetPicture(ctx, alice.ID, st.set, later)
		if err != nil || old != st.wantOld {
			t.Fatalf("step %d: SetPicture(%q) = %q, %v; want %q, nil", i, st.set, old, err, st.wantOld)
		}
		want := alice
		want.PictureID, want.UpdatedAt = st.set, ms(later)
		got, err := s.UserByID(ctx, alice.ID)
		wantUser(t, "UserByID after SetPicture", got, err, want)
	}

	_, err := s.SetPicture(ctx, objectid.New(now), objectid.New(now), later)
	wantErr(t, "SetPicture(unknown user)", err, user.ErrNotFound)
}

// testConcurrentSetPicture races replacements of one user's picture: each
// id set must come back exactly once, as the old id of a later swap or as
// the final picture, so that every replaced file is deleted by exactly one
// caller and none is lost.
func testConcurrentSetPicture(t *testing.T, s user.Store) {
	ctx := context.Background()
	now := baseTime()
	alice := newUser("alice", now)
	alice.PictureID = ""
	mustCreate(t, s, alice)

	const n = 16
	ids := make([]string, n)
	olds := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = objectid.New(now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			old, err := s.SetPicture(ctx, alice.ID, ids[i], now)
			if err != nil {
				t.Errorf("SetPicture: %v", err)
			}
			olds[i] = old
		}()
	}
	wg.Wait()
	got, err := s.UserByID(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := append(slices.Clone(olds), got.PictureID)
	want := append(slices.Clone(ids), "")
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("old ids returned plus the final one = %q, want every id set exactly once plus \"\": %q", seen, want)
	}
}
