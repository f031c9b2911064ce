package filestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"corkboard/board"
)

// boardPatch is how the journal records a write of a board that is already
// stored: what changed, not the whole board again.
//
// A card move on a board of 500 cards used to journal the whole board,
// about 110 KB of JSON, encoded under the store's lock and appended to the
// journal; a move now writes well under a kilobyte. The board's own fields
// (title, members, favourites, version, times) are small and are written
// whole, in Board with its lists left out; each list is named in its new
// order with its name, and with a splice when its cards changed:
//
//	{"op":"patch","kind":"board","id":"…","record":{"base":41,"board":{…,"lists":null,…,"version":42,…},
//	 "lists":[{"id":"L1","name":"To do","splice":{"head":3,"mid":[],"tail":96}},
//	          {"id":"L2","name":"Doing","splice":{"head":0,"mid":["C7"],"tail":100}},
//	          {"id":"L3","name":"Done"}],
//	 "cards":[]}}
//
// A splice keeps the first Head and the last Tail cards the list held
// before, with the cards named in Mid between them; a list without a
// splice keeps its cards as they were. A card named in Mid is taken from
// Cards, which holds every card that is new or whose content changed, or
// else from wherever it was on the board before; a card in Cards replaces
// the card of that id wherever the lists put it. A new list has a splice
// with every card in Mid.
//
// A patch applies only to the version of the board it was made from
// (Base): replaying it on anything else is corruption, not a guess. Both
// the live write and a replay go through applyBoardPatch, and the live
// write checks, before anything is journalled, that the patch rebuilds
// exactly the board the edit made (else it journals the whole board), so
// a restart reloads what was served. Snapshots still hold whole boards.
type boardPatch struct {
	Base  int64        `json:"base"`
	Board board.Board  `json:"board"`
	Lists []listPatch  `json:"lists"`
	Cards []board.Card `json:"cards"`

	// result is the board the patch makes of the stored board, when the
	// store made the patch itself and checked it; nil when read from a
	// file.
	result *board.Board
}

// listPatch is one list of a patched board, in the board's new order.
type listPatch struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Splice *cardSplice `json:"splice,omitempty"`
}

// cardSplice is the cards of a list, told by how they differ from the
// cards the list held before.
type cardSplice struct {
	Head int      `json:"head"`
	Mid  []string `json:"mid"`
	Tail int      `json:"tail"`
}

// diffBoard returns the patch that makes nb of old, the stored board.
func diffBoard(old, nb board.Board) *boardPatch {
	p := &boardPatch{Base: old.Version, Board: nb, Lists: make([]listPatch, len(nb.Lists)), Cards: []board.Card{}}
	p.Board.Lists = nil
	var oldCards *cardIndex
	for i, l := range nb.Lists {
		lp := listPatch{ID: l.ID, Name: l.Name}
		j := listIndex(old.Lists, l.ID)
		var oc []board.Card
		if j >= 0 {
			oc = old.Lists[j].Cards
		}
		nc := l.Cards
		if j >= 0 && sameSlice(oc, nc) {
			p.Lists[i] = lp // the very cards of old: nothing to say
			continue
		}
		h := 0
		for h < len(oc) && h < len(nc) && oc[h].ID == nc[h].ID {
			h++
		}
		t := 0
		for t < len(oc)-h && t < len(nc)-h && oc[len(oc)-1-t].ID == nc[len(nc)-1-t].ID {
			t++
		}
		// Cards kept in place are compared with the card they were.
		for k := range h {
			if !sameCard(oc[k], nc[k]) {
				p.Cards = append(p.Cards, nc[k])
			}
		}
		for k := range t {
			if a, b := oc[len(oc)-1-k], nc[len(nc)-1-k]; !sameCard(a, b) {
				p.Cards = append(p.Cards, b)
			}
		}
		if j < 0 || h != len(oc) || h != len(nc) {
			mid := nc[h : len(nc)-t]
			lp.Splice = &cardSplice{Head: h, Mid: make([]string, len(mid)), Tail: t}
			for k, c := range mid {
				lp.Splice.Mid[k] = c.ID
				if oldCards == nil {
					oldCards = newCardIndex(old.Lists)
				}
				if was, ok := oldCards.find(c.ID, j, h+k); !ok || !sameCard(was, c) {
					p.Cards = append(p.Cards, c)
				}
			}
		}
		p.Lists[i] = lp
	}
	return p
}

