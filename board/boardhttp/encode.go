package boardhttp

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"corkboard/board"
)

// boardEncoder writes the answer {"board": view} byte for byte as
// encoding/json would write the view (board.Shown.FullView), but from the
// board's own lists, and without encoding a big board's lists again on
// every request.
//
// A board of 500 cards answers about 110 KB, nearly all of it the lists,
// and encoding/json spends most of a board read or a card move making
// them (every card's time goes through time.Time's MarshalJSON and is
// compacted again); making the views of 500 cards first costs about as
// much again. Between two requests, most of a board is as it was: a read
// sees the same lists, a move changes two. So the encoder keeps, for each
// board it wrote lately, the lists it encoded and their bytes, list by
// list and card by card, and reuses the bytes of every list and card that
// is the same as one it encoded before. No view of a list or a card is
// made but to encode one that changed.
//
// Nothing can be stale: bytes are reused only for a list or a card of the
// board being written, as the store just returned it, compared equal to
// the one they were made from. A list is equal when its id and name are
// and its cards are the very same slice (the same first card and length)
// as those of the list kept, or, failing that, equal card by card, field
// by field. The first is what a file store's board shows at a glance: it
// lends the board it holds, never changes it, and a write shares the lists
// it did not change with the board before it (board.Store); a list whose
// cards are that slice holds exactly what it held when its bytes were
// made, as the lists kept are never changed either (board.Shown). A
// MongoDB board is decoded anew on every read and is compared card by
// card. The version of the board is not trusted for this (an import can
// bring a board back with its old version). Only the lists are kept, which
// every member sees alike (an attachment's address names the board and
// the card, nothing of the caller); the parts that depend on who asks (the
// members' names as they are now, isFavourite) are encoded on every
// request.
type boardEncoder struct {
	mu sync.Mutex
	// boards holds the last lists written of each board, by board id; an
	// entry is never changed once stored, so it is used without the lock.
	boards map[string]*encodedLists
	// size is the sum of the sizes of the entries, kept under maxSize by
	// dropping entries: the encoder is a cache, and a board it dropped is
	// encoded again the next time.
	size, maxSize int
}

// defaultEncoderBytes bounds what a boardEncoder keeps: some hundreds of
// big boards, or thousands of ordinary ones.
const defaultEncoderBytes = 64 << 20

func newBoardEncoder(maxSize int) *boardEncoder {
	return &boardEncoder{boards: make(map[string]*encodedLists), maxSize: maxSize}
}

// encodedLists is the lists of a board as last written, with their bytes.
type encodedLists struct {
	// lists are the lists encoded, as the board held them (lent, never
	// changed: see board.Shown).
	lists []board.List
	// each holds the bytes of each list. They are not joined here: the
	// answer is made by appending them, and joining them first would copy
	// a big board once more on every change.
	each []listBytes
	// cards are the bytes of every card of lists, and perhaps of some
	// cards since moved off the board, by id, to find a card that moved to
	// another list or place. Several entries may share one map: it is
	// copied before it is changed.
	cards map[string]encodedCard
	size  int
}

// listBytes is the JSON of one list, {"id":…,"name":…,"cards":[…]}, as
// pieces that, joined, are its bytes, with where each card's bytes begin.
//
// A list that changed is made of the bytes of the list it was, where it
// can: a card moved out of a list of 100, or into it, leaves the bytes of
// the cards before and after it as they were, so the new list is the old
// one's bytes up to the card, the card (or nothing), and the old bytes
// after it: three pieces, none of them copied. A move used to assemble
// its two lists anew from their cards' bytes, looking each card up by id:
// half the time a move's answer took. The pieces are joined into one when
// a list has more than maxPieces, so that many moves do not leave a list
// in hundreds of pieces. A piece keeps the whole buffer it was cut from in
// memory; the encoder counts a list's own bytes, so it may hold a few times
// what it counts for the boards that move a lot, until they are joined.
// Pieces, like the rest of an entry, are never written to once made.
type listBytes struct {
	pieces [][]byte
	// at[k] is where the bytes of card k begin, the list's bytes being
	// the pieces joined; at[len(cards)] is where the closing "]}" is. So
	// at[0] is the length of the list's head, {"id":…,"name":…,"cards":[,
	// and card k ends at at[k+1]-1 (before a comma), the last at
	// at[len(cards)].
	at   []int
	size int
}

