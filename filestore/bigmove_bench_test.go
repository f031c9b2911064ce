package filestore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"corkboard/board"
	"corkboard/objectid"
)

// BenchmarkBigBoardMove measures one card move on a board of 500 cards in
// five lists, the load driver's board, through UpdateBoard without fsync:
// the work a move does in memory, nearly all of it under the store's write
// lock, which every writer of the board waits for in turn. The card, the
// list and the place are random, as the driver's are.
func BenchmarkBigBoardMove(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, b.TempDir(), Options{NoSync: true})
	defer closeStore(b, s)
	now := time.Now().UTC()
	owner := objectid.New(now)
	x, err := board.New(owner, "Load test board", "", now)
	if err != nil {
		b.Fatal(err)
	}
	var lists, cards []string
	for l := range 5 {
		list, err := x.AddList(fmt.Sprintf("List %d", l+1), now)
		if err != nil {
			b.Fatal(err)
		}
		lists = append(lists, list.ID)
	}
	for i := range 500 {
		c, err := x.AddCard(lists[i%5], fmt.Sprintf("Task %03d: check what the load run says", i),
			"A card of ordinary size, with a sentence or two of description.", now)
		if err != nil {
			b.Fatal(err)
		}
		cards = append(cards, c.ID)
	}
	if err := s.CreateBoard(ctx, *x); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		card, list, pos := cards[rng.IntN(len(cards))], lists[rng.IntN(len(lists))], rng.IntN(101)
		if _, err := s.UpdateBoard(ctx, x.ID, func(e *board.Board) error {
			e.UpdatedAt = time.Now().UTC()
			return e.MoveCard(card, list, pos)
		}); err != nil {
			b.Fatal(err)
		}
	}
}
