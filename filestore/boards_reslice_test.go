package filestore

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"corkboard/board"
)

// TestEditReslicingAListLeavesTheStoredBoardAlone: an edit may re-slice a
// list without copying it (the store contract asks for a copy only before
// a write into a list's cards), and the store must then not write into
// the stored board's cards while normalizing the new one: readers hold
// the stored board without a lock. Under -race, a write there is a data
// race with the reader below (the values written would be the same, so
// only -race sees it); the board lent before each edit is also checked
// unchanged.
func TestEditReslicingAListLeavesTheStoredBoardAlone(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	defer closeStore(t, s)
	b := bigBoard(t, s, 50)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := s.BoardByID(ctx, b.ID)
			if err != nil {
				t.Error(err)
				return
			}
			n := 0
			for _, l := range got.Lists {
				for _, c := range l.Cards {
					n += len(c.Attachments) + c.CreatedAt.Nanosecond()
				}
			}
			_ = n
		}
	})
	for range 5 {
		before, err := s.BoardByID(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := before.Clone()
		if _, err := s.UpdateBoard(ctx, b.ID, func(e *board.Board) error {
			e.Lists[0].Cards = e.Lists[0].Cards[1:]
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, *want) {
			t.Fatalf("an edit that re-sliced a list changed the board lent before it")
		}
	}
	close(stop)
	wg.Wait()
}
