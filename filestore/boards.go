package filestore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"corkboard/board"
)

// boardKind is the name of board records in changes and snapshots.
const boardKind = "board"

// boardTable holds the boards, by id, with an index from a user to the
// boards they are a member of, and one to the boards they are invited to:
// a user's list of boards is then a read of their own boards only, however
// many the store holds.
type boardTable struct {
	byID      map[string]board.Board
	byMember  map[string]map[string]struct{} // user id → ids of the boards they are a member of
	byInvitee map[string]map[string]struct{} // user id → ids of the boards they are invited to
}

func (t *boardTable) kind() string { return boardKind }

func (t *boardTable) reset() {
	*t = boardTable{
		byID:      make(map[string]board.Board),
		byMember:  make(map[string]map[string]struct{}),
		byInvitee: make(map[string]map[string]struct{}),
	}
}

func (t *boardTable) decode(dec *json.Decoder) (any, string, error) {
	var b board.Board
	err := dec.Decode(&b)
	return b, b.ID, err
}

// validate checks that the record is a board stored under its own id, and
// holds it to Board.Validate: the checks an import passes, so that a
// hand-edited file cannot load a board the methods could not have made.
func (t *boardTable) validate(id string, rec any) error {
	b, ok := rec.(board.Board)
	switch {
	case !ok:
		return fmt.Errorf("board change carries a %T", rec)
	case b.ID != id:
		return fmt.Errorf("board change for id %q carries board %q", id, b.ID)
	}
	return b.Validate()
}

func (t *boardTable) put(rec any) {
	b := rec.(board.Board)
	t.delete(b.ID) // drops the old index entries: members come and go
	t.byID[b.ID] = b
	if !b.DeletingAt.IsZero() {
		return // a board being deleted is on nobody's list (board.Store)
	}
	for _, u := range b.Members {
		addToSet(t.byMember, u, b.ID)
	}
	for _, u := range b.Invited {
		addToSet(t.byInvitee, u, b.ID)
	}
}

func (t *boardTable) delete(id string) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	for _, u := range old.Members {
		removeFromSet(t.byMember, u, id)
	}
	for _, u := range old.Invited {
		removeFromSet(t.byInvitee, u, id)
	}
}

func (t *boardTable) get(id string) (any, bool) {
	b, ok := t.byID[id]
	return b, ok
}

func (t *boardTable) decodePatch(dec *json.Decoder) (any, error) {
	var p boardPatch
	err := dec.Decode(&p)
	return &p, err
}

// applyPatch applies a boardPatch. A patch the store made itself carries
// the board it makes, which UpdateBoard checked and validated; one read
// from a file is applied and validated here.
func (t *boardTable) applyPatch(id string, old any, ok bool, patch any) (any, error) {
	p, isPatch := patch.(*boardPatch)
	if !isPatch {
		return nil, fmt.Errorf("board patch carries a %T", patch)
	}
	if p.result != nil {
		return *p.result, nil
	}
	ob, _ := old.(board.Board)
	nb, err := applyBoardPatch(ob, ok, p)
	if err == nil {
		err = t.validate(id, nb)
	}
	return nb, err
}

// check has nothing to find: no key of a board but its id is unique, and
// put and delete keep the indexes whatever the files hold.
func (t *boardTable) check() error { return nil }

func (t *boardTable) list() []change { return listOf(boardKind, t.byID) }

// addToSet adds id to the set under key, making the set if needed.
func addToSet(sets map[string]map[string]struct{}, key, id string) {
	set := sets[key]
	if set == nil {
		set = make(map[string]struct{})
		sets[key] = set
	}
	set[id] = struct{}{}
}

// removeFromSet removes id from the set under key, and the set once empty,
// so that the index does not keep every user who ever had a board.
func removeFromSet(sets map[string]map[string]struct{}, key, id string) {
	set := sets[key]
	delete(set, id)
	if len(set) == 0 {
		delete(sets, key)
	}
}

// putBoard returns a change that stores b.
func putBoard(b board.Board) change { return putChange(boardKind, b.ID, b) }

// cleanBoard returns a deep copy of b that shares nothing with the caller,
// normalized (see normalizeBoard).
func cleanBoard(b board.Board) board.Board {
	c := *b.Clone()
	normalizeBoard(&c, nil)
	return c
}

