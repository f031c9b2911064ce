package filestore

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"corkboard/board"
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

// TestQueuedLinesKeptWithEveryLineKind: while a flush is under way, the
// batches that commit meanwhile queue their lines one after another, each
// kind of line its own way (a session's by hand, a board patch's by hand,
// anything else by encoding/json). Every acknowledged batch must reach the
// journal, in order, and the store must open again on it.
func TestQueuedLinesKeptWithEveryLineKind(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, Options{NoCompaction: true})
	ctx := context.Background()
	b := bigBoard(t, s, 20)

	s.syncMu.Lock() // a flush under way: what commits now queues
	held := true
	defer func() {
		if held {
			s.syncMu.Unlock() // a failed wait must not leave the writers stuck
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	run := func(f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f()
		}()
	}
	run(func() error {
		return s.update(ctx, func(*state) ([]change, error) { return []change{deleteSession("aaaaaaaaaaaaaaaaaaaaaaaa")}, nil })
	})
	waitPending(t, s, 1)
	run(func() error {
		_, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
			return e.MoveCard(e.Lists[0].Cards[0].ID, e.Lists[1].ID, 0)
		})
		return err
	})
	waitPending(t, s, 2)
	run(func() error {
		return s.update(ctx, func(*state) ([]change, error) {
			return []change{deleteChange(boardKind, "ffffffffffffffffffffffff")}, nil
		})
	})
	waitPending(t, s, 3)
	s.syncMu.Unlock()
	held = false
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(s.path(journalName(s.journalNum)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aaaaaaaaaaaaaaaaaaaaaaaa", `"op":"patch"`, "ffffffffffffffffffffffff"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the journal lacks an acknowledged batch (%s):\n%s", want, data)
		}
	}
	closeStore(t, s)
	openStore(t, dir, Options{NoCompaction: true}) // fails on a missing batch
}

// waitPending waits until n lines are queued behind the flush; it fails
// the test if they never are (the caller gives the flush back).
func waitPending(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got := bytes.Count(s.pending, []byte("\n"))
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines queued after 30 s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}
