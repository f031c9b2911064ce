package board

import (
	"errors"
	"slices"
	"time"

	"corkboard/objectid"
)

// The buckets of the files a board points at. Backgrounds are public images,
// served like profile pictures to anyone who has the id; attachments are
// for members only, so they are kept apart.
const (
	BackgroundBucket = "backgrounds"
	AttachmentBucket = "attachments"
)

// Board is a stored board with everything on it. It is the storage record,
// not a response body: handlers answer with a view that names the members
// and says whether the caller favourited the board.
type Board struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// OwnerID is the creator. The owner is always Members[0], may remove
	// anyone, and cannot leave.
	OwnerID string `json:"ownerId"`
	// BackgroundID is the id of an uploaded image in BackgroundBucket, and
	// BackgroundURL an http(s) address the client gave. At most one of them
	// is set: a board has one background.
	BackgroundID  string `json:"backgroundId"`
	BackgroundURL string `json:"backgroundURL"`
	// Members are user ids, the owner first, each once.
	Members []string `json:"members"`
	// Invited are the user ids with a pending invitation; never a member.
	Invited []string `json:"invited"`
	// FavouritedBy are the members who marked the board a favourite. They
	// live in the board so that one query lists a user's boards with the
	// flag, and deleting the board deletes its favourites with it.
	FavouritedBy []string `json:"favouritedBy"`
	Lists        []List   `json:"lists"`
	// Version counts the writes of the board. The store compares it on
	// every write and bumps it, so that two concurrent edits cannot both
	// land on the same version; no method of Board changes it.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	// UpdatedAt is set by whoever writes a change; the methods that change
	// a board leave it alone, so that one write has one time.
	UpdatedAt time.Time `json:"updatedAt"`
	// DeletingAt is set, once, when the board's deletion begins
	// (Store.MarkBoardDeleting), and the record goes at the end of the
	// cascade. In between the board is gone to every lookup and change; a
	// crash part-way leaves this mark, from which the next start or sweep
	// finishes the deletion (Service.FinishDeletions).
	DeletingAt time.Time `json:"deletingAt,omitzero"`
}

// List is an ordered column of cards on a board.
type List struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Cards []Card `json:"cards"`
}

