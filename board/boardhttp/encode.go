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
// encoding/json would, but without encoding a big board's lists again on
// every request.
//
// A board of 500 cards answers about 110 KB, nearly all of it the lists,
// and encoding/json spends most of a board read or a card move making
// them (every card's time goes through time.Time's MarshalJSON and is
// compacted again). Between two requests, most of a board is as it was: a
// read sees the same lists, a move changes two. So the encoder keeps, for
// each board it wrote lately, the lists it encoded and their bytes, list
// by list and card by card, and reuses the bytes of every list and card
// that is equal to one it encoded before.
//
// Nothing can be stale: bytes are reused only for a value compared equal,
// field by field, to the one they were made from, and the value compared
// is the view being written, made from the board the store just returned.
// The version of the board is not trusted for this (an import can bring a
// board back with its old version). Only the lists are kept, which every
// member sees alike (an attachment's address names the board and the
// card, nothing of the caller); the parts that depend on who asks (the
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
	// lists are the lists encoded, a copy that shares nothing with any
	// view (the card views' attachment slices included).
	lists []board.ListView
	// each holds the bytes of each list. They are not joined here: the
	// answer is made by appending them, and joining them first would copy
	// a big board once more on every change.
	each [][]byte
	// cards are the bytes of every card of lists, and perhaps of some
	// cards since moved off the board, by id, to find a card that moved to
	// another list or place. Several entries may share one map: it is
	// copied before it is changed.
	cards map[string]encodedCard
	size  int
}

// encodedCard is a card view and its bytes.
type encodedCard struct {
	view  board.CardView
	bytes []byte
}

// appendBoard appends the answer {"board": v} to dst, with the newline
// json.Encoder ends it with.
func (e *boardEncoder) appendBoard(dst []byte, v board.View) ([]byte, error) {
	lists, err := e.lists(v.ID, v.Lists)
	if err != nil {
		return dst, err
	}
	head, err := json.Marshal(viewHead{v.ID, v.Title, v.BackgroundURL, v.OwnerID, v.Members})
	if err != nil {
		return dst, err
	}
	tail, err := json.Marshal(viewTail{v.IsFavourite, v.CreatedAt, v.UpdatedAt})
	if err != nil {
		return dst, err
	}
	dst = append(dst, `{"board":`...)
	dst = append(dst, head[:len(head)-1]...) // without its closing brace
	dst = append(dst, `,"lists":`...)
	if lists == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, b := range lists.each {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, b...)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, ',')
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
// what it can of the bytes it made last time for that board; nil for nil
// lists (JSON null).
func (e *boardEncoder) lists(id string, lists []board.ListView) (*encodedLists, error) {
	if lists == nil {
		return nil, nil
	}
	e.mu.Lock()
	prev := e.boards[id]
	e.mu.Unlock()
	if prev != nil && slices.EqualFunc(prev.lists, lists, sameList) {
		return prev, nil
	}
	next, err := encodeLists(prev, lists)
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

// encodeLists encodes lists, reusing from prev (which may be nil) the bytes
// of every list and card equal to one it holds.
func encodeLists(prev *encodedLists, lists []board.ListView) (*encodedLists, error) {
	next := &encodedLists{lists: make([]board.ListView, len(lists)), each: make([][]byte, len(lists))}
	var cards map[string]encodedCard
	if prev != nil {
		cards = prev.cards
	}
	copied := false // whether next.cards is a map of its own yet
	total := 0
	for i, l := range lists {
		size := 64 + 256*len(l.Cards) // a guess, for a list not seen before
		if prev != nil {
			if j := slices.IndexFunc(prev.lists, func(p board.ListView) bool { return p.ID == l.ID }); j >= 0 {
				if sameList(prev.lists[j], l) {
					next.lists[i], next.each[i] = prev.lists[j], prev.each[j]
					total += len(next.each[i])
					continue
				}
				size = len(prev.each[j]) + 512
			}
		}
		buf := make([]byte, 0, size)
		buf = append(buf, `{"id":`...)
		buf = appendString(buf, l.ID)
		buf = append(buf, `,"name":`...)
		buf = appendString(buf, l.Name)
		buf = append(buf, `,"cards":`...)
		own := board.ListView{ID: l.ID, Name: l.Name}
		if l.Cards == nil {
			buf = append(buf, "null"...)
		} else {
			own.Cards = make([]board.CardView, len(l.Cards))
			buf = append(buf, '[')
			for k, c := range l.Cards {
				ec, ok := cards[c.ID]
				if !ok || !sameCard(ec.view, c) {
					b, err := json.Marshal(c)
					if err != nil {
						return nil, err
					}
					ec = encodedCard{view: cloneCard(c), bytes: b}
					if !copied {
						cards, copied = maps.Clone(cards), true
						if cards == nil {
							cards = make(map[string]encodedCard)
						}
					}
					cards[c.ID] = ec
				}
				own.Cards[k] = ec.view
				if k > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, ec.bytes...)
			}
			buf = append(buf, ']')
		}
		buf = append(buf, '}')
		next.lists[i], next.each[i] = own, buf
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
	// they are made of) and the views about as much again.
	next.size = 3 * total
	return next, nil
}

// appendString appends s as encoding/json writes a string (HTML characters
// escaped, as json.Encoder does by default).
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return append(dst, b...)
}

// sameList reports whether two list views are equal in every field.
func sameList(a, b board.ListView) bool {
	return a.ID == b.ID && a.Name == b.Name && (a.Cards == nil) == (b.Cards == nil) &&
		slices.EqualFunc(a.Cards, b.Cards, sameCard)
}

// sameCard reports whether two card views are equal in every field, and so
// encode alike. Times are compared with ==, not Equal: two instants in
// different locations are equal but encode differently.
func sameCard(a, b board.CardView) bool {
	return a.ID == b.ID && a.Title == b.Title && a.Description == b.Description &&
		a.CreatedAt == b.CreatedAt && (a.Attachments == nil) == (b.Attachments == nil) &&
		slices.Equal(a.Attachments, b.Attachments)
}

// cloneCard returns c with an attachments slice of its own.
func cloneCard(c board.CardView) board.CardView {
	c.Attachments = slices.Clone(c.Attachments)
	return c
}
