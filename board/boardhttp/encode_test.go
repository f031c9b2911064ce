package boardhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"corkboard/board"
)

// TestViewFieldsCovered checks that the fields the encoder writes around
// the lists, viewHead then "lists" then viewTail, are every field of
// board.View in its order: a field added to View must be added there too,
// or the answers would lose it.
func TestViewFieldsCovered(t *testing.T) {
	names := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if f := rt.Field(i); f.IsExported() {
				out = append(out, f.Tag.Get("json"))
			}
		}
		return out
	}
	got := append(append(names(viewHead{}), "lists"), names(viewTail{})...)
	if want := names(board.View{}); !slices.Equal(got, want) {
		t.Errorf("the encoder writes the fields %v, board.View has %v", got, want)
	}
	// sameList and sameCard name the fields of a list and a card one by
	// one (an attachment is compared whole, with ==): a field added
	// without them would let a changed card reuse its old bytes.
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{board.List{}, []string{"id", "name", "cards"}},
		{board.Card{}, []string{"id", "title", "description", "attachments", "createdAt"}},
		{board.ListView{}, []string{"id", "name", "cards"}},
		{board.CardView{}, []string{"id", "title", "description", "attachments", "createdAt"}},
	} {
		if got := names(tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%T has the fields %v; sameList and sameCard compare %v: update them", tc.v, got, tc.want)
		}
	}
}

// TestEncoderMatchesEncodingJSON writes a long random history of a few
// boards, each a small change of the one before (a card moved, edited,
// added or deleted, an attachment, a list renamed, moved, added or
// deleted, the caller or the members changed), and checks that every
// answer is byte for byte what encoding/json writes for the board's view:
// reused bytes are never stale, whatever changed. Like the file store, a
// change makes new slices of what it changes and shares the rest with the
// board before; now and then every list is copied, as a MongoDB read
// decodes the board anew.
func TestEncoderMatchesEncodingJSON(t *testing.T) {
	for _, maxSize := range []int{defaultEncoderBytes, 20_000} { // the second keeps dropping boards
		t.Run(fmt.Sprint(maxSize), func(t *testing.T) {
			e := newBoardEncoder(maxSize)
			rng := rand.New(rand.NewPCG(3, uint64(maxSize)))
			boards := []board.Shown{randomShown(rng, 0), randomShown(rng, 1), randomShown(rng, 2)}
			for step := range 3000 {
				i := rng.IntN(len(boards))
				if rng.IntN(3) > 0 { // a third of the reads see no change
					boards[i] = changeShown(rng, boards[i])
				}
				v := boards[i]
				var want bytes.Buffer
				if err := json.NewEncoder(&want).Encode(map[string]board.View{"board": v.FullView()}); err != nil {
					t.Fatal(err)
				}
				got, err := e.appendBoard(nil, v)
				if err != nil {
					t.Fatalf("step %d: appendBoard = %v", step, err)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("step %d: the encoder wrote\n%s\nencoding/json writes\n%s", step, got, want.Bytes())
				}
				e.mu.Lock()
				size := e.size
				e.mu.Unlock()
				if size > maxSize {
					t.Fatalf("step %d: the encoder holds %d bytes, more than its %d", step, size, maxSize)
				}
			}
		})
	}
}

// randomShown returns board n with a few lists of cards.
func randomShown(rng *rand.Rand, n int) board.Shown {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	v := board.Shown{View: board.View{
		ID: fmt.Sprintf("%024x", 0xb0000+n), Title: "Board <&> \u2028 ü", OwnerID: fmt.Sprintf("%024x", 0xa0000),
		Members:   []board.MemberView{{ID: fmt.Sprintf("%024x", 0xa0000), Username: "alice", Owner: true}},
		CreatedAt: at, UpdatedAt: at,
	}}
	for range 1 + rng.IntN(4) {
		v = addList(rng, v)
	}
	return v
}

// ids numbers the lists, cards and attachments the tests make.
var ids atomic.Int64

func nextID() string { return fmt.Sprintf("%024x", 0xc00000+ids.Add(1)) }

