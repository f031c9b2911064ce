package board

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"corkboard/objectid"
)

// TestValidateEditMatchesValidate edits boards at random, with edits that
// keep a board valid and edits that break it in every way a card, a list
// or an id can (bad and over-long texts, a card or an attachment id used
// twice, even beside the card it copies, too many attachments, bad ids),
// and checks that ValidateEdit of the result, given the board before,
// returns exactly what Validate returns. Valid results become the next
// board, as a board lives through its writes.
func TestValidateEditMatchesValidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2))
	next := 1
	newID := func() string { next++; return fmt.Sprintf("%024x", next) }
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	newCard := func() Card {
		return Card{ID: newID(), Title: "card " + fmt.Sprint(next), CreatedAt: at}
	}
	newAttachment := func() Attachment {
		return Attachment{ID: newID(), Name: "a.png", ContentType: "image/png", Size: 10, CreatedAt: at}
	}
	fresh := func() *Board {
		owner := newID()
		b := &Board{ID: newID(), Title: "Board", OwnerID: owner, Members: []string{owner}, CreatedAt: at, UpdatedAt: at}
		for range 1 + rng.IntN(4) {
			l := List{ID: newID(), Name: "list"}
			n := rng.IntN(8)
			if rng.IntN(4) == 0 {
				n = 20 + rng.IntN(20) // long enough for a move to pass more cards than rearranged pairs
			}
			for range n {
				l.Cards = append(l.Cards, newCard())
			}
			b.Lists = append(b.Lists, l)
		}
		return b
	}
	titles := []string{"", " ", "a\x00b", "\xff", strings.Repeat("x", MaxCardTitle+1), "fine", "Fine too"}
	descriptions := []string{"", "notes", "bad\x01", strings.Repeat("y", MaxDescription+1), "ok\nok"}
	// randomCard returns the place of a random card, ok false if none.
	randomCard := func(b *Board) (li, ci int, ok bool) {
		li = rng.IntN(len(b.Lists))
		if len(b.Lists[li].Cards) == 0 {
			return 0, 0, false
		}
		return li, rng.IntN(len(b.Lists[li].Cards)), true
	}
	// someAttachmentID returns the id of an attachment of b, or "".
	someAttachmentID := func(b *Board) string {
		var ids []string
		for _, l := range b.Lists {
			for _, c := range l.Cards {
				for _, a := range c.Attachments {
					ids = append(ids, a.ID)
				}
			}
		}
		if len(ids) == 0 {
			return ""
		}
		return ids[rng.IntN(len(ids))]
	}
	insert := func(b *Board, li int, c Card) {
		l := &b.Lists[li]
		l.Cards = slices.Insert(l.Cards, rng.IntN(len(l.Cards)+1), c)
	}
	edits := []func(b *Board){
		func(b *Board) { // move a card, within its list or to another
			if li, ci, ok := randomCard(b); ok {
				c := b.Lists[li].Cards[ci]
				b.Lists[li].Cards = slices.Delete(b.Lists[li].Cards, ci, ci+1)
				insert(b, rng.IntN(len(b.Lists)), c)
			}
		},
		func(b *Board) { // the first card of a list moved last: every card shifts
			if l := &b.Lists[rng.IntN(len(b.Lists))]; len(l.Cards) > 1 {
				l.Cards = append(slices.Clone(l.Cards[1:]), l.Cards[0])
			}
		},
		func(b *Board) { // a card one place along, as a move passes it
			if li, ci, ok := randomCard(b); ok && ci+1 < len(b.Lists[li].Cards) {
				cs := b.Lists[li].Cards
				cs[ci], cs[ci+1] = cs[ci+1], cs[ci]
			}
		},
		func(b *Board) {
			if li, ci, ok := randomCard(b); ok {
				b.Lists[li].Cards[ci].Title = titles[rng.IntN(len(titles))]
			}
		},
		func(b *Board) {
			if li, ci, ok := randomCard(b); ok {
				b.Lists[li].Cards[ci].Description = descriptions[rng.IntN(len(descriptions))]
			}
		},
		func(b *Board) { // a copy of a card, same id, anywhere (beside it too)
			if li, ci, ok := randomCard(b); ok {
				c := b.Lists[li].Cards[ci]
				c.Attachments = slices.Clone(c.Attachments)
				if rng.IntN(2) == 0 {
					b.Lists[li].Cards = slices.Insert(b.Lists[li].Cards, ci+rng.IntN(2), c)
				} else {
					insert(b, rng.IntN(len(b.Lists)), c)
				}
			}
		},
		func(b *Board) { // an attachment: good, bad, or with an id in use
			if li, ci, ok := randomCard(b); ok {
				a := newAttachment()
				switch rng.IntN(6) {
				case 0:
					a.ID = "zz"
				case 4:
					if id := someAttachmentID(b); id != "" {
						a.ID = id // another card's, most often
					}
				case 1:
					a.Name = ""
				case 2:
					a.ID = b.Lists[li].Cards[ci].ID
				case 3:
					a.Size = -1
				}
				c := &b.Lists[li].Cards[ci]
				c.Attachments = append(slices.Clone(c.Attachments), a)
			}
		},
		func(b *Board) { // too many attachments
			if li, ci, ok := randomCard(b); ok {
				c := &b.Lists[li].Cards[ci]
				c.Attachments = nil
				for range MaxAttachmentsPerCard + rng.IntN(2) {
					c.Attachments = append(c.Attachments, newAttachment())
				}
			}
		},
		func(b *Board) {
			if li, ci, ok := randomCard(b); ok {
				b.Lists[li].Cards = slices.Delete(b.Lists[li].Cards, ci, ci+1)
			}
		},
		func(b *Board) { // a new card, now and then with a bad or a used id
			c := newCard()
			switch rng.IntN(6) {
			case 0:
				c.ID = "not an id"
			case 1:
				c.ID = b.Lists[0].ID
			case 2:
				if id := someAttachmentID(b); id != "" {
					c.ID = id
				}
			}
			insert(b, rng.IntN(len(b.Lists)), c)
		},
		func(b *Board) { // lists reordered: cards found by their list's id
			i, j := rng.IntN(len(b.Lists)), rng.IntN(len(b.Lists))
			b.Lists[i], b.Lists[j] = b.Lists[j], b.Lists[i]
		},
		func(b *Board) {
			b.Lists[rng.IntN(len(b.Lists))].Name = []string{"", "ok", "x\ny"}[rng.IntN(3)]
		},
		func(b *Board) { // a card's time changes (no check reads it)
			if li, ci, ok := randomCard(b); ok {
				b.Lists[li].Cards[ci].CreatedAt = at.Add(time.Duration(rng.IntN(3)) * time.Hour)
			}
		},
		func(b *Board) { // an attachment's name, valid or not, in place
			if li, ci, ok := randomCard(b); ok && len(b.Lists[li].Cards[ci].Attachments) > 0 {
				c := &b.Lists[li].Cards[ci]
				c.Attachments = slices.Clone(c.Attachments)
				c.Attachments[0].Name = []string{"", "b.pdf", "a\x00"}[rng.IntN(3)]
			}
		},
	}
	valid, invalid, quick, rearranged := 0, 0, 0, 0
	prev := fresh()
	for i := range 30000 {
		if err := prev.Validate(); err != nil {
			t.Fatalf("the starting board is invalid: %v", err)
		}
		if i%500 == 0 {
			prev = fresh()
		}
		b := prev.Clone()
		for range 1 + rng.IntN(3) {
			edits[rng.IntN(len(edits))](b)
		}
		// As the file store does, most of the time: a list whose cards
		// the edits left as they were takes prev's very slice.
		if rng.IntN(4) != 0 {
			for li := range b.Lists {
				l := &b.Lists[li]
				was := prev.listCards(li, l.ID)
				if len(was) == len(l.Cards) && slices.EqualFunc(was, l.Cards, sameCard) {
					l.Cards = was
				}
			}
		}
		want, got := b.Validate(), b.ValidateEdit(prev)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("edit %d: ValidateEdit = %v, Validate = %v\nbefore %+v\nafter %+v", i, got, want, prev, b)
		}
		if b.rearranged(prev) {
			rearranged++
			if want != nil {
				t.Fatalf("edit %d: the check of rearranged cards passed a board Validate refuses: %v\nbefore %+v\nafter %+v", i, want, prev, b)
			}
		}
		if b.validShared(prev) {
			quick++
			if want != nil {
				t.Fatalf("edit %d: the quick check passed a board Validate refuses: %v\nbefore %+v\nafter %+v", i, want, prev, b)
			}
		}
		if want == nil {
			valid++
			prev = b
		} else {
			invalid++
		}
	}
	t.Logf("%d valid and %d invalid edits", valid, invalid)
	if valid < 3000 || invalid < 3000 {
		t.Errorf("%d valid and %d invalid edits: want both many", valid, invalid)
	}
	t.Logf("%d passed the check of rearranged cards", rearranged)
	if rearranged < 3000 {
		t.Errorf("%d edits passed the check of rearranged cards: want many", rearranged)
	}
	t.Logf("%d passed the quick check of shared lists", quick)
	if quick < 3000 {
		t.Errorf("%d edits passed the quick check of shared lists: want many", quick)
	}
}