// maxPieces is how many pieces a list's bytes may be in before they are
// joined into one.
const maxPieces = 64

// appendTo appends the bytes of the list.
func (lb *listBytes) appendTo(dst []byte) []byte {
	for _, p := range lb.pieces {
		dst = append(dst, p...)
	}
	return dst
}

// slice appends to dst the pieces of the list's bytes from from to to,
// sharing their memory.
func (lb *listBytes) slice(dst [][]byte, from, to int) [][]byte {
	off := 0
	for _, p := range lb.pieces {
		start, end := max(from-off, 0), min(to-off, len(p))
		if start < end {
			dst = append(dst, p[start:end])
		}
		off += len(p)
		if off >= to {
			break
		}
	}
	return dst
}

// encodedCard is a card and its bytes.
type encodedCard struct {
	card  board.Card
	bytes []byte
}

// appendBoard appends the answer {"board": v.FullView()} to dst, with the
// newline json.Encoder ends it with.
func (e *boardEncoder) appendBoard(dst []byte, v board.Shown) ([]byte, error) {
	lists, err := e.lists(v.View.ID, v.Lists)
	if err != nil {
		return dst, err
	}
	h := v.View
	head, err := json.Marshal(viewHead{h.ID, h.Title, h.BackgroundURL, h.OwnerID, h.Members})
	if err != nil {
		return dst, err
	}
	tail, err := json.Marshal(viewTail{h.IsFavourite, h.CreatedAt, h.UpdatedAt})
	if err != nil {
		return dst, err
	}
	dst = append(dst, `{"board":`...)
	dst = append(dst, head[:len(head)-1]...) // without its closing brace
	dst = append(dst, `,"lists":[`...)
	for i := range lists.each {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = lists.each[i].appendTo(dst)
	}
	dst = append(dst, "],"...)
	dst = append(dst, tail[1:]...) // without its opening brace
	return append(dst, "}\n"...), nil
}

// viewHead and viewTail are the fields of board.View before and after its
// lists, in the same order and with the same names: a test checks that the
// three together are every field of View.
type viewHead struct {
	ID            string             `json:"id"`
	Title         string             `json:"title"`
	BackgroundURL string             `json:"backgroundURL"`
	OwnerID       string             `json:"ownerId"`
	Members       []board.MemberView `json:"members"`
}

