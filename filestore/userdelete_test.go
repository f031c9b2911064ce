package filestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corkboard/auth"
	"corkboard/user"
)

// TestDeleteUserRestart: a deleted user, its sessions and its tokens go in
// one journal line, and stay deleted after a restart, with its email and
// username free; the other users keep everything.
func TestDeleteUserRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	users := mustCreateUsers(t, s, "user", 3)
	gone, kept := users[0], users[1]
	var goneSessions []string
	for _, u := range users {
		for range 2 {
			sess := testSession(u.ID, testTime())
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			if u.ID == gone.ID {
				goneSessions = append(goneSessions, sess.ID)
			}
		}
	}
	_, goneToken := auth.NewOneTimeToken(gone.ID, auth.PurposeReset, testTime(), time.Hour)
	_, keptToken := auth.NewOneTimeToken(kept.ID, auth.PurposeReset, testTime(), time.Hour)
	for _, tok := range []auth.OneTimeToken{goneToken, keptToken} {
		if err := s.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := s.DeleteUser(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteUser = %v, want nil", err)
	}
	// One batch: the last journal line deletes the user, both sessions and
	// the token, and nothing else.
	nums, err := listJournals(dir)
	if err != nil || len(nums) == 0 {
		t.Fatalf("listJournals = %v, %v", nums, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, journalName(nums[len(nums)-1])))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var last struct{ Changes []rawChange }
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		t.Fatalf("last journal line %s: %v", lines[len(lines)-1], err)
	}
	var got []string
	for _, c := range last.Changes {
		got = append(got, c.Op+" "+c.Kind+" "+c.ID)
	}
	want := []string{"delete user " + gone.ID, "delete token " + goneToken.ID}
	for _, id := range goneSessions {
		want = append(want, "delete session "+id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the deletion's journal line holds\n\t%q\nwant one batch of\n\t%q", got, want)
	}

	wantDump := dump(t, s)
	closeStore(t, s)
	s = openStore(t, dir, Options{})
	checkDump(t, "after deleting a user and reopening", dump(t, s), wantDump)
	if _, err := s.UserByID(ctx, gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("UserByID(deleted user) after reopening = %v, want ErrNotFound", err)
	}
	for _, id := range goneSessions {
		if _, err := s.Session(ctx, id); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("Session(%s of the deleted user) after reopening = %v, want ErrSessionNotFound", id, err)
		}
	}
	if _, err := s.TakeToken(ctx, goneToken.ID, auth.PurposeReset, testTime()); !errors.Is(err, auth.ErrTokenNotFound) {
		t.Errorf("TakeToken(the deleted user's token) after reopening = %v, want ErrTokenNotFound", err)
	}
	if _, err := s.TakeToken(ctx, keptToken.ID, auth.PurposeReset, testTime()); err != nil {
		t.Errorf("TakeToken(another user's token) after reopening = %v, want it kept", err)
	}
	// The indexes were rebuilt without the deleted user: its email and
	// username are free.
	again := testUser(gone.Username, testTime().Add(time.Hour))
	if err := s.CreateUser(ctx, again); err != nil {
		t.Errorf("CreateUser with the deleted user's email and username after reopening = %v, want nil", err)
	}
	if _, err := s.DeleteUser(ctx, gone.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("DeleteUser(deleted user) after reopening = %v, want ErrNotFound", err)
	}
}
