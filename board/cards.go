package board

import (
	"slices"
	"time"

	"corkboard/objectid"
)

// AddCard appends a card to the list listID and returns it. The
// description may be empty.
func (b *Board) AddCard(listID, title, description string, now time.Time) (Card, error) {
	i := b.listIndex(listID)
	if i < 0 {
		return Card{}, ErrListNotFound
	}
	fields := map[string]string{}
	if msg := checkLine(title, MaxCardTitle); msg != "" {
		fields["title"] = msg
	}
	if msg := checkText(description, MaxDescription); msg != "" {
		fields["description"] = msg
	}
	if err := invalid(fields); err != nil {
		return Card{}, err
	}
	cards, _, descriptions := b.counts()
	switch {
	case len(b.Lists[i].Cards) >= MaxCardsPerList:
		return Card{}, &LimitError{"cardsPerList", MaxCardsPerList}
	case cards >= MaxCards:
		return Card{}, &LimitError{"cardsPerBoard", MaxCards}
	case descriptions+chars(description) > MaxDescriptions:
		return Card{}, &LimitError{"descriptionsPerBoard", MaxDescriptions}
	}
	c := Card{ID: objectid.New(now), Title: title, Description: description, CreatedAt: now}
	b.Lists[i].Cards = append(b.ownCards(i, 1), c)
	return c, nil
}

// EditCard sets the title and the description of the card cardID; a nil
// pointer leaves that field as it is. Both change, or neither.
func (b *Board) EditCard(cardID string, title, description *string) error {
	li, ci := b.cardIndex(cardID)
	if li < 0 {
		return ErrCardNotFound
	}
	fields := map[string]string{}
	if title != nil {
		if msg := checkLine(*title, MaxCardTitle); msg != "" {
			fields["title"] = msg
		}
	}
	if description != nil {
		if msg := checkText(*description, MaxDescription); msg != "" {
			fields["description"] = msg
		}
	}
	if err := invalid(fields); err != nil {
		return err
	}
	if description != nil {
		_, _, total := b.counts()
		c := b.Lists[li].Cards[ci]
		if total-chars(c.Description)+chars(*description) > MaxDescriptions {
			return &LimitError{"descriptionsPerBoard", MaxDescriptions}
		}
	}
	c := &b.ownCards(li, 0)[ci]
	if title != nil {
		c.Title = *title
	}
	if description != nil {
		c.Description = *description
	}
	return nil
}

// MoveCard moves the card cardID to position (0-based) in the list
// toListID, or in its own list when toListID is "": one step, so that the
// card is never in two lists or none. A position past the end means last;
// a negative one is a *ValidationError. A list of another board is not on
// this one: ErrListNotFound.
func (b *Board) MoveCard(cardID, toListID string, position int) error {
	from, ci := b.cardIndex(cardID)
	if from < 0 {
		return ErrCardNotFound
	}
	return b.moveCardAt(from, ci, toListID, position)
}

// moveCardAt is MoveCard for the card at index ci of list from, for a
// caller that has looked the card up already: the look goes through up to
// every card of the board.
func (b *Board) moveCardAt(from, ci int, toListID string, position int) error {
	to := from
	if toListID != "" {
		if to = b.listIndex(toListID); to < 0 {
			return ErrListNotFound
		}
	}
	if position < 0 {
		return invalidField("position", msgNegative)
	}
	if to == from {
		move(b.ownCards(from, 0), ci, min(position, len(b.Lists[from].Cards)-1))
		return nil
	}
	if len(b.Lists[to].Cards) >= MaxCardsPerList {
		return &LimitError{"cardsPerList", MaxCardsPerList}
	}
	// Both lists get new slices, made in one pass each: the old ones may
	// be a stored board's (EditCopy).
	src := b.Lists[from].Cards
	c := src[ci]
	b.Lists[from].Cards = without(src, ci)
	dest := b.Lists[to].Cards
	at := min(position, len(dest))
	moved := make([]Card, 0, len(dest)+1)
	moved = append(append(append(moved, dest[:at]...), c), dest[at:]...)
	b.Lists[to].Cards = moved
	return nil
}

// DeleteCard removes the card cardID. It returns its attachments, whose
// bytes the caller deletes once the change is written.
func (b *Board) DeleteCard(cardID string) ([]Attachment, error) {
	li, ci := b.cardIndex(cardID)
	if li < 0 {
		return nil, ErrCardNotFound
	}
	gone := slices.Clone(b.Lists[li].Cards[ci].Attachments)
	b.Lists[li].Cards = without(b.Lists[li].Cards, ci)
	return gone, nil
}

// without returns a new slice of the cards but the one at i, leaving
// cards as they are (they may be a stored board's, see EditCopy).
func without(cards []Card, i int) []Card {
	s := make([]Card, 0, len(cards)-1)
	return append(append(s, cards[:i]...), cards[i+1:]...)
}

// AddAttachment appends a to the attachments of the card cardID. The
// caller stores the bytes under a.ID (a fresh id) first, so that the board
// never points at bytes that are not there; a.Name is the file name to
// show, never a path.
func (b *Board) AddAttachment(cardID string, a Attachment) error {
	li, ci := b.cardIndex(cardID)
	if li < 0 {
		return ErrCardNotFound
	}
	fields := checkAttachment(a)
	if fields["id"] == "" && b.hasID(a.ID) {
		fields["id"] = "is already used on this board"
	}
	if err := invalid(fields); err != nil {
		return err
	}
	if len(b.Lists[li].Cards[ci].Attachments) >= MaxAttachmentsPerCard {
		return &LimitError{"attachmentsPerCard", MaxAttachmentsPerCard}
	}
	if _, n, _ := b.counts(); n >= MaxAttachments {
		return &LimitError{"attachmentsPerBoard", MaxAttachments}
	}
	c := &b.ownCards(li, 0)[ci]
	ownAttachments(c)
	c.Attachments = append(c.Attachments, a)
	return nil
}

// Attachment returns the attachment attachmentID of the card cardID: a
// download must name the card the attachment is on.
func (b Board) Attachment(cardID, attachmentID string) (Attachment, error) {
	li, ci := b.cardIndex(cardID)
	if li < 0 {
		return Attachment{}, ErrCardNotFound
	}
	for _, a := range b.Lists[li].Cards[ci].Attachments {
		if a.ID == attachmentID {
			return a, nil
		}
	}
	return Attachment{}, ErrAttachmentNotFound
}

// RemoveAttachment removes the attachment attachmentID of the card cardID
// and returns it, so that the caller deletes its bytes once the change is
// written.
func (b *Board) RemoveAttachment(cardID, attachmentID string) (Attachment, error) {
	li, ci := b.cardIndex(cardID)
	if li < 0 {
		return Attachment{}, ErrCardNotFound
	}
	i := slices.IndexFunc(b.Lists[li].Cards[ci].Attachments, func(a Attachment) bool { return a.ID == attachmentID })
	if i < 0 {
		return Attachment{}, ErrAttachmentNotFound
	}
	c := &b.ownCards(li, 0)[ci]
	ownAttachments(c)
	a := c.Attachments[i]
	c.Attachments = slices.Delete(c.Attachments, i, i+1)
	return a, nil
}

// hasID reports whether id is the id of the board or of anything on it.
func (b *Board) hasID(id string) bool {
	if id == b.ID {
		return true
	}
	for _, l := range b.Lists {
		if l.ID == id {
			return true
		}
		for _, c := range l.Cards {
			if c.ID == id || slices.ContainsFunc(c.Attachments, func(a Attachment) bool { return a.ID == id }) {
				return true
			}
		}
	}
	return false
}