type viewTail struct {
	IsFavourite bool      `json:"isFavourite"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// lists returns the bytes of lists, the lists of the board id, reusing
// what it can of the bytes it made last time for that board.
func (e *boardEncoder) lists(id string, lists []board.List) (*encodedLists, error) {
	e.mu.Lock()
	prev := e.boards[id]
	e.mu.Unlock()
	if prev != nil && slices.EqualFunc(prev.lists, lists, sameList) {
		return prev, nil
	}
	next, err := encodeLists(id, prev, lists)
	if err != nil {
		return nil, err
	}
	e.store(id, prev, next)
	return next, nil
}

// store keeps next as the lists of the board id, unless another request
// replaced prev in the meantime (either is right; the later one is kept).
func (e *boardEncoder) store(id string, prev, next *encodedLists) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.boards[id] != prev {
		return
	}
	if prev != nil {
		e.size -= prev.size
	}
	for other, x := range e.boards { // in random order: a random board is dropped
		if e.size+next.size <= e.maxSize {
			break
		}
		if other != id {
			delete(e.boards, other)
			e.size -= x.size
		}
	}
	if next.size > e.maxSize {
		delete(e.boards, id)
		return
	}
	e.boards[id] = next
	e.size += next.size
}

// encodeLists encodes lists, of the board id, reusing from prev (which may
// be nil) the bytes of every list and card equal to one it holds.
func encodeLists(id string, prev *encodedLists, lists []board.List) (*encodedLists, error) {
	next := &encodedLists{lists: slices.Clone(lists), each: make([]listBytes, len(lists))}
	var cards map[string]encodedCard
	if prev != nil {
		cards = prev.cards
	}
	copied := false // whether next.cards is a map of its own yet
	// cardBytes returns the bytes of c, from the map, or encoded and put
	// in it.
	cardBytes := func(c board.Card) ([]byte, error) {
		if ec, ok := cards[c.ID]; ok && sameCard(ec.card, c) {
			return ec.bytes, nil
		}
		b, err := json.Marshal(board.CardViewOf(id, c))
		if err != nil {
			return nil, err
		}
		if !copied {
			cards, copied = maps.Clone(cards), true
			if cards == nil {
				cards = make(map[string]encodedCard)
			}
		}
		cards[c.ID] = encodedCard{card: c, bytes: b}
		return b, nil
	}
	total := 0
	for i, l := range lists {
		size := 64 + 256*len(l.Cards) // a guess, for a list not seen before
		if prev != nil {
			if j := slices.IndexFunc(prev.lists, func(p board.List) bool { return p.ID == l.ID }); j >= 0 {
				if sameList(prev.lists[j], l) {
					next.each[i] = prev.each[j]
					total += next.each[i].size
					continue
				}
				if lb, ok, err := splice(prev.lists[j], &prev.each[j], l, cardBytes); err != nil {
					return nil, err
				} else if ok {
					next.each[i] = lb
					total += lb.size
					continue
				}
				size = prev.each[j].size + 512
			}
		}
		buf := make([]byte, 0, size)
		buf = append(buf, `{"id":`...)
		buf = appendString(buf, l.ID)
		buf = append(buf, `,"name":`...)
		buf = appendString(buf, l.Name)
		buf = append(buf, `,"cards":[`...)
		at := make([]int, len(l.Cards)+1)
		for k, c := range l.Cards {
			b, err := cardBytes(c)
			if err != nil {
				return nil, err
			}
			if k > 0 {
				buf = append(buf, ',')
			}
			at[k] = len(buf)
			buf = append(buf, b...)
		}
		at[len(l.Cards)] = len(buf)
		buf = append(buf, "]}"...)
		next.each[i] = listBytes{pieces: [][]byte{buf}, at: at, size: len(buf)}
		total += len(buf)
	}

	// The map of cards keeps cards that left the board only until it
	// holds twice as many as the board: then it is made again of the
	// board's cards alone.
	n := 0
	for _, l := range next.lists {
		n += len(l.Cards)
	}
	if len(cards) > 2*n+16 {
		kept := make(map[string]encodedCard, n)
		for _, l := range next.lists {
			for _, c := range l.Cards {
				kept[c.ID] = cards[c.ID] // every card of next is in cards
			}
		}
		cards = kept
	}
	next.cards = cards
	// The size counts the bytes twice over (the lists, and the cards
	// they are made of) and the cards kept about as much again.
	next.size = 3 * total
	return next, nil
}

// splice returns the bytes of l made of those of was, the list of the same
// id and name it was, with bytes wb: the bytes of the cards l keeps at its
// start and at its end, equal to was's there (sameCard), are taken from
// wb as they are, and only the cards between them are put in, by
// cardBytes. It reports false, for l to be encoded whole, when the name
// changed or no card is kept.
func splice(was board.List, wb *listBytes, l board.List, cardBytes func(board.Card) ([]byte, error)) (listBytes, bool, error) {
	n0, n1 := len(was.Cards), len(l.Cards)
	if was.Name != l.Name || len(wb.at) != n0+1 {
		return listBytes{}, false, nil
	}
	h := 0
	for h < n0 && h < n1 && sameCard(was.Cards[h], l.Cards[h]) {
		h++
	}
	t := 0
	for t < n0-h && t < n1-h && sameCard(was.Cards[n0-1-t], l.Cards[n1-1-t]) {
		t++
	}
	if h+t == 0 {
		return listBytes{}, false, nil
	}
	lb := listBytes{pieces: make([][]byte, 0, 8), at: make([]int, n1+1)}
	// The head of the list and its first h cards, as they were.
	end := wb.at[0]
	if h > 0 {
		end = wb.at[n0]
		if h < n0 {
			end = wb.at[h] - 1 // before the comma
		}
	}
	lb.pieces = wb.slice(lb.pieces, 0, end)
	copy(lb.at, wb.at[:h])
	pos := end
	// The cards between: a card the list held one place along or at the
	// same place (a move within the list shifts the cards it passes by
	// one) is taken from wb with those after it in the same order, in one
	// piece; any other card is put in from cardBytes.
	for k := h; k < n1-t; {
		if k > 0 {
			lb.pieces = append(lb.pieces, comma)
			pos++
		}
		c := l.Cards[k]
		q := -1
		for _, d := range [...]int{k + 1, k - 1, k} {
			if d >= 0 && d < n0 && sameCard(was.Cards[d], c) {
				q = d
				break
			}
		}
		if q < 0 {
			b, err := cardBytes(c)
			if err != nil {
				return listBytes{}, false, err
			}
			lb.at[k] = pos
			lb.pieces = append(lb.pieces, b)
			pos += len(b)
			k++
			continue
		}
		r := 1
		for k+r < n1-t && q+r < n0 && sameCard(was.Cards[q+r], l.Cards[k+r]) {
			r++
		}
		end := wb.at[n0]
		if q+r < n0 {
			end = wb.at[q+r] - 1 // before the comma
		}
		for i := range r {
			lb.at[k+i] = pos + wb.at[q+i] - wb.at[q]
		}
		lb.pieces = wb.slice(lb.pieces, wb.at[q], end)
		pos += end - wb.at[q]
		k += r
	}
	// The last t cards, as they were, and the list's closing "]}".
	from := wb.at[n0] // the "]}"
	if t > 0 {
		from = wb.at[n0-t]
		if n1-t > 0 {
			lb.pieces = append(lb.pieces, comma)
			pos++
		}
	}
	for k := range t + 1 {
		lb.at[n1-t+k] = pos + wb.at[n0-t+k] - from
	}
	lb.pieces = wb.slice(lb.pieces, from, wb.size)
	lb.size = pos + wb.size - from
	if len(lb.pieces) > maxPieces {
		lb.pieces = [][]byte{lb.appendTo(make([]byte, 0, lb.size))}
	}
	return lb, true, nil
}

// comma is a piece of a list's bytes between two cards.
var comma = []byte{','}

// appendString appends s as encoding/json writes a string (HTML characters
// escaped, as json.Encoder does by default).
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// sameList reports whether two lists encode alike: the same id and name,
// and cards that are the very same slice (see boardEncoder) or equal card
// by card.
func sameList(a, b board.List) bool {
	return a.ID == b.ID && a.Name == b.Name &&
		(sameCards(a.Cards, b.Cards) || slices.EqualFunc(a.Cards, b.Cards, sameCard))
}

// sameCards reports whether a and b are the same slice of cards: the same
// length, and the same first card in memory. Neither is ever changed (see
// boardEncoder), so they hold the same cards.
func sameCards(a, b []board.Card) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// sameCard reports whether two cards are equal in every field, and so
// encode alike. Times are compared with ==, not Equal: two instants in
// different locations are equal but encode differently. Attachments nil
// and empty encode alike ([]).
func sameCard(a, b board.Card) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Description == b.Description &&
		a.CreatedAt == b.CreatedAt && slices.Equal(a.Attachments, b.Attachments)
}
