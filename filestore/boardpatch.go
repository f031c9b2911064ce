package filestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"corkboard/board"
	"corkboard/objectid"
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
	// First, where each list's cards begin and end to differ from its old
	// ones: the cards of the old lists in between are those that left
	// them, where a card put into another list (a move) is found first.
	spans := make([]listSpan, len(nb.Lists))
	var left []cardSpan
	for i, l := range nb.Lists {
		sp := listSpan{j: listIndex(old.Lists, l.ID)}
		var oc []board.Card
		if sp.j >= 0 {
			oc = old.Lists[sp.j].Cards
		}
		nc := l.Cards
		if sp.same = sp.j >= 0 && sameSlice(oc, nc); !sp.same {
			for sp.h < len(oc) && sp.h < len(nc) && oc[sp.h].ID == nc[sp.h].ID {
				sp.h++
			}
			for sp.t < len(oc)-sp.h && sp.t < len(nc)-sp.h && oc[len(oc)-1-sp.t].ID == nc[len(nc)-1-sp.t].ID {
				sp.t++
			}
			if sp.j >= 0 && sp.h < len(oc)-sp.t {
				left = append(left, cardSpan{sp.j, sp.h, len(oc) - sp.t})
			}
		}
		spans[i] = sp
	}
	var oldCards *cardIndex
	for i, l := range nb.Lists {
		lp := listPatch{ID: l.ID, Name: l.Name}
		sp := spans[i]
		if sp.same {
			p.Lists[i] = lp // the very cards of old: nothing to say
			continue
		}
		var oc []board.Card
		if sp.j >= 0 {
			oc = old.Lists[sp.j].Cards
		}
		nc, h, t := l.Cards, sp.h, sp.t
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
		if sp.j < 0 || h != len(oc) || h != len(nc) {
			mid := nc[h : len(nc)-t]
			lp.Splice = &cardSplice{Head: h, Mid: make([]string, len(mid)), Tail: t}
			for k, c := range mid {
				lp.Splice.Mid[k] = c.ID
				if oldCards == nil {
					oldCards = newCardIndex(old.Lists, left)
				}
				if was, ok := oldCards.find(c.ID, sp.j, h+k); !ok || !sameCard(was, c) {
					p.Cards = append(p.Cards, c)
				}
			}
		}
		p.Lists[i] = lp
	}
	return p
}

// listSpan is what diffBoard's first pass finds of a list of the new
// board: its old list (j, -1 for none), whether it holds that list's very
// cards (same), and how many cards at its head (h) and tail (t) have the
// old cards' ids.
type listSpan struct {
	j, h, t int
	same    bool
}

// cardSpan is the cards lo to hi (not included) of an old list.
type cardSpan struct{ list, lo, hi int }

// applyBoardPatch returns the board p makes of old, the stored board (ok
// false: there is none), or why it cannot. The result shares the card
// slices of the lists it keeps as they were with old: stored boards are
// never modified in place. It is what a replay runs (see patchBoard).
func applyBoardPatch(old board.Board, ok bool, p *boardPatch) (board.Board, error) {
	return patchBoard(old, ok, p, nil)
}

// checkBoardPatch reports whether p makes exactly nb of old: whether a
// replay of p (applyBoardPatch) would rebuild the board the store keeps.
// It runs the replay's own steps (patchBoard) but builds nothing.
func checkBoardPatch(old board.Board, p *boardPatch, nb board.Board) bool {
	_, err := patchBoard(old, true, p, &nb)
	return err == nil
}