// Card is one card in a list.
type Card struct {
	ID          string       `json:"id"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Attachments []Attachment `json:"attachments"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// Attachment describes an uploaded file of a card; its bytes are kept under
// ID in AttachmentBucket.
type Attachment struct {
	ID string `json:"id"`
	// Name is the file name shown and offered for download, never a path.
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        int64     `json:"size"`
	CreatedAt   time.Time `json:"createdAt"`
}

// FileRef names stored file bytes a board points at.
type FileRef struct {
	Bucket string
	ID     string
}

// Errors of the changes to a board. Limits are *LimitError, bad input
// *ValidationError.
var (
	ErrListNotFound       = errors.New("no such list on this board")
	ErrCardNotFound       = errors.New("no such card on this board")
	ErrAttachmentNotFound = errors.New("no such attachment on this card")
	ErrNotMember          = errors.New("not a member of this board")
	ErrAlreadyMember      = errors.New("already a member of this board")
	ErrAlreadyInvited     = errors.New("already invited to this board")
	ErrNotInvited         = errors.New("no pending invitation to this board")
	ErrInviteSelf         = errors.New("cannot invite oneself")
	// ErrOwnerCannotLeave: the owner cannot be removed from the board,
	// by themself or anyone: a board always has its owner.
	ErrOwnerCannotLeave = errors.New("the owner cannot leave the board")
)

// New returns a board titled title, created by ownerID, who owns it and is
// its first member, with backgroundURL as its background ("" for none). It
// fails with a *ValidationError naming every bad field. Its Version is 0:
// the store counts writes from there.
func New(ownerID, title, backgroundURL string, now time.Time) (*Board, error) {
	fields := map[string]string{}
	if !objectid.Valid(ownerID) {
		fields["ownerId"] = msgBadID
	}
	if msg := checkLine(title, MaxTitle); msg != "" {
		fields["title"] = msg
	}
	if msg := checkBackgroundURL(backgroundURL); msg != "" {
		fields["backgroundURL"] = msg
	}
	if err := invalid(fields); err != nil {
		return nil, err
	}
	return &Board{
		ID:            objectid.New(now),
		Title:         title,
		OwnerID:       ownerID,
		BackgroundURL: backgroundURL,
		Members:       []string{ownerID},
		CreatedAt:     now,
		UpdatedAt:     now,
	}, nil
}

// Clone returns a deep copy of b, sharing nothing that a change could
// modify. Stores hand out copies and run an edit on a copy, so that an edit
// that fails half-way leaves the stored board as it was. Nil and empty
// slices stay nil and empty, so a clone is reflect.DeepEqual to b.
func (b *Board) Clone() *Board {
	c := *b
	c.Members = slices.Clone(b.Members)
	c.Invited = slices.Clone(b.Invited)
	c.FavouritedBy = slices.Clone(b.FavouritedBy)
	if b.Lists != nil {
		c.Lists = make([]List, len(b.Lists))
		for i, l := range b.Lists {
			c.Lists[i] = l.clone()
		}
	}
	return &c
}

// EditCopy returns a copy of b for an edit that will be stored in b's
// place: a new Board with its own Lists slice (of List values) and its own
// Members, Invited and FavouritedBy, but sharing every list's card slice
// with b. Copying 500 cards for a write that moves one was most of a
// move's work under the file store's lock; with EditCopy only the lists an
// edit changes are copied, by the methods that change them (ownCards), and
// the others stay the very slices b holds.
//
// So the copy may be changed through Board's methods only (or by giving a
// list a card slice of its own before writing to it): a write into a
// list's cards, a card, or its attachments would change b too. Nil and
// empty slices stay nil and empty, so the copy is reflect.DeepEqual to b.
func (b *Board) EditCopy() *Board {
	c := *b
	c.Members = slices.Clone(b.Members)
	c.Invited = slices.Clone(b.Invited)
	c.FavouritedBy = slices.Clone(b.FavouritedBy)
	c.Lists = slices.Clone(b.Lists)
	return &c
}

// ownCards gives list i a card slice of its own, a copy with room for
// extra more cards, and returns it: every method that changes a list's
// cards, a card, or its attachments calls it first, since the slice may be
// shared with a stored board (EditCopy). The cards' attachment slices are
// still shared: a method that changes them copies them too (ownAttachments).
func (b *Board) ownCards(i, extra int) []Card {
	l := &b.Lists[i]
	cards := make([]Card, len(l.Cards), len(l.Cards)+extra)
	copy(cards, l.Cards)
	l.Cards = cards
	return cards
}

// ownAttachments gives the card c, which must be in a card slice of the
// board's own (ownCards), an attachment slice of its own, with no room
// beyond its length, so that an append copies too.
func ownAttachments(c *Card) {
	c.Attachments = slices.Clip(slices.Clone(c.Attachments))
}

func (l List) clone() List {
	if l.Cards != nil {
		cards := make([]Card, len(l.Cards))
		for i, c := range l.Cards {
			c.Attachments = slices.Clone(c.Attachments)
			cards[i] = c
		}
		l.Cards = cards
	}
	return l
}

// Attachments returns every attachment on the board, in board order: the
// bytes to delete when the board goes.
func (b Board) Attachments() []Attachment {
	var all []Attachment
	for _, l := range b.Lists {
		for _, c := range l.Cards {
			all = append(all, c.Attachments...)
		}
	}
	return all
}

// Files returns every stored file the board points at, its background
// first, so that deleting the board can delete their bytes and a sweep can
// tell which files are still in use.
func (b Board) Files() []FileRef {
	var files []FileRef
	if b.BackgroundID != "" {
		files = append(files, FileRef{Bucket: BackgroundBucket, ID: b.BackgroundID})
	}
	for _, a := range b.Attachments() {
		files = append(files, FileRef{Bucket: AttachmentBucket, ID: a.ID})
	}
	return files
}

// DropFile removes the board's reference to the stored file f, whose bytes
// are missing: the background if f is it, else the attachment whose bytes
// f holds, from its card. It reports whether the board pointed at f.
//
// It is for an export that finds a file gone (lost by hand, or deleted by
// a request while the export ran): the board is then carried as its
// members already see it, without a background that no longer loads or an
// attachment that no longer downloads, rather than as a record that points
// at nothing. Everything else on the board stays as it was.
func (b *Board) DropFile(f FileRef) bool {
	switch f.Bucket {
	case BackgroundBucket:
		if f.ID == "" || b.BackgroundID != f.ID {
			return false
		}
		b.BackgroundID = ""
		return true
	case AttachmentBucket:
		for i := range b.Lists {
			for j, c := range b.Lists[i].Cards {
				if k := slices.IndexFunc(c.Attachments, func(a Attachment) bool { return a.ID == f.ID }); k >= 0 {
					c := &b.ownCards(i, 0)[j]
					ownAttachments(c)
					c.Attachments = slices.Delete(c.Attachments, k, k+1)
					return true
				}
			}
		}
	}
	return false
}

// listIndex returns the index of the list with id, or -1.
func (b *Board) listIndex(id string) int {
	return slices.IndexFunc(b.Lists, func(l List) bool { return l.ID == id })
}

// cardIndex returns where the card with id is, or -1, -1.
func (b *Board) cardIndex(id string) (list, card int) {
	for i, l := range b.Lists {
		if j := slices.IndexFunc(l.Cards, func(c Card) bool { return objectid.Same(c.ID, id) }); j >= 0 {
			return i, j
		}
	}
	return -1, -1
}

// counts returns how many cards and attachments the board holds, and how
// many characters its descriptions hold together.
func (b *Board) counts() (cards, attachments, descriptionChars int) {
	for _, l := range b.Lists {
		cards += len(l.Cards)
		for _, c := range l.Cards {
			attachments += len(c.Attachments)
			descriptionChars += chars(c.Description)
		}
	}
	return cards, attachments, descriptionChars
}

// move moves the element at from to index to, shifting those between.
func move[T any](s []T, from, to int) {
	v := s[from]
	if from < to {
		copy(s[from:to], s[from+1:to+1])
	} else {
		copy(s[to+1:from+1], s[to:from])
	}
	s[to] = v
}