// applyBoardPatch returns the board p makes of old, the stored board (ok
// false: there is none), or why it cannot. The result shares the card
// slices of the lists it keeps as they were with old: stored boards are
// never modified in place.
func applyBoardPatch(old board.Board, ok bool, p *boardPatch) (board.Board, error) {
	switch {
	case !ok:
		return board.Board{}, errors.New("a patch of a board that is not stored")
	case old.Version != p.Base:
		return board.Board{}, fmt.Errorf("a patch of version %d of a board stored at version %d", p.Base, old.Version)
	case p.Board.Lists != nil:
		return board.Board{}, errors.New("a board patch's board must have no lists (null)")
	case p.Board.ID != old.ID:
		return board.Board{}, fmt.Errorf("a patch of board %q carries board %q", old.ID, p.Board.ID)
	}
	changed := make(map[string]board.Card, len(p.Cards))
	for _, c := range p.Cards {
		if _, dup := changed[c.ID]; dup {
			return board.Board{}, fmt.Errorf("card %q is in the patch twice", c.ID)
		}
		changed[c.ID] = c
	}
	used := 0
	var oldCards *cardIndex
	nb := p.Board
	nb.Lists = make([]board.List, len(p.Lists))
	for i, lp := range p.Lists {
		j := listIndex(old.Lists, lp.ID)
		var oc []board.Card
		if j >= 0 {
			oc = old.Lists[j].Cards
		}
		cards := oc
		if s := lp.Splice; s == nil {
			if j < 0 {
				return board.Board{}, fmt.Errorf("list %q is new but has no splice", lp.ID)
			}
		} else {
			if s.Head < 0 || s.Tail < 0 || s.Head > len(oc) || s.Tail > len(oc)-s.Head {
				return board.Board{}, fmt.Errorf("list %q: a splice of %d and %d of %d cards", lp.ID, s.Head, s.Tail, len(oc))
			}
			cards = make([]board.Card, 0, s.Head+len(s.Mid)+s.Tail)
			cards = append(cards, oc[:s.Head]...)
			for k, id := range s.Mid {
				c, ok := changed[id]
				if !ok {
					if oldCards == nil {
						oldCards = newCardIndex(old.Lists)
					}
					if c, ok = oldCards.find(id, j, s.Head+k); !ok {
						return board.Board{}, fmt.Errorf("list %q: card %q is neither in the patch nor on the board", lp.ID, id)
					}
				}
				cards = append(cards, c)
			}
			cards = append(cards, oc[len(oc)-s.Tail:]...)
		}
		if len(changed) > 0 {
			copied := lp.Splice != nil
			for k := range cards {
				if c, ok := changed[cards[k].ID]; ok {
					if !copied {
						cards, copied = slices.Clone(cards), true
					}
					cards[k] = c
					used++
				}
			}
		}
		if cards == nil {
			cards = []board.Card{}
		}
		nb.Lists[i] = board.List{ID: lp.ID, Name: lp.Name, Cards: cards}
	}
	if used != len(changed) {
		return board.Board{}, errors.New("the lists do not place each card of the patch once")
	}
	return nb, nil
}

// listIndex returns the index of the list id in lists, or -1.
func listIndex(lists []board.List, id string) int {
	return slices.IndexFunc(lists, func(l board.List) bool { return l.ID == id })
}

// cardIndex finds the cards of a board by id: by a look through the lists
// for the first few, by a map made on the first look after that (a patch
// names few cards, but a move within a long list can name a hundred).
type cardIndex struct {
	lists []board.List
	looks int
	byID  map[string]board.Card
}

func newCardIndex(lists []board.List) *cardIndex { return &cardIndex{lists: lists} }

// find returns the card id, looking first near position pos of list (-1:
// none), where a card shifted by a move within its list is: a move of a
// card k places down a list names the k cards in between, each one place
// from where it was.
func (x *cardIndex) find(id string, list, pos int) (board.Card, bool) {
	if list >= 0 && list < len(x.lists) {
		cards := x.lists[list].Cards
		for _, p := range [...]int{pos, pos + 1, pos - 1} {
			if p >= 0 && p < len(cards) && cards[p].ID == id {
				return cards[p], true
			}
		}
	}
	if x.byID == nil && x.looks < 8 {
		x.looks++
		for _, l := range x.lists {
			for _, c := range l.Cards {
				if c.ID == id {
					return c, true
				}
			}
		}
		return board.Card{}, false
	}
	if x.byID == nil {
		x.byID = make(map[string]board.Card)
		for _, l := range x.lists {
			for _, c := range l.Cards {
				x.byID[c.ID] = c
			}
		}
	}
	c, ok := x.byID[id]
	return c, ok
}

// sameCard reports whether two cards are identical, as the files would
// hold them: times compared by their instant and their location both.
func sameCard(a, b board.Card) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Description == b.Description &&
		sameTime(a.CreatedAt, b.CreatedAt) && (a.Attachments == nil) == (b.Attachments == nil) &&
		slices.EqualFunc(a.Attachments, b.Attachments, func(x, y board.Attachment) bool {
			return x.ID == y.ID && x.Name == y.Name && x.ContentType == y.ContentType &&
				x.Size == y.Size && sameTime(x.CreatedAt, y.CreatedAt)
		})
}