// TestValidateCountsDescriptionCharacters checks the board-wide limit on
// descriptions at its edge, in characters, not bytes: Validate counts
// characters only once the bytes pass the limit.
func TestValidateCountsDescriptionCharacters(t *testing.T) {
	for _, c := range []struct {
		chars int
		ok    bool
	}{{MaxDescriptions, true}, {MaxDescriptions + 1, false}} {
		owner := fmt.Sprintf("%024x", 1)
		b := Board{ID: fmt.Sprintf("%024x", 2), Title: "B", OwnerID: owner, Members: []string{owner}, Lists: []List{{ID: fmt.Sprintf("%024x", 3), Name: "L"}}}
		for left, i := c.chars, 4; left > 0; i++ {
			n := min(left, MaxDescription)
			b.Lists[0].Cards = append(b.Lists[0].Cards, Card{ID: fmt.Sprintf("%024x", i), Title: "c", Description: strings.Repeat("é", n)})
			left -= n
		}
		err := b.Validate()
		if (err == nil) != c.ok {
			t.Errorf("descriptions of %d characters (%d bytes): Validate = %v, want ok %v", c.chars, 2*c.chars, err, c.ok)
		}
	}
}

// TestRearrangedLongMove checks the quick case of a move within a list
// whose cards from the old place to the new one, the moved card among them,
// are more than rearranged compares in pairs (it passes 16 cards or more):
// they are turned by one place, which is taken without a map, in either
// direction; a card among them that changed, the moved card itself, or one
// taken twice, is not. Two such moves in one edit are no turn by one, and
// are taken through the map.
func TestRearrangedLongMove(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	prev, err := New(objectid.New(now), "Long moves", "", now)
	if err != nil {
		t.Fatal(err)
	}
	l, err := prev.AddList("Only", now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := prev.AddCard(l.ID, fmt.Sprintf("Card %d", i), "", now); err != nil {
			t.Fatal(err)
		}
	}
	cards := prev.Lists[0].Cards
	title := "Changed"
	for _, tc := range []struct {
		name  string
		edit  func(b *Board) error
		taken bool
		quick bool // taken without a map
	}{
		{"down 40 places", func(b *Board) error { return b.MoveCard(cards[5].ID, "", 45) }, true, true},
		{"up 40 places", func(b *Board) error { return b.MoveCard(cards[45].ID, "", 5) }, true, true},
		{"up 16 places", func(b *Board) error { return b.MoveCard(cards[21].ID, "", 5) }, true, true},
		{"two moves", func(b *Board) error {
			if err := b.MoveCard(cards[5].ID, "", 45); err != nil {
				return err
			}
			return b.MoveCard(cards[50].ID, "", 10)
		}, true, false},
		{"down 40 places, the moved card retitled", func(b *Board) error {
			if err := b.MoveCard(cards[5].ID, "", 45); err != nil {
				return err
			}
			return b.EditCard(cards[5].ID, &title, nil)
		}, false, false},
		{"down 40 places, a card passed retitled", func(b *Board) error {
			if err := b.MoveCard(cards[5].ID, "", 45); err != nil {
				return err
			}
			return b.EditCard(cards[20].ID, &title, nil)
		}, false, false},
		{"down 40 places, a card passed taken twice", func(b *Board) error {
			if err := b.MoveCard(cards[5].ID, "", 45); err != nil {
				return err
			}
			own := b.ownCards(0, 0)
			own[20] = own[21]
			return nil
		}, false, false},
	} {
		b := prev.EditCopy()
		if err := tc.edit(b); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := b.rearranged(prev); got != tc.taken {
			t.Errorf("%s: rearranged = %v, want %v", tc.name, got, tc.taken)
		}
		// The cards passed and the moved card are gathered (two
		// slices), and nothing more: no map of them.
		if allocs := testing.AllocsPerRun(20, func() { b.rearranged(prev) }); tc.quick && allocs > 2 {
			t.Errorf("%s: rearranged allocates %.0f times, want at most 2", tc.name, allocs)
		}
		if err := b.ValidateEdit(prev); (err == nil) != (tc.taken || b.Validate() == nil) {
			t.Errorf("%s: ValidateEdit = %v, Validate = %v", tc.name, err, b.Validate())
		}
	}
}