func randomCard(rng *rand.Rand) board.Card {
	c := board.Card{
		ID: nextID(), Title: fmt.Sprintf("Card %d <b>&</b>", rng.IntN(100)), Description: "line\nline \"quoted\"",
		Attachments: []board.Attachment{},
		CreatedAt:   time.Date(2026, 5, 1, 12, rng.IntN(60), 0, rng.IntN(1000), time.UTC),
	}
	if rng.IntN(4) == 0 {
		c.CreatedAt = c.CreatedAt.In(time.FixedZone("CEST", 2*3600)) // the same instant, written otherwise
	}
	if rng.IntN(5) == 0 {
		c.Attachments = append(c.Attachments, board.Attachment{ID: nextID(), Name: "a.pdf", ContentType: "application/pdf", Size: 3, CreatedAt: c.CreatedAt})
	}
	if rng.IntN(10) == 0 {
		c.Attachments = nil // written [] all the same
	}
	return c
}

func addList(rng *rand.Rand, v board.Shown) board.Shown {
	l := board.List{ID: nextID(), Name: fmt.Sprintf("List %d", rng.IntN(10)), Cards: []board.Card{}}
	if rng.IntN(5) == 0 {
		l.Cards = nil // written [] all the same
	}
	for range rng.IntN(6) {
		l.Cards = append(l.Cards, randomCard(rng))
	}
	v.Lists = append(v.Lists, l)
	return v
}

// changeShown returns v with one random change. v itself is left as it
// is, as a store leaves a board it lent: the change makes new slices of
// what it changes, and the result shares the rest with v, as the file
// store's next version of a board does; one time in four every list is
// copied, as MongoDB decodes a board anew on every read.
func changeShown(rng *rand.Rand, v board.Shown) board.Shown {
	v.Lists = slices.Clone(v.Lists)
	if rng.IntN(4) == 0 {
		for i := range v.Lists {
			l := &v.Lists[i]
			l.Cards = slices.Clone(l.Cards)
			for k := range l.Cards {
				l.Cards[k].Attachments = slices.Clone(l.Cards[k].Attachments)
			}
		}
	}
	v.View.Members = slices.Clone(v.View.Members)
	if len(v.Lists) == 0 {
		return addList(rng, v)
	}
	l := &v.Lists[rng.IntN(len(v.Lists))]
	switch rng.IntN(13) {
	case 0:
		if len(l.Cards) > 0 {
			to := &v.Lists[rng.IntN(len(v.Lists))]
			k := rng.IntN(len(l.Cards))
			c := l.Cards[k]
			l.Cards = slices.Delete(slices.Clone(l.Cards), k, k+1)
			to.Cards = slices.Insert(slices.Clone(to.Cards), rng.IntN(len(to.Cards)+1), c)
		}
	case 1:
		if len(l.Cards) > 0 {
			l.Cards = slices.Clone(l.Cards)
			l.Cards[rng.IntN(len(l.Cards))].Title = fmt.Sprintf("Edited %d", rng.IntN(1000))
		}
	case 2:
		if len(l.Cards) > 0 {
			l.Cards = slices.Clone(l.Cards)
			c := &l.Cards[rng.IntN(len(l.Cards))]
			c.CreatedAt = c.CreatedAt.In(time.FixedZone("X", 3600)) // the same instant, encoded otherwise
		}
	case 3:
		if len(l.Cards) > 0 {
			l.Cards = slices.Clone(l.Cards)
			c := &l.Cards[rng.IntN(len(l.Cards))]
			if len(c.Attachments) > 0 {
				c.Attachments = slices.Clone(c.Attachments)
				c.Attachments[0].Name = "renamed.pdf"
			} else {
				c.Attachments = append(c.Attachments, board.Attachment{ID: nextID(), Name: "b.txt", ContentType: "text/plain", CreatedAt: c.CreatedAt})
			}
		}
	case 4:
		l.Cards = append(slices.Clip(l.Cards), randomCard(rng))
	case 5:
		if len(l.Cards) > 0 {
			l.Cards = l.Cards[1:] // the same array, from its second card
		} else {
			l.Cards = nil
		}
	case 6:
		l.Name = fmt.Sprintf("Renamed %d", rng.IntN(1000))
	case 7:
		if len(v.Lists) > 1 {
			v.Lists[0], v.Lists[len(v.Lists)-1] = v.Lists[len(v.Lists)-1], v.Lists[0]
		}
	case 8:
		if len(v.Lists) < 6 {
			v = addList(rng, v)
		} else {
			v.Lists = v.Lists[1:]
		}
	case 9:
		v.View.IsFavourite = !v.View.IsFavourite
	case 10:
		v.View.Members = append(v.View.Members, board.MemberView{ID: nextID(), Username: fmt.Sprintf("m%d", rng.IntN(100)), Color: "#123456"})
	case 11:
		if rng.IntN(10) == 0 {
			v.Lists = nil
		} else {
			v.View.Title = fmt.Sprintf("Title %d", rng.IntN(1000))
			v.View.UpdatedAt = v.View.UpdatedAt.Add(time.Second)
		}
	case 12:
		if len(l.Cards) > 1 {
			l.Cards = l.Cards[:len(l.Cards)-1] // the same first card, one card fewer
		}
	}
	return v
}

