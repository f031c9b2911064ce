package filestore

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"corkboard/objectid"
)

// TestGroupCommitAcknowledgesWritten runs many writers at once, so that
// most of them wait for another's group commit, and checks after every
// acknowledged write that its journal line is already in the file: a
// writer must never return while its batch waits for a later round.
func TestGroupCommitAcknowledgesWritten(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoCompaction: true})
	journal := s.path(journalName(s.journalNum))
	const writers, writes = 16, 20
	now := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range writes {
				sess := testSession(objectid.New(now), now)
				if err := s.CreateSession(context.Background(), sess); err != nil {
					t.Errorf("CreateSession: %v", err)
					return
				}
				data, err := os.ReadFile(journal)
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Contains(data, []byte(`"id":"`+sess.ID+`"`)) {
					t.Errorf("CreateSession(%s) returned before its line was in %s", sess.ID, journal)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRefusedBatchLeavesNoLine checks that a batch refused when it is
// applied leaves no line in the journal, and that the next batch's line
// follows the last good one: the write path encodes each line straight
// into the pending queue's buffer, past the queue's end until the batch is
// applied, so a refused line must stay out of reach and be written over.
func TestRefusedBatchLeavesNoLine(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoCompaction: true})
	ctx := context.Background()
	batch := func(changes ...change) error {
		return s.update(ctx, func(*state) ([]change, error) { return changes, nil })
	}
	if err := batch(deleteSession("aaaaaaaaaaaaaaaaaaaaaaaa")); err != nil {
		t.Fatalf("a good batch: %v", err)
	}
	if err := batch(deleteSession("bbbbbbbbbbbbbbbbbbbbbbbb"), deleteChange("refused-kind", "x")); err == nil {
		t.Fatal("a batch of an unknown kind was taken")
	}
	if err := batch(deleteSession("cccccccccccccccccccccccc")); err != nil {
		t.Fatalf("the good batch after the refused one: %v", err)
	}
	data, err := os.ReadFile(s.path(journalName(s.journalNum)))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("refused-kind")) || bytes.Contains(data, []byte("bbbb")) {
		t.Fatalf("the journal holds the refused batch:\n%s", data)
	}
	for _, id := range []string{"aaaa", "cccc"} {
		if !bytes.Contains(data, []byte(id)) {
			t.Fatalf("the journal lacks the good batch %s…:\n%s", id, data)
		}
	}
	closeStore(t, s)
	openStore(t, dir, Options{NoCompaction: true}) // every line it holds reads back
}