// normalizeBoard makes every empty slice of b non-nil and every time the
// form the files give back, which is the form the store hands out: a board
// read back after a restart is then identical to the one served before it.
// It changes b's own fields in place, so b must be the store's own copy
// (Board.EditCopy), but its lists' cards may still be old's, or a part of
// old's (an edit may re-slice a list without copying it), and old is
// stored and lent to readers: a card that needs a change is written into a
// copy of its list's cards, made at the first such card, never into the
// array it came in. The lists whose cards are exactly one of old's are
// stored already, and so normal, and are skipped. old may be nil.
func normalizeBoard(c *board.Board, old *board.Board) {
	c.Members = nonNil(c.Members)
	c.Invited = nonNil(c.Invited)
	c.FavouritedBy = nonNil(c.FavouritedBy)
	c.Lists = nonNil(c.Lists)
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	for i := range c.Lists {
		l := &c.Lists[i]
		if old != nil && len(l.Cards) > 0 && slices.ContainsFunc(old.Lists, func(o board.List) bool { return sameSlice(o.Cards, l.Cards) }) {
			continue
		}
		l.Cards = nonNil(l.Cards)
		copied := false // whether l.Cards is a copy made here
		for j := range l.Cards {
			if isNormalCard(&l.Cards[j]) {
				continue // as nearly every card is: looked at in place, not copied
			}
			if !copied {
				l.Cards, copied = slices.Clone(l.Cards), true
			}
			l.Cards[j] = normalCard(l.Cards[j])
		}
	}
}

// normalCard returns card in normal form: its times in UTC without a
// monotonic reading, its attachments non-nil. The attachments are a copy:
// they may be a stored card's.
func normalCard(card board.Card) board.Card {
	card.CreatedAt = utc(card.CreatedAt)
	attachments := make([]board.Attachment, len(card.Attachments))
	for k, a := range card.Attachments {
		a.CreatedAt = utc(a.CreatedAt)
		attachments[k] = a
	}
	card.Attachments = attachments
	return card
}

// isNormalCard reports whether c is in normal form already (normalCard
// would return it as it is), looking at it in place.
func isNormalCard(c *board.Card) bool {
	if c.Attachments == nil || utc(c.CreatedAt) != c.CreatedAt {
		return false
	}
	for k := range c.Attachments {
		if t := c.Attachments[k].CreatedAt; utc(t) != t {
			return false
		}
	}
	return true
}

// nonNil returns s, or an empty slice if s is nil. JSON writes a nil slice
// as null and an empty one as [], and a decoded [] is empty but not nil:
// storing only the second keeps what is served equal to what is reloaded.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CreateBoard implements board.Store.
func (s *Store) CreateBoard(ctx context.Context, b board.Board) error {
	b = cleanBoard(b)
	if err := b.Validate(); err != nil {
		return fmt.Errorf("filestore: create board: %w", err)
	}
	return s.update(ctx, func(st *state) ([]change, error) {
		if _, ok := st.boards.byID[b.ID]; ok {
			// Ids are random; a clash is a caller's bug.
			return nil, fmt.Errorf("filestore: create board: id %s is already used", b.ID)
		}
		return []change{putBoard(b)}, nil
	})
}

// BoardByID implements board.Store.
func (s *Store) BoardByID(ctx context.Context, id string) (board.Board, error) {
	if err := s.readable(); err != nil {
		return board.Board{}, err
	}
	s.mu.RLock()
	b, ok := s.st.boards.byID[id]
	s.mu.RUnlock()
	if !ok || !b.DeletingAt.IsZero() {
		return board.Board{}, board.ErrNotFound
	}
	// A stored board is never modified in place (a write puts a new
	// one), so it is lent as it is: board.Store's callers treat it as
	// read-only.
	return b, nil
}

// UpdateBoard implements board.Store. edit runs under the write lock on a
// copy of the board, and its result is one journal batch: no other write
// can come in between, so edit runs once and never conflicts.
//
// That copy is the only one made, and it is shallow (Board.EditCopy): its
// lists share their cards with the stored board until an edit changes
// them, through Board's methods, which copy the lists they change. edit
// does not keep the board it is given (board.Store), so the copy is the
// store's own, normalized in place and stored, and the board stored is
// what UpdateBoard lends back. The board stored shares the lists the edit
// did not change with the board before it (shareUnchanged gives them back
// the stored slices), which is what lets the patch, its check, the board's
// answers and ValidateEdit find them unchanged at a glance; where the
// write is journalled as a patch, the store has checked that a replay of
// it rebuilds exactly this board (checkBoardPatch).
func (s *Store) UpdateBoard(ctx context.Context, id string, edit func(*board.Board) error) (board.Board, error) {
	var stored board.Board
	err := s.update(ctx, func(st *state) ([]change, error) {
		old, ok := st.boards.byID[id]
		if !ok || !old.DeletingAt.IsZero() {
			return nil, board.ErrNotFound
		}
		b := old.EditCopy()
		if err := edit(b); err != nil {
			return nil, err
		}
		if b.ID != id {
			return nil, fmt.Errorf("filestore: update board %s: the edit changed the board's id to %q", id, b.ID)
		}
		b.Version = old.Version + 1
		shareUnchanged(b, old)
		normalizeBoard(b, &old)
		nb := *b
		c := putBoardChange(old, nb)
		// old passed Validate when it was stored or loaded, so only what
		// the edit changed needs its own checks again: the lists nb
		// shares with old are taken as they are.
		if err := nb.ValidateEdit(&old); err != nil {
			return nil, fmt.Errorf("filestore: update board %s: the edit made an invalid board: %w", id, err)
		}
		stored = nb
		return []change{c}, nil
	})
	if err != nil {
		return board.Board{}, err
	}
	return stored, nil
}

