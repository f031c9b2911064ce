package board

import (
	"slices"
	"time"

	"corkboard/objectid"
)

// Every method that changes a board checks first and changes after: it
// either applies its change whole or returns an error and leaves the board
// as it was. The checks go in the order a client would want them answered:
// a list or card that is not there (ErrListNotFound, ErrCardNotFound), then
// bad input (*ValidationError naming every bad field), then a full board
// (*LimitError).

// SetTitle renames the board.
func (b *Board) SetTitle(title string) error {
	if err := invalidField("title", checkLine(title, MaxTitle)); err != nil {
		return err
	}
	b.Title = title
	return nil
}

// SetBackgroundURL makes url, an http(s) address, the board's background,
// or removes the background when url is "". It returns the id of the
// uploaded background it replaced ("" if none), whose bytes the caller
// deletes once the change is written.
func (b *Board) SetBackgroundURL(url string) (replaced string, err error) {
	if err := invalidField("backgroundURL", checkBackgroundURL(url)); err != nil {
		return "", err
	}
	replaced = b.BackgroundID
	b.BackgroundID, b.BackgroundURL = "", url
	return replaced, nil
}

// SetBackgroundFile makes the uploaded image fileID (in BackgroundBucket)
// the board's background. It returns the id of the uploaded background it
// replaced ("" if none), whose bytes the caller deletes once the change is
// written.
func (b *Board) SetBackgroundFile(fileID string) (replaced string, err error) {
	if !objectid.Valid(fileID) {
		return "", invalidField("backgroundId", msgBadID)
	}
	replaced = b.BackgroundID
	b.BackgroundID, b.BackgroundURL = fileID, ""
	return replaced, nil
}

// AddList appends an empty list named name and returns it.
func (b *Board) AddList(name string, now time.Time) (List, error) {
	if err := invalidField("name", checkLine(name, MaxListName)); err != nil {
		return List{}, err
	}
	if len(b.Lists) >= MaxLists {
		return List{}, &LimitError{"listsPerBoard", MaxLists}
	}
	l := List{ID: objectid.New(now), Name: name}
	b.Lists = append(b.Lists, l)
	return l, nil
}

// RenameList renames the list listID.
func (b *Board) RenameList(listID, name string) error {
	i := b.listIndex(listID)
	if i < 0 {
		return ErrListNotFound
	}
	if err := invalidField("name", checkLine(name, MaxListName)); err != nil {
		return err
	}
	b.Lists[i].Name = name
	return nil
}

// MoveList moves the list listID to position (0-based) among the lists. A
// position past the end means last; a negative one is a *ValidationError.
func (b *Board) MoveList(listID string, position int) error {
	i := b.listIndex(listID)
	if i < 0 {
		return ErrListNotFound
	}
	if position < 0 {
		return invalidField("position", msgNegative)
	}
	move(b.Lists, i, min(position, len(b.Lists)-1))
	return nil
}

// DeleteList removes the list listID with its cards. It returns their
// attachments, whose bytes the caller deletes once the change is written.
func (b *Board) DeleteList(listID string) ([]Attachment, error) {
	i := b.listIndex(listID)
	if i < 0 {
		return nil, ErrListNotFound
	}
	var gone []Attachment
	for _, c := range b.Lists[i].Cards {
		gone = append(gone, c.Attachments...)
	}
	b.Lists = slices.Delete(b.Lists, i, i+1)
	return gone, nil
}

const msgNegative = "must be 0 or more"