// patchBoard is the one definition of what a patch does, for the replay
// and for the live write's check alike.
//
// With want nil it builds the board p makes of old (applyBoardPatch). With
// want set it builds nothing: it takes the very same steps, and compares
// every card it would place with the card want holds at that place, field
// by field (sameCard), and every list and the board's own fields with
// want's; it returns *want if want is exactly the board the steps would
// build, else an error. A write then keeps the board its edit made, whose
// changed lists are already slices of its own, instead of building two new
// ones per card move under the store's lock (the fourth round's profiles
// put a third of a move's time there) and comparing them with the edit's.
func patchBoard(old board.Board, ok bool, p *boardPatch, want *board.Board) (board.Board, error) {
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
	if want != nil {
		x, y := p.Board, *want
		x.Lists, y.Lists = nil, nil
		// Identical values, as a write's patch and its board are (the
		// patch carries the edited board's own fields), are the same
		// without encoding them.
		if !(identicalFields(&x, &y) || reflect.DeepEqual(x, y) || sameFields(x, y)) {
			return board.Board{}, errors.New("the board's own fields differ")
		}
		if len(want.Lists) != len(p.Lists) {
			return board.Board{}, fmt.Errorf("%d lists, want %d", len(p.Lists), len(want.Lists))
		}
	}
	changed := make(map[string]board.Card, len(p.Cards))
	for _, c := range p.Cards {
		if _, dup := changed[c.ID]; dup {
			return board.Board{}, fmt.Errorf("card %q is in the patch twice", c.ID)
		}
		changed[c.ID] = c
	}
	used := 0
	// place is the card to put where the steps put c: the patch's card of
	// that id, if it names one.
	place := func(c board.Card) board.Card {
		if len(changed) > 0 {
			if x, ok := changed[c.ID]; ok {
				used++
				return x
			}
		}
		return c
	}
	var oldCards *cardIndex
	nb := p.Board
	nb.Lists = make([]board.List, len(p.Lists))
	for i, lp := range p.Lists {
		j := listIndex(old.Lists, lp.ID)
		var oc []board.Card
		if j >= 0 {
			oc = old.Lists[j].Cards
		}
		out := cardOut{build: want == nil}
		if want != nil {
			w := want.Lists[i]
			if w.ID != lp.ID || w.Name != lp.Name || w.Cards == nil {
				return board.Board{}, fmt.Errorf("list %d is %q %q, want %q %q", i, lp.ID, lp.Name, w.ID, w.Name)
			}
			out.want = w.Cards
		}
		if s := lp.Splice; s == nil {
			if j < 0 {
				return board.Board{}, fmt.Errorf("list %q is new but has no splice", lp.ID)
			}
			if len(changed) == 0 || !slices.ContainsFunc(oc, func(c board.Card) bool { _, ok := changed[c.ID]; return ok }) {
				out.keep(oc) // the list keeps its cards as they were
			} else {
				out.grow(len(oc))
				for _, c := range oc {
					out.put(place(c))
				}
			}
		} else {
			if s.Head < 0 || s.Tail < 0 || s.Head > len(oc) || s.Tail > len(oc)-s.Head {
				return board.Board{}, fmt.Errorf("list %q: a splice of %d and %d of %d cards", lp.ID, s.Head, s.Tail, len(oc))
			}
			out.grow(s.Head + len(s.Mid) + s.Tail)
			for _, c := range oc[:s.Head] {
				out.put(place(c))
			}
			for k, id := range s.Mid {
				c, ok := changed[id]
				if !ok {
					if oldCards == nil {
						oldCards = newCardIndex(old.Lists, nil)
					}
					if c, ok = oldCards.find(id, j, s.Head+k); !ok {
						return board.Board{}, fmt.Errorf("list %q: card %q is neither in the patch nor on the board", lp.ID, id)
					}
				}
				out.put(place(c))
			}
			for _, c := range oc[len(oc)-s.Tail:] {
				out.put(place(c))
			}
		}
		cards, err := out.done()
		if err != nil {
			return board.Board{}, fmt.Errorf("list %q: %w", lp.ID, err)
		}
		nb.Lists[i] = board.List{ID: lp.ID, Name: lp.Name, Cards: cards}
	}
	if used != len(changed) {
		return board.Board{}, errors.New("the lists do not place each card of the patch once")
	}
	if want != nil {
		return *want, nil
	}
	return nb, nil
}

// cardOut receives the cards patchBoard places in one list, in order:
// it appends them to a new slice (build), or compares each with the card
// want holds at that place.
type cardOut struct {
	build bool
	want  []board.Card // the cards expected, when not building
	cards []board.Card // the cards built, or, kept whole, the list's
	n     int          // the cards compared so far
	bad   bool         // a card compared differed
}

// grow makes room for n cards when building.
func (o *cardOut) grow(n int) {
	if o.build {
		o.cards = make([]board.Card, 0, n)
	}
}

// put places c next.
func (o *cardOut) put(c board.Card) {
	if o.build {
		o.cards = append(o.cards, c)
		return
	}
	if o.n >= len(o.want) || !sameCard(o.want[o.n], c) {
		o.bad = true
	}
	o.n++
}

