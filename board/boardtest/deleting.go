package boardtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"corkboard/board"
	"corkboard/objectid"
)

// The contract of board.Store.MarkBoardDeleting and BoardsBeingDeleted: a
// marked board is gone to every lookup, list and change, and is listed as
// being deleted until DeleteBoard removes it.

// boardsBeingDeleted returns what BoardsBeingDeleted lists, by id.
func boardsBeingDeleted(t *testing.T, s board.Store) map[string]board.Board {
	t.Helper()
	marked, err := s.BoardsBeingDeleted(context.Background())
	if err != nil {
		t.Fatalf("BoardsBeingDeleted = %v", err)
	}
	m := make(map[string]board.Board, len(marked))
	for _, b := range marked {
		m[b.ID] = b
	}
	return m
}

// wantOnly checks that the lists of boards show stays alone: the
// summaries and board ids of every user on it, and EachBoard.
func wantOnly(t *testing.T, s board.Store, when string, stays board.Board) {
	t.Helper()
	ctx := context.Background()
	for _, u := range []string{owner, alice, bob} {
		if ids, err := s.BoardIDsFor(ctx, u); err != nil || !slices.Equal(ids, []string{stays.ID}) {
			t.Errorf("BoardIDsFor(%s) %s = %v, %v; want [%s]", u, when, ids, err, stays.ID)
		}
	}
	for _, u := range []string{owner, alice} {
		if list, err := s.BoardSummaries(ctx, u); err != nil || len(list) != 1 || list[0].ID != stays.ID {
			t.Errorf("BoardSummaries(%s) %s = %v, %v; want [%s] only", u, when, list, err, stays.ID)
		}
	}
	var each []string
	if err := s.EachBoard(ctx, func(b board.Board) error { each = append(each, b.ID); return nil }); err != nil || !slices.Equal(each, []string{stays.ID}) {
		t.Errorf("EachBoard %s lists %v, %v; want [%s]", when, each, err, stays.ID)
	}
}

func testMarkBoardDeleting(t *testing.T, s board.Store) {
	ctx := context.Background()
	gone, stays := fullBoard(t), fullBoard(t)
	mustCreate(t, s, gone)
	mustCreate(t, s, stays)

	want := canonical(gone)
	want.DeletingAt = at(20)
	want.Version = gone.Version + 1
	marked, err := s.MarkBoardDeleting(ctx, gone.ID, at(20))
	if err != nil {
		t.Fatalf("MarkBoardDeleting(%s) = %v, want nil", gone.ID, err)
	}
	if d := diffJSON(marked, want); d != "" {
		t.Errorf("MarkBoardDeleting returned another board than the one marked, %s", d)
	}
	if d := diffJSON(boardsBeingDeleted(t, s), map[string]board.Board{gone.ID: want}); d != "" {
		t.Errorf("BoardsBeingDeleted after one mark, %s", d)
	}
	again, err := s.MarkBoardDeleting(ctx, gone.ID, at(30))
	if d := diffJSON(again, want); err != nil || d != "" {
		t.Errorf("MarkBoardDeleting a second time = %v, want nil and the first mark kept: %s", err, d)
	}

	_, err = s.BoardByID(ctx, gone.ID)
	wantErr(t, "BoardByID of a board being deleted", err, board.ErrNotFound)
	called := false
	_, err = s.UpdateBoard(ctx, gone.ID, func(b *board.Board) error { called = true; b.Title = "revived"; return nil })
	wantErr(t, "UpdateBoard of a board being deleted", err, board.ErrNotFound)
	if called {
		t.Errorf("UpdateBoard of a board being deleted ran its edit")
	}
	wantOnly(t, s, "with the other board being deleted", stays)
	wantBoard(t, s, "the other board, after the mark", stays)

	if err := s.DeleteBoard(ctx, gone.ID); err != nil {
		t.Fatalf("DeleteBoard(a board being deleted) = %v, want nil", err)
	}
	if got := boardsBeingDeleted(t, s); len(got) != 0 {
		t.Errorf("BoardsBeingDeleted after DeleteBoard = %v, want none", got)
	}
	wantErr(t, "DeleteBoard a second time", s.DeleteBoard(ctx, gone.ID), board.ErrNotFound)
	_, err = s.MarkBoardDeleting(ctx, gone.ID, at(40))
	wantErr(t, "MarkBoardDeleting(a deleted board)", err, board.ErrNotFound)
	wantOnly(t, s, "after the delete", stays)
}

func testMarkBoardDeletingNotFound(t *testing.T, s board.Store) {
	ctx := context.Background()
	if got := boardsBeingDeleted(t, s); len(got) != 0 {
		t.Errorf("BoardsBeingDeleted on an empty store = %v, want none", got)
	}
	for _, id := range []string{objectid.New(at(0)), "", "nope", "%00"} {
		_, err := s.MarkBoardDeleting(ctx, id, at(1))
		wantErr(t, fmt.Sprintf("MarkBoardDeleting(%q)", id), err, board.ErrNotFound)
	}
}

// testMarkDuringUpdates: edits racing the mark either land before it (the
// mark keeps them) or fail with ErrNotFound; none writes over the mark.
func testMarkDuringUpdates(t *testing.T, s board.Store) {
	ctx := context.Background()
	b := newBoard(t, "Racing", at(0))
	mustCreate(t, s, b)
	const writers = 6
	var wg sync.WaitGroup
	errs := make(chan error, writers*20)
	for w := range writers {
		wg.Go(func() {
			for i := range 20 {
				_, err := s.UpdateBoard(ctx, b.ID, func(b *board.Board) error {
					b.Title = fmt.Sprintf("w%d-%d", w, i)
					return nil
				})
				if errors.Is(err, board.ErrNotFound) {
					return
				}
				if err != nil && !errors.Is(err, board.ErrBusy) {
					errs <- err
					return
				}
			}
		})
	}
	marked, err := s.MarkBoardDeleting(ctx, b.ID, at(5))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("UpdateBoard racing the mark = %v, want nil, ErrBusy or ErrNotFound", err)
	}
	if err != nil {
		t.Fatalf("MarkBoardDeleting = %v", err)
	}
	got, ok := boardsBeingDeleted(t, s)[b.ID]
	if !ok || !got.DeletingAt.Equal(at(5)) {
		t.Fatalf("after edits racing the mark, BoardsBeingDeleted holds %+v (found %v); want the board marked at %v", got, ok, at(5))
	}
	if got.Version != marked.Version || got.Title != marked.Title {
		t.Errorf("after the mark, the board changed: version %d title %q, marked as version %d title %q",
			got.Version, got.Title, marked.Version, marked.Title)
	}
	_, err = s.BoardByID(ctx, b.ID)
	wantErr(t, "BoardByID after edits racing the mark", err, board.ErrNotFound)
}
