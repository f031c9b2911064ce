package board

import (
	"context"
	"math"

	"corkboard/auth"
)

// Lists and cards: each change is one UpdateBoard on the board the list or
// card is on, so a card is never in two lists or none, whatever the number
// of members moving cards at once. Ids of lists and cards are looked up on
// that board only: a list of another board is simply not there
// (ErrListNotFound), so nothing moves between boards.

// AddList appends a list named name to the board id, for a member.
func (s *Service) AddList(ctx context.Context, p auth.Principal, id, name string) (ListView, error) {
	var l List
	_, err := s.update(ctx, p, id, func(b *Board) error {
		var err error
		l, err = b.AddList(name, s.now().UTC())
		return err
	})
	if err != nil {
		return ListView{}, err
	}
	return ListViewOf(id, l), nil
}

// EditListInput renames or moves a list; a nil field stays as it is.
type EditListInput struct {
	Name *string
	// Position is the list's new 0-based place among the lists; past the
	// end means last.
	Position *int
}

// EditList renames and/or moves the list listID of the board id, for a
// member, in one write: both change or neither.
func (s *Service) EditList(ctx context.Context, p auth.Principal, id, listID string, in EditListInput) (Shown, error) {
	if in.Name == nil && in.Position == nil {
		// Nothing to change: no write, and UpdatedAt stays.
		b, err := s.memberBoard(ctx, p, id)
		if err == nil && b.listIndex(listID) < 0 {
			err = ErrListNotFound
		}
		if err != nil {
			return Shown{}, err
		}
		return s.view(ctx, b, p)
	}
	b, err := s.update(ctx, p, id, func(b *Board) error {
		if b.listIndex(listID) < 0 {
			return ErrListNotFound
		}
		var errs []error
		if in.Name != nil {
			errs = append(errs, b.RenameList(listID, *in.Name))
		}
		if in.Position != nil {
			errs = append(errs, b.MoveList(listID, *in.Position))
		}
		return firstError(errs...)
	})
	if err != nil {
		return Shown{}, err
	}
	return s.view(ctx, b, p)
}

// DeleteList removes the list listID of the board id with its cards, for a
// member; the bytes of their attachments are deleted after the write.
func (s *Service) DeleteList(ctx context.Context, p auth.Principal, id, listID string) error {
	return s.removeWith(ctx, p, id, func(b *Board) ([]Attachment, error) { return b.DeleteList(listID) })
}

// removeWith runs remove, a change that takes attachments off the board id,
// as a member's write, and deletes the bytes of the attachments it took off
// once the write is stored: never before, so a failed write loses no file.
func (s *Service) removeWith(ctx context.Context, p auth.Principal, id string, remove func(*Board) ([]Attachment, error)) error {
	var gone []Attachment
	_, err := s.update(ctx, p, id, func(b *Board) error {
		var err error
		gone, err = remove(b) // set on every run: the last run is the one stored
		return err
	})
	if err != nil {
		return err
	}
	for _, a := range gone {
		s.discardFile(ctx, AttachmentBucket, a.ID)
	}
	return nil
}

// AddCard appends a card to the list listID of the board id, for a member.
func (s *Service) AddCard(ctx context.Context, p auth.Principal, id, listID, title, description string) (CardView, error) {
	var c Card
	_, err := s.update(ctx, p, id, func(b *Board) error {
		var err error
		c, err = b.AddCard(listID, title, description, s.now().UTC())
		return err
	})
	if err != nil {
		return CardView{}, err
	}
	return CardViewOf(id, c), nil
}

// EditCardInput changes a card and where it is; a nil field stays as it
// is.
type EditCardInput struct {
	Title       *string
	Description *string
	// ListID moves the card to that list of the same board: to Position
	// if given, else to the end when it is another list than the card's
	// (the card stays where it is when it is the same list).
	ListID *string
	// Position is the card's new 0-based place in its list (or in
	// ListID's); past the end means last.
	Position *int
}

// EditCard changes the card cardID of the board id and moves it, for a
// member, in one write: the title, the description and the place change
// together or not at all, and a move to another list is one step.
func (s *Service) EditCard(ctx context.Context, p auth.Principal, id, cardID string, in EditCardInput) (Shown, error) {
	b, err := s.editCard(ctx, p, id, cardID, in)
	if err != nil {
		return Shown{}, err
	}
	return s.view(ctx, b, p)
}

// EditCardMinimal is EditCard for a caller that does not want the board
// back (Prefer: return=minimal): the same write and the same errors, but
// no view of the board is built, which for a large board costs as much as
// the write itself (its members looked up, a view of every card).
func (s *Service) EditCardMinimal(ctx context.Context, p auth.Principal, id, cardID string, in EditCardInput) error {
	_, err := s.editCard(ctx, p, id, cardID, in)
	return err
}

// editCard is the write of EditCard, returning the board as stored.
func (s *Service) editCard(ctx context.Context, p auth.Principal, id, cardID string, in EditCardInput) (Board, error) {
	if in.Title == nil && in.Description == nil && in.ListID == nil && in.Position == nil {
		// Nothing to change: no write, and UpdatedAt stays.
		b, err := s.memberBoard(ctx, p, id)
		if li, _ := b.cardIndex(cardID); err == nil && li < 0 {
			err = ErrCardNotFound
		}
		if err != nil {
			return Board{}, err
		}
		return b, nil
	}
	b, err := s.update(ctx, p, id, func(b *Board) error {
		from, ci := b.cardIndex(cardID)
		if from < 0 {
			return ErrCardNotFound
		}
		var errs []error
		if in.Title != nil || in.Description != nil {
			errs = append(errs, b.EditCard(cardID, in.Title, in.Description))
		}
		if in.ListID != nil || in.Position != nil {
			to, pos := "", in.Position
			if in.ListID != nil {
				to = *in.ListID
				if to == "" {
					return ErrListNotFound // "" would mean "its own list" to MoveCard
				}
				if i := b.listIndex(to); pos == nil && i >= 0 && i != from {
					last := math.MaxInt
					pos = &last
				}
			}
			if pos != nil {
				// EditCard above changes no card's place.
				errs = append(errs, b.moveCardAt(from, ci, to, *pos))
			} else if b.listIndex(to) < 0 {
				errs = append(errs, ErrListNotFound)
			}
		}
		return firstError(errs...)
	})
	if err != nil {
		return Board{}, err
	}
	return b, nil
}

// DeleteCard removes the card cardID of the board id, for a member; the
// bytes of its attachments are deleted after the write.
func (s *Service) DeleteCard(ctx context.Context, p auth.Principal, id, cardID string) error {
	return s.removeWith(ctx, p, id, func(b *Board) ([]Attachment, error) { return b.DeleteCard(cardID) })
}