// keep places cards, a stored list's, whole: a build shares the slice.
func (o *cardOut) keep(cards []board.Card) {
	if o.build {
		o.cards = cards
		return
	}
	if sameSlice(cards, o.want) {
		o.n = len(cards)
		return
	}
	for _, c := range cards {
		o.put(c)
	}
}

// done returns the cards of the list: those built (never nil), or want's
// if every card placed was the one want holds there and no card is left.
func (o *cardOut) done() ([]board.Card, error) {
	if o.build {
		if o.cards == nil {
			return []board.Card{}, nil
		}
		return o.cards, nil
	}
	if o.bad || o.n != len(o.want) {
		return nil, errors.New("the cards differ from the board's")
	}
	return o.want, nil
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
	left  []cardSpan // where cards that left their list were: looked at before the rest
	looks int
	byID  map[string]board.Card
}

// newCardIndex returns a cardIndex of lists, which looks among the cards
// of left first (nil: none).
func newCardIndex(lists []board.List, left []cardSpan) *cardIndex {
	return &cardIndex{lists: lists, left: left}
}

// maxLeft bounds the cards find looks at among those that left their
// lists, before it looks through every list.
const maxLeft = 16

// find returns the card id, looking first near position pos of list (-1:
// none), where a card shifted by a move within its list is: a move of a
// card k places down a list names the k cards in between, each one place
// from where it was. Then it looks among the cards that left their lists,
// where a card moved to another list is. The ids of lists' cards are
// unique (the board passed Validate), so whichever look finds a card finds
// the one card of that id.
func (x *cardIndex) find(id string, list, pos int) (board.Card, bool) {
	if list >= 0 && list < len(x.lists) {
		cards := x.lists[list].Cards
		for _, p := range [...]int{pos, pos + 1, pos - 1} {
			if p >= 0 && p < len(cards) && cards[p].ID == id {
				return cards[p], true
			}
		}
	}
	if x.byID == nil { // else the map answers at once
		n := 0
		for _, sp := range x.left {
			if n += sp.hi - sp.lo; n > maxLeft {
				break // a long stretch: the look through every list, or the map, instead
			}
			cards := x.lists[sp.list].Cards
			for p := sp.lo; p < sp.hi; p++ {
				if objectid.Same(cards[p].ID, id) {
					return cards[p], true
				}
			}
		}
	}
	if x.byID == nil && x.looks < 8 {
		x.looks++
		for _, l := range x.lists {
			for _, c := range l.Cards {
				if objectid.Same(c.ID, id) {
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
// location: equal, and encoded alike. Identical values (a card copied
// from one list to another) are seen as such without more.
func sameTime(a, b time.Time) bool {
	return a == b || (a.Equal(b) && a.Location() == b.Location())
}

// identicalFields reports whether the boards' own fields (not the lists)
// are identical: the same strings, numbers and times, and the same member
// slices (the same elements in memory), as those of an edited board and
// of the patch made of it are. It is the quick case of the comparison
// whose general case is reflect.DeepEqual and sameFields; false says
// nothing. TestPatchLineMatchesJSON pins Board's fields, which this names
// one by one.
func identicalFields(a, b *board.Board) bool {
	same := func(x, y []string) bool {
		return len(x) == len(y) && (x == nil) == (y == nil) && (len(x) == 0 || &x[0] == &y[0])
	}
	return a.ID == b.ID && a.Title == b.Title && a.OwnerID == b.OwnerID && a.BackgroundID == b.BackgroundID &&
		a.BackgroundURL == b.BackgroundURL && same(a.Members, b.Members) && same(a.Invited, b.Invited) &&
		same(a.FavouritedBy, b.FavouritedBy) && a.Version == b.Version && a.CreatedAt == b.CreatedAt &&
		a.UpdatedAt == b.UpdatedAt && a.DeletingAt == b.DeletingAt
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
// patch when a replay of it rebuilds nb exactly (checkBoardPatch), else
// the whole board. nb is then what the store keeps and serves (p.result):
// its lists that the edit did not change are old's very slices
// (shareUnchanged), and the others its own.
func putBoardChange(old, nb board.Board) change {
	p := diffBoard(old, nb)
	if !checkBoardPatch(old, p, nb) {
		return putBoard(nb)
	}
	p.result = &nb
	return change{Op: opPatch, Kind: boardKind, ID: nb.ID, Record: p}
}