// DeleteBoard implements board.Store.
func (s *Store) DeleteBoard(ctx context.Context, id string) error {
	return s.update(ctx, func(st *state) ([]change, error) {
		if _, ok := st.boards.byID[id]; !ok {
			return nil, board.ErrNotFound
		}
		return []change{deleteChange(boardKind, id)}, nil
	})
}

// BoardSummaries implements board.Store. It visits only the user's boards,
// through the member index.
func (s *Store) BoardSummaries(ctx context.Context, userID string) ([]board.Summary, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	ids := s.st.boards.byMember[userID]
	list := make([]board.Summary, 0, len(ids))
	for id := range ids {
		list = append(list, s.st.boards.byID[id].SummaryFor(userID))
	}
	s.mu.RUnlock()
	board.SortSummaries(list)
	return list, nil
}

// BoardIDsFor implements board.Store, from the member and invitee indexes.
func (s *Store) BoardIDsFor(ctx context.Context, userID string) ([]string, error) {
	if err := s.readable(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.st.boards.byMember[userID])+len(s.st.boards.byInvitee[userID]))
	for id := range s.st.boards.byMember[userID] {
		ids = append(ids, id)
	}
	for id := range s.st.boards.byInvitee[userID] {
		// Validate keeps members and invitees apart, so no id is listed
		// twice; the check costs nothing and holds even if it did not.
		if _, member := s.st.boards.byMember[userID][id]; !member {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// EachBoard implements board.Store. It lists the boards under the read
// lock and calls fn without a lock, so fn may use the store; the boards are
// lent, as BoardByID lends them, so an export copies none of them.
func (s *Store) EachBoard(ctx context.Context, fn func(board.Board) error) error {
	if err := s.readable(); err != nil {
		return err
	}
	s.mu.RLock()
	boards := make([]board.Board, 0, len(s.st.boards.byID))
	for _, b := range s.st.boards.byID {
		if b.DeletingAt.IsZero() { // a board being deleted is not exported
			boards = append(boards, b) // shares its slices with the state, which never changes them
		}
	}
	s.mu.RUnlock()
	return eachOf(ctx, boards, fn) // lent
}

// MarkBoardDeleting implements board.Store: one journal batch sets the
// mark.
func (s *Store) MarkBoardDeleting(ctx context.Context, id string, now time.Time) (board.Board, error) {
	var marked board.Board
	err := s.update(ctx, func(st *state) ([]change, error) {
		old, ok := st.boards.byID[id]
		switch {
		case !ok:
			return nil, board.ErrNotFound
		case !old.DeletingAt.IsZero():
			marked = old // marked already: keep the first mark
			return nil, nil
		}
		b := old.Clone()
		b.DeletingAt = utc(now)
		b.Version = old.Version + 1
		normalizeBoard(b, nil)
		marked = *b
		if err := marked.Validate(); err != nil {
			return nil, fmt.Errorf("filestore: mark board %s deleting: %w", id, err)
		}
		return []change{putBoardChange(old, marked)}, nil
	})
	if err != nil {
		return board.Board{}, err
	}
	return marked, nil // lent, as stored
}

// BoardsBeingDeleted implements board.Store. It looks at every board: it
// runs at start and in the periodic sweep, not per request.
func (s *Store) BoardsBeingDeleted(ctx context.Context) ([]board.Board, error) {
	if err := s.failure(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var marked []board.Board
	for _, b := range s.st.boards.byID {
		if !b.DeletingAt.IsZero() {
			marked = append(marked, b) // lent
		}
	}
	return marked, nil
}