// sameBoard reports whether two boards are identical, field by field: the
// check that a patch rebuilds the board an edit made.
func sameBoard(a, b board.Board) bool {
	x, y := a, b
	x.Lists, y.Lists = nil, nil
	// Identical values, as a write's patch and its board are (the patch
	// carries the edited board's own fields), are the same without
	// encoding them.
	if !(reflect.DeepEqual(x, y) || sameFields(x, y)) || len(a.Lists) != len(b.Lists) {
		return false
	}
	for i := range a.Lists {
		l, m := a.Lists[i], b.Lists[i]
		if l.ID != m.ID || l.Name != m.Name || (l.Cards == nil) != (m.Cards == nil) ||
			!(sameSlice(l.Cards, m.Cards) || slices.EqualFunc(l.Cards, m.Cards, sameCard)) {
			return false
		}
	}
	return true
}

// sameFields compares the boards' own fields (not the lists) by their JSON,
// which is what the files keep of them: small, and holds whatever fields
// Board gains.
func sameFields(a, b board.Board) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y) &&
		sameTime(a.CreatedAt, b.CreatedAt) && sameTime(a.UpdatedAt, b.UpdatedAt) && sameTime(a.DeletingAt, b.DeletingAt)
}

// sameTime reports whether two times are the same instant in the same
// location: equal, and encoded alike.
func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == b.Location()
}

// sameSlice reports whether a and b are the very same cards: the same
// length and the same first card in memory. A stored board is never
// changed in place, so two lists that share their cards hold the same.
func sameSlice(a, b []board.Card) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// shareUnchanged makes every list of nb whose cards are equal, card by
// card, to those of old's list of the same id hold old's very slice
// instead: the board stored then shares them with old, and the patch,
// its check and ValidateEdit see at a glance that they did not change.
func shareUnchanged(nb *board.Board, old board.Board) {
	for i := range nb.Lists {
		l := &nb.Lists[i]
		j := i
		if j >= len(old.Lists) || old.Lists[j].ID != l.ID {
			j = listIndex(old.Lists, l.ID)
		}
		if j < 0 {
			continue
		}
		if oc := old.Lists[j].Cards; oc != nil && !sameSlice(oc, l.Cards) && len(oc) == len(l.Cards) && slices.EqualFunc(oc, l.Cards, sameCard) {
			l.Cards = oc
		}
	}
}

// putBoardChange returns the change that stores nb in place of old: a
// patch when it rebuilds nb exactly, else the whole board. The board it
// rebuilds (p.result), made by the function a replay uses, is what the
// store keeps and serves.
func putBoardChange(old, nb board.Board) change {
	p := diffBoard(old, nb)
	r, err := applyBoardPatch(old, true, p)
	if err != nil || !samePatched(r, nb, p) {
		return putBoard(nb)
	}
	p.result = &r
	return change{Op: opPatch, Kind: boardKind, ID: nb.ID, Record: p}
}

// samePatched reports whether r, the board p rebuilt of the stored board,
// is nb, the board p was made from (diffBoard): sameBoard, but comparing in
// full only the cards diffBoard did not compare itself. A list's cards are
// checked by id, place by place, and compared field by field only in the
// splice's middle (Mid: cards found by id, wherever they were) and where
// the patch names the card (p.Cards). Any other card of r is, by the ids,
// the stored list's card at the head or the tail of the splice (or of a
// list without one), which diffBoard found equal (sameCard) to nb's card
// at that very place, or it would have named it in p.Cards. A move of one
// card between two lists of 100 then compares two cards in full, not 200.
func samePatched(r, nb board.Board, p *boardPatch) bool {
	if len(p.Lists) != len(nb.Lists) || len(p.Cards) > 8 {
		return sameBoard(r, nb)
	}
	x, y := r, nb
	x.Lists, y.Lists = nil, nil
	if !(reflect.DeepEqual(x, y) || sameFields(x, y)) || len(r.Lists) != len(nb.Lists) {
		return false
	}
	named := func(id string) bool {
		return slices.ContainsFunc(p.Cards, func(c board.Card) bool { return c.ID == id })
	}
	for i := range r.Lists {
		l, m := r.Lists[i], nb.Lists[i]
		if l.ID != m.ID || l.Name != m.Name || (l.Cards == nil) != (m.Cards == nil) || len(l.Cards) != len(m.Cards) {
			return false
		}
		if sameSlice(l.Cards, m.Cards) {
			continue
		}
		head, tail := len(l.Cards), 0 // no splice: every card kept in place
		if sp := p.Lists[i].Splice; sp != nil {
			head, tail = sp.Head, sp.Tail
		}
		for k, c := range l.Cards {
			d := m.Cards[k]
			if c.ID != d.ID {
				return false
			}
			if (k >= head && k < len(l.Cards)-tail) || named(c.ID) {
				if !sameCard(c, d) {
					return false
				}
			}
		}
	}
	return true
}