// TestEncoderConcurrent has several goroutines write changing views of the
// same boards at once, as concurrent requests do, each checking its answer
// against encoding/json's: run with -race, it shows that the entries and
// their maps of cards, shared between requests, are never written to once
// shared.
func TestEncoderConcurrent(t *testing.T) {
	e := newBoardEncoder(defaultEncoderBytes)
	base := []board.Shown{randomShown(rand.New(rand.NewPCG(7, 0)), 10), randomShown(rand.New(rand.NewPCG(7, 1)), 11)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(8, uint64(g)))
			v := base[g%2]
			for step := range 200 {
				v = changeShown(rng, v)
				var want bytes.Buffer
				json.NewEncoder(&want).Encode(map[string]board.View{"board": v.FullView()})
				got, err := e.appendBoard(nil, v)
				if err != nil || !bytes.Equal(got, want.Bytes()) {
					t.Errorf("goroutine %d step %d: the encoder wrote %d bytes (%v), encoding/json %d", g, step, len(got), err, want.Len())
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestEncoderSplicesLongLists moves cards of a board of long lists about,
// as the load driver does, and edits some, checking every answer against
// encoding/json's: the lists' bytes are then made of pieces of the bytes
// before (splice), pieces of pieces, until they are joined again; every
// way a card leaves or enters a list (first, last, between, the only one)
// is taken.
func TestEncoderSplicesLongLists(t *testing.T) {
	e := newBoardEncoder(defaultEncoderBytes)
	rng := rand.New(rand.NewPCG(5, 6))
	v := randomShown(rng, 20)
	v.Lists = nil
	for range 3 {
		l := board.List{ID: nextID(), Name: "Long", Cards: []board.Card{}}
		for range 30 {
			l.Cards = append(l.Cards, randomCard(rng))
		}
		v.Lists = append(v.Lists, l)
	}
	for step := range 2000 {
		next := v
		next.Lists = slices.Clone(v.Lists)
		from, to := &next.Lists[rng.IntN(len(next.Lists))], &next.Lists[rng.IntN(len(next.Lists))]
		if len(from.Cards) > 0 {
			k := rng.IntN(len(from.Cards))
			switch rng.IntN(4) {
			case 0:
				k = 0
			case 1:
				k = len(from.Cards) - 1
			}
			c := from.Cards[k]
			if rng.IntN(8) == 0 {
				c.Title = fmt.Sprintf("Edited %d", step)
			}
			from.Cards = slices.Delete(slices.Clone(from.Cards), k, k+1)
			at := rng.IntN(len(to.Cards) + 1)
			if rng.IntN(3) == 0 {
				at = len(to.Cards)
			}
			to.Cards = slices.Insert(slices.Clone(to.Cards), at, c)
			if rng.IntN(4) == 0 { // and another card edited, in the same change
				to.Cards[rng.IntN(len(to.Cards))].Description = fmt.Sprintf("Edited %d", step)
			}
		}
		v = next
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(map[string]board.View{"board": v.FullView()}); err != nil {
			t.Fatal(err)
		}
		got, err := e.appendBoard(nil, v)
		if err != nil {
			t.Fatalf("step %d: appendBoard = %v", step, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("step %d: the encoder wrote\n%s\nencoding/json writes\n%s", step, got, want.Bytes())
		}
		for _, lb := range e.boards[v.View.ID].each {
			if len(lb.pieces) > maxPieces {
				t.Fatalf("step %d: a list in %d pieces", step, len(lb.pieces))
			}
		}
	}
}
