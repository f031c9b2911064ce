package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"corkboard/board"
)

// TestExportLeavesOutDeletions: a user or a board whose deletion has begun
// is not exported, as if the deletion had finished: nor is what needs them
// (the user's board), while the rest is; the export imports into an empty
// store with no deletion pending. An import refuses a user marked as being
// deleted, which no export carries.
func TestExportLeavesOutDeletions(t *testing.T) {
	eachStore(t, func(t *testing.T, o storeOpener) {
		ctx := context.Background()
		st := newStore(t, o)
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		alice := putUser(t, st, "alice", nil, now)
		bob := putUser(t, st, "bob", nil, now.Add(time.Second))
		newBoard := func(owner, title string, members ...string) board.Board {
			b, err := board.New(owner, title, "", now)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members {
				if err := b.AddMember(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CreateBoard(ctx, *b); err != nil {
				t.Fatal(err)
			}
			return *b
		}
		alices := newBoard(alice.ID, "Alice's", bob.ID)
		bobs := newBoard(bob.ID, "Bob's", alice.ID)
		doomed := newBoard(bob.ID, "Bob's doomed")
		if _, err := st.MarkDeleting(ctx, alice.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.MarkBoardDeleting(ctx, doomed.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}

		archive := exportArchive(t, st)
		jsonl := recordsOf(t, archive)
		for what, id := range map[string]string{"alice, being deleted": alice.ID, "her board": alices.ID, "a board being deleted": doomed.ID} {
			if strings.Contains(jsonl, id) {
				t.Errorf("the export holds %s (%s):\n%s", what, id, jsonl)
			}
		}
		for what, id := range map[string]string{"bob": bob.ID, "his board": bobs.ID} {
			if !strings.Contains(jsonl, id) {
				t.Errorf("the export lacks %s (%s):\n%s", what, id, jsonl)
			}
		}

		dst := newStore(t, fileStore)
		importArchive(t, dst, archive)
		if users, err := dst.UsersBeingDeleted(ctx); err != nil || len(users) != 0 {
			t.Errorf("after the import, UsersBeingDeleted = %v, %v; want none", users, err)
		}
		if b, err := dst.BoardByID(ctx, bobs.ID); err != nil || b.IsMember(alice.ID) {
			t.Errorf("after the import, bob's board: %v, alice a member: %v; want it without her", err, b.IsMember(alice.ID))
		}

		marked := strings.Replace(jsonl, `{"kind":"user","record":{`, `{"kind":"user","record":{"deletingAt":"2026-05-01T12:01:00Z",`, 1)
		if marked == jsonl {
			t.Fatalf("no user line to mark in:\n%s", jsonl)
		}
		empty := newStore(t, fileStore)
		_, err := importStore(ctx, empty, bytes.NewReader(archiveOf(t, marked)), discardLog)
		if err == nil || !strings.Contains(err.Error(), "deletingAt") {
			t.Errorf("importing a user marked deletingAt = %v, want an error naming deletingAt", err)
		}
	})
}
